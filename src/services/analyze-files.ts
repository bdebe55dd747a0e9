import { open, readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { FolderArchive, NOT_AN_ARCHIVE, requestResponseFolder } from '../adapters/archive/folder-archive.js';
import { readLlmLogExport } from '../adapters/files/llm-log-export.js';
import { readArchiveBlob } from '../adapters/archive/archive-diagnostics-source.js';
import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { DirectoryRow } from '../contracts/directory.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { PriceTable } from '../contracts/price-table.js';
import type { LlmUsage } from '../ports/diagnostics-source.js';
import { chargebackReport, type ChargebackLine, type ChargebackReport } from '../domain/chargeback.js';
import { countReasons, deadLettersOf, type ReasonCount } from '../domain/dead-letter-reasons.js';
import { directoryCsvText, NOT_UTF8_CSV, parseDirectoryCsv } from '../domain/directory-csv.js';
import type { IdentityOptions } from '../domain/identity.js';
import { recordsByCorrelationId, type JoinCounts } from '../domain/join.js';
import { percentiles } from '../domain/latency-tile.js';
import { backendStatsFromTile, recommendWeights } from '../domain/weights.js';
import { AnalysisTotals } from './analysis-totals.js';
import { analyzeInParallel, type ParallelOutcome } from './analyze-parallel.js';
import { forEachDistinctRequest, readStreamedRecords } from './distinct-requests.js';
import { REQUEST_RESPONSE_CATEGORY } from './ingest-batch.js';
import { mergeOverTime, poolTiles } from './latency-report.js';

export interface AnalyzeInput {
  readonly eventsFile: string;
  readonly diagnosticsDir?: string;
  readonly prices: PriceTable;
  readonly directoryCsv?: string;
  /**
   * An `ApiManagementGatewayLlmLog` export: streams cut short (no usage in their events) take its tokens, as the
   * pipeline's join does. Without it they count no tokens.
   */
  readonly llmLogFile?: string;
  readonly identity?: IdentityOptions;
  readonly onProgress?: (linesRead: number) => void;
  /** Worker threads for the events file (default: one per core); 1 analyses it on the calling thread. */
  readonly threads?: number;
  /** Bytes of events file per thread below which another thread is not worth starting (default 64 MiB). */
  readonly minBytesPerThread?: number;
  /** How the threads share the file's pieces: first come, first served (default), or round robin (reproducible). */
  readonly pieces?: 'first-come' | 'round-robin';
}

/**
 * A worker thread costs about a second of CPU time before it runs at full speed (its own module loading and JIT
 * warm-up, measured at 30,000 and 300,000 events): below about 130,000 events (120 MB) one thread finishes first.
 */
const MIN_BYTES_PER_THREAD = 64 * 2 ** 20;

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
  /** APIM backend id (pool member). */
  readonly backendId: string;
  readonly region: string | null;
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
  /** Why the distinct dead letters were rejected: each reason with how many, the most frequent first. */
  readonly deadLetterReasons: readonly ReasonCount[];
  /**
   * Distinct conflicting duplicates: events of a whole-request source that tell a request differently from the
   * one kept (`duplicateWinner`). The pipeline keeps each as a dead letter too; `deadLetters` does not count them.
   */
  readonly conflictingDuplicates: number;
  readonly diagnosticsRejected: number;
  /**
   * Azure OpenAI `RequestResponse` records in the events file (a diagnostic setting streaming to the gateway's event
   * hub), which the pipeline's ingest stores for its join. Joined when no `diagnosticsDir` is given (the file is then
   * read once more, for them, before its events are analysed); with an archive, its records are joined and these only counted.
   */
  readonly diagnosticsInEvents: number;
  readonly join: JoinCounts;
  readonly entries: number;
}

