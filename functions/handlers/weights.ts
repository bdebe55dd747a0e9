import type { InvocationContext, Timer } from '@azure/functions';
import { DEFAULT_OPERATIONS_HOURS } from '../../src/contracts/report-query.js';
import type { AggregateStore } from '../../src/ports/aggregate-store.js';
import { storeWeightsUpTo } from '../../src/services/latency-report.js';

const HOUR_MS = 3_600_000;

/**
 * Timer handler: stores each deployment's backend-pool weights recommendation for the last 24 whole UTC hours
 * (the hours the rollup has tiled), once per window, and those of the hourly windows missed while the app was
 * down, so `GET /api/weights` only reads.
 */
export function createWeightsTimerHandler(aggregates: () => AggregateStore, clock: () => Date = () => new Date()) {
  return async function weightsTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const to = new Date(Math.floor(clock().getTime() / HOUR_MS) * HOUR_MS);
    const { windows, stored } = await storeWeightsUpTo(aggregates(), to, DEFAULT_OPERATIONS_HOURS);
    const ends = windows === 1 ? to.toISOString() : `${new Date(to.getTime() - (windows - 1) * HOUR_MS).toISOString()} to ${to.toISOString()}`;
    context.log(`weights: ${stored} recommendations stored for the ${DEFAULT_OPERATIONS_HOURS}-hour windows ending ${ends}`);
  };
}
