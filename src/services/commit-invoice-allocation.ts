import { allocationStands, type AllocatedExport, type InvoiceHead, type InvoicePart } from '../contracts/invoice-allocation-document.js';
import { emptyHead, type ExportAllocation } from '../domain/invoice-documents.js';
import { isNewerRun } from '../domain/run-order.js';
import type { InvoiceAllocationStore } from '../ports/invoice-allocation-store.js';
import { TransientStoreError, type StoreOptions } from '../ports/ledger-store.js';

/** Attempts to write a marker or heads while other runs keep changing them, before the run gives up (the next run allocates the export again). */
const ATTEMPTS = 5;

export interface AllocationDocuments {
  /** What the documents were made of (see `invoiceDocuments`), for the empty heads of months no longer covered. */
  readonly allocation: Omit<ExportAllocation, 'allocations'>;
  readonly marker: AllocatedExport;
  readonly heads: readonly InvoiceHead[];
  readonly parts: readonly InvoicePart[];
}

const keyOf = ({ id, pk }: { id: string; pk: string }) => ({ id, pk });

/**
 * Stores one run's allocation of an export in place of what the export stored before, while other runs of the same
 * export may be at work (two function apps on one database, or a timer whose singleton lock lapsed). Runs are
 * ordered by `run`, the instant each started reading: the newest run's allocation is what stays, in whatever order
 * the runs' writes land, and no head names parts that are gone.
 *
 * 1. The marker, claimed for the run (pending) unless a newer run has claimed it; then the run stops, having
 *    written nothing. The claim names the months the run is to write and the months the export covered before and
 *    no longer covers, so that a run that stops part way leaves the next run every month to clean up.
 * 2. The run's parts, of a generation of its own.
 * 3. The heads of the run's months, and an empty head for each month no longer covered, each unless a newer run's
 *    head stands there (then the run removes its parts of that month). In each month where the run's head stands,
 *    the parts of older runs are removed: no older run can write a head there any more.
 * 4. The marker again, no longer pending, unless a newer run has claimed it meanwhile. A run that stops before
 *    leaves the marker pending, and the export is allocated again by the next run.
 *
 * Every marker and head is written at the version it was read at (ETag). False when a newer run had claimed the
 * export or stored every month of it first: nothing of this run stays.
 */
export async function commitInvoiceAllocation(store: InvoiceAllocationStore, documents: AllocationDocuments, options: StoreOptions = {}): Promise<boolean> {
  const { allocation, marker, heads, parts } = documents;
  const claim = await claimMarker(store, marker, options);
  if (!claim) return false;
  await store.putParts(parts, options);
  const allHeads = [...heads, ...claim.retiredMonths.map((month) => emptyHead(allocation, month))];
  const superseded = await commitHeads(store, marker.exportName, allHeads, options);
  await store.deleteParts(parts.filter((p) => superseded.has(p.month)).map(keyOf), options);
  for (const { month } of allHeads) {
    if (superseded.has(month)) continue;
    const stored = await store.listPartKeys(marker.exportName, month, options);
    await store.deleteParts(stored.filter((p) => isNewerRun(marker.run, p.run)).map(keyOf), options);
  }
  if (allHeads.length > 0 && superseded.size === allHeads.length) return false;
  await store.replaceAllocatedExport(marker, claim.version, options);
  return true;
}

async function claimMarker(store: InvoiceAllocationStore, marker: AllocatedExport, options: StoreOptions): Promise<{ version: string; retiredMonths: string[] } | null> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const stored = await store.getAllocatedExport(marker.exportName, options);
    // Its own claim: a write that landed though the store answered otherwise.
    if (stored && stored.value.run === marker.run) return { version: stored.version, retiredMonths: stored.value.retiredMonths ?? [] };
    if (stored && !isNewerRun(marker.run, stored.value.run)) return null;
    const before = new Set([...(stored?.value.months ?? []), ...(stored?.value.retiredMonths ?? [])]);
    const retiredMonths = [...before].filter((month) => !marker.months.includes(month)).sort();
    const allocatedBefore = stored !== null && allocationStands(stored.value);
    const version = await store.replaceAllocatedExport({ ...marker, pending: true, retiredMonths, ...(allocatedBefore ? { allocatedBefore } : {}) }, stored?.version ?? null, options);
    if (version !== null) return { version, retiredMonths };
  }
  throw new TransientStoreError(`the allocation marker of ${marker.exportName} was changed by other runs ${ATTEMPTS} times in a row`);
}

/** Writes each head unless a newer run's head stands in its month; the months where one does. */
async function commitHeads(store: InvoiceAllocationStore, exportName: string, heads: readonly InvoiceHead[], options: StoreOptions): Promise<Set<string>> {
  const superseded = new Set<string>();
  let pending = heads;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > ATTEMPTS) throw new TransientStoreError(`the allocation heads of ${exportName} were changed by other runs ${ATTEMPTS} times in a row`);
    const stored = new Map((await store.getHeads(exportName, pending.map((h) => h.month), options)).map((s) => [s.value.month, s]));
    const writes: { head: InvoiceHead; expectedVersion: string | null }[] = [];
    for (const head of pending) {
      const current = stored.get(head.month);
      if (current?.value.run === head.run) continue;
      if (current && !isNewerRun(head.run, current.value.run)) superseded.add(head.month);
      else writes.push({ head, expectedVersion: current?.version ?? null });
    }
    pending = await store.replaceHeads(writes, options);
  }
  return superseded;
}
