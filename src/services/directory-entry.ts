import { compareStoredKeys, isGuid, normalizeIdentityKey, storedKeys, type DirectoryRow } from '../contracts/directory.js';
import type { DirectoryWriteOptions, DirectoryWriteOutcome, EditableIdentityDirectory, VersionedDirectoryRow } from '../ports/identity-directory.js';
import type { StoreOptions } from '../ports/ledger-store.js';

/**
 * The keys the entry of an identity as the user wrote it may be stored under, in the order `compareStoredKeys` puts
 * them, so the first holding a row is the entry the listing shows: `storedKeys`, and only when neither holds a row,
 * the other case variants of a GUID the store holds.
 */
async function* keysToTry(directory: EditableIdentityDirectory, identity: string, options: StoreOptions): AsyncGenerator<string> {
  const pointKeys = storedKeys(identity);
  yield* pointKeys;
  const key = pointKeys[0]!;
  if (!isGuid(key)) return;
  const variants = await directory.storedCaseVariants(key, options);
  yield* variants.filter((variant) => !pointKeys.includes(variant)).sort(compareStoredKeys);
}

/**
 * The entry of an identity as the user wrote it, with its ETag and the key it is stored under, whatever case an
 * earlier release stored its GUID in: the row the listing shows for the identity.
 */
export async function findDirectoryEntry(directory: EditableIdentityDirectory, identity: string, options: StoreOptions = {}): Promise<(VersionedDirectoryRow & { readonly storedKey: string }) | null> {
  for await (const key of keysToTry(directory, identity, options)) {
    const found = await directory.getVersioned(key, options);
    if (found !== null) return { ...found, storedKey: key };
  }
  return null;
}

/**
 * Creates the entry of an identity only if it has none under any spelling: `exists` when `findDirectoryEntry` finds
 * one. Nothing writes another spelling any more, so the create that follows the look-up, atomic on the key spelt as
 * now, cannot miss a row stored meanwhile.
 */
export async function createDirectoryEntry(directory: EditableIdentityDirectory, row: DirectoryRow, options: StoreOptions = {}): Promise<DirectoryWriteOutcome> {
  if ((await findDirectoryEntry(directory, row.identity, options)) !== null) return { outcome: 'exists' };
  return directory.create(row, options);
}

/**
 * Writes the entry of an identity as the user wrote it over the row it is stored under, whatever case an earlier
 * release stored its GUID in: the ETag a read gave holds for the write, and the identity keeps one row.
 */
export async function replaceDirectoryEntry(directory: EditableIdentityDirectory, identity: string, row: DirectoryRow, options: DirectoryWriteOptions = {}): Promise<DirectoryWriteOutcome> {
  const found = await findDirectoryEntry(directory, identity, options);
  return directory.replace(row, found === null || found.storedKey === row.identity ? options : { ...options, storedKey: found.storedKey });
}

/**
 * Removes the entry of an identity as the user wrote it, and every other spelling of its GUID an earlier release
 * stored, which would otherwise be listed in its place. Those go first and the entry last, with `ifMatch`: the
 * identity is listed as it was until the entry goes, and a remove refused as `stale` changes nothing the listing shows.
 * Rows are not read, so a row the listing refuses to read can be removed.
 */
export async function removeDirectoryEntry(directory: EditableIdentityDirectory, identity: string, options: DirectoryWriteOptions = {}): Promise<DirectoryWriteOutcome> {
  const key = normalizeIdentityKey(identity);
  const [entry, ...hidden] = isGuid(key) ? (await directory.storedCaseVariants(key, options)).sort(compareStoredKeys) : [];
  if (entry !== undefined) {
    for (const spelling of hidden) await directory.remove(spelling, { abortSignal: options.abortSignal });
    return directory.remove(entry, options);
  }
  // Not a GUID, or a store that looks for its spellings itself (the API). The spelling given names a row stored
  // untrimmed, as the error of a listing that cannot read it does.
  for (const candidate of new Set([key, identity])) {
    const outcome = await directory.remove(candidate, options);
    if (outcome.outcome !== 'absent') return outcome;
  }
  return { outcome: 'absent' };
}
