import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { FolderArchive } from '../adapters/archive/folder-archive.js';
import { parseArchiveBlob } from '../adapters/archive/archive-diagnostics-source.js';
import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { DirectoryRow } from '../contracts/directory.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { PriceTable } from '../contracts/price-table.js';
import { ChargebackLines, chargebackReport, type ChargebackLine, type ChargebackReport } from '../domain/chargeback.js';
import { parseDirectoryCsv } from '../domain/directory-csv.js';
import type { IdentityOptions } from '../domain/identity.js';
import { joinAll, type JoinCounts } from '../domain/join.js';
import { mergeLedgerEntries } from '../domain/ledger.js';
import { PriceMatcher } from '../domain/price-matching.js';
import { REQUEST_RESPONSE_CONTAINER } from '../domain/archive-layout.js';
import { buildTiles, percentiles, UNKNOWN_DEPLOYMENT } from '../domain/latency-tile.js';
import { backendStatsFromTile, recommendWeights } from '../domain/weights.js';
import { sortBatch } from './ingest-batch.js';
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

const CHUNK = 2_000;

/**
 * One-shot analysis over files, with no store: the gateway events (JSONL, one Event Hubs body per line) go
 * through the same decoding, validation, merging, join and pricing as the pipeline. For audits and backfills.
 */
/** Ledger entries (merged by id) and distinct dead letters of a JSONL file of Event Hubs bodies, read in chunks. */
export async function readEventsFile(eventsFile: string, onProgress?: (linesRead: number) => void): Promise<{ entries: Map<string, LedgerEntry>; deadLetters: number }> {
  const entries = new Map<string, LedgerEntry>();
  const deadLetterIds = new Set<string>();
  let chunk: string[] = [];
  let read = 0;
  const flush = () => {
    const sorted = sortBatch(chunk.map((body) => ({ body, position: { partitionId: 'file', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } })));
    for (const entry of sorted.entries) {
      const seen = entries.get(entry.id);
      entries.set(entry.id, seen ? mergeLedgerEntries(seen, entry) : entry);
    }
    for (const letter of sorted.deadLetters) deadLetterIds.add(letter.id);
    read += chunk.length;
    onProgress?.(read);
    chunk = [];
  };
  const lines = createInterface({ input: createReadStream(eventsFile, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    chunk.push(line);
    if (chunk.length >= CHUNK) flush();
  }
  flush();
  return { entries, deadLetters: deadLetterIds.size };
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

export async function analyzeFiles(input: AnalyzeInput): Promise<AnalyzeResult> {
  const { entries, deadLetters } = await readEventsFile(input.eventsFile, input.onProgress);
  const { records, rejected: diagnosticsRejected } = input.diagnosticsDir ? await readArchiveFolder(input.diagnosticsDir) : { records: [], rejected: 0 };
  const joined = joinAll(entries.values(), records);
  const chargeback = new ChargebackLines(new PriceMatcher(input.prices), input.identity);
  for (const entry of joined.entries) chargeback.addEntry(entry);

  let directory = new Map<string, DirectoryRow>();
  if (input.directoryCsv) {
    const parsed = parseDirectoryCsv(await readFile(input.directoryCsv, 'utf8'));
    if (parsed.errors.length > 0) throw new Error(`${input.directoryCsv}: ${parsed.errors.map((e) => `line ${e.line}: ${e.reason}`).join('; ')}`);
    directory = new Map(parsed.rows.map((row) => [row.identity, row]));
  }
  const lineList = chargeback.list();
  const tiles = mergeByRegion(buildTiles({ records: records.map((r) => ({ ...r, gateway: 'pending' as const })), entries: joined.entries }, 'hour'), true);
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
  return {
    latency,
    weights,
    lines: lineList,
    report: chargebackReport(lineList, { groupBy: 'identity', directory, currency: input.prices.currency }),
    directory,
    deadLetters,
    diagnosticsRejected,
    join: input.diagnosticsDir ? joined.counts : { matched: 0, noDiagnostics: joined.entries.length, bypass: 0 },
    entries: joined.entries.length,
  };
}
