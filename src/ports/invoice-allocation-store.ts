import type { AllocatedExport, InvoiceHead, InvoicePart } from '../contracts/invoice-allocation-document.js';
import type { Versioned } from './aggregate-store.js';
import type { StoreOptions } from './ledger-store.js';

/** An export's allocation of one month as a query returned it (parts of other generations included). */
export interface InvoiceDocuments {
  readonly heads: readonly InvoiceHead[];
  readonly parts: readonly InvoicePart[];
}

/**
 * Cost exports allocated to identities (see `invoiceDocuments`), and which export blobs have been. Markers and heads
 * are replaced only at the version they were read at (ETag), so that runs of one export at once can be ordered
 * (see `commitInvoiceAllocation`).
 */
export interface InvoiceAllocationStore {
  /** Every export blob allocated so far, with the ETag it had: one single-partition query. */
  listAllocatedExports(options?: StoreOptions): Promise<AllocatedExport[]>;
  /** The marker of one export blob and its version, or null when it has none. */
  getAllocatedExport(exportName: string, options?: StoreOptions): Promise<Versioned<AllocatedExport> | null>;
  /**
   * Writes the marker if the stored one is still at `expectedVersion` (null: there is none yet). The new version, or
   * null when another writer changed it first.
   */
  replaceAllocatedExport(marker: AllocatedExport, expectedVersion: string | null, options?: StoreOptions): Promise<string | null>;
  /** Writes parts of a generation (readers ignore them until a head names it). */
  putParts(parts: readonly InvoicePart[], options?: StoreOptions): Promise<void>;
  deleteParts(keys: readonly { id: string; pk: string }[], options?: StoreOptions): Promise<void>;
  /** The export's heads of these months that exist, each with its version: one point read per month. */
  getHeads(exportName: string, months: readonly string[], options?: StoreOptions): Promise<Versioned<InvoiceHead>[]>;
  /**
   * Writes each head if the stored one is still at its expected version (null: there is none yet). The heads that
   * another writer changed first are returned, not written.
   */
  replaceHeads(writes: readonly { head: InvoiceHead; expectedVersion: string | null }[], options?: StoreOptions): Promise<InvoiceHead[]>;
  /** The key and run of each part one export has stored in one month, of any generation: one single-partition query. */
  listPartKeys(exportName: string, month: string, options?: StoreOptions): Promise<{ id: string; pk: string; run?: string | undefined }[]>;
  /** The heads of every export allocated into one month (`YYYY-MM`), without their parts: one single-partition query. */
  listHeads(month: string, options?: StoreOptions): Promise<InvoiceHead[]>;
  /** Heads and parts of these exports (every export's when absent) allocated into one month (`YYYY-MM`): one single-partition query. */
  listAllocations(month: string, exportNames?: readonly string[], options?: StoreOptions): Promise<InvoiceDocuments>;
}
