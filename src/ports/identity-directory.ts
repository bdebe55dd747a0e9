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

/** A row with the version it is stored at: an opaque ETag, changed by every write of the row. */
export interface VersionedDirectoryRow {
  readonly row: DirectoryRow;
  readonly etag: string;
}

/**
 * What a conditional write did: `written` (with the row's new ETag; `created` when the identity had no row),
 * `exists` (a create found a row), `stale` (the ETag given is not the row's current one, or the row is gone) or
 * `absent` (a delete found no row).
 */
export type DirectoryWriteOutcome =
  | { readonly outcome: 'written'; readonly etag: string; readonly created: boolean }
  | { readonly outcome: 'deleted' }
  | { readonly outcome: 'exists' }
  | { readonly outcome: 'stale' }
  | { readonly outcome: 'absent' };

export interface DirectoryWriteOptions extends StoreOptions {
  /**
   * Write only if the row is at this version (ETag), or `*` for "only if the row exists". Without it, a replace
   * creates or overwrites whatever is there and a delete removes whatever is there.
   */
  readonly ifMatch?: string;
  /**
   * On a replace, the key the row is stored under when an earlier release spelt it otherwise than now (see
   * `findDirectoryEntry`): the row is written there, in place, so it keeps one row and its ETag holds.
   */
  readonly storedKey?: string;
}

/**
 * The directory edited one row at a time, each write conditional and atomic on the store (an ETag check in the
 * same request as the write), so two editors who read the same version cannot both win. Rows are validated by
 * `checkDirectoryRow` before anything is written (a `RangeError` names the fault); `TransientStoreError` when a
 * retry may succeed.
 */
export interface EditableIdentityDirectory extends IdentityDirectory {
  /**
   * Every identity's entry with its ETag, by identity: of rows an earlier release stored under several spellings of
   * a GUID, the one `compareStoredKeys` puts first.
   */
  listVersioned(options?: StoreOptions): Promise<Map<string, VersionedDirectoryRow>>;
  /** One row with its ETag, or null; `identity` is spelt as `normalizeIdentityKey` spells it. */
  getVersioned(identity: string, options?: StoreOptions): Promise<VersionedDirectoryRow | null>;
  /**
   * The keys rows of a GUID (spelt as now) are stored under in any mix of case, as an earlier release kept them; the
   * rows themselves are not read, nor is the whole directory. `findDirectoryEntry` asks only when no point read found
   * the row; `removeDirectoryEntry` asks to remove every spelling.
   */
  storedCaseVariants(guid: string, options?: StoreOptions): Promise<string[]>;
  /**
   * Writes a row only if its key spelt as now holds none: `written` or `exists`. A row an earlier release stored under
   * another spelling is not looked for: `createDirectoryEntry` does.
   */
  create(row: DirectoryRow, options?: StoreOptions): Promise<DirectoryWriteOutcome>;
  /** Creates or replaces a row (a row without `kind` clears it); with `ifMatch`, only over that version: `written` or `stale`. */
  replace(row: DirectoryRow, options?: DirectoryWriteOptions): Promise<DirectoryWriteOutcome>;
  /** Deletes a row; with `ifMatch`, only that version: `deleted`, `stale` or `absent`. */
  remove(identity: string, options?: DirectoryWriteOptions): Promise<DirectoryWriteOutcome>;
}
