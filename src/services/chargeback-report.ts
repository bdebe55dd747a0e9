import type { DirectoryRow } from '../contracts/directory.js';
import type { UsageTile } from '../contracts/usage-tile.js';
import { canSeeIdentity, type ChargebackScope } from '../domain/access.js';
import { chargebackReport, ChargebackLines, type ChargebackReport, type GroupBy } from '../domain/chargeback.js';
import { listPriceFocusRows, type FocusRow } from '../domain/focus-export.js';
import { coverRange, HOUR_MS, hourWindowsOf, nextDay } from '../domain/tile-windows.js';
import { daysIn, priceUsage, type DayUsage, type Pricing } from '../domain/usage-pricing.js';
import type { AggregateStore } from '../ports/aggregate-store.js';
import type { StoreOptions } from '../ports/ledger-store.js';
import { readUsageTiles } from './rollup-chargeback.js';

export interface ChargebackQuery {
  readonly from: Date;
  readonly to: Date;
  readonly groupBy: GroupBy;
  /** Whose rows the caller may see: a report never shows rows the caller may not see. */
  readonly scope: ChargebackScope;
}

export interface ChargebackReportPorts {
  readonly aggregates: Pick<AggregateStore, 'listUsageDocuments'>;
  readonly directory: ReadonlyMap<string, DirectoryRow>;
  readonly pricing: Pricing;
}

export interface ChargebackReportResult extends ChargebackReport {
  readonly from: string;
  readonly to: string;
  /** The price table the costs were computed with (a hash of its content). */
  readonly priceTable: string;
  /**
   * Usage tiles of the period (`hour:YYYY-MM-DDTHH`, `day:YYYY-MM-DD`): the report's totals are exactly their lines,
   * priced, but for a provisioned deployment's cost of a day the period covers in part, which that whole day's
   * usage splits.
   */
  readonly tiles: readonly string[];
}

export interface UsageTileGroup {
  /** The hours its tiles cover. */
  readonly range: { readonly from: Date; readonly to: Date };
  readonly tiles: UsageTile[];
  /** Of hours of one UTC day, when whole days were asked for: all that day's usage (the lines of all its hours). */
  readonly wholeDay?: DayUsage;
}

/**
 * Usage tiles of [from, to) (whole hours), group by group as they are read: whole days from day tiles, one query per
 * month, the rest from hour tiles, one query per day. Each group's `range` is the hours its tiles cover; the groups
 * cover [from, to) exactly, each hour once. With `wholeDays`, a day's query reads all its hours, for `wholeDay`.
 */
export async function* usageTileGroups(
  aggregates: Pick<AggregateStore, 'listUsageDocuments'>,
  range: { from: Date; to: Date },
  options: StoreOptions = {},
  wholeDays = false,
): AsyncGenerator<UsageTileGroup> {
  const groups = new Map<string, { grain: 'hour' | 'day'; windows: string[] }>();
  for (const { grain, window } of coverRange(range.from, range.to)) {
    const key = grain === 'day' ? `day:${window.slice(0, 7)}` : `hour:${window.slice(0, 10)}`;
    const group = groups.get(key) ?? { grain, windows: [] };
    group.windows.push(window);
    groups.set(key, group);
  }
  for (const { grain, windows } of groups.values()) {
    const first = windows[0]!;
    const last = windows[windows.length - 1]!;
    const end = grain === 'day' ? nextDay(last) : new Date(Date.parse(`${last}:00:00Z`) + HOUR_MS).toISOString().slice(0, 13);
    const covered = grain === 'day' ? { from: new Date(`${first}T00:00:00Z`), to: new Date(`${end}T00:00:00Z`) } : { from: new Date(`${first}:00:00Z`), to: new Date(`${end}:00:00Z`) };
    if (grain === 'hour' && wholeDays) {
      const day = first.slice(0, 10);
      const hours = hourWindowsOf(day);
      const dayTiles = await readUsageTiles(aggregates, 'hour', hours.from, hours.to, options);
      const tiles = dayTiles.filter((t) => t.window >= first && t.window < end);
      yield { range: covered, tiles, wholeDay: { day, lines: dayTiles.flatMap((t) => t.lines) } };
    } else yield { range: covered, tiles: await readUsageTiles(aggregates, grain, first, end, options) };
  }
}

