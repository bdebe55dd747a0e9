import { checkDirectoryRow, entryKeys, type DirectoryRow } from '../../contracts/directory.js';
import type {
  DirectoryWriteOptions,
  DirectoryWriteOutcome,
  EditableIdentityDirectory,
  GetAllOptions,
  UpsertRowsOptions,
  VersionedDirectoryRow,
} from '../../ports/identity-directory.js';
import type { StoreOptions } from '../../ports/ledger-store.js';

/**
 * In-memory identity directory with the Table adapter's semantics (rows validated before anything is written,
 * replace per identity, later duplicates win, an ETag per row that every write changes, conditional writes that
 * check it in the same step). Holds copies, so callers can never mutate what it stores. `beforeUpsert` lets a
 * test make writes fail.
 */
export class MemoryIdentityDirectory implements EditableIdentityDirectory {
  readonly rows = new Map<string, DirectoryRow>();
  /** Called before every write; throw from it to simulate a store failure. */
  beforeUpsert: ((rows: readonly DirectoryRow[]) => void) | null = null;
  upsertCalls = 0;
  private readonly etags = new Map<string, string>();
  private version = 0;

  constructor(initial: readonly DirectoryRow[] = []) {
    for (const row of initial) this.put(checkDirectoryRow(row));
  }

  async upsertRows(rows: readonly DirectoryRow[], options?: UpsertRowsOptions): Promise<void> {
    options?.abortSignal?.throwIfAborted();
    const checked = rows.map((row) => checkDirectoryRow(row));
    this.upsertCalls++;
    this.beforeUpsert?.(checked);
    for (const row of checked) this.put(row);
  }

  async getAll(options?: GetAllOptions): Promise<Map<string, DirectoryRow>> {
    return new Map([...(await this.listVersioned(options))].map(([identity, { row }]) => [identity, row]));
  }

  /** Each identity's entry (`entryKeys`), as the Table adapter lists it when rows are stored under several spellings. */
  async listVersioned(options?: StoreOptions): Promise<Map<string, VersionedDirectoryRow>> {
    options?.abortSignal?.throwIfAborted();
    return new Map([...entryKeys(this.rows.keys())].map(([identity, key]) => [identity, { row: { ...this.rows.get(key)!, identity }, etag: this.etagOf(key) }]));
  }

  async getVersioned(identity: string, options?: StoreOptions): Promise<VersionedDirectoryRow | null> {
    options?.abortSignal?.throwIfAborted();
    const row = this.rows.get(identity);
    return row === undefined ? null : { row: { ...row }, etag: this.etagOf(identity) };
  }

  async storedCaseVariants(guid: string, options?: StoreOptions): Promise<string[]> {
    options?.abortSignal?.throwIfAborted();
    return [...this.rows.keys()].filter((identity) => identity.toLowerCase() === guid);
  }

  async create(row: DirectoryRow, options?: StoreOptions): Promise<DirectoryWriteOutcome> {
    options?.abortSignal?.throwIfAborted();
    const checked = checkDirectoryRow(row);
    this.beforeUpsert?.([checked]);
    if (this.rows.has(checked.identity)) return { outcome: 'exists' };
    return { outcome: 'written', etag: this.put(checked), created: true };
  }

  async replace(row: DirectoryRow, options?: DirectoryWriteOptions): Promise<DirectoryWriteOutcome> {
    options?.abortSignal?.throwIfAborted();
    const checked = checkDirectoryRow(row);
    this.beforeUpsert?.([checked]);
    const key = options?.storedKey ?? checked.identity;
    const exists = this.rows.has(key);
    if (options?.ifMatch !== undefined && !this.matches(key, options.ifMatch)) return { outcome: 'stale' };
    return { outcome: 'written', etag: this.put(checked, key), created: !exists };
  }

  async remove(identity: string, options?: DirectoryWriteOptions): Promise<DirectoryWriteOutcome> {
    options?.abortSignal?.throwIfAborted();
    if (!this.rows.has(identity)) return { outcome: 'absent' };
    if (options?.ifMatch !== undefined && !this.matches(identity, options.ifMatch)) return { outcome: 'stale' };
    this.rows.delete(identity);
    this.etags.delete(identity);
    return { outcome: 'deleted' };
  }

  private matches(identity: string, ifMatch: string): boolean {
    return this.rows.has(identity) && (ifMatch === '*' || ifMatch === this.etagOf(identity));
  }

  /** A row a test put into `rows` directly gets its ETag when first asked. */
  private etagOf(identity: string): string {
    let etag = this.etags.get(identity);
    if (etag === undefined) this.etags.set(identity, (etag = `W/"${++this.version}"`));
    return etag;
  }

  private put(row: DirectoryRow, key = row.identity): string {
    const etag = `W/"${++this.version}"`;
    this.rows.set(key, { ...row });
    this.etags.set(key, etag);
    return etag;
  }
}
