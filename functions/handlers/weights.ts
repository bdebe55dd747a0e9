import type { InvocationContext, Timer } from '@azure/functions';
import { DEFAULT_OPERATIONS_HOURS } from '../../src/contracts/report-query.js';
import type { AggregateStore } from '../../src/ports/aggregate-store.js';
import { storeWeights } from '../../src/services/latency-report.js';

const HOUR_MS = 3_600_000;

/**
 * Timer handler: stores each deployment's backend-pool weights recommendation for the last 24 whole UTC hours
 * (the hours the rollup has tiled), once per window, so `GET /api/weights` only reads.
 */
export function createWeightsTimerHandler(aggregates: () => AggregateStore, clock: () => Date = () => new Date()) {
  return async function weightsTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const to = new Date(Math.floor(clock().getTime() / HOUR_MS) * HOUR_MS);
    const from = new Date(to.getTime() - DEFAULT_OPERATIONS_HOURS * HOUR_MS);
    const stored = await storeWeights(aggregates(), { from, to });
    context.log(`weights: ${stored} recommendations stored for ${from.toISOString()} to ${to.toISOString()}`);
  };
}
