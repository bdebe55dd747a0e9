import { randomUUID } from 'node:crypto';
import type { DirtyWindow } from '../contracts/dirty-window.js';
import type { StoredDiagnostic } from '../contracts/diagnostic-record.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { UsageGrain, UsageLine } from '../contracts/usage-tile.js';
import type { IdentityOptions } from '../domain/identity.js';
import { buildTiles, deserializeTile, rollUp, serializeTile, type LatencyTile } from '../domain/latency-tile.js';
import { dayOf, HOUR_MS, hourWindowsOf, isHourWindow, nextDay } from '../domain/tile-windows.js';
import { trafficTile } from '../domain/traffic.js';
import { assembleUsageTiles, UsageLines, usageTileDocuments } from '../domain/usage.js';
import type { AggregateStore, LatencyWindows, Versioned } from '../ports/aggregate-store.js';
import type { DiagnosticsStore } from '../ports/diagnostics-store.js';
import { TransientStoreError, type LedgerStore, type StoreOptions } from '../ports/ledger-store.js';

export interface RollupPorts {
  readonly ledger: Pick<LedgerStore, 'listEntries'>;
  readonly aggregates: AggregateStore;
  /** Diagnostic records feed the latency tiles (every record of a region counts, gateway or not). */
  readonly diagnostics?: Pick<DiagnosticsStore, 'listRecords'>;
}

export interface RollupOptions extends StoreOptions {
  readonly identity?: IdentityOptions;
  /** Dirty hours recomputed per run at most; the rest stay marked for the next run. Default 48. */
  readonly maxHours?: number;
  /** The clock that tells another run's held marker (see `commitWindow`) from one no run holds any more. */
  readonly now?: () => Date;
}

/** host.json's `functionTimeout`: a held marker older than this has no run left holding it. */
const LONGEST_RUN_MS = 10 * 60_000;
/** Dirty hours this close to now are rolled up before older ones. */
const RECENT_HOURS = 48;

export interface RollupResult {
  readonly hours: number;
  readonly days: number;
  readonly entries: number;
  /** Dirty hours left for the next run (beyond `maxHours`). */
  readonly remaining: number;
  /** Markers that named no hour, cleared without a recompute. */
  readonly discarded: number;
}

/** Attempts to commit one window while other rollups keep replacing it, before the run gives up (its markers stay). */
const COMMIT_ATTEMPTS = 5;

/** A window's recomputed usage, and the tiles beside it (latency, traffic) to write once the usage has committed. */
interface WindowRecompute {
  readonly entries: number;
  readonly lines: readonly UsageLine[];
  /** Null when there are none (no diagnostics store). */
  readonly writeSideTiles: (() => Promise<void>) | null;
}

/**
 * Recomputes one window's usage tile until it commits, then writes the tiles beside it. The head is read before
 * the inputs and replaced only if still at that version (ETag): a rollup that read older inputs than the last
 * committed one fails to commit and computes again, so a stale tile never replaces a newer one. The side tiles are
 * written only after that commit, under a marker of `hour` the run holds, which it clears only if the head has not
 * moved on meanwhile: else a newer rollup committed the window and may have written its side tiles before these,
 * and the marker brings the hour to the next run, which writes them from the newest inputs. Tiles hold tokens, not
 * money: reports price them when read.
 */
async function commitWindow(grain: UsageGrain, window: string, hour: string, aggregates: AggregateStore, compute: () => Promise<WindowRecompute>, options: StoreOptions): Promise<number> {
  for (let attempt = 1; attempt <= COMMIT_ATTEMPTS; attempt++) {
    const current = await aggregates.getUsageHead(grain, window, options);
    const { entries, lines, writeSideTiles } = await compute();
    const { head, parts } = usageTileDocuments(grain, window, randomUUID(), entries, lines);
    await aggregates.putUsageParts(parts, options);
    if (await aggregates.replaceUsageHead(head, current?.version ?? null, options)) {
      if (current) await aggregates.deleteUsageParts(partKeys(current.value), options);
      if (writeSideTiles) {
        // A marker of this run's own keeps the hour for the next run until the side tiles are known to be the
        // newest: a run stopped after writing them (functionTimeout) leaves it, never stale tiles without a marker.
        const held = await aggregates.holdDirty(hour, options);
        await writeSideTiles();
        const after = await aggregates.getUsageHead(grain, window, options);
        if (after?.value.generation === head.generation) await aggregates.clearDirty([held], options);
      }
      return entries;
    }
    await aggregates.deleteUsageParts(parts, options);
  }
  throw new TransientStoreError(`usage tile ${grain} ${window} was replaced by other rollups ${COMMIT_ATTEMPTS} times in a row; its hours stay dirty`);
}

