import { normalizeIdentityKey } from '../contracts/directory.js';
import type { DirectoryWriteOptions, DirectoryWriteOutcome, EditableIdentityDirectory } from '../ports/identity-directory.js';

/**
 * Removes the entry of an identity as the user wrote it. A row stored before keys were spelt as now (an upper-case
 * GUID) is removed by the key as it is stored: that spelling first, as the row of the key spelt as now may be
 * another, valid one; then the key spelt as now.
 */
export async function removeDirectoryEntry(directory: EditableIdentityDirectory, identity: string, options: DirectoryWriteOptions = {}): Promise<DirectoryWriteOutcome> {
  const key = normalizeIdentityKey(identity);
  if (identity === key) return directory.remove(key, options);
  const asStored = await directory.remove(identity, options);
  return asStored.outcome === 'absent' ? directory.remove(key, options) : asStored;
}
