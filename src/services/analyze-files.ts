import { readFile } from 'node:fs/promises';
import { FolderArchive } from '../adapters/archive/folder-archive.js';
import { parseArchiveBlob } from '../adapters/archive/archive-diagnostics-source.js';
import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { DirectoryRow } from '../contracts/directory.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { PriceTable } from '../contracts/price-table.js';
import { ChargebackLines, chargebackReport, type ChargebackLine, type ChargebackReport } from '../domain/chargeback.js';
import { parseDirectoryCsv } from '../domain/directory-csv.js';
import type { IdentityOptions } from '../domain/identity.js';
import { joinOne, recordsByCorrelationId, type JoinCounts } from '../domain/join.js';
import { PriceMatcher } from '../domain/price-matching.js';
import { REQUEST_RESPONSE_CONTAINER } from '../domain/archive-layout.js';
import { LatencyTileSet, percentiles, UNKNOWN_DEPLOYMENT } from '../domain/latency-tile.js';
import { backendStatsFromTile, recommendWeights } from '../domain/weights.js';
import { forEachDistinctRequest } from './distinct-requests.js';
import { mergeByRegion } from './latency-report.js';

export interface AnalyzeInput {
  readonly eventsFile: string;
  readonly diagnosticsDir?: string;
  readonly prices: PriceTable;
  readonly directoryCsv?: string;
  readonly identity?: IdentityOptions;
  readonly onProgress?: (linesRead: number) => void;
}

export interface AnalyzeLatencyRow {
  readonly region: string;
  readonly deployment: string;
  readonly requests: number;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
}

export interface AnalyzeWeightRow {
  readonly deployment: string;
  readonly region: string;
  readonly weight: number;
  readonly reason: string;
}

export interface AnalyzeResult {
  readonly latency: readonly AnalyzeLatencyRow[];
  readonly weights: readonly AnalyzeWeightRow[];
  readonly lines: readonly ChargebackLine[];
  readonly report: ChargebackReport;
  readonly directory: ReadonlyMap<string, DirectoryRow>;
  readonly deadLetters: number;
  readonly diagnosticsRejected: number;
  readonly join: JoinCounts;
  readonly entries: number;
}

/** Ledger entries (merged by id) and distinct dead letters of a JSONL file of Event Hubs bodies, all in memory. */
export async function readEventsFile(eventsFile: string, onProgress?: (linesRead: number) => void): Promise<{ entries: Map<string, LedgerEntry>; deadLetters: number }> {
  const entries = new Map<string, LedgerEntry>();
  const { deadLetters } = await forEachDistinctRequest(eventsFile, { onRequest: (entry) => entries.set(entry.id, entry), restart: () => entries.clear() }, onProgress);
  return { entries, deadLetters };
}

/** Every valid RequestResponse record of a local archive folder, and how many were rejected. */
export async function readArchiveFolder(dir: string): Promise<{ records: DiagnosticRecord[]; rejected: number }> {
  const archive = new FolderArchive(dir);
  const records: DiagnosticRecord[] = [];
  let rejected = 0;
  for (const path of (await archive.list()).filter((p) => p.startsWith(`${REQUEST_RESPONSE_CONTAINER}/`))) {
    const parsed = parseArchiveBlob(path, await archive.read(path));
    for (const record of parsed.records) records.push(record);
    rejected += parsed.rejected.length;
  }
  return { records, rejected };
}

/** What the analysis adds up, one distinct request at a time: the join, chargeback lines and latency tiles. */
class RequestTotals {
  readonly chargeback: ChargebackLines;
  readonly tiles = new LatencyTileSet('day');
  readonly joinedKeys = new Set<string>();
  requests = 0;

  constructor(
    private readonly recordsByKey: ReadonlyMap<string, DiagnosticRecord>,
    prices: PriceTable,
    identity: IdentityOptions | undefined,
  ) {
    this.chargeback = new ChargebackLines(new PriceMatcher(prices), identity);
  }

