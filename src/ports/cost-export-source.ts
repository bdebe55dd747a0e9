import type { StoreOptions } from './ledger-store.js';

/** One cost export file as its storage lists it. */
export interface CostExportBlob {
  readonly name: string;
  /** Changes whenever the file is written again. */
  readonly etag: string;
  /** When the file was last written, ISO 8601. */
  readonly lastModified: string;
}

/** Where Cost Management writes its "Cost and usage details" exports (FOCUS, actual or amortized): a Blob container, or a folder. */
export interface CostExportSource {
  /** Every file, by name (an export run also writes a `manifest.json`). */
  list(options?: StoreOptions): Promise<CostExportBlob[]>;
  /**
   * A file's bytes as its name says they are (a `.csv.gz` file's gzip bytes, which the reader unzips), as they are
   * read, with the ETag the file had when opened.
   */
  open(name: string, options?: StoreOptions): Promise<{ readonly bytes: AsyncIterable<Uint8Array>; readonly etag: string }>;
}
