import type { ByteRange } from '../adapters/files/jsonl-lines.js';
import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { PriceTable } from '../contracts/price-table.js';
import type { IdentityOptions } from '../domain/identity.js';
import type { LlmUsage } from '../ports/diagnostics-source.js';
import { awaitsCounterpart, requestKey } from '../domain/ledger.js';
import { hashId } from '../domain/request-index.js';
import { AnalysisTotals } from './analysis-totals.js';
import { forEachDistinctRequest } from './distinct-requests.js';

/**
 * Which threads hold which request ids, approximately and without locks: one bitmap per thread in shared memory,
 * two bits per id hash in one 32-bit word (a blocked Bloom filter: one memory access per bitmap, not one per bit).
 * A thread sets its bits for an id, then looks at the other threads' word; because `Atomics` operations are
 * sequentially consistent, of two threads that hold one id at least the later one sees the other's bits. So at
 * most one thread prices an id by itself; every other thread that holds it hands its entry back (as do the few
 * threads whose id only looks like another thread's: the merge sorts that out).
 */
export class RangeClaims {
  private readonly own: Int32Array;
  private readonly others: Int32Array[];
  private readonly shift: number;

  constructor(buffers: readonly SharedArrayBuffer[], bits: number, index: number) {
    const maps = buffers.map((b) => new Int32Array(b));
    this.own = maps[index]!;
    this.others = maps.filter((_, i) => i !== index);
    // The word from the hash's top bits; 32 bits a word.
    this.shift = 32 - (bits - 5);
  }

  /** Marks the id whose `hashId` is `hash` as held by this thread; true when another thread may hold it too. */
  claim(hash: number): boolean {
    Atomics.or(this.own, this.wordOf(hash), bitsOf(hash));
    return this.othersMayHold(hash);
  }

  /** True when another thread may hold the id whose `hashId` is `hash`: final once every thread's stream has ended. */
  othersMayHold(hash: number): boolean {
    const word = this.wordOf(hash);
    const bits = bitsOf(hash);
    for (const other of this.others) if ((Atomics.load(other, word) & bits) === bits) return true;
    return false;
  }

  private wordOf(hash: number): number {
    return hash >>> this.shift;
  }
}

/** An id's two bits in its word, from the low bits of a multiplicative remix, independent of the word's top bits. */
function bitsOf(hash: number): number {
  const remix = Math.imul(hash, 0x9e3779b1);
  return (1 << (remix & 31)) | (1 << ((remix >>> 5) & 31));
}

/**
 * Counts the threads whose streams have ended (an Int32 in shared memory) and waits for all of them: from then on
 * no claim changes, so `othersMayHold` tells for certain which ids no other thread holds.
 */
export async function allStreamsEnded(ended: SharedArrayBuffer, threads: number): Promise<void> {
  const count = new Int32Array(ended);
  Atomics.add(count, 0, 1);
  Atomics.notify(count, 0);
  for (let seen = Atomics.load(count, 0); seen < threads; seen = Atomics.load(count, 0)) {
    const wait = Atomics.waitAsync(count, 0, seen);
    if (wait.async) await wait.value;
  }
}

/** Lets every thread past `allStreamsEnded` (when the analysis is given up and a thread will not get there). */
export function releaseStreamsEnded(ended: SharedArrayBuffer, threads: number): void {
  const count = new Int32Array(ended);
  Atomics.store(count, 0, threads);
  Atomics.notify(count, 0);
}

/**
 * Line-aligned pieces of the file handed out one at a time to whichever thread asks first (a shared counter),
 * so that threads that start later or run slower simply take fewer pieces.
 */
export function* takePieces(pieces: readonly ByteRange[], counter: SharedArrayBuffer, roundRobin?: { readonly index: number; readonly threads: number }): Generator<ByteRange> {
  if (roundRobin) {
    for (let i = roundRobin.index; i < pieces.length; i += roundRobin.threads) yield pieces[i]!;
    return;
  }
  const next = new Int32Array(counter);
  for (;;) {
    const index = Atomics.add(next, 0, 1);
    if (index >= pieces.length) return;
    yield pieces[index]!;
  }
}

/** No thread takes another piece of the file (`takePieces`). */
export function stopTakingPieces(pieces: readonly ByteRange[], counter: SharedArrayBuffer): void {
  Atomics.store(new Int32Array(counter), 0, pieces.length);
}

