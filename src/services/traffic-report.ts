import { sumTraffic, type TrafficReport } from '../domain/traffic.js';
import { daysOfRange } from '../domain/tile-windows.js';
import type { AggregateStore } from '../ports/aggregate-store.js';
import type { StoreOptions } from '../ports/ledger-store.js';

/** Join outcomes, bypass traffic and unattributed use over [from, to): the rollup's traffic tiles, one query per day. */
export async function trafficReport(aggregates: Pick<AggregateStore, 'listTrafficTiles'>, range: { from: Date; to: Date }, options: StoreOptions = {}): Promise<TrafficReport> {
  const tiles = [];
  for (const day of daysOfRange(range)) tiles.push(...(await aggregates.listTrafficTiles(day, options)));
  return sumTraffic(tiles, range);
}
