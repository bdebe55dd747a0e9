import { parseDirectoryCsv, type DirectoryCsvError } from '../domain/directory-csv.js';
import type { IdentityDirectory } from '../ports/identity-directory.js';
import type { StoreOptions } from '../ports/ledger-store.js';

export type ImportDirectoryOptions = StoreOptions;

export interface ImportDirectoryResult {
  /** Rows written: every data row of the file, or 0 when the file has errors. */
  readonly imported: number;
  /** One per faulty line, in line order (see `parseDirectoryCsv`). */
  readonly errors: readonly DirectoryCsvError[];
}

/**
 * Imports the directory file finance keeps. All or nothing at the file level: if any line has an error, nothing is
 * written and every error is returned, so finance fixes the file and imports it again instead of charging from a
 * half-applied directory. A valid file is upserted as a whole: identities it lists are replaced, identities it no
 * longer lists are kept. Importing the same file again changes nothing. Store failures are thrown (a
 * `TransientStoreError` may succeed on a retry, and the import can simply be run again).
 */
export async function importDirectory(csvText: string, directory: IdentityDirectory, options: ImportDirectoryOptions = {}): Promise<ImportDirectoryResult> {
  const { rows, errors } = parseDirectoryCsv(csvText);
  if (errors.length > 0) return { imported: 0, errors };
  await directory.upsertRows(rows, options);
  return { imported: rows.length, errors: [] };
}