/** Ledger entries (merged by id) and distinct dead letters of a JSONL file of Event Hubs bodies, all in memory. */
export async function readEventsFile(
  eventsFile: string,
  onProgress?: (linesRead: number) => void,
): Promise<{ entries: Map<string, LedgerEntry>; deadLetterReasons: ReasonCount[] }> {
  const entries = new Map<string, LedgerEntry>();
  // Whole documents by id: a later merge simply takes the place of the request's document, with no second pass.
  const take = (entry: LedgerEntry) => entries.set(entry.id, entry);
  const { deadLetterReasons } = await forEachDistinctRequest(eventsFile, { onRequest: take, restart: () => entries.clear(), onUpdate: (_before, after) => Boolean(take(after)) }, onProgress);
  return { entries, deadLetterReasons: countReasons(deadLetterReasons.values()) };
}

/** APIM's LLM-log usage by gateway request id, from an export file (see `readLlmLogExport`). */
export async function readLlmUsage(file: string): Promise<Map<string, LlmUsage>> {
  const rows = await readLlmLogExport(file);
  return new Map(rows.map((row) => [row.gatewayRequestId, { gatewayRequestId: row.gatewayRequestId, promptTokens: row.promptTokens, completionTokens: row.completionTokens, totalTokens: row.promptTokens + row.completionTokens }]));
}

/**
 * An identity directory CSV by identity; any error in it refuses the whole file, with each line's reason. A file that
 * is not UTF-8 (Excel's "CSV (Comma delimited)" is saved in the locale's code page) is refused as `directory
 * import` refuses it, rather than read with its names garbled.
 */
export async function readDirectoryFile(file: string): Promise<Map<string, DirectoryRow>> {
  const text = directoryCsvText(await readFile(file));
  if (text === null) throw new Error(`${file} ${NOT_UTF8_CSV}`);
  const parsed = parseDirectoryCsv(text);
  if (parsed.errors.length > 0) throw new Error(`${file}: ${parsed.errors.map((e) => `line ${e.line}: ${e.reason}`).join('; ')}`);
  return new Map(parsed.rows.map((row) => [row.identity, row]));
}

/**
 * Every valid RequestResponse record of a local copy of the archive (the folder holding its container, or the
 * container's folder: `requestResponseFolder`), and how many were rejected.
 */
export async function readArchiveFolder(dir: string): Promise<{ records: DiagnosticRecord[]; rejected: number }> {
  const folder = await requestResponseFolder(dir);
  if (folder === null) throw new Error(`${dir} ${NOT_AN_ARCHIVE}: expected a copy of the RequestResponse archive`);
  const archive = new FolderArchive(folder);
  const records: DiagnosticRecord[] = [];
  let rejected = 0;
  for (const path of await archive.paths()) {
    const parsed = await readArchiveBlob(archive, path);
    for (const record of parsed.records) records.push(record);
    rejected += parsed.rejected.length;
  }
  return { records, rejected };
}

/**
 * One-shot analysis over files, with no store: the gateway events (JSONL, one Event Hubs body per line) go
 * through the same decoding, validation, merging, join and pricing as the pipeline. For audits and backfills.
 * The events are streamed: memory grows with the distinct requests by a few bytes each (see
 * `forEachDistinctRequest`), and with the diagnostics, which are read whole to join against.
 */
