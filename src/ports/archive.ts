import type { StoreOptions } from './ledger-store.js';

/** One blob of an archive: its path under the archive root, and when it was last written to. */
export interface ArchiveEntry {
  /** Relative to the archive root (e.g. `insights-logs-requestresponse/resourceId=/…/PT1H.json`). */
  readonly path: string;
  /** When the blob was last written (an append included), by the store's clock. */
  readonly lastModified: Date;
}

/** Every blob of an archive, in no particular order, and when the listing began. */
export interface ArchiveListing {
  readonly entries: readonly ArchiveEntry[];
  /** By the clock that times `lastModified` (the service's, for Blob storage). */
  readonly listedAt: Date;
}

/** A read-only view of a diagnostics archive: a Blob container or a local folder with the same layout. */
export interface ArchiveReader {
  /** Every blob under the archive root, by path. */
  list(options?: StoreOptions): Promise<ArchiveListing>;
  /**
   * A blob's lines, some at a time, as they are read: an hour's blob of a busy account may be larger than one
   * string can be (512 MiB), so it is never read whole.
   */
  lines(path: string, options?: StoreOptions): AsyncIterable<readonly string[]>;
}
