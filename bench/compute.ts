/**
 * Figure 1: events per second of the compute path (parse, validate, normalise, resolve identity, price, tile)
 * against plain `JSON.parse` over the same lines, in the same process, interleaved.
 */
import { readJsonlChunks } from '../src/adapters/files/jsonl-lines.js';
import type { PriceTable } from '../src/contracts/price-table.js';
import { ChargebackLines } from '../src/domain/chargeback.js';
import type { IdentityOptions } from '../src/domain/identity.js';
import { LATENCY_METRICS, LatencyTileSet } from '../src/domain/latency-tile.js';
import { PriceMatcher } from '../src/domain/price-matching.js';
import { decodeBody } from '../src/domain/event-decoding.js';
import { normalizeEvent, normalizeV1Text } from '../src/domain/event-normalization.js';
import { sortBody, type SortedEvents } from '../src/services/ingest-batch.js';
import { median } from './stats.js';

const POSITION = { partitionId: 'file', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } as const;

export interface ComputeTotals {
  readonly entries: number;
  readonly deadLetters: number;
  readonly costPico: bigint;
  readonly tiles: number;
  /** Latency values the tiles' sketches hold. */
  readonly sketchedValues: number;
}

/**
 * The compute path over lines held in memory, line by line as `analyzeFiles` streams a file: `sortBatch` (decode,
 * JSON.parse, validation, normalisation, ledger entry), then per entry `ChargebackLines.addEntry` (identity,
 * price, line) and `LatencyTileSet.addEntry` into hourly latency tiles. No de-duplication: that is the offline
 * analysis' whole-file state, measured in figure 2.
 */
export function computePass(lines: readonly (string | Uint8Array)[], prices: PriceTable, identity: IdentityOptions = {}, stage: 'sortBatch' | 'chargeback' | 'tiles' = 'tiles'): ComputeTotals {
  const chargeback = new ChargebackLines(new PriceMatcher(prices), identity);
  const tiles = new LatencyTileSet('hour');
  let entries = 0;
  let deadLetters = 0;
  const sorted: SortedEvents = { entries: [], deadLetters: [] };
  for (const body of lines) {
    sorted.entries.length = 0;
    sorted.deadLetters.length = 0;
    sortBody(body, POSITION, sorted);
    entries += sorted.entries.length;
    deadLetters += sorted.deadLetters.length;
    if (stage === 'sortBatch') continue;
    for (const entry of sorted.entries) {
      chargeback.addEntry(entry);
      if (stage !== 'chargeback') tiles.addEntry(entry);
    }
  }
  let costPico = 0n;
  for (const line of chargeback.list()) costPico += line.costPico;
  const tileList = tiles.list();
  let sketchedValues = 0;
  for (const tile of tileList) for (const metric of LATENCY_METRICS) sketchedValues += tile.sketches[metric].count;
  return { entries, deadLetters, costPico, tiles: tileList.length, sketchedValues };
}

/** The baseline: `JSON.parse` of every line (malformed ones throw and are counted), nothing else. */
export function jsonParsePass(lines: readonly string[]): { parsed: number; failed: number } {
  let parsed = 0;
  let failed = 0;
  for (const line of lines) {
    try {
      if (JSON.parse(line) !== undefined) parsed++;
    } catch {
      failed++;
    }
  }
  return { parsed, failed };
}

/** The first `limit` non-empty lines of a JSONL file, read as `analyzeFiles` reads them. */
export async function readLines(file: string, limit: number): Promise<string[]> {
  const lines: string[] = [];
  for await (const chunk of readJsonlChunks(file)) {
    for (const line of chunk.lines) {
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length >= limit) return lines;
    }
  }
  return lines;
}

