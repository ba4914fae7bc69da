/**
 * Turning what a user typed into an FTS5 query, without ever letting their text be FTS5 syntax.
 *
 * Words are runs of the characters the index's `unicode61` tokenizer keeps as token characters
 * (its default categories: letters, numbers and private-use code points); everything else
 * (quotes, `*`, `-`, `:`, parentheses, NEAR, AND/OR/NOT as operators…) only separates words.
 * Each word becomes an FTS5 string ("…"), so a word that is also an operator name is matched as
 * text; the last word is a prefix (`"bicyc"*` finds "bicycle"). All words must match.
 */

/** At most this many words are searched for (the rest of a longer query is refused, not ignored). */
export const MAX_SEARCH_WORDS = 16;

const WORD = /[\p{L}\p{N}\p{Co}]+/gu;

/** Pure: the words of a search text, in order (NFC, so a composed and a decomposed "é" are one word). */
export function searchWords(text: string): string[] {
  return text.normalize("NFC").match(WORD) ?? [];
}

/** Pure: the FTS5 MATCH expression for `words` (at least one): each quoted, `*` on the last. */
export function ftsMatch(words: readonly string[]): string {
  if (words.length === 0) throw new Error("ftsMatch needs at least one word");
  const quoted = words.map((word) => `"${word.replaceAll('"', '""')}"`);
  return `${quoted.join(" ")}*`;
}
