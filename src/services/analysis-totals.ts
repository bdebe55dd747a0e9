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
    let joined = (this.llmUsage.size > 0 && withLlmUsage(entry, this.llmUsage.get(entry.gatewayRequestId))) || entry;
    if (this.recordsByKey.size > 0) {
      const result = joinOne(joined, this.recordsByKey);
      if (result.matchedKey !== null) this.joinedKeys.add(result.matchedKey);
      joined = result.entry;
    }
    this.chargeback.addEntry(joined);
    this.tileSet.addEntry(joined);
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
