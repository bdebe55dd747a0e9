import type { InvocationContext, Timer } from '@azure/functions';
import { runReconciliation, type ReconcilePorts, type ReconcileRunOptions } from '../../src/services/reconcile-windows.js';

/** Timer handler: reconciles the hours since the last run against Log Analytics and Azure Monitor metrics. */
export function createReconcileHandler(ports: () => ReconcilePorts, options: () => Omit<ReconcileRunOptions, 'now'> & { now?: () => Date }) {
  return async function reconcileTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const { now, ...rest } = options();
    const result = await runReconciliation(ports(), { ...rest, now: now?.() ?? new Date() });
    const superseded = result.superseded > 0 ? ` (${result.superseded} hours already stored by a newer run, this run's results of them dropped)` : '';
    const regraded = result.regraded > 0 ? `; ${result.regraded} earlier hours graded fail checked again` : '';
    context.log(result.window ? `reconciled ${result.window.from.toISOString()}..${result.window.to.toISOString()}: ${result.results} results${superseded}${regraded}` : `reconciliation: nothing settled yet${regraded}`);
    for (const reason of result.unavailable ?? []) context.warn(`reconciliation: ${reason}; the window's other checks are stored and the run moves on`);
  };
}
