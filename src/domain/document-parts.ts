/**
 * Documents that would grow with the number of identities (usage tiles, stored invoice allocations) are a head and
 * parts of one generation: the head names the generation in force, and each part holds at most `MAX_PART_BYTES`.
 */

/**
 * Bytes of items one part holds at most (their JSON). Cosmos DB refuses items over 2 MB; half a megabyte keeps
 * every document far below the 1 MB that keeps reads and writes cheap, whatever the number of identities.
 */
export const MAX_PART_BYTES = 512 * 1024;

/**
 * Items cut, in order, into runs of at most `maxBytes` of JSON each (an item larger than that alone makes a run of
 * its own): how documents that would grow with the number of identities are kept far below Cosmos DB's item limit.
 */
export function chunkByBytes<T>(items: readonly T[], maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * A head's parts in order, or null when some are missing: a writer replaced the head and removed the old parts while
 * the query was paging, and the caller reads again.
 */
export function wholeGeneration<P extends { readonly part: number }>(found: readonly P[] | undefined, parts: number): P[] | null {
  const ordered = [...(found ?? [])].sort((a, b) => a.part - b.part);
  return ordered.length === parts && ordered.every((p, i) => p.part === i) ? ordered : null;
}
