import type { DirectoryRow } from '../contracts/directory.js';
import type { StoreOptions } from './ledger-store.js';

export type UpsertRowsOptions = StoreOptions;
export type GetAllOptions = StoreOptions;

/**
 * Who each report key is and whom to charge: identity → display name, team, cost center, optional kind.
 * The directory is small (thousands of rows), so reports load all of it once per run.
 *
 * Keys are spelt as `normalizeIdentityKey` spells them (GUIDs lower-cased); look a key up with that spelling.
 */
export interface IdentityDirectory {
  /**
   * Writes the rows, replacing whatever a row's identity had before (a row without `kind` clears it). Identities
   * not among the rows are kept. Idempotent; if an identity occurs twice, the later row wins. Throws a
   * `RangeError` for a row the schema refuses and `TransientStoreError` when a retry may succeed; on a failure,
   * some rows may have been written (writing them again is safe).
   */
  upsertRows(rows: readonly DirectoryRow[], options?: UpsertRowsOptions): Promise<void>;
  /** Every row, by identity. An empty directory (or one never written) is an empty map. */
  getAll(options?: GetAllOptions): Promise<Map<string, DirectoryRow>>;
}
