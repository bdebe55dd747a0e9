import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { rangesCutNear } from '../adapters/files/jsonl-lines.js';
import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { PriceTable } from '../contracts/price-table.js';
import { countReasons, type ReasonCount } from '../domain/dead-letter-reasons.js';
import type { IdentityOptions } from '../domain/identity.js';
import { mergeNotingConflicts, requestKey } from '../domain/ledger.js';
import { hashId } from '../domain/request-index.js';
import type { LlmUsage } from '../ports/diagnostics-source.js';
import { AnalysisTotals, type TotalsParts } from './analysis-totals.js';
import { analyzeRange, releaseStreamsEnded, type RangeHandBack, type RangeInput, type RangeRequest, type RangeResult } from './analyze-range.js';

/** Pieces of about this size are handed out to the threads as they ask. */
const PIECE_BYTES = 4 * 2 ** 20;
/** The smallest of the pieces at the end of a file (see `pieceCuts`). */
const LAST_PIECE_BYTES = 256 * 2 ** 10;

/**
 * Where to cut a file of `size` bytes into pieces (before the cuts move to line starts): `PIECE_BYTES` each, and
 * at the end `threads` pieces of each size from half that down to `LAST_PIECE_BYTES`. The thread that takes the
 * last piece then finishes at most a short piece after the others, where equal pieces would keep the others
 * waiting up to a whole piece at the barrier. A file of fewer than `2 × threads` whole pieces is cut into
 * `4 × threads` equal ones.
 */
export function pieceCuts(size: number, threads: number): number[] {
  if (size < 2 * threads * PIECE_BYTES) return Array.from({ length: 4 * threads - 1 }, (_, k) => Math.floor((size * (k + 1)) / (4 * threads)));
  const cuts: number[] = [];
  let end = size;
  for (let bytes = LAST_PIECE_BYTES; bytes < PIECE_BYTES; bytes *= 2) {
    for (let t = 0; t < threads; t++) cuts.push((end -= bytes));
  }
  for (end -= PIECE_BYTES; end > 0; end -= PIECE_BYTES) cuts.push(end);
  return cuts.reverse();
}

/**
 * Bits per claim bitmap: about one per 64 bytes of file, 64 KiB to 4 MiB each. An event is about a kilobyte, so
 * with two bits an id in one word about one id in a thousand looks like another thread's and comes back
 * needlessly. Each id touches a random word of every bitmap, which the other threads write too: bitmaps that stay
 * in the cores' caches cost less than those few ids. At 300 MB of events, 1 MiB bitmaps made the analysis on two
 * threads about 3 % faster than 4 MiB ones (one id in ten thousand); 32 MiB ones made it 30 % slower.
 */
function claimBits(fileBytes: number): number {
  return Math.min(25, Math.max(19, Math.ceil(Math.log2(Math.max(1, fileBytes / 64)))));
}

export interface RangeWorkerInput extends RangeInput {
  /** The records to join against, when the calling thread has them whole; else the worker reads `diagnosticsDir`. */
  readonly records: readonly DiagnosticRecord[] | undefined;
  readonly diagnosticsDir: string | undefined;
  readonly llmLogFile: string | undefined;
}

/** What the calling thread sends a worker: a job, then the answer to its hand-back. */
export type ToRangeWorker = { readonly kind: 'job'; readonly input: RangeWorkerInput } | ({ readonly kind: 'request' } & RangeRequest);

export type RangeWorkerMessage =
  | { readonly kind: 'progress'; readonly lines: number }
  | ({ readonly kind: 'handBack'; readonly parts: TotalsParts } & RangeHandBack)
  | ({ readonly kind: 'result' } & RangeResult);

export interface ParallelInput {
  readonly eventsFile: string;
  readonly prices: PriceTable;
  readonly identity?: IdentityOptions;
  /**
   * The diagnostics archive (read again by each worker), and its records by correlation id as this thread reads
   * them: the workers start first, so that all threads read at once.
   */
  readonly diagnosticsDir?: string;
  readonly recordsByKey: Promise<ReadonlyMap<string, DiagnosticRecord>>;
  /** The records behind `recordsByKey`, sent to each worker, when they are not an archive it reads (see `readStreamedRecords`). */
  readonly records?: readonly DiagnosticRecord[];
  /** An `ApiManagementGatewayLlmLog` export (read again by each worker) and its usage by gateway request id. */
  readonly llmLogFile?: string;
  readonly llmUsage?: Promise<ReadonlyMap<string, LlmUsage>>;
  readonly threads: number;
  readonly onProgress?: (linesRead: number) => void;
  /** How threads share the pieces: first come, first served (default), or round robin (reproducible). */
  readonly pieces?: 'first-come' | 'round-robin';
  /** See `RangeInput.untilRecord`. */
  readonly untilRecord?: boolean;
}

