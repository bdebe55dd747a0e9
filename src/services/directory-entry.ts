import { compareStoredKeys, isGuid, normalizeIdentityKey, storedKeys, type DirectoryRow } from '../contracts/directory.js';
import type { DirectoryWriteOptions, DirectoryWriteOutcome, EditableIdentityDirectory, VersionedDirectoryRow } from '../ports/identity-directory.js';
import type { StoreOptions } from '../ports/ledger-store.js';

/**
 * The keys the entry of an identity as the user wrote it may be stored under, in the order to try them: the spelling
 * given first, as the row of the key spelt as now may be another, valid one; then the key spelt as now; then a GUID's
 * upper-case spelling; and only when none of those holds a row, the other case variants of a GUID the store holds,
 * in the order the listing prefers them, so the entry listed under a key is the one found by it.
 */
async function* keysToTry(directory: EditableIdentityDirectory, identity: string, options: StoreOptions): AsyncGenerator<string> {
  const pointKeys = storedKeys(identity);
  yield* pointKeys;
  const key = normalizeIdentityKey(identity);
  if (!isGuid(key)) return;
  const variants = await directory.storedCaseVariants(key, options);
  yield* variants.filter((variant) => !pointKeys.includes(variant)).sort(compareStoredKeys);
}

/**
 * The entry of an identity as the user wrote it, with its ETag and the key it is stored under, whatever case an
 * earlier release stored its GUID in.
 */
export async function findDirectoryEntry(directory: EditableIdentityDirectory, identity: string, options: StoreOptions = {}): Promise<(VersionedDirectoryRow & { readonly storedKey: string }) | null> {
  for await (const key of keysToTry(directory, identity, options)) {
    const found = await directory.getVersioned(key, options);
    if (found !== null) return { ...found, storedKey: key };
  }
  return null;
}

/**
 * Writes the entry of an identity as the user wrote it over the row it is stored under, whatever case an earlier
 * release stored its GUID in: the ETag a read gave holds for the write, and the identity keeps one row.
 */
export async function replaceDirectoryEntry(directory: EditableIdentityDirectory, identity: string, row: DirectoryRow, options: DirectoryWriteOptions = {}): Promise<DirectoryWriteOutcome> {
  const found = await findDirectoryEntry(directory, identity, options);
  return directory.replace(row, found === null || found.storedKey === row.identity ? options : { ...options, storedKey: found.storedKey });
}

/** Removes the entry of an identity as the user wrote it, whatever case an earlier release stored its GUID in. */
export async function removeDirectoryEntry(directory: EditableIdentityDirectory, identity: string, options: DirectoryWriteOptions = {}): Promise<DirectoryWriteOutcome> {
  for await (const key of keysToTry(directory, identity, options)) {
    const outcome = await directory.remove(key, options);
    if (outcome.outcome !== 'absent') return outcome;
  }
  return { outcome: 'absent' };
}