  add(entry: LedgerEntry): void {
    this.requests++;
    let joined = entry;
    if (this.recordsByKey.size > 0) {
      const result = joinOne(entry, this.recordsByKey);
      if (result.matchedKey !== null) this.joinedKeys.add(result.matchedKey);
      joined = result.entry;
    }
    this.chargeback.addEntry(joined);
    this.tiles.addEntry(joined);
  }
}

/**
 * One-shot analysis over files, with no store: the gateway events (JSONL, one Event Hubs body per line) go
 * through the same decoding, validation, merging, join and pricing as the pipeline. For audits and backfills.
 * The events are streamed: memory grows with the distinct requests by a few bytes each (see
 * `forEachDistinctRequest`), and with the diagnostics, which are read whole to join against.
 */
export async function analyzeFiles(input: AnalyzeInput): Promise<AnalyzeResult> {
  const { records, rejected: diagnosticsRejected } = input.diagnosticsDir ? await readArchiveFolder(input.diagnosticsDir) : { records: [], rejected: 0 };
  // As `joinAll`: one record per correlation id joins (`recordsByCorrelationId`); as `buildTiles`: the first one counts.
  const recordsByKey = recordsByCorrelationId(records);
  const newTotals = () => new RequestTotals(recordsByKey, input.prices, input.identity);
  let totals = newTotals();
  const stream = await forEachDistinctRequest(input.eventsFile, { onRequest: (entry) => totals.add(entry), restart: () => (totals = newTotals()) }, input.onProgress);
  const countedRecords = new Set<string>();
  for (const record of records) {
    if (countedRecords.has(record.correlationId)) continue;
    countedRecords.add(record.correlationId);
    totals.tiles.addRecord(record);
  }

  let directory = new Map<string, DirectoryRow>();
  if (input.directoryCsv) {
    const parsed = parseDirectoryCsv(await readFile(input.directoryCsv, 'utf8'));
    if (parsed.errors.length > 0) throw new Error(`${input.directoryCsv}: ${parsed.errors.map((e) => `line ${e.line}: ${e.reason}`).join('; ')}`);
    directory = new Map(parsed.rows.map((row) => [row.identity, row]));
  }
  const lineList = totals.chargeback.list();
  const tiles = mergeByRegion(totals.tiles.list(), true);
  const latency = tiles
    .map((t) => {
      const p = percentiles(t, 'serviceMs');
      return { region: t.key.regionCode, deployment: t.key.deployment, requests: t.requests, p50Ms: p?.p50Ms ?? null, p90Ms: p?.p90Ms ?? null, p95Ms: p?.p95Ms ?? null, p99Ms: p?.p99Ms ?? null };
    })
    .sort((a, b) => (a.deployment < b.deployment ? -1 : a.deployment > b.deployment ? 1 : a.region < b.region ? -1 : 1));
  const weights: AnalyzeWeightRow[] = [];
  for (const deployment of [...new Set(tiles.map((t) => t.key.deployment))].filter((d) => d !== UNKNOWN_DEPLOYMENT).sort()) {
    const backends = tiles.filter((t) => t.key.deployment === deployment).map((t) => backendStatsFromTile(t.key.regionCode, t));
    for (const w of recommendWeights({ deployment, backends }).weights) weights.push({ deployment, region: w.backendId, weight: w.weight, reason: w.reason });
  }
  const matched = totals.joinedKeys.size;
  return {
    latency,
    weights,
    lines: lineList,
    report: chargebackReport(lineList, { groupBy: 'identity', directory, currency: input.prices.currency }),
    directory,
    deadLetters: stream.deadLetters,
    diagnosticsRejected,
    join: input.diagnosticsDir
      ? { matched, noDiagnostics: totals.requests - matched, bypass: [...recordsByKey.keys()].filter((key) => !totals.joinedKeys.has(key)).length }
      : { matched: 0, noDiagnostics: totals.requests, bypass: 0 },
    entries: totals.requests,
  };
}