export interface ParallelOutcome {
  readonly totals: AnalysisTotals;
  /** The reasons of the distinct dead letters, counted. */
  readonly deadLetterReasons: readonly ReasonCount[];
  /** Distinct conflicting duplicates (see `DistinctRequests.conflictIds`). */
  readonly conflictingDuplicates: number;
  readonly lines: number;
  /** `RequestResponse` records among the file's lines (see `DistinctRequests.diagnosticRecords`). */
  readonly diagnosticRecords: number;
}

/** A worker running this folder's `analyze-range-worker` module, compiled or (under tsx or vitest) from source. */
function startRangeWorker(): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const module = new URL(`./analyze-range-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  if (!fromSource) return new Worker(module);
  // Under Node 20 the main thread's TypeScript loader does not apply to a worker: register tsx there first.
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(module.href)}); });`;
  return new Worker(boot, { eval: true, execArgv: [] });
}

/**
 * Worker threads kept between analyses, so that a process that analyses more than once (a service, a test run, the
 * benchmark) loads each thread's modules and optimises its code once, not once per analysis. An idle thread is
 * unref'd, so it never keeps a process alive, and ends after a minute without work, so that its heap is given back.
 */
const IDLE_WORKER_MS = 60_000;
const idleWorkers = new Map<Worker, NodeJS.Timeout>();
const exitedWorkers = new WeakSet<Worker>();

function takeWorker(): Worker {
  const [kept] = idleWorkers;
  if (kept) {
    clearTimeout(kept[1]);
    idleWorkers.delete(kept[0]);
    kept[0].ref();
    return kept[0];
  }
  const worker = startRangeWorker();
  worker.once('exit', () => {
    exitedWorkers.add(worker);
    clearTimeout(idleWorkers.get(worker));
    idleWorkers.delete(worker);
  });
  return worker;
}

function keepWorker(worker: Worker): void {
  if (exitedWorkers.has(worker)) return;
  if (idleWorkers.size >= availableParallelism()) {
    void worker.terminate();
    return;
  }
  worker.unref();
  const timer = setTimeout(() => {
    idleWorkers.delete(worker);
    void worker.terminate();
  }, IDLE_WORKER_MS);
  timer.unref();
  idleWorkers.set(worker, timer);
}

/** Messages of one worker, in order, progress aside; rejects when the worker fails or exits early. */
class WorkerChannel {
  private readonly queue: RangeWorkerMessage[] = [];
  private waiting: { resolve: (m: RangeWorkerMessage) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  lines = 0;

  private readonly onMessage: (message: RangeWorkerMessage) => void;
  private readonly onError: (error: Error) => void;
  private readonly onExit: (code: number) => void;

  constructor(
    readonly worker: Worker,
    onProgress: () => void,
  ) {
    this.onMessage = (message) => {
      if (message.kind === 'progress') {
        this.lines = message.lines;
        onProgress();
        return;
      }
      if (this.waiting) {
        this.waiting.resolve(message);
        this.waiting = null;
      } else this.queue.push(message);
    };
    this.onError = (error) => {
      this.failure ??= error;
      this.waiting?.reject(this.failure);
      this.waiting = null;
    };
    this.onExit = (code) => this.onError(new Error(`an analysis worker stopped (exit code ${code}) before it answered`));
    worker.on('message', this.onMessage);
    worker.on('error', this.onError);
    worker.on('exit', this.onExit);
  }

  /** Stops listening: the worker may serve another analysis. */
  release(): void {
    this.worker.off('message', this.onMessage);
    this.worker.off('error', this.onError);
    this.worker.off('exit', this.onExit);
  }

  post(message: ToRangeWorker): void {
    this.worker.postMessage(message);
  }

  next<K extends RangeWorkerMessage['kind']>(kind: K): Promise<Extract<RangeWorkerMessage, { kind: K }>> {
    const check = (m: RangeWorkerMessage) => {
      if (m.kind !== kind) throw new Error(`an analysis worker answered ${m.kind}, expected ${kind}`);
      return m as Extract<RangeWorkerMessage, { kind: K }>;
    };
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(check(queued));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve: (m) => resolve(check(m)), reject };
    });
  }
}

/**
 * The analysis of an events file split over threads by pieces cut at line starts (`takePieces`): the calling
 * thread and `threads - 1` worker threads each take pieces until none is left, stream them with `analyzeRange`
 * and price the requests only they hold; the entries of ids that other threads may also hold come back, are
 * merged with `mergeLedger` (commutative, associative, idempotent) across threads and priced here once.
 * The outcome is the single-thread one, number for number.
 *
 * Null when a thread priced a request that an entry read by another thread then changes (two different events
 * with one request id, in pieces read by two threads): the caller runs the single-thread analysis instead,
 * which handles that case.
 */