function partKeys(head: { id: string; pk: string; generation: string; parts: number }) {
  return Array.from({ length: head.parts }, (_, part) => ({ id: `${head.id}:${head.generation}:${part}`, pk: head.pk }));
}

/** Dirty hours of a day recomputed between two recomputes of the day: a run the host stops loses at most that much work. */
const HOURS_PER_DAY_COMMIT = 6;

/**
 * Recomputes the tiles of dirty hours from the ledger (usage, latency, traffic), then each of their days from its
 * hours. An hour's markers are cleared only once this run has committed the hour and then its day: a run that stops
 * part way leaves marked every hour whose day it did not recompute after it, and a marker set again while its hour
 * was recomputed stays (its version changed). Clearing an hour's marker before its day, even while the day's last
 * hour kept its own, lost usage: another run's day commit, older than this run's hour, could clear that last marker.
 * The day is recomputed every `HOURS_PER_DAY_COMMIT` hours and after its last, so a day whose hours outlast the
 * timer's time limit still advances run by run.
 */
export async function rollupChargeback(ports: RollupPorts, options: RollupOptions = {}): Promise<RollupResult> {
  const markers = await ports.aggregates.listDirty(options);
  const startedAt = (options.now ?? (() => new Date()))().getTime();
  // Another run's held marker is its to clear, unless that run is over (see `commitWindow`): it still brings its
  // hour back to this run, which leaves it.
  const ours = (marker: Versioned<DirtyWindow>) => !marker.value.held || Date.parse(marker.value.markedAt) <= startedAt - LONGEST_RUN_MS;
  const byHour = new Map<string, Versioned<DirtyWindow>[]>();
  // Earlier versions marked the hour of a record dated in year 10000 ('+010000-01-01'). No tile has such an hour:
  // recomputing it would fail every run, and since it sorts first, no other hour would be rolled up again.
  const unusable: Versioned<DirtyWindow>[] = [];
  for (const marker of markers) {
    if (!isHourWindow(marker.value.hour)) {
      unusable.push(marker);
      continue;
    }
    const list = byHour.get(marker.value.hour) ?? [];
    list.push(marker);
    byHour.set(marker.value.hour, list);
  }
  if (unusable.length > 0) await ports.aggregates.clearDirty(unusable, options);
  const allHours = [...byHour.keys()].sort();
  // The hours of the last two days first, then the others marked most recently (the oldest first among those marked
  // at once), hours still to come last: a backlog (`rollup rebuild` of a past period) is worked off run by run
  // without holding back the hours ingest and the join mark now, late records of older hours included.
  const recentFrom = new Date(startedAt - RECENT_HOURS * HOUR_MS).toISOString().slice(0, 13);
  const current = new Date(startedAt).toISOString().slice(0, 13);
  const recent = allHours.filter((hour) => hour >= recentFrom && hour <= current);
  const lastMarked = (hour: string) => byHour.get(hour)!.reduce((latest, m) => (m.value.markedAt > latest ? m.value.markedAt : latest), '');
  const older = allHours
    .filter((hour) => hour < recentFrom)
    .map((hour) => ({ hour, marked: lastMarked(hour) }))
    .sort((a, b) => (a.marked > b.marked ? -1 : a.marked < b.marked ? 1 : a.hour < b.hour ? -1 : 1))
    .map(({ hour }) => hour);
  const coming = allHours.filter((hour) => hour > current);
  const hours = [...recent, ...older, ...coming].slice(0, options.maxHours ?? 48);
  const days = [...new Set(hours.map(dayOf))];
  let entries = 0;
  for (const day of days) {
    const dayHours = hours.filter((hour) => dayOf(hour) === day);
    for (let start = 0; start < dayHours.length; start += HOURS_PER_DAY_COMMIT) {
      const committed = dayHours.slice(start, start + HOURS_PER_DAY_COMMIT);
      for (const hour of committed) entries += await commitWindow('hour', hour, hour, ports.aggregates, () => computeHour(hour, ports, options), options);
      await commitWindow('day', day, committed[committed.length - 1]!, ports.aggregates, () => computeDay(day, ports, options), options);
      await ports.aggregates.clearDirty(committed.flatMap((hour) => byHour.get(hour)!.filter(ours)), options);
    }
  }
  return { hours: hours.length, days: days.length, entries, remaining: allHours.length - hours.length, discarded: unusable.length };
}

/** An hour's usage from its ledger entries, page by page, and its latency and traffic tiles. */
async function computeHour(hour: string, ports: RollupPorts, options: RollupOptions): Promise<WindowRecompute> {
  const usage = new UsageLines(options.identity);
  const range = { from: new Date(`${hour}:00:00.000Z`), to: new Date(Date.parse(`${hour}:00:00.000Z`) + HOUR_MS) };
  const hourEntries: LedgerEntry[] = [];
  for await (const page of ports.ledger.listEntries(range, options)) {
    for (const entry of page) usage.addEntry(entry);
    if (ports.diagnostics) hourEntries.push(...page);
  }
  const writeSideTiles = ports.diagnostics ? await diagnosticsHourTiles(hour, hourEntries, ports.diagnostics, ports.aggregates, range, options) : null;
  return { entries: usage.entries, lines: usage.list(), writeSideTiles };
}

