import { createHash } from 'node:crypto';
import type { PriceTable, ProvisionedEntry } from '../contracts/price-table.js';
import type { UsageLine } from '../contracts/usage-tile.js';
import { ChargebackLines, IDLE_CAPACITY, UNKNOWN, type ChargebackLine } from './chargeback.js';
import { apportion, costPicodollars, microsToPicodollars, type Picodollars } from './money.js';
import { PriceMatcher, pricesRequest, type PriceMatch, type TokenCounts } from './price-matching.js';
import { UsageLines } from './usage.js';

/**
 * Prices usage when a report is read. Per-token prices are linear, so pricing a line's summed counts gives to the
 * picodollar what pricing each of its requests would (`priceEntry`): every request of a line shares its model,
 * deployment, day and uses, hence its price and whether that price covers it.
 */

/** The audio input of a line's requests priced as audio (cached audio left out): the rest of their uncached prompt. */
function audioInputPriced(line: UsageLine): number {
  return line.promptTokens - line.cachedTokens - line.uncachedInputTokens;
}

function lineTokens(line: UsageLine): TokenCounts {
  return {
    promptTokens: line.promptTokens,
    cachedTokens: line.cachedTokens,
    completionTokens: line.completionTokens,
    reasoningTokens: line.reasoningTokens,
    audioPromptTokens: audioInputPriced(line),
    audioCompletionTokens: line.audioCompletionTokens,
  };
}

/** What a line's unit price applies to: the meters of Azure OpenAI's price sheet, and a price per call. */
export const PRICE_COMPONENTS = ['input', 'cached input', 'output', 'audio input', 'audio output', 'per request'] as const;
export type PriceComponent = (typeof PRICE_COMPONENTS)[number];

/** One priced part of a line: `quantity` tokens (or requests) at `unitPico` picodollars each. */
export interface ComponentCharge {
  readonly component: PriceComponent;
  readonly quantity: number;
  readonly unitPico: Picodollars;
}

/**
 * A line's cost by price component: the sum of `quantity × unitPico` is the line's cost. A price per 1M tokens in
 * micros is that many picodollars per token, so every unit price is exact.
 */
export function componentCharges(line: UsageLine, match: PriceMatch): ComponentCharge[] {
  const charges: ComponentCharge[] = [
    { component: 'input', quantity: line.uncachedInputTokens, unitPico: match.inputPer1MMicros },
    { component: 'cached input', quantity: line.cachedTokens, unitPico: match.cachedInputPer1MMicros },
    { component: 'output', quantity: line.completionTokens - line.audioCompletionTokens, unitPico: match.outputPer1MMicros },
    { component: 'audio input', quantity: audioInputPriced(line), unitPico: match.audioInputPer1MMicros ?? 0n },
    { component: 'audio output', quantity: line.audioCompletionTokens, unitPico: match.audioOutputPer1MMicros ?? 0n },
  ];
  if (match.perRequestMicros !== null) charges.push({ component: 'per request', quantity: line.requests, unitPico: microsToPicodollars(match.perRequestMicros) });
  return charges;
}

function lineCost(line: UsageLine, match: PriceMatch): Picodollars {
  return componentCharges(line, match).reduce((sum, c) => sum + costPicodollars(c.quantity, c.unitPico), 0n);
}

/**
 * How one usage line is priced on `day`: by a provisioned (PTU) deployment's fixed cost, by a price entry that
 * covers everything its requests used, unpriced (usage no price in effect covers), or not at all (no usage).
 */
export type LinePrice =
  | { readonly kind: 'provisioned'; readonly priceVersion: string }
  | { readonly kind: 'priced'; readonly match: PriceMatch }
  | { readonly kind: 'unpriced' }
  | { readonly kind: 'no usage' };

export function linePrice(line: UsageLine, day: string, prices: PriceMatcher, withProvisioned: boolean): LinePrice {
  const time = `${day}T00:00:00.000Z`;
  const ptu = withProvisioned ? prices.provisionedFor({ deployment: line.deployment, time }) : null;
  if (ptu) return { kind: 'provisioned', priceVersion: ptu.priceVersion };
  if (line.uses.length === 0) return { kind: 'no usage' };
  const found = prices.match({ model: line.pricingModel, deployment: line.deployment, time });
  // Every request of a line used the same things, so its sums price like any one of its requests.
  return found && pricesRequest(found, lineTokens(line), line.uses.includes('per-call')) ? { kind: 'priced', match: found } : { kind: 'unpriced' };
}

/** Usage of one UTC day (`YYYY-MM-DD`): the unit prices take effect in. */
export interface DayUsage {
  readonly day: string;
  readonly lines: Iterable<UsageLine>;
}

