import { checkDirectoryRow, type DirectoryRow } from '../../contracts/directory.js';
import type { GetAllOptions, IdentityDirectory, UpsertRowsOptions } from '../../ports/identity-directory.js';

/**
 * In-memory identity directory with the Table adapter's semantics (rows validated before anything is written,
 * replace per identity, later duplicates win). Holds copies, so callers can never mutate what it stores.
 * `beforeUpsert` lets a test make writes fail.
 */
export class MemoryIdentityDirectory implements IdentityDirectory {
  readonly rows = new Map<string, DirectoryRow>();
  /** Called before every write; throw from it to simulate a store failure. */
  beforeUpsert: ((rows: readonly DirectoryRow[]) => void) | null = null;
  upsertCalls = 0;

  constructor(initial: readonly DirectoryRow[] = []) {
    for (const row of initial) {
      const checked = checkDirectoryRow(row);
      this.rows.set(checked.identity, checked);
    }
  }

  async upsertRows(rows: readonly DirectoryRow[], options?: UpsertRowsOptions): Promise<void> {
    options?.abortSignal?.throwIfAborted();
    const checked = rows.map((row) => checkDirectoryRow(row));
    this.upsertCalls++;
    this.beforeUpsert?.(checked);
    for (const row of checked) this.rows.set(row.identity, row);
  }

  async getAll(options?: GetAllOptions): Promise<Map<string, DirectoryRow>> {
    options?.abortSignal?.throwIfAborted();
    return new Map([...this.rows].map(([identity, row]) => [identity, { ...row }]));
  }
}