export async function analyzeInParallel(input: ParallelInput): Promise<ParallelOutcome | null> {
  const { size } = await stat(input.eventsFile);
  const pieces = await rangesCutNear(input.eventsFile, pieceCuts(size, input.threads));
  const counter = new SharedArrayBuffer(4);
  const bits = claimBits(size);
  const threads = Math.max(1, Math.min(input.threads, pieces.length));
  const claims = Array.from({ length: threads }, () => new SharedArrayBuffer(2 ** bits / 8));
  const streamsEnded = new SharedArrayBuffer(4);
  const rangeInput = (index: number): RangeInput => ({ file: input.eventsFile, pieces, counter, prices: input.prices, identity: input.identity, claims, claimBits: bits, streamsEnded, index, roundRobin: input.pieces === 'round-robin', untilRecord: input.untilRecord ?? false });
  const channels: WorkerChannel[] = [];
  // Set once every worker has answered its whole job: then they are idle and may be kept.
  let workersDone = false;
  // Lets this thread's own pieces finish (and close the file) whatever happens to the workers.
  let answer: (request: RangeRequest) => void = () => {};
  let localLines = 0;
  const progress = () => input.onProgress?.(channels.reduce((sum, c) => sum + c.lines, localLines));
  try {
    for (let index = 1; index < threads; index++) {
      const channel = new WorkerChannel(takeWorker(), progress);
      channels.push(channel);
      channel.post({ kind: 'job', input: { ...rangeInput(index), records: input.records, diagnosticsDir: input.diagnosticsDir, llmLogFile: input.llmLogFile } });
    }
    let localHandBack!: (handBack: RangeHandBack) => void;
    const localHandedBack = new Promise<RangeHandBack>((resolve) => (localHandBack = resolve));
    let totals!: AnalysisTotals;
    const answered = new Promise<RangeRequest>((resolve) => (answer = resolve));
    const [recordsByKey, llmUsage] = await Promise.all([input.recordsByKey, input.llmUsage]);
    const local = analyzeRange(rangeInput(0), recordsByKey, {
      progress: (lines) => {
        localLines = lines;
        progress();
      },
      handBack: (handBack, localTotals) => {
        totals = localTotals;
        localHandBack(handBack);
        return answered;
      },
    }, llmUsage);
    // A failure on this thread must not wait for the workers.
    const [localPart, ...workerParts] = await Promise.race([Promise.all([localHandedBack, ...channels.map((c) => c.next('handBack'))]), local.then(() => never<[RangeHandBack]>())]);
    const handedBack: RangeHandBack[] = [localPart, ...workerParts];
    const conflictIds = new Set<string>();
    const merge = mergeNotingConflicts(conflictIds);
    const deferred = new Map<string, LedgerEntry>();
    for (const part of handedBack) {
      for (const id of part.conflictIds) conflictIds.add(id);
      for (const entry of part.deferred) {
        const key = requestKey(entry);
        const seen = deferred.get(key);
        deferred.set(key, seen ? merge(seen, entry) : entry);
      }
    }
    const request: RangeRequest = { hashes: [...new Set([...deferred.keys()].map(hashId))] };
    answer(request);
    for (const channel of channels) channel.post({ kind: 'request', ...request });
    // This thread's totals take the workers' in while every thread reads its entries under the hashes again: this
    // thread's reads are started first (they are under way once the event loop turns).
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const part of workerParts) totals.absorb(part.parts);
    const results = await Promise.all([local, ...channels.map((c) => c.next('result'))]);
    workersDone = true;

    for (const part of results) {
      for (const priced of part.priced) {
        const key = requestKey(priced);
        const other = deferred.get(key);
        if (!other) continue;
        if (!totals.sameContribution(priced, merge(priced, other))) return null;
        deferred.delete(key);
      }
    }
    for (const entry of deferred.values()) totals.add(entry);
    const deadLetters = new Map(handedBack.flatMap((part) => part.deadLetters));
    const sum = (count: (part: RangeHandBack) => number) => handedBack.reduce((total, part) => total + count(part), 0);
    return { totals, deadLetterReasons: countReasons(deadLetters.values()), conflictingDuplicates: conflictIds.size, lines: sum((p) => p.lines), diagnosticRecords: sum((p) => p.diagnosticRecords) };
  } finally {
    releaseStreamsEnded(streamsEnded, threads);
    answer({ hashes: [] });
    for (const channel of channels) channel.release();
    if (workersDone) for (const channel of channels) keepWorker(channel.worker);
    else await Promise.all(channels.map((c) => c.worker.terminate()));
  }
}

function never<T>(): Promise<T> {
  return new Promise<T>(() => {});
}
