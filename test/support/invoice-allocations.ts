import { randomUUID } from 'node:crypto';
import { exportMarker, invoiceDocuments, type ExportAllocation } from '../../src/domain/invoice-documents.js';
import { runKey } from '../../src/domain/run-order.js';
import type { InvoiceAllocationStore } from '../../src/ports/invoice-allocation-store.js';
import { commitInvoiceAllocation } from '../../src/services/commit-invoice-allocation.js';

export type AllocationFields = Omit<ExportAllocation, 'run'> & { readonly run?: string };

/** The documents a run started at `allocatedAt` (unless `run` says which) writes for an export blob at `etag`. */
export function allocationDocuments(allocation: AllocationFields, etag = '"1"') {
  const { allocations, ...rest } = allocation;
  const fields = { ...rest, run: allocation.run ?? runKey(new Date(allocation.allocatedAt), randomUUID()) };
  const { heads, parts } = invoiceDocuments({ ...fields, allocations });
  const marker = exportMarker(fields, heads.map((h) => h.month), { etag, settlesAt: fields.allocatedAt });
  return { allocation: fields, marker, heads, parts };
}

/** Stores an allocation as `allocateStoredExport` does: false when a newer run had stored one. */
export function storeAllocation(store: InvoiceAllocationStore, allocation: AllocationFields, etag = '"1"'): Promise<boolean> {
  return commitInvoiceAllocation(store, allocationDocuments(allocation, etag));
}
