// Reactions as people see them. The server stores what a client sent: an emoji, or a `:short_name:`
// (src/lib/emoji.ts accepts both), so another app's `:heart:` and this page's ❤️ are two keys of
// one reaction. Short names known here show as their emoji, and one chip gathers every key of it.

const SHORT_NAMES = {
  "+1": "👍", thumbsup: "👍", "-1": "👎", thumbsdown: "👎", heart: "❤️", red_heart: "❤️", joy: "😂",
  laughing: "😆", smile: "😄", grinning: "😀", slightly_smiling_face: "🙂", wink: "😉", heart_eyes: "😍",
  tada: "🎉", open_mouth: "😮", astonished: "😲", cry: "😢", sob: "😭", thinking: "🤔", fire: "🔥",
  clap: "👏", pray: "🙏", eyes: "👀", ok_hand: "👌", wave: "👋", muscle: "💪", rocket: "🚀", star: "⭐",
  "100": "💯", white_check_mark: "✅", x: "❌", angry: "😠", rage: "😡", sunglasses: "😎",
};

const VARIATION = /\uFE0F/g;

/** The emoji a stored reaction key stands for (`:heart:` → ❤️); an unknown short name stays as it is. */
export function displayEmoji(key) {
  const name = /^:([a-z0-9_+-]+):$/.exec(key)?.[1];
  return (name && SHORT_NAMES[name]) || key;
}

/** One identity per reaction, whichever key or variation selector it was sent with (❤ = ❤️ = :heart:). */
const identity = (key) => displayEmoji(key).replace(VARIATION, "");

/**
 * A message's reactions as chips: `[{ emoji, keys, users }]`, one per reaction, in first-seen
 * order; `keys` are the stored keys it gathers, `users` everyone who reacted with any of them.
 */
export function groupReactions(reactions) {
  const groups = new Map();
  for (const [key, users] of Object.entries(reactions ?? {})) {
    if (!users?.length) continue;
    const id = identity(key);
    const group = groups.get(id) ?? { emoji: displayEmoji(key), keys: [], users: [] };
    if (displayEmoji(key).includes("\uFE0F")) group.emoji = displayEmoji(key); // the emoji-style form, when one was sent
    group.keys.push(key);
    for (const user of users) if (!group.users.includes(user)) group.users.push(user);
    groups.set(id, group);
  }
  return [...groups.values()];
}

/** The stored keys of `emoji`'s reaction on `m` that `userId` reacted with (to take them all back). */
export function keysOf(m, emoji, userId) {
  const group = groupReactions(m.reactions).find((g) => identity(g.emoji) === identity(emoji));
  return group ? group.keys.filter((key) => m.reactions[key].includes(userId)) : [];
}
