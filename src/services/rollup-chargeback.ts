import type { ChargebackTile, Grain } from '../contracts/chargeback-tile.js';
import { ChargebackLines, type ChargebackLine } from '../domain/chargeback.js';
import type { IdentityOptions } from '../domain/identity.js';
import type { PriceMatcher } from '../domain/price-matching.js';
import { dayOf, daysOfMonth, hoursOfDay, monthOf, tileKey } from '../domain/tile-windows.js';
import type { StoredDiagnostic } from '../contracts/diagnostic-record.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import { buildTiles, deserializeTile, rollUp, serializeTile } from '../domain/latency-tile.js';
import { trafficTile } from '../domain/traffic.js';
import type { AggregateStore } from '../ports/aggregate-store.js';
import type { DiagnosticsStore } from '../ports/diagnostics-store.js';
import type { LedgerStore, StoreOptions } from '../ports/ledger-store.js';

export interface RollupPorts {
  readonly ledger: LedgerStore;
  readonly aggregates: AggregateStore;
  /** Diagnostic records feed the latency tiles (every record of a region counts, gateway or not). */
  readonly diagnostics?: Pick<DiagnosticsStore, 'listRecords'>;
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
    const range = { from: new Date(`${hour}:00:00.000Z`), to: new Date(Date.parse(`${hour}:00:00.000Z`) + 3_600_000) };
    const hourEntries: LedgerEntry[] = [];
    for await (const page of ports.ledger.listEntries(range, options)) {
      for (const entry of page) lines.addEntry(entry);
      hourEntries.push(...page);
    }
    entries += hourEntries.length;
    hourTiles.push(tile('hour', hour, hourEntries.length, lines.list()));
    if (ports.diagnostics) await rollupDiagnosticsHour(hour, hourEntries, ports.diagnostics, ports.aggregates, range, options);
  }
  await ports.aggregates.upsertChargebackTiles(hourTiles, options);
  if (ports.diagnostics) {
    for (const day of new Set(hours.map(dayOf))) {
      const hourly = (await ports.aggregates.listLatencyTiles(day, 'hour', options)).map(deserializeTile);
      await ports.aggregates.upsertLatencyTiles(rollUp(hourly, 'day').map(serializeTile), options);
    }
  }

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

/**
 * The tiles of one hour that need its diagnostic records as well as its ledger entries: 5-minute latency tiles
 * and the hour's tiles merged from them, and the hour's traffic tile.
 */
async function rollupDiagnosticsHour(
  hour: string,
  hourEntries: readonly LedgerEntry[],
  diagnostics: Pick<DiagnosticsStore, 'listRecords'>,
  aggregates: AggregateStore,
  range: { from: Date; to: Date },
  options: RollupOptions,
): Promise<void> {
  const records: StoredDiagnostic[] = [];
  for await (const page of diagnostics.listRecords(range, options)) records.push(...page);
  const fiveMinute = buildTiles({ records, entries: hourEntries }, '5m');
  await aggregates.upsertLatencyTiles([...fiveMinute, ...rollUp(fiveMinute, 'hour')].map(serializeTile), options);
  await aggregates.upsertTrafficTiles([trafficTile(hour, hourEntries, records, options.identity)], options);
}

/** Marks every hour of [from, to) dirty, so the next rollup re-rates them (after a price-table change). */
export async function markRangeDirty(aggregates: Pick<AggregateStore, 'markDirty'>, range: { from: Date; to: Date }, options: StoreOptions = {}): Promise<number> {
  const hours: string[] = [];
  for (let t = Math.floor(range.from.getTime() / 3_600_000) * 3_600_000; t < range.to.getTime(); t += 3_600_000) hours.push(new Date(t).toISOString().slice(0, 13));
  await aggregates.markDirty(hours, options);
  return hours.length;
}
