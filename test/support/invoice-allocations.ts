import { randomUUID } from 'node:crypto';
import { allocationRun, exportMarker, invoiceDocuments, type ExportAllocation } from '../../src/domain/invoice-documents.js';
import type { InvoiceAllocationStore } from '../../src/ports/invoice-allocation-store.js';
import { commitInvoiceAllocation } from '../../src/services/commit-invoice-allocation.js';

export type AllocationFields = Omit<ExportAllocation, 'run'> & { readonly run?: string };

/** The documents a run started at `allocatedAt` (unless `run` says which) writes for an export blob at `etag`. */
export function allocationDocuments(allocation: AllocationFields, etag = '"1"') {
  const { allocations, ...rest } = allocation;
  const fields = { ...rest, run: allocation.run ?? allocationRun(new Date(allocation.allocatedAt), randomUUID()) };
  const { heads, parts } = invoiceDocuments({ ...fields, allocations });
  const marker = exportMarker(fields, heads.map((h) => h.month), { etag, settlesAt: fields.allocatedAt });
  return { allocation: fields, marker, heads, parts };
}

/** Stores an allocation as `allocateStoredExport` does: false when a newer run had stored one. */
export function storeAllocation(store: InvoiceAllocationStore, allocation: AllocationFields, etag = '"1"'): Promise<boolean> {
  return commitInvoiceAllocation(store, allocationDocuments(allocation, etag));
}

/**
 * The store, with calls of `method` held until `release()`: a run paused at one step while another runs. `reached`
 * resolves when the first call arrives.
 */
export function pausedAt(store: InvoiceAllocationStore, method: keyof InvoiceAllocationStore) {
  let release!: () => void;
  let arrived!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  const paused = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property !== method || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        arrived();
        await gate;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: paused, reached, release };
}
