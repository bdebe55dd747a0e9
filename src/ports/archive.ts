import type { StoreOptions } from './ledger-store.js';

/** A read-only view of a diagnostics archive: a Blob container or a local folder with the same layout. */
export interface ArchiveReader {
  /** Every blob path under the archive root, relative to it (e.g. `insights-logs-requestresponse/resourceId=/…`). */
  list(options?: StoreOptions): Promise<string[]>;
  /**
   * A blob's lines, some at a time, as they are read: an hour's blob of a busy account may be larger than one
   * string can be (512 MiB), so it is never read whole.
   */
  lines(path: string, options?: StoreOptions): AsyncIterable<readonly string[]>;
}
