import type { AllocatedExport, InvoiceHead, InvoicePart } from '../contracts/invoice-allocation-document.js';
import type { StoreOptions } from './ledger-store.js';

/** An export's allocation of one month as a query returned it (parts of other generations included). */
export interface InvoiceDocuments {
  readonly heads: readonly InvoiceHead[];
  readonly parts: readonly InvoicePart[];
}

/** Cost exports allocated to identities (see `invoiceDocuments`), and which export blobs have been. */
export interface InvoiceAllocationStore {
  /** Every export blob allocated so far, with the ETag it had: one single-partition query. */
  listAllocatedExports(options?: StoreOptions): Promise<AllocatedExport[]>;
  /**
   * Makes `heads` and `parts` the export's whole allocation: the parts first, then the heads, then whatever the
   * export had stored before and no longer has (older generations, months it no longer covers) is removed, and
   * last the marker. Idempotent; a run that fails part way leaves the previous allocation readable.
   */
  replaceAllocation(marker: AllocatedExport, heads: readonly InvoiceHead[], parts: readonly InvoicePart[], options?: StoreOptions): Promise<void>;
  /** Heads and parts of every export allocated into one month (`YYYY-MM`): one single-partition query. */
  listAllocations(month: string, options?: StoreOptions): Promise<InvoiceDocuments>;
}
