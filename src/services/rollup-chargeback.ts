import type { ChargebackTile, Grain } from '../contracts/chargeback-tile.js';
import { ChargebackLines, type ChargebackLine } from '../domain/chargeback.js';
import type { IdentityOptions } from '../domain/identity.js';
import type { PriceMatcher } from '../domain/price-matching.js';
import { dayOf, daysOfMonth, hoursOfDay, monthOf, tileKey } from '../domain/tile-windows.js';
import type { AggregateStore } from '../ports/aggregate-store.js';
import type { LedgerStore, StoreOptions } from '../ports/ledger-store.js';

export interface RollupPorts {
  readonly ledger: LedgerStore;
  readonly aggregates: AggregateStore;
}

export interface RollupOptions extends StoreOptions {
  readonly prices: PriceMatcher;
  readonly identity?: IdentityOptions;
}

export interface RollupResult {
  readonly hours: number;
  readonly days: number;
  readonly months: number;
  readonly entries: number;
}

function tile(grain: Grain, window: string, entries: number, lines: readonly ChargebackLine[]): ChargebackTile {
  return { ...tileKey('chargeback', grain, window), kind: 'chargeback', grain, window, entries, lines: lines.map((l) => ({ ...l, tokenSources: { ...l.tokenSources } })) };
}

/** Merges finer tiles into one coarser tile (day from hours, month from days). */
function mergeTiles(grain: Grain, window: string, parts: readonly ChargebackTile[], prices: PriceMatcher): ChargebackTile {
  const lines = new ChargebackLines(prices);
  let entries = 0;
  for (const part of parts) {
    entries += part.entries;
    for (const line of part.lines) lines.addLine(line);
  }
  return tile(grain, window, entries, lines.list());
}

/**
 * Recomputes the chargeback tiles of every dirty hour from the ledger (deterministic ids: rewriting a tile
 * changes nothing), then the day and month tiles that contain them, and clears the markers it consumed.
 * A price correction for a past period is applied by marking its hours dirty and rolling up again.
 */
export async function rollupChargeback(ports: RollupPorts, options: RollupOptions): Promise<RollupResult> {
  const markers = await ports.aggregates.listDirty(options);
  if (markers.length === 0) return { hours: 0, days: 0, months: 0, entries: 0 };
  const hours = [...new Set(markers.map((m) => m.hour))].sort();
  let entries = 0;
  const hourTiles: ChargebackTile[] = [];
  for (const hour of hours) {
    const lines = new ChargebackLines(options.prices, options.identity);
    const from = new Date(`${hour}:00:00.000Z`);
    let count = 0;
    for await (const page of ports.ledger.listEntries({ from, to: new Date(from.getTime() + 3_600_000) }, options)) {
      for (const entry of page) lines.addEntry(entry);
      count += page.length;
    }
    entries += count;
    hourTiles.push(tile('hour', hour, count, lines.list()));
  }
  await ports.aggregates.upsertChargebackTiles(hourTiles, options);

  const days = [...new Set(hours.map(dayOf))];
  const dayTiles: ChargebackTile[] = [];
  for (const day of days) {
    const parts = await ports.aggregates.getChargebackTiles(hoursOfDay(day).map((h) => tileKey('chargeback', 'hour', h).id), options);
    dayTiles.push(mergeTiles('day', day, parts, options.prices));
  }
  await ports.aggregates.upsertChargebackTiles(dayTiles, options);

  const months = [...new Set(days.map(monthOf))];
  const monthTiles: ChargebackTile[] = [];
  for (const month of months) {
    const parts = await ports.aggregates.getChargebackTiles(daysOfMonth(month).map((d) => tileKey('chargeback', 'day', d).id), options);
    monthTiles.push(mergeTiles('month', month, parts, options.prices));
  }
  await ports.aggregates.upsertChargebackTiles(monthTiles, options);
  await ports.aggregates.clearDirty(markers, options);
  return { hours: hours.length, days: days.length, months: months.length, entries };
}

/** Marks every hour of [from, to) dirty, so the next rollup re-rates them (after a price-table change). */
export async function markRangeDirty(aggregates: Pick<AggregateStore, 'markDirty'>, range: { from: Date; to: Date }, options: StoreOptions = {}): Promise<number> {
  const hours: string[] = [];
  for (let t = Math.floor(range.from.getTime() / 3_600_000) * 3_600_000; t < range.to.getTime(); t += 3_600_000) hours.push(new Date(t).toISOString().slice(0, 13));
  await aggregates.markDirty(hours, options);
  return hours.length;
}
