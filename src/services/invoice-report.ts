import { allocationStands, type InvoiceHead } from '../contracts/invoice-allocation-document.js';
import type { RowAllocation } from '../domain/invoice-allocation.js';
import { assembleInvoice, currentExports, isEmptyHead } from '../domain/invoice-documents.js';
import type { InvoiceAllocationStore } from '../ports/invoice-allocation-store.js';
import { TransientStoreError, type StoreOptions } from '../ports/ledger-store.js';

/** Reads to assemble a month's allocations while the timer keeps replacing them, before giving up. */
const READ_ATTEMPTS = 3;

/** The UTC months (`YYYY-MM`) that [from, to) touches. */
export function monthsOf(range: { from: Date; to: Date }): string[] {
  const months: string[] = [];
  const last = new Date(range.to.getTime() - 1);
  for (let y = range.from.getUTCFullYear(), m = range.from.getUTCMonth(); y < last.getUTCFullYear() || (y === last.getUTCFullYear() && m <= last.getUTCMonth()); m === 11 ? ((m = 0), y++) : m++) {
    months.push(`${y}-${String(m + 1).padStart(2, '0')}`);
  }
  return months;
}

export interface StoredInvoice {
  /** The allocated cost rows whose ChargePeriodStart is in the period. */
  readonly allocations: readonly RowAllocation[];
  /** The export files they come from. */
  readonly exports: readonly string[];
}

/**
 * The heads of export runs whose every file is allocated. Cost Management splits a large run into partitions, and "to
 * handle the full dataset, you must ingest each partition" (Microsoft Learn, "Tutorial: Create and manage exported
 * data"). The timer allocates them one by one, may stop between two, and refuses one that does not hold the rows its
 * manifest counts: a run with a partition not allocated is part of its period only, and the last whole run counts.
 * A file with a head in the month is allocated; the marker of any other file of a run says whether it is: a pending
 * claim (the timer writes it before the file's parts and heads) only when an earlier allocation stands meanwhile.
 */
async function ofWholeRuns(allocations: Pick<InvoiceAllocationStore, 'getAllocatedExport'>, heads: readonly InvoiceHead[], options: StoreOptions): Promise<InvoiceHead[]> {
  const allocated = new Set(heads.map((head) => head.exportName));
  const others = [...new Set(heads.flatMap((head) => head.runFiles ?? []))].filter((name) => !allocated.has(name));
  const markers = await Promise.all(others.map((name) => allocations.getAllocatedExport(name, options)));
  for (const marker of markers) if (marker !== null && allocationStands(marker.value)) allocated.add(marker.value.exportName);
  return heads.filter((head) => (head.runFiles ?? []).every((name) => allocated.has(name)));
}

/**
 * The stored allocations of the cost rows charged in [from, to) (by ChargePeriodStart), one single-partition query
 * per month, of the exports that count (see `currentExports`) among those of whole runs (see `ofWholeRuns`).
 */
export async function storedInvoiceFor(
  allocations: Pick<InvoiceAllocationStore, 'listHeads' | 'listAllocations' | 'getAllocatedExport'>,
  range: { from: Date; to: Date },
  options: StoreOptions = {},
): Promise<StoredInvoice> {
  const rows: RowAllocation[] = [];
  const names = new Set<string>();
  for (const month of monthsOf(range)) {
    for (let attempt = 1; ; attempt++) {
      // The parts of the runs that count only: a month-to-date export runs daily, and each run restates the last. A
      // later run that no longer covers the month (an empty head) restates nothing of it.
      const covering = (await allocations.listHeads(month, options)).filter((head) => !isEmptyHead(head));
      const current = currentExports((await ofWholeRuns(allocations, covering, options)).map((head) => ({ head })));
      if (current.length === 0) break;
      const { heads, parts } = await allocations.listAllocations(month, current.map(({ head }) => head.exportName), options);
      const { exports, incomplete } = assembleInvoice(heads, parts);
      if (incomplete.length > 0) {
        if (attempt === READ_ATTEMPTS) throw new TransientStoreError(`the allocations of ${incomplete.join(', ')} changed while being read ${READ_ATTEMPTS} times`);
        continue;
      }
      for (const stored of currentExports(exports)) {
        const inPeriod = stored.allocations.filter(({ row }) => {
          const start = Date.parse(row.chargePeriodStart);
          return start >= range.from.getTime() && start < range.to.getTime();
        });
        if (inPeriod.length > 0) names.add(stored.head.exportName);
        rows.push(...inPeriod);
      }
      break;
    }
  }
  return { allocations: rows, exports: [...names].sort() };
}