export async function analyzeFiles(input: AnalyzeInput): Promise<AnalyzeResult> {
  const diagnostics = input.diagnosticsDir ? readArchiveFolder(input.diagnosticsDir) : Promise.resolve({ records: [], rejected: 0 });
  // As `joinAll`: one record per correlation id joins (`recordsByCorrelationId`); as `buildTiles`: the first one counts.
  const recordsByKey = diagnostics.then(({ records }) => recordsByCorrelationId(records));
  const llmUsage = input.llmLogFile ? readLlmUsage(input.llmLogFile) : Promise.resolve(new Map<string, LlmUsage>());
  // Awaited below, after the worker threads have started (they read the same files meanwhile); a failure is thrown there.
  for (const read of [recordsByKey, llmUsage]) read.catch(() => {});
  // Without an archive, the records a diagnostic setting streamed into the events file are joined, as the pipeline's
  // ingest stores them for its join. A request may come before its record, so they are read before the events are
  // analysed: at once when the file's first bytes show one, else once an analysis has met one (that analysis ends
  // there, and the file is analysed again).
  const streamed = !input.diagnosticsDir;
  const againstStreamed = async (): Promise<Joined> => {
    const records = await readStreamedRecords(input.eventsFile);
    const byKey = recordsByCorrelationId(records);
    const events = await analyzeEventsFile(input, { recordsByKey: Promise.resolve(byKey), records, untilRecord: false }, llmUsage);
    return { events, records, rejected: 0, byKey };
  };
  // Without an archive, this analysis is of use only while it meets no streamed record: it ends at the first.
  const againstArchive = async (): Promise<Joined> => {
    const events = await analyzeEventsFile(input, { recordsByKey, untilRecord: streamed }, llmUsage);
    return { events, ...(await diagnostics), byKey: await recordsByKey };
  };
  const streamedFirst = streamed && (await beginsWithStreamedRecords(input.eventsFile));
  let joined = streamedFirst ? await againstStreamed() : await againstArchive();
  if (streamed && !streamedFirst && joined.events.diagnosticRecords > 0) joined = await againstStreamed();
  const { events: { totals, deadLetterReasons, conflictingDuplicates, diagnosticRecords }, records, rejected: diagnosticsRejected, byKey } = joined;
  const countedRecords = new Set<string>();
  for (const record of records) {
    if (countedRecords.has(record.correlationId)) continue;
    countedRecords.add(record.correlationId);
    totals.addRecord(record);
  }

  const directory = input.directoryCsv ? await readDirectoryFile(input.directoryCsv) : new Map<string, DirectoryRow>();
  const lineList = totals.lines();
  const dayTiles = totals.tiles();
  const latency = mergeOverTime(dayTiles, { backend: false, deployment: true })
    .map((t) => {
      const p = percentiles(t, 'serviceMs');
      return { region: t.key.regionCode, deployment: t.key.deployment, requests: t.requests, p50Ms: p?.p50Ms ?? null, p90Ms: p?.p90Ms ?? null, p95Ms: p?.p95Ms ?? null, p99Ms: p?.p99Ms ?? null };
    })
    .sort((a, b) => (a.deployment < b.deployment ? -1 : a.deployment > b.deployment ? 1 : a.region < b.region ? -1 : 1));
  const weights: AnalyzeWeightRow[] = [];
  const pools = poolTiles(dayTiles);
  for (const deployment of [...new Set(pools.map((t) => t.key.deployment))].sort()) {
    const backends = pools.filter((t) => t.key.deployment === deployment).map((t) => backendStatsFromTile(t.key.backendId, t));
    for (const w of recommendWeights({ deployment, backends }).weights) weights.push({ deployment, backendId: w.backendId, region: w.regionCode, weight: w.weight, reason: w.reason });
  }
  const matched = totals.joinedKeys.size;
  return {
    latency,
    weights,
    lines: lineList,
    report: chargebackReport(lineList, { groupBy: 'identity', directory, currency: input.prices.currency }),
    directory,
    deadLetters: deadLettersOf(deadLetterReasons),
    deadLetterReasons,
    conflictingDuplicates,
    diagnosticsRejected,
    diagnosticsInEvents: diagnosticRecords,
    join: { matched, noDiagnostics: totals.requests - matched, bypass: [...byKey.keys()].filter((key) => !totals.joinedKeys.has(key)).length },
    entries: totals.requests,
  };
}

/** The events analysed against the records they joined, by correlation id, and the archive's lines rejected. */
interface Joined {
  readonly events: EventsAnalysis;
  readonly records: readonly DiagnosticRecord[];
  readonly rejected: number;
  readonly byKey: ReadonlyMap<string, DiagnosticRecord>;
}

