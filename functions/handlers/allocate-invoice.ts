import type { InvocationContext, Timer } from '@azure/functions';
import { allocateNewExports, type NewExportsPorts, type StoredAllocationOptions } from '../../src/services/allocate-stored-export.js';

/**
 * Timer handler: allocates each Cost Management export file not yet allocated at its current ETag (or allocated
 * before its data settled) over the ledger
 * and the stored diagnostics, and stores the result for `GET /api/chargeback?basis=invoice`. Without a configured
 * export (`ports` gives null) it only says so. Files that fail are logged and fail the run once the others are done.
 */
/** Partitions by the folder of their run, in name order. */
function partitionsByRun(names: readonly string[]): Map<string, number> {
  const runs = new Map<string, number>();
  for (const name of [...names].sort()) {
    const run = name.slice(0, Math.max(0, name.lastIndexOf('/'))) || '(container root)';
    runs.set(run, (runs.get(run) ?? 0) + 1);
  }
  return runs;
}

export function createAllocateTimerHandler(ports: () => NewExportsPorts | null, options: () => StoredAllocationOptions) {
  return async function allocateTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const bound = ports();
    if (!bound) {
      context.log('allocate: no cost export configured (CostExport__blobEndpoint): nothing to allocate');
      return;
    }
    const result = await allocateNewExports(bound, options());
    const superseded = result.allocated.filter((done) => !done.stored);
    for (const done of superseded) context.log(`allocate: ${done.exportName}: a newer run stored its allocation meanwhile; this run's was discarded`);
    for (const done of result.allocated.filter((d) => d.stored)) {
      const rows = done.allocations.length;
      context.log(
        `allocate: ${done.exportName}: ${rows} Azure OpenAI cost rows of ${done.months.join(', ') || 'no month'} allocated (${done.skippedRows} rows of other services, ${done.unplacedRequests} requests without diagnostics, ${done.bypassCalls} bypass calls), ${done.documents} documents`,
      );
    }
    const supersededNote = superseded.length > 0 ? `, ${superseded.length} superseded by a newer run` : '';
    for (const [run, count] of partitionsByRun(result.waiting)) context.log(`allocate: ${run}: ${count} partitions written, waiting for the run's manifest.json`);
    const waitingNote = result.waiting.length > 0 ? `, ${result.waiting.length} waiting for their run's manifest.json` : '';
    context.log(`allocate: ${result.allocated.length - superseded.length} exports allocated, ${result.unchanged} unchanged, ${result.failed.length} failed${supersededNote}${waitingNote}`);
    for (const failure of result.failed) context.error(`allocate: ${failure.name}: ${failure.reason}`);
    if (result.failed.length > 0) throw new Error(`${result.failed.length} cost exports could not be allocated: ${result.failed.map((f) => f.name).join(', ')}`);
  };
}
