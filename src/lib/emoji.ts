/**
 * One emoji grapheme (with skin tones, variation selectors, ZWJ sequences, keycaps and flags)
 * or a short `:name:` code. Pure; used for reactions.
 */
const SHORTCODE = /^:[a-z0-9_+-]{1,32}:$/;
const EMOJI = /^(?:\p{Regional_Indicator}{2}|[#*0-9]\uFE0F?\u20E3|\p{Extended_Pictographic}(?:\p{Emoji_Modifier}|\uFE0F)?(?:\u200D\p{Extended_Pictographic}(?:\p{Emoji_Modifier}|\uFE0F)?)*)$/u;

export function isReactionEmoji(value: string): boolean {
  return value.length <= 64 && (SHORTCODE.test(value) || EMOJI.test(value));
}