/** Bytes at the start of an events file looked into for a streamed record: a diagnostic setting streams them all along. */
const STREAMED_RECORD_SAMPLE_BYTES = 4 * 2 ** 20;

/** Whether the first bytes of an events file name a `RequestResponse` record (see `readStreamedRecords`). */
async function beginsWithStreamedRecords(eventsFile: string): Promise<boolean> {
  const handle = await open(eventsFile, 'r');
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.allocUnsafe(STREAMED_RECORD_SAMPLE_BYTES), 0, STREAMED_RECORD_SAMPLE_BYTES, 0);
    return buffer.subarray(0, bytesRead).includes(REQUEST_RESPONSE_CATEGORY);
  } finally {
    await handle.close();
  }
}

/** What the events file adds up to, on one thread or several. */
type EventsAnalysis = Pick<ParallelOutcome, 'totals' | 'deadLetterReasons' | 'conflictingDuplicates' | 'diagnosticRecords'>;

/** What the events are joined against, and whether the analysis ends at the first streamed record (`RangeInput.untilRecord`). */
interface EventsJoin {
  readonly recordsByKey: Promise<ReadonlyMap<string, DiagnosticRecord>>;
  /** The records behind `recordsByKey` when they are not the archive of `diagnosticsDir` (`ParallelInput.records`). */
  readonly records?: readonly DiagnosticRecord[];
  readonly untilRecord: boolean;
}

/** The events file over worker threads when it is large enough and the parallel path does not decline, else on the calling thread. */
async function analyzeEventsFile(input: AnalyzeInput, join: EventsJoin, llmUsage: Promise<ReadonlyMap<string, LlmUsage>>): Promise<EventsAnalysis> {
  return (await analyzeEventsInParallel(input, join, llmUsage)) ?? (await analyzeEvents(input, await join.recordsByKey, await llmUsage, join.untilRecord));
}

/** The events file on the calling thread. */
async function analyzeEvents(input: AnalyzeInput, recordsByKey: ReadonlyMap<string, DiagnosticRecord>, llmUsage: ReadonlyMap<string, LlmUsage>, untilRecord: boolean): Promise<EventsAnalysis> {
  const newTotals = () => new AnalysisTotals(recordsByKey, input.prices, input.identity, llmUsage);
  let totals = newTotals();
  const stream = await forEachDistinctRequest(
    input.eventsFile,
    { onRequest: (entry) => totals.add(entry), restart: () => (totals = newTotals()), onUpdate: (before, after) => totals.sameContribution(before, after) },
    input.onProgress,
    untilRecord ? { untilRecord: () => {} } : {},
  );
  return { totals, deadLetterReasons: countReasons(stream.deadLetterReasons.values()), conflictingDuplicates: stream.conflictIds.size, diagnosticRecords: stream.diagnosticRecords };
}

/** The events file over worker threads when it is large enough, else null (also when the parallel path declines). */
async function analyzeEventsInParallel(input: AnalyzeInput, { recordsByKey, records, untilRecord }: EventsJoin, llmUsage: Promise<ReadonlyMap<string, LlmUsage>>): Promise<EventsAnalysis | null> {
  const { size } = await stat(input.eventsFile);
  const threads = Math.min(Math.max(1, Math.floor(input.threads ?? availableParallelism())), Math.floor(size / (input.minBytesPerThread ?? MIN_BYTES_PER_THREAD)));
  if (threads < 2) return null;
  return analyzeInParallel({
    eventsFile: input.eventsFile,
    prices: input.prices,
    ...(input.identity ? { identity: input.identity } : {}),
    ...(records ? { records } : input.diagnosticsDir ? { diagnosticsDir: input.diagnosticsDir } : {}),
    ...(input.llmLogFile ? { llmLogFile: input.llmLogFile, llmUsage } : {}),
    ...(input.onProgress ? { onProgress: input.onProgress } : {}),
    ...(input.pieces ? { pieces: input.pieces } : {}),
    recordsByKey,
    threads,
    untilRecord,
  });
}
