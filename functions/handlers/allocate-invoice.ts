import type { InvocationContext, Timer } from '@azure/functions';
import { allocateNewExports, type NewExportsPorts, type StoredAllocationOptions } from '../../src/services/allocate-stored-export.js';

/**
 * Timer handler: allocates each Cost Management export file not yet allocated at its current ETag (or allocated
 * before its data settled) over the ledger
 * and the stored diagnostics, and stores the result for `GET /api/chargeback?basis=invoice`. Without a configured
 * export (`ports` gives null) it only says so. Files that fail are logged and fail the run once the others are done.
 */
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
    const waitingNote = result.waiting > 0 ? `, ${result.waiting} waiting for their run's manifest.json` : '';
    context.log(`allocate: ${result.allocated.length - superseded.length} exports allocated, ${result.unchanged} unchanged, ${result.failed.length} failed${supersededNote}${waitingNote}`);
    for (const failure of result.failed) context.error(`allocate: ${failure.name}: ${failure.reason}`);
    if (result.failed.length > 0) throw new Error(`${result.failed.length} cost exports could not be allocated: ${result.failed.map((f) => f.name).join(', ')}`);
  };
}
