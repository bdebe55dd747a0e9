/**
 * A copy of a text cut from an event's line, for keeping. V8 keeps a substring of 13 characters or more (a regular
 * expression's capture, a `slice`, a `toLowerCase` that changed nothing) as a view into the string it was cut
 * from: an id read from a 1 KB event line keeps the whole line in memory for as long as the id is kept. What is
 * kept beyond its event (a chargeback line's identity, a tile's backend) is copied once, when it is first kept.
 */
export function ownedText(text: string): string {
  // JSON.stringify escapes lone surrogates, so every string comes back equal.
  return JSON.parse(JSON.stringify(text)) as string;
}
