import { storedKeys } from '../contracts/directory.js';
import type { DirectoryWriteOptions, DirectoryWriteOutcome, EditableIdentityDirectory } from '../ports/identity-directory.js';

/**
 * Removes the entry of an identity as the user wrote it. A row stored before keys were spelt as now (an upper-case
 * GUID, listed spelt as now) is removed by the key as it is stored: the spelling given first, as the row of the key
 * spelt as now may be another, valid one; then the key spelt as now; then a GUID's upper-case spelling.
 */
export async function removeDirectoryEntry(directory: EditableIdentityDirectory, identity: string, options: DirectoryWriteOptions = {}): Promise<DirectoryWriteOutcome> {
  let outcome: DirectoryWriteOutcome = { outcome: 'absent' };
  for (const spelling of storedKeys(identity)) {
    outcome = await directory.remove(spelling, options);
    if (outcome.outcome !== 'absent') return outcome;
  }
  return outcome;
}