/** A day's usage from its hour tiles, and its latency day tiles. */
async function computeDay(day: string, ports: RollupPorts, options: RollupOptions): Promise<WindowRecompute> {
  const hours = hourWindowsOf(day);
  const tiles = await readUsageTiles(ports.aggregates, 'hour', hours.from, hours.to, options);
  const usage = new UsageLines();
  let entries = 0;
  for (const tile of tiles) {
    entries += tile.entries;
    for (const line of tile.lines) usage.addLine(line);
  }
  let writeSideTiles: (() => Promise<void>) | null = null;
  if (ports.diagnostics) {
    const dayTiles = rollUp((await ports.aggregates.listLatencyTiles(day, 'hour', options)).map(deserializeTile), 'day');
    const windows = { day, grains: ['day'] as const, from: `${day}T00:00:00.000Z`, to: `${nextDay(day)}T00:00:00.000Z` };
    writeSideTiles = () => replaceLatencyTiles(ports.aggregates, windows, dayTiles, options);
  }
  return { entries, lines: usage.list(), writeSideTiles };
}

/** Reads to assemble tiles while writers keep replacing them, before giving up. */
const READ_ATTEMPTS = 3;

/** The usage tiles of one grain with windows in [fromWindow, toWindow) of one partition, each whole. */
export async function readUsageTiles(aggregates: Pick<AggregateStore, 'listUsageDocuments'>, grain: UsageGrain, fromWindow: string, toWindow: string, options: StoreOptions = {}) {
  for (let attempt = 1; ; attempt++) {
    const { heads, parts } = await aggregates.listUsageDocuments(grain, fromWindow, toWindow, options);
    const { tiles, incomplete } = assembleUsageTiles(heads, parts);
    if (incomplete.length === 0) return tiles;
    if (attempt === READ_ATTEMPTS) throw new TransientStoreError(`usage tiles ${incomplete.join(', ')} changed while being read ${READ_ATTEMPTS} times`);
  }
}

/**
 * The tiles of one hour that need its diagnostic records as well as its ledger entries: 5-minute latency tiles
 * and the hour's tiles merged from them, and the hour's traffic tile; computed now, written by the function returned.
 */
async function diagnosticsHourTiles(
  hour: string,
  hourEntries: readonly LedgerEntry[],
  diagnostics: Pick<DiagnosticsStore, 'listRecords'>,
  aggregates: AggregateStore,
  range: { from: Date; to: Date },
  options: RollupOptions,
): Promise<() => Promise<void>> {
  const records: StoredDiagnostic[] = [];
  for await (const page of diagnostics.listRecords(range, options)) records.push(...page);
  const fiveMinute = buildTiles({ records, entries: hourEntries }, '5m');
  const windows = { day: dayOf(hour), grains: ['5m', 'hour'] as const, from: range.from.toISOString(), to: range.to.toISOString() };
  const latency = [...fiveMinute, ...rollUp(fiveMinute, 'hour')];
  const traffic = trafficTile(hour, hourEntries, records, options.identity);
  return async () => {
    await replaceLatencyTiles(aggregates, windows, latency, options);
    await aggregates.upsertTrafficTiles([traffic], options);
  };
}

/**
 * Makes `tiles` the latency tiles of `windows`: tile ids name their backend and deployment, so a recompute that no
 * longer gives one (a record first rolled up under `(unknown)`, then joined to its backend) deletes it.
 */
async function replaceLatencyTiles(aggregates: AggregateStore, windows: LatencyWindows, tiles: readonly LatencyTile[], options: StoreOptions): Promise<void> {
  const documents = tiles.map(serializeTile);
  await aggregates.upsertLatencyTiles(documents, options);
  await aggregates.deleteLatencyTilesExcept(windows, new Set(documents.map((d) => d.id)), options);
}

/** Marks every hour of [from, to) dirty, so the next rollup rebuilds its tiles (after a tile schema change). */
export async function markRangeDirty(aggregates: Pick<AggregateStore, 'markDirty'>, range: { from: Date; to: Date }, options: StoreOptions = {}): Promise<number> {
  const hours: string[] = [];
  for (let t = Math.floor(range.from.getTime() / HOUR_MS) * HOUR_MS; t < range.to.getTime(); t += HOUR_MS) hours.push(new Date(t).toISOString().slice(0, 13));
  await aggregates.markDirty(hours, options);
  return hours.length;
}