export interface ComputeFigure {
  readonly lines: number;
  readonly rounds: number;
  /** events/s of each round, in order. */
  readonly computeEventsPerSec: readonly number[];
  readonly jsonParseEventsPerSec: readonly number[];
  /** Per-round ratio compute / JSON.parse (of events/s, wall clock); the figure is their median. */
  readonly ratios: readonly number[];
  /** The same ratio from the process' CPU time of each pass (less sensitive to other processes on the machine). */
  readonly cpuRatios: readonly number[];
  readonly computeVsJsonParseCpu: number;
  readonly computeVsJsonParse: number;
  readonly computeEventsPerSecPerCore: number;
  readonly jsonParseEventsPerSecPerCore: number;
  readonly workerThreads: false;
  readonly totals: ComputeTotals;
}

function timed<T>(run: () => T): { result: T; seconds: number; cpuSeconds: number } {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = run();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { result, seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** Both results, `a`'s first; run in the order a, b on even rounds and b, a on odd ones (ABBA), so slow drifts hit both. */
function alternating<A, B>(round: number, a: () => A, b: () => B): [A, B] {
  if (round % 2 === 0) {
    const first = a();
    return [first, b()];
  }
  const second = b();
  return [a(), second];
}

/**
 * Interleaved rounds on one thread (one core): each round times one JSON.parse pass and one compute pass over
 * the same lines, alternating which goes first (ABBA) so slow drifts (GC state, CPU frequency) hit both.
 * One warm-up round on the first 20,000 lines lets the JIT settle before anything is timed.
 */
export function measureCompute(lines: readonly string[], prices: PriceTable, rounds: number): ComputeFigure {
  const warm = lines.slice(0, 20_000);
  jsonParsePass(warm);
  computePass(warm, prices);
  const compute: number[] = [];
  const parse: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  let totals: ComputeTotals | undefined;
  for (let round = 0; round < rounds; round++) {
    const runParse = () => timed(() => jsonParsePass(lines));
    const runCompute = () => {
      const run = timed(() => computePass(lines, prices));
      totals = run.result;
      return run;
    };
    const [parseRun, computeRun] = alternating(round, runParse, runCompute);
    compute.push(lines.length / computeRun.seconds);
    parse.push(lines.length / parseRun.seconds);
    ratios.push(parseRun.seconds / computeRun.seconds);
    cpuRatios.push(parseRun.cpuSeconds / computeRun.cpuSeconds);
  }
  return {
    lines: lines.length,
    rounds,
    computeEventsPerSec: compute,
    jsonParseEventsPerSec: parse,
    ratios,
    cpuRatios,
    computeVsJsonParse: median(ratios),
    computeVsJsonParseCpu: median(cpuRatios),
    computeEventsPerSecPerCore: median(compute),
    jsonParseEventsPerSecPerCore: median(parse),
    workerThreads: false,
    totals: totals!,
  };
}

/**
 * Per round, CPU time of the compute path over `a` ÷ over `b`: interleaved rounds on one thread (ABBA), after a
 * warm-up pass over the first 20,000 bodies of `b`.
 */
function cpuRatios(a: readonly (string | Uint8Array)[], b: readonly (string | Uint8Array)[], prices: PriceTable, rounds: number): number[] {
  computePass(b.slice(0, 20_000), prices);
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const [first, second] = alternating(
      round,
      () => timed(() => computePass(a, prices)),
      () => timed(() => computePass(b, prices)),
    );
    ratios.push(first.cpuSeconds / second.cpuSeconds);
  }
  return ratios;
}

export interface BytesFigure {
  readonly rounds: number;
  /** Per round: CPU time of the compute path over the lines as text ÷ over the same lines as UTF-8 bytes. */
  readonly ratios: readonly number[];
  /** Their median: the share of the text path's speed that bodies delivered as bytes keep. */
  readonly bytesVsText: number;
}

/**
 * The compute path over bodies as the Event Hubs trigger delivers them (`dataType: binary`, bytes) against the
 * same lines as text (what `analyzeFiles` reads): interleaved rounds on one thread, CPU time.
 */
export function measureBytes(lines: readonly string[], prices: PriceTable, rounds: number): BytesFigure {
  const ratios = cpuRatios(lines, lines.map((line) => Buffer.from(line, 'utf8')), prices, rounds);
  return { rounds, ratios, bytesVsText: median(ratios) };
}

export interface DeadLetterFigure {
  readonly rounds: number;
  /** Share of the lines that `sortBody` turns into dead letters only. */
  readonly lineShare: number;
  /** Share of the compute path's CPU time those lines cost: 1 − time(the other lines) ÷ time(all lines), median. */
  readonly timeShare: number;
}

/**
 * What the malformed and invalid lines cost: the compute path over all lines against it over the lines that give a
 * ledger entry (interleaved rounds on one thread, CPU time). zod words each rejection; no fast path does.
 */
export function measureDeadLetters(lines: readonly string[], prices: PriceTable, rounds: number): DeadLetterFigure {
  const sorted: SortedEvents = { entries: [], deadLetters: [] };
  const entryLines = lines.filter((line) => {
    sorted.entries.length = 0;
    sorted.deadLetters.length = 0;
    sortBody(line, POSITION, sorted);
    return sorted.entries.length > 0;
  });
  const shares = cpuRatios(entryLines, lines, prices, rounds).map((ratio) => 1 - ratio);
  return { rounds, lineShare: 1 - entryLines.length / lines.length, timeShare: median(shares) };
}

/** Cumulative stages of the compute path, each a pass over the same lines. */
const STAGES = {
  /** JSON.parse only (the baseline). */
  jsonParse: (lines: readonly string[]) => jsonParsePass(lines),
  /** Parse and validate, as sortBody does: the v1 text decoder, else decodeBody (JSON.parse) and normalizeEvent. */
  validate: (lines: readonly string[]) => {
    let ok = 0;
    for (const line of lines) {
      if (normalizeV1Text(line)) {
        ok++;
        continue;
      }
      const decoded = decodeBody(line);
      if (decoded.ok) for (const item of decoded.items) if (normalizeEvent(item.value).ok) ok++;
    }
    return ok;
  },
} as const;

export interface StageFigure {
  readonly stage: string;
  /** Median CPU seconds of the cumulative pipeline up to this stage (CPU time: robust to other processes). */
  readonly cpuSeconds: number;
  /** Events per CPU second of the cumulative pipeline. */
  readonly eventsPerSec: number;
  /**
   * This stage's own cost in units of the JSON.parse pass: the difference to the previous stage, except for the
   * first stage after JSON.parse (the unit), which parses on its own; the stages after the unit add up to the whole path.
   */
  readonly costInJsonParses: number;
}

/** Where the compute path's time goes: cumulative stages, each timed `rounds` times (median CPU time), on one thread. */
export function measureStages(lines: readonly string[], prices: PriceTable, rounds: number): StageFigure[] {
  const passes: [string, () => unknown][] = [
    ...Object.entries(STAGES).map(([name, run]): [string, () => unknown] => [name, () => run(lines)]),
    // sortBatch = validate + toLedgerEntry (ids, hour bucket, region codes, the entry) + dead letters.
    ['sortBatch', () => computePass(lines, prices, {}, 'sortBatch')],
    ['chargeback', () => computePass(lines, prices, {}, 'chargeback')],
    ['tiles', () => computePass(lines, prices, {}, 'tiles')],
  ];
  const warm = lines.slice(0, 20_000);
  STAGES.validate(warm);
  computePass(warm, prices);
  const seconds = new Map<string, number[]>(passes.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? passes : [...passes].reverse();
    for (const [name, run] of order) seconds.get(name)!.push(timed(run).cpuSeconds);
  }
  const figures: StageFigure[] = [];
  let previous = 0;
  const base = median(seconds.get('jsonParse')!);
  for (const [name] of passes) {
    const s = median(seconds.get(name)!);
    figures.push({ stage: name, cpuSeconds: s, eventsPerSec: lines.length / s, costInJsonParses: (s - previous) / base });
    previous = name === 'jsonParse' ? 0 : s;
  }
  return figures;
}
