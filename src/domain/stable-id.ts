import { hash } from 'node:crypto';

/** A short, stable, store-safe id derived from content: same input, same id, in any process. */
export function stableId(...parts: readonly string[]): string {
  // SHA-256 of every part followed by a NUL, in one call: `crypto.hash` is a one-shot digest, several times faster
  // than a Hash object for the short texts hashed per event.
  let text = '';
  for (const part of parts) text += `${part}\u0000`;
  return hash('sha256', text, 'hex').slice(0, 32);
}

/**
 * One of 256 buckets of `id` (`<prefix>00` to `<prefix>ff`), from a stable hash: as a partition key it spreads
 * documents evenly over partitions, and a document never moves.
 */
export function hashBucket(prefix: string, kind: string, id: string): string {
  return `${prefix}${stableId(kind, id).slice(0, 2)}`;
}

/**
 * Characters a Cosmos DB id must not hold: ids are addressed in URLs (the .NET SDK's `Resource.Id` reference).
 * Outside text that becomes an id is checked against them, or hashed.
 */
export const RESTRICTED_ID_CHARACTERS = /[/\\?#]/;