/** Whole UTC hours [from, to) a report covers. */
export interface HourRange {
  readonly from: Date;
  readonly to: Date;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * The part of a provisioned entry's monthly cost that falls in [from, to): each month's cost is split over its hours
 * by largest remainder, so the hours of a month add up to its monthly cost exactly, and a range gets the hours it
 * covers while the entry is in effect.
 */
function provisionedCostIn(entry: ProvisionedEntry, range: HourRange): Picodollars {
  const effectFrom = Date.parse(`${entry.from}T00:00:00Z`);
  const effectTo = entry.to === null ? Infinity : Date.parse(`${entry.to}T00:00:00Z`);
  const from = Math.max(range.from.getTime(), effectFrom);
  const to = Math.min(range.to.getTime(), effectTo);
  let cost = 0n;
  for (let monthStart = Date.UTC(new Date(from).getUTCFullYear(), new Date(from).getUTCMonth(), 1); monthStart < to; ) {
    const start = new Date(monthStart);
    const next = Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1);
    const hours = (next - monthStart) / HOUR_MS;
    const shares = apportion(microsToPicodollars(entry.monthlyCostMicros), Array.from({ length: hours }, () => 1n));
    const first = Math.max(0, Math.ceil((from - monthStart) / HOUR_MS));
    const last = Math.min(hours, Math.floor((to - monthStart) / HOUR_MS));
    for (let h = first; h < last; h++) cost += shares[h]!;
    monthStart = next;
  }
  return cost;
}

/** The UTC days that `range` covers part of, each with the covered hours of that day. */
export function daysIn(range: HourRange): { day: string; hours: HourRange }[] {
  const days: { day: string; hours: HourRange }[] = [];
  for (let start = Math.floor(range.from.getTime() / DAY_MS) * DAY_MS; start < range.to.getTime(); start += DAY_MS) {
    const hours = { from: new Date(Math.max(start, range.from.getTime())), to: new Date(Math.min(start + DAY_MS, range.to.getTime())) };
    days.push({ day: new Date(start).toISOString().slice(0, 10), hours });
  }
  return days;
}

/** A provisioned deployment's fixed cost to charge: the hours of `range` while `entries` are in effect. */
export interface ProvisionedCharge {
  readonly entries: readonly ProvisionedEntry[];
  readonly range: HourRange;
  /**
   * The whole UTC day's usage of days `range` covers only in part. Such a day's covered hours are split by the
   * whole day's token shares, among requests outside the range too, and are idle only if nobody used the day at
   * all. A partly covered day not given here is split over its usage in `days`, taken as the whole day's.
   */
  readonly wholeDays?: Iterable<DayUsage>;
}

/** Usage on provisioned deployments by price version, then day: each day's lines summed as its day tile sums them. */
type ProvisionedDays = Map<string, Map<string, UsageLines>>;

function addProvisioned(usage: ProvisionedDays, priceVersion: string, day: string, line: UsageLine): void {
  let byDay = usage.get(priceVersion);
  if (!byDay) usage.set(priceVersion, (byDay = new Map()));
  let lines = byDay.get(day);
  if (!lines) byDay.set(day, (lines = new UsageLines()));
  lines.addLine(line);
}

function chargebackLineOf(line: UsageLine, priceVersion: string | null, unpriced: boolean, costPico: Picodollars): ChargebackLine {
  return {
    identity: line.identity,
    identityKind: line.identityKind,
    model: line.model,
    deployment: line.deployment ?? UNKNOWN,
    priceVersion,
    unpriced,
    requests: line.requests,
    promptTokens: line.promptTokens,
    cachedTokens: line.cachedTokens,
    completionTokens: line.completionTokens,
    reasoningTokens: line.reasoningTokens,
    costPico,
    tokenSources: { gateway: 0, 'llm-log': 0, none: 0, [line.tokenSource]: line.requests },
  };
}

/** A share of a provisioned cost alone: the requests and tokens of a line count where the report covers them. */
function shareLine(line: UsageLine, priceVersion: string, costPico: Picodollars): ChargebackLine {
  return {
    ...chargebackLineOf(line, priceVersion, false, costPico),
    requests: 0,
    promptTokens: 0,
    cachedTokens: 0,
    completionTokens: 0,
    reasoningTokens: 0,
    tokenSources: { gateway: 0, 'llm-log': 0, none: 0 },
  };
}