/** Usage tiles of [from, to) (whole hours), all of them (see `usageTileGroups`). */
export async function usageTilesOf(aggregates: Pick<AggregateStore, 'listUsageDocuments'>, range: { from: Date; to: Date }, options: StoreOptions = {}): Promise<UsageTile[]> {
  const tiles: UsageTile[] = [];
  for await (const group of usageTileGroups(aggregates, range, options)) tiles.push(...group.tiles);
  return tiles;
}

function wholeHours(range: { from: Date; to: Date }) {
  const hour = (d: Date) => new Date(Math.floor(d.getTime() / HOUR_MS) * HOUR_MS);
  return { from: hour(range.from), to: hour(range.to) };
}

/**
 * The usage of [from, to) (whole hours) priced a UTC day at a time, at the prices in effect that day, every day of
 * it (a day without tiles too: a provisioned deployment's idle capacity). Tiles are read a group at a time (a month
 * of days, or a day of hours), so a long period holds one group's tiles. A provisioned deployment's cost is split day
 * by day, so the sums are those of pricing the whole period at once; a day the period covers in part is split by
 * that whole day's usage, read with its hours (at most two such days, one query each).
 */
async function* pricedDays(aggregates: Pick<AggregateStore, 'listUsageDocuments'>, range: { from: Date; to: Date }, pricing: Pricing, options: StoreOptions = {}) {
  for await (const group of usageTileGroups(aggregates, wholeHours(range), options, pricing.provisioned.length > 0)) {
    const wholeDays = group.wholeDay ? [group.wholeDay] : [];
    for (const { day, hours } of daysIn(group.range)) {
      const tiles = group.tiles.filter((tile) => tile.window.startsWith(day));
      const usage: DayUsage[] = tiles.map((tile) => ({ day, lines: tile.lines }));
      yield { hours, tiles, usage, lines: priceUsage(usage, pricing.matcher, { entries: pricing.provisioned, range: hours, wholeDays }) };
    }
  }
}

/** Chargeback lines of [from, to) (whole hours), priced now (see `pricedDays`), and the tiles they come from. */
export async function chargebackLines(aggregates: Pick<AggregateStore, 'listUsageDocuments'>, range: { from: Date; to: Date }, pricing: Pricing, options: StoreOptions = {}) {
  const merged = new ChargebackLines(pricing.matcher);
  const tiles: string[] = [];
  for await (const day of pricedDays(aggregates, range, pricing, options)) {
    for (const tile of day.tiles) tiles.push(`${tile.grain}:${tile.window}`);
    for (const line of day.lines) merged.addLine(line);
  }
  return { tiles, lines: merged.list() };
}

/**
 * FOCUS rows of [from, to) (whole hours) at list prices, of the identities `scope` lets the caller see; their costs
 * add up to the chargeback report's total for the same scope. Each day's rows, a provisioned share too, are charged
 * and billed in that day (FOCUS: a charge period lies within its billing period).
 */
export async function listPriceFocus(
  ports: ChargebackReportPorts & { readonly accounts: readonly { readonly region: string; readonly resourceId: string }[] },
  query: Pick<ChargebackQuery, 'from' | 'to' | 'scope'>,
  currency: string,
): Promise<FocusRow[]> {
  const rows: FocusRow[] = [];
  const provisionedVersions = new Set(ports.pricing.provisioned.map((e) => e.priceVersion));
  for await (const { hours, usage, lines } of pricedDays(ports.aggregates, query, ports.pricing)) {
    rows.push(...listPriceFocusRows({ days: usage, prices: ports.pricing.matcher, lines, provisionedVersions, directory: ports.directory, accounts: ports.accounts, currency, from: hours.from, to: hours.to }));
  }
  return rows.filter((row) => canSeeIdentity(query.scope, row.x_Identity!));
}

export async function chargebackReportFor(ports: ChargebackReportPorts, query: ChargebackQuery, currency: string, options: StoreOptions = {}): Promise<ChargebackReportResult> {
  const { tiles, lines } = await chargebackLines(ports.aggregates, query, ports.pricing, options);
  const visible = lines.filter((line) => canSeeIdentity(query.scope, line.identity));
  const report = chargebackReport(visible, { groupBy: query.groupBy, directory: ports.directory, currency });
  return { ...report, from: query.from.toISOString(), to: query.to.toISOString(), priceTable: ports.pricing.version, tiles };
}
