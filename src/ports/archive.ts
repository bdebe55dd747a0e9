import type { StoreOptions } from './ledger-store.js';

/** A read-only view of a diagnostics archive: a Blob container or a local folder with the same layout. */
export interface ArchiveReader {
  /** Every blob path under the archive root, relative to it (e.g. `insights-logs-requestresponse/resourceId=/…/PT1H.json`). */
  list(options?: StoreOptions): Promise<string[]>;
  read(path: string, options?: StoreOptions): Promise<string>;
}