const tokensOf = (line: UsageLine) => BigInt(line.promptTokens + line.completionTokens);
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A day's provisioned cost split over its usage lines by token share: among identities first, so an identity whose
 * requests came through two regions or token sources gets its exact share, then each identity's part among its
 * lines. Ties go to the smaller identity (then model), whatever the order lines were read in.
 */
function sharesOf(cost: Picodollars, users: UsageLine[]): { line: UsageLine; part: Picodollars }[] {
  const ordered = users.sort((a, b) => compareText(a.identity, b.identity) || compareText(a.model, b.model));
  const byIdentity: UsageLine[][] = [];
  for (const line of ordered) {
    const last = byIdentity.at(-1);
    if (last && last[0]!.identity === line.identity) last.push(line);
    else byIdentity.push([line]);
  }
  const parts = apportion(cost, byIdentity.map((lines) => lines.reduce((sum, line) => sum + tokensOf(line), 0n)));
  return byIdentity.flatMap((lines, i) => {
    const lineParts = apportion(parts[i]!, lines.map(tokensOf));
    return lines.map((line, j) => ({ line, part: lineParts[j]! }));
  });
}

/**
 * Chargeback lines of usage at the prices in effect on each day: a price entry's version on every priced line, and
 * lines whose price is missing or lacks what they used reported as unpriced, never as free. Requests on a
 * provisioned (PTU) deployment carry no per-token cost: the deployment's fixed cost for the covered hours of each
 * day is split over that whole day's requests by their share of its tokens (largest remainder, exact), and a day
 * without tokens is reported as idle capacity. So a report's lines are the sums of its days' lines, however long it
 * is; a day covered in part (see `ProvisionedCharge.wholeDays`) charges its covered hours to whoever used the day.
 */
export function priceUsage(days: Iterable<DayUsage>, prices: PriceMatcher, provisioned?: ProvisionedCharge): ChargebackLine[] {
  const priced: ChargebackLine[] = [];
  const inRange: ProvisionedDays = new Map();
  for (const { day, lines } of days) {
    for (const line of lines) {
      const price = linePrice(line, day, prices, provisioned !== undefined);
      if (price.kind === 'provisioned') {
        priced.push(chargebackLineOf(line, price.priceVersion, false, 0n));
        addProvisioned(inRange, price.priceVersion, day, line);
        continue;
      }
      const match = price.kind === 'priced' ? price.match : null;
      priced.push(chargebackLineOf(line, match?.priceVersion ?? null, price.kind === 'unpriced', match ? lineCost(line, match) : 0n));
    }
  }
  const wholeDays = new Set<string>();
  const wholeDay: ProvisionedDays = new Map();
  for (const { day, lines } of provisioned?.wholeDays ?? []) {
    wholeDays.add(day);
    for (const line of lines) {
      const price = linePrice(line, day, prices, true);
      if (price.kind === 'provisioned') addProvisioned(wholeDay, price.priceVersion, day, line);
    }
  }
  for (const entry of provisioned?.entries ?? []) {
    let idle = 0n;
    for (const { day, hours } of daysIn(provisioned!.range)) {
      const cost = provisionedCostIn(entry, hours);
      const users = (wholeDays.has(day) ? wholeDay : inRange).get(entry.priceVersion)?.get(day)?.list() ?? [];
      if (users.every((u) => tokensOf(u) === 0n)) {
        idle += cost;
        continue;
      }
      for (const { line, part } of sharesOf(cost, users)) if (part > 0n) priced.push(shareLine(line, entry.priceVersion, part));
    }
    if (idle > 0n) {
      priced.push({
        identity: IDLE_CAPACITY,
        identityKind: 'unattributed',
        model: UNKNOWN,
        deployment: entry.deployment,
        priceVersion: entry.priceVersion,
        unpriced: false,
        requests: 0,
        promptTokens: 0,
        cachedTokens: 0,
        completionTokens: 0,
        reasoningTokens: 0,
        costPico: idle,
        tokenSources: { gateway: 0, 'llm-log': 0, none: 0 },
      });
    }
  }
  const out = new ChargebackLines(prices);
  for (const line of priced) out.addLine(line);
  return out.list();
}

/** A price table's version: the hash of its content, so a report names exactly the prices it was computed with. */
export function priceTableVersion(table: PriceTable): string {
  const text = JSON.stringify(table, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  return `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

/** The prices reports are read at, and their version. */
export interface Pricing {
  readonly matcher: PriceMatcher;
  readonly version: string;
  readonly provisioned: readonly ProvisionedEntry[];
}

export function pricingOf(table: PriceTable): Pricing {
  return { matcher: new PriceMatcher(table), version: priceTableVersion(table), provisioned: table.provisioned };
}
