import { isDeepStrictEqual } from 'node:util';
import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { PriceTable } from '../contracts/price-table.js';
import { ChargebackLines, type ChargebackLine } from '../domain/chargeback.js';
import type { IdentityOptions } from '../domain/identity.js';
import { joinOne } from '../domain/join.js';
import { LatencyTileSet, type LatencyEntryParts, type LatencyTile } from '../domain/latency-tile.js';
import { PriceMatcher } from '../domain/price-matching.js';
import type { LlmUsage } from '../ports/diagnostics-source.js';
import { withLlmUsage } from './join-diagnostics.js';

/** What one part of an analysis added up, in a form that crosses a worker thread boundary. */
export interface TotalsParts {
  readonly lines: readonly ChargebackLine[];
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
  readonly chargeback: ChargebackLines;
  private readonly tileSet = new LatencyTileSet('day');
  readonly joinedKeys = new Set<string>();
  requests = 0;

  constructor(
    private readonly recordsByKey: ReadonlyMap<string, DiagnosticRecord>,
    prices: PriceTable,
    identity: IdentityOptions | undefined,
    /** APIM's LLM-log tokens by gateway request id: a stream cut short takes them, as the pipeline's join does. */
    private readonly llmUsage: ReadonlyMap<string, LlmUsage> = new Map(),
  ) {
    this.chargeback = new ChargebackLines(new PriceMatcher(prices), identity);
  }

  add(entry: LedgerEntry): void {
    this.requests++;
    const { entry: joined, matchedKey } = this.joined(entry);
    if (matchedKey !== null) this.joinedKeys.add(matchedKey);
    this.chargeback.addEntry(joined);
    this.tileSet.addEntry(joined);
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
    return { lines: this.chargeback.list(), tiles: this.tileSet.entryParts(), joinedKeys: [...this.joinedKeys], requests: this.requests };
  }

  absorb(parts: TotalsParts): void {
    for (const line of parts.lines) this.chargeback.addLine(line);
    this.tileSet.absorbEntries(parts.tiles);
    for (const key of parts.joinedKeys) this.joinedKeys.add(key);
    this.requests += parts.requests;
  }
}

function withoutParts(entry: LedgerEntry): Omit<LedgerEntry, 'parts'> {
  const { parts: _parts, ...rest } = entry;
  return rest;
}
