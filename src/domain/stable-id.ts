import { createHash } from 'node:crypto';

/** A short, stable, store-safe id derived from content: same input, same id, in any process. */
export function stableId(...parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\u0000');
  return hash.digest('hex').slice(0, 32);
}
