import { isDeepStrictEqual } from 'node:util';
import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { PriceTable, ProvisionedEntry } from '../contracts/price-table.js';
import type { UsageLine } from '../contracts/usage-tile.js';
import { ChargebackLines, type ChargebackLine } from '../domain/chargeback.js';
import type { IdentityOptions } from '../domain/identity.js';
import { joinOne } from '../domain/join.js';
import { LatencyTileSet, type LatencyEntryParts, type LatencyTile } from '../domain/latency-tile.js';
import { PriceMatcher } from '../domain/price-matching.js';
import { nextDay } from '../domain/tile-windows.js';
import { UsageLines } from '../domain/usage.js';
import { priceUsage } from '../domain/usage-pricing.js';
import type { LlmUsage } from '../ports/diagnostics-source.js';
import { withLlmUsage } from './join-diagnostics.js';

/** What one part of an analysis added up, in a form that crosses a worker thread boundary. */
export interface TotalsParts {
  readonly lines: readonly ChargebackLine[];
  /** Usage on provisioned deployments, by UTC day: priced when the analysis ends, as a report prices it. */
  readonly provisionedUsage: readonly { readonly day: string; readonly lines: readonly UsageLine[] }[];
  /** The first and the last UTC day of the requests (when the price table has provisioned entries), else null. */
  readonly days: readonly [string, string] | null;
  readonly tiles: LatencyEntryParts;
  readonly joinedKeys: readonly string[];
  readonly requests: number;
}

/**
 * What the analysis adds up, one distinct request at a time: the join, chargeback lines and day latency tiles.
 * Parts added up elsewhere (other byte ranges of the file) merge in exactly: lines are integer and bigint sums,
 * tiles merge bin by bin, joined keys by union, so the order of parts does not change any result.
 */
export class AnalysisTotals {
  private readonly matcher: PriceMatcher;
  private readonly provisioned: readonly ProvisionedEntry[];
  private readonly chargeback: ChargebackLines;
  private readonly provisionedUsage = new Map<string, UsageLines>();
  private days: [string, string] | null = null;
  private readonly tileSet = new LatencyTileSet('day');
  readonly joinedKeys = new Set<string>();
  requests = 0;

  constructor(
    private readonly recordsByKey: ReadonlyMap<string, DiagnosticRecord>,
    prices: PriceTable,
    private readonly identity: IdentityOptions | undefined,
    /** APIM's LLM-log tokens by gateway request id: a stream cut short takes them, as the pipeline's join does. */
    private readonly llmUsage: ReadonlyMap<string, LlmUsage> = new Map(),
  ) {
    this.matcher = new PriceMatcher(prices);
    this.provisioned = prices.provisioned;
    this.chargeback = new ChargebackLines(this.matcher, identity);
  }

  add(entry: LedgerEntry): void {
    this.requests++;
    const { entry: joined, matchedKey } = this.joined(entry);
    if (matchedKey !== null) this.joinedKeys.add(matchedKey);
    if (this.provisioned.length === 0) this.chargeback.addEntry(joined);
    else {
      // A provisioned deployment's requests share its fixed cost by their tokens of each day: priced in `lines()`.
      const day = joined.time.slice(0, 10);
      this.spanDays(day, day);
      if (this.matcher.provisionedFor(joined) !== null) this.usageOf(day).addEntry(joined);
      else this.chargeback.addEntry(joined);
    }
    this.tileSet.addEntry(joined);
  }

  /**
   * The chargeback lines: requests priced per token, and those on provisioned deployments charged their share of the
   * fixed cost of each UTC day from the first request's to the last one's, as a report over those days charges them
   * (a day without their tokens is idle capacity).
   */
  lines(): ChargebackLine[] {
    if (this.provisioned.length === 0 || this.days === null) return this.chargeback.list();
    const range = { from: new Date(`${this.days[0]}T00:00:00.000Z`), to: new Date(`${nextDay(this.days[1])}T00:00:00.000Z`) };
    const days = [...this.provisionedUsage].map(([day, usage]) => ({ day, lines: usage.list() }));
    const all = new ChargebackLines(this.matcher, this.identity);
    for (const line of [...this.chargeback.list(), ...priceUsage(days, this.matcher, { entries: this.provisioned, range })]) all.addLine(line);
    return all.list();
  }

  private usageOf(day: string): UsageLines {
    let usage = this.provisionedUsage.get(day);
    if (!usage) this.provisionedUsage.set(day, (usage = new UsageLines(this.identity)));
    return usage;
  }

  private spanDays(first: string, last: string): void {
    if (this.days === null) this.days = [first, last];
    else {
      if (first < this.days[0]) this.days[0] = first;
      if (last > this.days[1]) this.days[1] = last;
    }
  }

  /**
   * Whether adding `a` or `b` adds up to the same: they are the same request as the chargeback and the tiles see
   * it (after the LLM-log tokens and the join), whatever sources each was merged from (`parts`, which neither reads).
   */
  sameContribution(a: LedgerEntry, b: LedgerEntry): boolean {
    return isDeepStrictEqual(withoutParts(this.joined(a).entry), withoutParts(this.joined(b).entry));
  }

  /** The entry as the chargeback and the tiles see it, and the key of the record it joined. */
  private joined(entry: LedgerEntry): { entry: LedgerEntry; matchedKey: string | null } {
    const withTokens = (this.llmUsage.size > 0 && withLlmUsage(entry, this.llmUsage.get(entry.gatewayRequestId))) || entry;
    return this.recordsByKey.size > 0 ? joinOne(withTokens, this.recordsByKey) : { entry: withTokens, matchedKey: null };
  }

  addRecord(record: DiagnosticRecord): void {
    this.tileSet.addRecord(record);
  }

  /** Every day tile, the absorbed parts' included, records placed under their backend. */
  tiles(): LatencyTile[] {
    return this.tileSet.list();
  }

  parts(): TotalsParts {
    return {
      lines: this.chargeback.list(),
      provisionedUsage: [...this.provisionedUsage].map(([day, usage]) => ({ day, lines: usage.list() })),
      days: this.days,
      tiles: this.tileSet.entryParts(),
      joinedKeys: [...this.joinedKeys],
      requests: this.requests,
    };
  }

  absorb(parts: TotalsParts): void {
    for (const line of parts.lines) this.chargeback.addLine(line);
    for (const { day, lines } of parts.provisionedUsage) for (const line of lines) this.usageOf(day).addLine(line);
    if (parts.days) this.spanDays(...parts.days);
    this.tileSet.absorbEntries(parts.tiles);
    for (const key of parts.joinedKeys) this.joinedKeys.add(key);
    this.requests += parts.requests;
  }
}

function withoutParts(entry: LedgerEntry): Omit<LedgerEntry, 'parts'> {
  const { parts: _parts, ...rest } = entry;
  return rest;
}
