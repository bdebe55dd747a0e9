/** Entity tags in conditional requests (RFC 9110 §8.8.3, §13.1). */

/** An entity tag as RFC 9110 spells one (`"…"` or `W/"…"`); Azure Table ETags are well under this length. */
const TAG = '(?:W\\/)?"[\\x21\\x23-\\x7e]{0,254}"';
const EACH_TAG = new RegExp(TAG, 'g');

/** One entity tag, or `*` (If-Match as the directory takes it: the ETag it gave). */
export const ONE_ENTITY_TAG = new RegExp(`^(?:\\*|${TAG})$`);
/** `*`, or entity tags separated by commas (If-None-Match), empty elements ignored (RFC 9110 §5.6.1). */
export const ENTITY_TAGS = new RegExp(`^(?:\\*|(?:,[ \\t]*)*${TAG}(?:(?:[ \\t]*,)+[ \\t]*${TAG})*(?:[ \\t]*,)*)$`);

/** Weak comparison (§8.8.3.2): the opaque tags are equal, either or both may be weak. */
const weaklyEqual = (a: string, b: string) => a.replace(/^W\//, '') === b.replace(/^W\//, '');

/**
 * Whether an If-None-Match value names the current `etag`, so a GET answers 304 (§13.1.2): `*`, or a list of tags
 * one of which matches by weak comparison.
 */
export function noneMatchNames(value: string | null | undefined, etag: string): boolean {
  if (value === null || value === undefined) return false;
  return value.trim() === '*' || (value.match(EACH_TAG) ?? []).some((tag) => weaklyEqual(tag, etag));
}