export interface RangeInput {
  readonly file: string;
  readonly pieces: readonly ByteRange[];
  /** An Int32 in shared memory: the next piece to take. */
  readonly counter: SharedArrayBuffer;
  readonly prices: PriceTable;
  readonly identity: IdentityOptions | undefined;
  readonly claims: readonly SharedArrayBuffer[];
  readonly claimBits: number;
  /** An Int32 in shared memory: how many threads' streams have ended (`allStreamsEnded`). */
  readonly streamsEnded: SharedArrayBuffer;
  readonly index: number;
  /** Each thread takes every `threads`-th piece from its own index instead (a split that does not depend on timing). */
  readonly roundRobin: boolean;
  /**
   * Once a thread meets a `RequestResponse` record, it ends its stream there (`DistinctRequestOptions.untilRecord`)
   * and no thread takes another piece.
   */
  readonly untilRecord: boolean;
}

/** What a thread hands back after its stream: the entries it did not price, and its distinct dead letters. */
export interface RangeHandBack {
  readonly deferred: readonly LedgerEntry[];
  /** Id and reason of each. */
  readonly deadLetters: readonly (readonly [string, string])[];
  readonly conflictIds: readonly string[];
  readonly lines: number;
  readonly diagnosticRecords: number;
}

/** The id hashes (`hashId`) of every entry handed back by any thread: each thread answers with the entries it priced itself under those hashes. */
export interface RangeRequest {
  readonly hashes: readonly number[];
}

/** The entries a thread priced itself under the requested hashes. */
export interface RangeResult {
  readonly priced: readonly LedgerEntry[];
}

/**
 * One thread's pieces of the events file: their distinct requests (`forEachDistinctRequest` over them), priced
 * and timed here unless another thread may hold the same id or the entry awaits another source
 * (`awaitsCounterpart`, which may lie in another piece). Those wait until every thread's stream has ended; then
 * the ones whose id no other thread holds are priced here too, and the rest are handed back whole.
 */
export async function analyzeRange(
  input: RangeInput,
  recordsByKey: ReadonlyMap<string, DiagnosticRecord>,
  hooks: {
    progress(lines: number): void;
    /** After the stream, with the totals of what this thread priced itself (final: they change no more). */
    handBack(handBack: RangeHandBack, totals: AnalysisTotals): Promise<RangeRequest>;
  },
  llmUsage: ReadonlyMap<string, LlmUsage> = new Map(),
): Promise<RangeResult> {
  const claims = new RangeClaims(input.claims, input.claimBits, input.index);
  const newTotals = () => new AnalysisTotals(recordsByKey, input.prices, input.identity, llmUsage);
  let totals = newTotals();
  // The requests not priced in the stream, by key, as merged so far.
  let deferred = new Map<string, LedgerEntry>();
  // Once every thread's stream has ended, every claim is final: an id no other thread holds is this thread's alone,
  // even where its entry awaits another source (a source in another thread's pieces would have claimed the id there).
  let claimsFinal = false;
  const stream = await forEachDistinctRequest(
    input.file,
    {
      onRequest: (entry, keyHash) => {
        if (claims.claim(keyHash) || (!claimsFinal && awaitsCounterpart(entry))) deferred.set(requestKey(entry), entry);
        else totals.add(entry);
      },
      // Held to the end of the stream, but claimed now: the other threads must see the id before their streams end.
      onHold: (keyHash) => claims.claim(keyHash),
      restart: () => {
        totals = newTotals();
        deferred = new Map();
      },
      onUpdate: (before, after) => {
        const key = requestKey(before);
        if (!deferred.has(key)) return totals.sameContribution(before, after);
        // Handed back whole: the merge across threads needs every source of the request.
        deferred.set(key, after);
        return true;
      },
    },
    hooks.progress,
    {
      ranges: takePieces(input.pieces, input.counter, input.roundRobin ? { index: input.index, threads: input.claims.length } : undefined),
      keepOpen: true,
      ...(input.untilRecord ? { untilRecord: () => stopTakingPieces(input.pieces, input.counter) } : {}),
      // Every thread computes: a read on libuv's pool would wait for a core.
      readInline: true,
      // The held requests are handed over once every claim is final: most are then priced at once, none kept.
      beforeHeld: async () => {
        await allStreamsEnded(input.streamsEnded, input.claims.length);
        claimsFinal = true;
      },
    },
  );
  try {
    for (const [key, entry] of deferred) {
      if (claims.othersMayHold(hashId(key))) continue;
      totals.add(entry);
      deferred.delete(key);
    }
    const request = await hooks.handBack({ deferred: [...deferred.values()], deadLetters: [...stream.deadLetterReasons], conflictIds: [...stream.conflictIds], lines: stream.lines, diagnosticRecords: stream.diagnosticRecords }, totals);
    const priced = (await stream.handedOver(new Set(request.hashes))).filter((e) => !deferred.has(requestKey(e)));
    return { priced };
  } finally {
    await stream.close();
  }
}
