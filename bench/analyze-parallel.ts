/**
 * `analyzeFiles` (events only, no diagnostics or directory) split over worker threads by byte ranges of the
 * events file, with results merged exactly:
 *
 * - each worker runs sortBatch over its lines and merges entries by id, as `analyzeFiles` does;
 * - ids seen by more than one worker are found from the id lists, and those entries come back whole and are
 *   merged in the main thread (`mergeLedgerEntries` is commutative, associative and idempotent);
 * - chargeback lines are integer and bigint sums, so `ChargebackLines.addLine` merges them exactly;
 * - latency tiles travel as documents and merge bin by bin (`rollUp`), exactly.
 *
 * The tail (report, latency rows, weights) is the tail of `analyzeFiles`, so both produce the same result.
 */
import { open, stat } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import type { LatencyTileDocument } from '../src/contracts/latency-tile-document.js';
import type { LedgerEntry } from '../src/contracts/ledger-entry.js';
import type { PriceFile } from '../src/contracts/price-table.js';
import { loadPriceTable } from '../src/contracts/price-table.js';
import { ChargebackLines, chargebackReport, type ChargebackLine, type ChargebackReport } from '../src/domain/chargeback.js';
import type { IdentityOptions } from '../src/domain/identity.js';
import { joinAll } from '../src/domain/join.js';
import { buildTiles, deserializeTile, percentiles, rollUp, UNKNOWN_DEPLOYMENT, type LatencyTile } from '../src/domain/latency-tile.js';
import { mergeLedgerEntries } from '../src/domain/ledger.js';
import { PriceMatcher } from '../src/domain/price-matching.js';
import { backendStatsFromTile, recommendWeights } from '../src/domain/weights.js';
import type { AnalyzeLatencyRow, AnalyzeWeightRow } from '../src/services/analyze-files.js';
import { mergeByRegion } from '../src/services/latency-report.js';
import { nextMessage, startTsWorker } from './ts-worker.js';

export interface WorkerInput {
  readonly file: string;
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  readonly prices: PriceFile;
  readonly identity: IdentityOptions;
}

export interface WorkerIds {
  readonly ids: readonly string[];
  readonly deadLetterIds: readonly string[];
}

export interface WorkerShared {
  readonly shared: readonly string[];
}

export interface WorkerResult {
  readonly lines: readonly ChargebackLine[];
  readonly tiles: readonly LatencyTileDocument[];
  readonly shared: readonly LedgerEntry[];
  readonly entries: number;
}

/** What both the sequential and the parallel analysis are compared on. */
export interface AnalysisOutcome {
  readonly lines: readonly ChargebackLine[];
  readonly report: ChargebackReport;
  readonly latency: readonly AnalyzeLatencyRow[];
  readonly weights: readonly AnalyzeWeightRow[];
  readonly entries: number;
  readonly deadLetters: number;
}

/** Byte offsets that cut the file into `parts` ranges, each starting at the beginning of a line. */
export async function lineAlignedRanges(file: string, parts: number): Promise<{ start: number; end: number }[]> {
  const size = (await stat(file)).size;
  const cuts = [0];
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(1 << 20);
    for (let k = 1; k < parts; k++) {
      let position = Math.max(cuts[cuts.length - 1]!, Math.floor((size * k) / parts));
      let cut = size;
      while (position < size) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        const newline = buffer.subarray(0, bytesRead).indexOf(0x0a);
        if (newline >= 0) {
          cut = position + newline + 1;
          break;
        }
        position += bytesRead;
      }
      cuts.push(cut);
    }
  } finally {
    await handle.close();
  }
  cuts.push(size);
  return cuts.slice(0, -1).map((start, i) => ({ start, end: cuts[i + 1]! }));
}

/** The tail of `analyzeFiles`: latency rows and weights from hour tiles, and the report by identity. */
function finish(lines: ChargebackLines, hourTiles: readonly LatencyTile[], currency: string, entries: number, deadLetters: number): AnalysisOutcome {
  const lineList = lines.list();
  const tiles = mergeByRegion(hourTiles, true);
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
    lines: lineList,
    report: chargebackReport(lineList, { groupBy: 'identity', directory: new Map(), currency }),
    latency,
    weights,
    entries,
    deadLetters,
  };
}

export interface ParallelRun {
  readonly outcome: AnalysisOutcome;
  readonly workers: number;
  readonly sharedIds: number;
  readonly seconds: number;
}

export async function analyzeParallel(file: string, pricesJson: PriceFile, workers: number, identity: IdentityOptions = {}): Promise<ParallelRun> {
  const started = performance.now();
  const prices = loadPriceTable(pricesJson);
  const ranges = await lineAlignedRanges(file, workers);
  const threads: Worker[] = ranges.map((range) => startTsWorker(new URL('./analyze-worker.ts', import.meta.url), { file, ...range, prices: pricesJson, identity } satisfies WorkerInput));
  try {
    const idLists = await Promise.all(threads.map((w) => nextMessage<WorkerIds>(w)));
    // An id is shared when a later worker saw an id an earlier one saw.
    const owner = new Map<string, number>();
    const shared = new Set<string>();
    idLists.forEach(({ ids }, worker) => {
      for (const id of ids) {
        const first = owner.get(id);
        if (first === undefined) owner.set(id, worker);
        else if (first !== worker) shared.add(id);
      }
    });
    owner.clear();
    const deadLetters = new Set(idLists.flatMap((l) => l.deadLetterIds)).size;
    const results = Promise.all(threads.map((w) => nextMessage<WorkerResult>(w)));
    const message: WorkerShared = { shared: [...shared] };
    for (const w of threads) w.postMessage(message);
    const parts = await results;

    const lines = new ChargebackLines(new PriceMatcher(prices), identity);
    const tiles: LatencyTile[] = [];
    let entries = 0;
    const merged = new Map<string, LedgerEntry>();
    for (const part of parts) {
      for (const line of part.lines) lines.addLine(line);
      for (const doc of part.tiles) tiles.push(deserializeTile(doc));
      entries += part.entries;
      for (const entry of part.shared) {
        const seen = merged.get(entry.id);
        merged.set(entry.id, seen ? mergeLedgerEntries(seen, entry) : entry);
      }
    }
    const joined = joinAll(merged.values(), []);
    for (const entry of joined.entries) lines.addEntry(entry);
    entries += joined.entries.length;
    const hourTiles = rollUp([...tiles, ...buildTiles({ records: [], entries: joined.entries }, 'hour')], 'hour');
    const outcome = finish(lines, hourTiles, prices.currency, entries, deadLetters);
    return { outcome, workers, sharedIds: shared.size, seconds: (performance.now() - started) / 1000 };
  } finally {
    await Promise.all(threads.map((w) => w.terminate()));
  }
}

/** Differences between two analyses (empty when they agree exactly: lines, totals, latency, weights, counts). */
export function differences(a: AnalysisOutcome, b: AnalysisOutcome): string[] {
  const text = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  const out: string[] = [];
  if (a.entries !== b.entries) out.push(`entries ${a.entries} vs ${b.entries}`);
  if (a.deadLetters !== b.deadLetters) out.push(`dead letters ${a.deadLetters} vs ${b.deadLetters}`);
  if (text(a.lines) !== text(b.lines)) out.push('chargeback lines differ');
  if (text(a.report) !== text(b.report)) out.push('reports differ');
  if (text(a.latency) !== text(b.latency)) out.push('latency rows differ');
  if (text(a.weights) !== text(b.weights)) out.push('weights differ');
  return out;
}
