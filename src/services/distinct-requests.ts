import { open } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { readJsonlChunks, readJsonlLinesAt, type ByteRange, type JsonlChunk } from '../adapters/files/jsonl-lines.js';
import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import { awaitsCounterpart, isPartial, mergeByRequest, mergeNotingConflicts, requestKey } from '../domain/ledger.js';
import { ownedText } from '../domain/owned-text.js';
import { RequestIndex, hashId, type EntryLocation } from '../domain/request-index.js';
import { REQUEST_RESPONSE_CATEGORY, sortBody, type SortedEvents } from './ingest-batch.js';

export interface DistinctRequests {
  /** Distinct requests handed over. */
  readonly requests: number;
  /** Non-blank lines read. */
  readonly lines: number;
  /**
   * Azure OpenAI `RequestResponse` records among the lines (a diagnostic setting streaming to the same event hub):
   * counted, not handed over, since none is a request.
   */
  readonly diagnosticRecords: number;
  /** The distinct dead letters (by dead-letter id) among the file's events, id to reason (ranges of one file are merged by their union). */
  readonly deadLetterReasons: ReadonlyMap<string, string>;
  /**
   * The conflicting duplicates (`duplicateWinner`) among the file's events, by `partHash`: what the pipeline keeps
   * as dead letters. Ranges of one file are merged by their union.
   */
  readonly conflictIds: ReadonlySet<string>;
  /**
   * The requests handed over whose id hash (`hashId`) is one of `hashes`, read back from the file, one document
   * each with every entry the index kept of it: what a consumer was given for those ids (or, where it took an
   * update, the same to it), without keeping it. Call before `close`.
   */
  handedOver(hashes: ReadonlySet<number>): Promise<LedgerEntry[]>;
  /** Releases the file. */
  close(): Promise<void>;
}

export interface DistinctRequestOptions {
  /**
   * Only the lines that start in these byte ranges (`rangesCutNear`), read in the order the iterable gives
   * them (it may hand out ranges as they are asked for); the whole file otherwise.
   */
  readonly ranges?: Iterable<ByteRange>;
  /** Keep the file open after the stream for `handedOver` (then call `close`). */
  readonly keepOpen?: boolean;
  /** See `JsonlReadOptions.readInline`. */
  readonly readInline?: boolean;
  /**
   * Awaited after the stream, before the requests held to its end are handed over (say, until other readers of the
   * same file have ended their streams too).
   */
  readonly beforeHeld?: () => Promise<void>;
  /**
   * At most this many held requests are kept in memory, merged as their entries come (about 1.6 KB each): halves
   * of APIM's records (`isPartial`), whose lines would take the slow path again if read back. A stream with more
   * of them (APIM's diagnostic logs as its only source) keeps the rest as locations in the index, as it does every
   * other held request (a v1 stream cut short before its usage, read back on the fast path). Default 16,384.
   */
  readonly heldInMemory?: number;
  /**
   * Ends the stream after the chunk in which it first meets a `RequestResponse` record, and calls this: for a caller
   * that will read the file again with the records joined, to which the rest of this stream would be of no use.
   */
  readonly untilRecord?: () => void;
}

/** Takes each distinct request once, with the `hashId` of its `requestKey`; `restart` drops all taken so far. */
export interface DistinctRequestConsumer {
  onRequest(entry: LedgerEntry, keyHash: number): void;
  restart(): void;
  /**
   * Offers `after`, a later merge of a request handed over as `before`: true when the consumer has taken it in,
   * or makes the same of it (say, sums that do not read the sources a document was merged from). Without this,
   * or when it answers false, a request that changes after its hand-over costs a restart and a second pass.
   */
  onUpdate?(before: LedgerEntry, after: LedgerEntry): boolean;
  /** A request seen for the first time is held to the end of the stream (`awaitsCounterpart`), and handed over then. */
  onHold?(keyHash: number): void;
}

/**
 * Requests of a chunk whose earlier lines are read back one by one before the rest of the chunk is sorted ahead
 * and its reads made at once: a few redeliveries far from their first event are cheaper read singly than by
 * sorting the chunk ahead, which keeps its entries alive longer.
 */
const READS_BACK_ONE_BY_ONE = 4;

/**
 * Held requests that are read back at the end of the stream are read and handed over this many at a time: what
 * memory holds of them meanwhile is their keys and index entries, and at the end one batch of their lines.
 */
const HELD_BATCH = 1024;

/** The default of `DistinctRequestOptions.heldInMemory`: about 26 MB of entries at most. */
const HELD_IN_MEMORY = 16_384;

/** The lines of the file that start at these offsets, read again, in that order. */
type ReadLines = (offsets: readonly number[]) => Promise<string[]>;

const FILE_POSITION = { partitionId: 'file', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } as const;

/** One line's ledger entries, dead letters and `RequestResponse` records. */
type LineSort = Required<SortedEvents>;

function newLineSort(): LineSort {
  return { entries: [], deadLetters: [], diagnostics: [] };
}

/** The ledger entries, dead letters and diagnostic records of one line (one Event Hubs body), as the ingest function sorts them. */
function sortLine(line: string, into: LineSort = newLineSort(), notUtf8?: Uint8Array): LineSort {
  into.entries.length = 0;
  into.deadLetters.length = 0;
  into.diagnostics.length = 0;
  // A line that is not UTF-8 goes in as its bytes, as the trigger delivers a body: a dead letter saying so.
  sortBody(notUtf8 ?? line, FILE_POSITION, into);
  return into;
}

/** Line `i` of `chunk`, sorted. */
function sortChunkLine(chunk: JsonlChunk, i: number, into?: LineSort): LineSort {
  return sortLine(chunk.lines[i]!, into, chunk.notUtf8?.get(i));
}

/**
 * The `RequestResponse` records a diagnostic setting streamed into a JSONL file of Event Hubs bodies, as the ingest
 * function reads them.
 */
export async function readStreamedRecords(file: string): Promise<DiagnosticRecord[]> {
  const records: DiagnosticRecord[] = [];
  const sorted = newLineSort();
  for await (const chunk of readJsonlChunks(file)) {
    for (let i = 0; i < chunk.lines.length; i++) {
      const line = chunk.lines[i]!;
      // Only a line that names the category, or holds an escape that may spell it, can hold such a record.
      if (!line.includes(REQUEST_RESPONSE_CATEGORY) && !line.includes('\\u')) continue;
      for (const record of sortChunkLine(chunk, i, sorted).diagnostics) records.push(record);
    }
  }
  return records;
}

/**
 * Streams a JSONL file of Event Hubs bodies and hands every distinct request to `onRequest` exactly once, as
 * the merge of all its entries (`mergeLedgerEntries`, the ledger's own rule), in bounded memory:
 *
 * - a request is handed over at its first entry; only a compact index of where each id was first seen is kept
 *   (`RequestIndex`, ~20 bytes per id, not the entry);
 * - a later entry of the same id is merged with what the index knows of it, read back from the file: a
 *   redelivered duplicate changes nothing and is dropped; an entry of another source whose merge the consumer
 *   takes as an update (`onUpdate`) is kept in the index too, so that later merges include it;
 * - entries that another source is expected to complete (`awaitsCounterpart`: APIM `GatewayLogs` /
 *   `GatewayLlmLogs` halves, streams cut short before their tokens) are held until the end of the file, merged,
 *   and handed over then; beyond a bound (`HELD_IN_MEMORY`) only their locations are kept, and read back;
 * - when a later entry does change a request already handed over (rare: a conflicting duplicate that wins, see
 *   `duplicateWinner`), that request is held too, and `restart` is called before a second pass hands every
 *   other request over again: consumers start afresh, and every number stays exact.
 */
export async function forEachDistinctRequest(
  file: string,
  consumer: DistinctRequestConsumer,
  onProgress?: (linesRead: number) => void,
  options: DistinctRequestOptions = {},
): Promise<DistinctRequests> {
  const taken: ByteRange[] = [];
  const walk = new FirstSeenWalk(consumer, options.heldInMemory ?? HELD_IN_MEMORY);
  const { index, held, deadLetterReasons, conflictIds } = walk;
  const merge = mergeNotingConflicts(conflictIds);
  let changedAfterHandover = false;
  const handle = await open(file, 'r');
  const readLines: ReadLines = (offsets) => readJsonlLinesAt(handle, offsets, options);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  // Redelivered duplicates mostly follow their first event closely: the text of the last two chunks is at hand.
  const recent = new RecentLines();
  try {
    for await (const chunk of chunksOf(file, options, taken)) {
      recent.push(chunk);
      // The rest of the chunk, sorted ahead once its requests have needed a few earlier lines read back.
      let ahead: LineSort[] | null = null;
      let readsBack = 0;
      const earlier = new Map<number, string>();
      const textAt = (offset: number) => recent.at(offset) ?? earlier.get(offset);
      for (let i = 0; i < chunk.lines.length; i++) {
        // Most lines hold requests seen for the first time: they are taken synchronously, and this loop (which
        // awaits lines read back) sees the others, with each line's entries as the walk sorted them.
        if (!ahead) {
          i = walk.takeFirstSeen(chunk, i);
          if (i === chunk.lines.length) break;
        }
        const line = chunk.lines[i]!;
        // Blank lines sorted ahead (the walk passes them by).
        if (line.trim() === '') continue;
        const lineSorted = ahead?.[i] ?? walk.sorted;
        walk.tally(lineSorted);
        for (let ordinal = 0; ordinal < lineSorted.entries.length; ordinal++) {
          const entry = lineSorted.entries[ordinal]!;
          // One request told by several sources (v1 event, APIM GatewayLogs / GatewayLlmLogs) shares this key.
          const key = requestKey(entry);
          const hash = hashId(key);
          const candidates = index.candidatesOf(hash);
          // The same text as a line the index holds for the key gives the same entries: a redelivery, which changes nothing.
          if (candidates.length > 0 && isRepeat(index, candidates, recent, line, ordinal)) continue;
          const location = { offset: chunk.offsets[i]!, ordinal };
          // A held request is in the index: a request seen for the first time needs no look in `held`.
          const heldEntry = candidates.length > 0 ? held.get(key) : undefined;
          if (heldEntry !== undefined) {
            if (heldEntry === null) index.addLaterOf(hash, location);
            else held.set(key, merge(heldEntry, entry));
            continue;
          }
          if (candidates.length > 0 && !ahead && unread(index, candidates, textAt).length > 0 && ++readsBack > READS_BACK_ONE_BY_ONE) {
            // The requests of the rest of the chunk are likely to need earlier lines too (APIM's LLM log comes
            // minutes after the v1 events): they are read at once, rather than one by one as each is met.
            ahead = await sortAhead(readLines, index, chunk, i + 1, candidates, textAt, earlier);
          }
          const known = candidates.length === 0 ? null : await knownEntry(readLines, index, candidates, key, textAt, { offset: location.offset, entries: lineSorted.entries });
          if (!known) {
            walk.takeFirst(entry, key, hash, location);
            continue;
          }
          const merged = merge(known, entry);
          if (isDeepStrictEqual(merged, known)) continue;
          // Another source of a request that adds nothing the consumer reads (APIM's LLM log after the v1 event, as
          // a diagnostic setting streams it minutes later): kept in the index, so later merges include it.
          index.addLaterOf(hash, location);
          if (consumer.onUpdate?.(known, merged)) continue;
          held.set(ownedText(key), null);
          changedAfterHandover = true;
        }
      }
      onProgress?.(walk.lines);
      if (options.untilRecord && walk.diagnosticRecords > 0) {
        options.untilRecord();
        break;
      }
    }
    if (changedAfterHandover) walk.handedOver = await handOverAgain(file, readLines, index, held, consumer, { readInline: options.readInline, ranges: options.ranges ? taken : undefined });
    await options.beforeHeld?.();
    await handOverHeld(readLines, index, held, merge, consumer);
  } catch (error) {
    await close();
    throw error;
  }
  if (!options.keepOpen) await close();
  return {
    requests: walk.handedOver + held.size,
    lines: walk.lines,
    diagnosticRecords: walk.diagnosticRecords,
    deadLetterReasons,
    conflictIds,
    close,
    handedOver: async (hashes) => {
      if (closed) throw new Error('handedOver after close');
      const byKey = mergeByRequest(await entriesAt(readLines, index.locationsOf(hashes)));
      return [...byKey].map(([key, entry]) => held.get(key) ?? entry);
    },
  };
}

/**
 * What `forEachDistinctRequest` keeps of a stream, and its common case taken without awaiting: a line whose one
 * request is seen for the first time. A V8 note on why this is a synchronous method of its own: the loop of an
 * async function that awaits once a chunk runs its lines unoptimised until the function as a whole is (after two
 * or three analyses in one process); a method called once a chunk is optimised within the first.
 */
class FirstSeenWalk {
  readonly index = new RequestIndex();
  /** The requests held to the end of the stream, by key: merged in memory, or null where the index keeps their entries. */
  readonly held = new Map<string, LedgerEntry | null>();
  private keptInMemory = 0;
  readonly deadLetterReasons = new Map<string, string>();
  readonly conflictIds = new Set<string>();
  /** The entries, dead letters and records of the line `takeFirstSeen` stopped at. */
  readonly sorted = newLineSort();
  handedOver = 0;
  /** Non-blank lines taken. */
  lines = 0;
  /** `RequestResponse` records of the lines taken. */
  diagnosticRecords = 0;

  constructor(
    private readonly consumer: DistinctRequestConsumer,
    private readonly keepInMemoryAtMost: number,
  ) {}

  /**
   * Takes the lines of `chunk` from `from` on while each is blank, holds only dead letters, or holds one request not
   * seen before; returns the index of the first other line, sorted into `sorted` and not taken (or the number of lines).
   */
  takeFirstSeen(chunk: JsonlChunk, from: number): number {
    for (let i = from; i < chunk.lines.length; i++) {
      const line = chunk.lines[i]!;
      if (line.trim() === '') continue;
      const sorted = sortChunkLine(chunk, i, this.sorted);
      const { entries } = sorted;
      // Two entries of one line may be one request: the caller merges them.
      if (entries.length > 1) return i;
      const entry = entries[0];
      const key = entry ? requestKey(entry) : '';
      const hash = entry ? hashId(key) : 0;
      if (entry && this.index.candidatesOf(hash).length > 0) return i;
      this.tally(sorted);
      if (entry) this.takeFirst(entry, key, hash, { offset: chunk.offsets[i]!, ordinal: 0 });
    }
    return chunk.lines.length;
  }

  /** Counts a non-blank line taken, with its dead letters and records (its entries are the caller's). */
  tally(sorted: LineSort): void {
    this.lines++;
    for (const letter of sorted.deadLetters) this.deadLetterReasons.set(letter.id, letter.reason);
    this.diagnosticRecords += sorted.diagnostics.length;
  }

  /** A request seen for the first time: indexed, then handed over, or held to the end of the file when it awaits another source. */
  takeFirst(entry: LedgerEntry, key: string, hash: number, location: EntryLocation): void {
    this.index.addOf(hash, location);
    if (awaitsCounterpart(entry)) {
      const inMemory = isPartial(entry) && this.keptInMemory < this.keepInMemoryAtMost;
      if (inMemory) this.keptInMemory++;
      // Copies, which do not keep the event's line in memory (see `ownedText`).
      this.held.set(ownedText(key), inMemory ? structuredClone(entry) : null);
      this.consumer.onHold?.(hash);
    } else {
      this.consumer.onRequest(entry, hash);
      this.handedOver++;
    }
  }
}

/** The chunks of the whole file, or of each range in turn (each range taken is noted in `taken`). */
function chunksOf(file: string, { ranges, readInline }: DistinctRequestOptions, taken?: ByteRange[]): AsyncGenerator<JsonlChunk> {
  return readJsonlChunks(file, { readInline, ...(ranges ? { ranges: noted(ranges, taken) } : {}) });
}

function* noted(ranges: Iterable<ByteRange>, taken: ByteRange[] | undefined): Generator<ByteRange> {
  for (const range of ranges) {
    taken?.push(range);
    yield range;
  }
}

/** The lines of the last two chunks read, by the byte offset where they start. */
class RecentLines {
  private previous: JsonlChunk | null = null;
  private current: JsonlChunk | null = null;

  push(chunk: JsonlChunk): void {
    this.previous = this.current;
    this.current = chunk;
  }

  at(offset: number): string | undefined {
    return lineAt(this.current, offset) ?? lineAt(this.previous, offset);
  }
}

function lineAt(chunk: JsonlChunk | null, offset: number): string | undefined {
  if (!chunk || chunk.offsets.length === 0 || offset < chunk.offsets[0]! || offset > chunk.offsets[chunk.offsets.length - 1]!) return undefined;
  let lo = 0;
  let hi = chunk.offsets.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = chunk.offsets[mid]!;
    if (at === offset) return chunk.lines[mid];
    if (at < offset) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

function isRepeat(index: RequestIndex, candidates: readonly number[], recent: RecentLines, line: string, ordinal: number): boolean {
  for (const candidate of candidates) {
    const location = index.location(candidate);
    if (location.ordinal === ordinal && recent.at(location.offset) === line) return true;
  }
  return false;
}

/**
 * The lines of a chunk from `from` on, sorted, by their index in the chunk; the earlier lines that their requests
 * and `candidates` need, and that are not at hand, are read at once into `earlier`.
 */
async function sortAhead(
  readLines: ReadLines,
  index: RequestIndex,
  chunk: JsonlChunk,
  from: number,
  candidates: readonly number[],
  textAt: (offset: number) => string | undefined,
  earlier: Map<number, string>,
): Promise<LineSort[]> {
  const sorted: LineSort[] = [];
  const wanted = new Set(unread(index, candidates, textAt));
  for (let i = from; i < chunk.lines.length; i++) {
    sorted[i] = sortChunkLine(chunk, i);
    for (const entry of sorted[i]!.entries) for (const offset of unread(index, index.candidates(requestKey(entry)), textAt)) wanted.add(offset);
  }
  const offsets = [...wanted];
  const texts = await readLines(offsets);
  offsets.forEach((offset, n) => earlier.set(offset, texts[n]!));
  return sorted;
}

/** Offsets of the candidates' lines whose text is not at hand. */
function unread(index: RequestIndex, candidates: readonly number[], textAt: (offset: number) => string | undefined): number[] {
  return candidates.map((candidate) => index.location(candidate).offset).filter((offset) => textAt(offset) === undefined);
}

/** A line already sorted: the one being read, whose entries are at hand. */
interface SortedLine {
  readonly offset: number;
  readonly entries: readonly LedgerEntry[];
}

/**
 * Request `key` as far as the index knows it: the merge of its entries among the index's candidates (its first,
 * and any later ones kept), from the text at hand (`textAt`) or read back from the file; null when it has not
 * been seen. A candidate on the line being read (an earlier record of an Azure Monitor `records` body) takes its
 * entries from `current`: sorting that body again for each of its records would take time quadratic in its records.
 */
async function knownEntry(
  readLines: ReadLines,
  index: RequestIndex,
  candidates: readonly number[],
  key: string,
  textAt: (offset: number) => string | undefined,
  current?: SortedLine,
): Promise<LedgerEntry | null> {
  const entries = await entriesAt(readLines, candidates.map((candidate) => index.location(candidate)), textAt, current);
  return mergeByRequest(entries.filter((entry) => requestKey(entry) === key)).get(key) ?? null;
}

/**
 * The entries at `locations`, in their order: each line sorted once, from the text at hand (`textAt`) or read back
 * from the file, the lines not at hand all at once and in file order.
 */
async function entriesAt(
  readLines: ReadLines,
  locations: readonly EntryLocation[],
  textAt: (offset: number) => string | undefined = () => undefined,
  current?: SortedLine,
): Promise<LedgerEntry[]> {
  const offsets = [...new Set(locations.map((location) => location.offset))];
  const toRead = offsets.filter((offset) => offset !== current?.offset && textAt(offset) === undefined).sort((a, b) => a - b);
  const texts = toRead.length === 0 ? [] : await readLines(toRead);
  const readBack = new Map(toRead.map((offset, n) => [offset, texts[n]!]));
  const entriesOfLine = new Map(
    offsets.map((offset) => [offset, offset === current?.offset ? current.entries : sortLine(textAt(offset) ?? readBack.get(offset)!).entries]),
  );
  return locations.map((location) => {
    const entry = entriesOfLine.get(location.offset)![location.ordinal];
    if (!entry) throw new Error(`the events file changed while it was read (no entry ${location.ordinal} at byte ${location.offset})`);
    return entry;
  });
}

/**
 * The held requests, in the order they were first held: as merged in memory, or as the merge of every entry the
 * index keeps of them, read back `HELD_BATCH` requests at a time (each line once, in file order).
 */
async function handOverHeld(
  readLines: ReadLines,
  index: RequestIndex,
  held: ReadonlyMap<string, LedgerEntry | null>,
  merge: (a: LedgerEntry, b: LedgerEntry) => LedgerEntry,
  consumer: DistinctRequestConsumer,
): Promise<void> {
  let batch: string[] = [];
  for (const [key, entry] of held) {
    if (entry === null) {
      batch.push(key);
      if (batch.length < HELD_BATCH) continue;
    }
    // Pending requests read back go first: each request is handed over in its turn.
    if (batch.length > 0) await handOverHeldBatch(readLines, index, batch.splice(0), merge, consumer);
    if (entry !== null) consumer.onRequest(entry, hashId(key));
  }
  if (batch.length > 0) await handOverHeldBatch(readLines, index, batch, merge, consumer);
}

/** Held requests kept in the index, handed over as the merge of their entries, read back (`entriesAt`). */
async function handOverHeldBatch(
  readLines: ReadLines,
  index: RequestIndex,
  keys: readonly string[],
  merge: (a: LedgerEntry, b: LedgerEntry) => LedgerEntry,
  consumer: DistinctRequestConsumer,
): Promise<void> {
  const merged = new Map<string, LedgerEntry | null>(keys.map((key) => [key, null]));
  for (const entry of await entriesAt(readLines, index.locationsOf(new Set(keys.map(hashId))))) {
    const key = requestKey(entry);
    // An entry of another id with the same hash is not merged (nor its conflicts noted) here.
    if (!merged.has(key)) continue;
    const seen = merged.get(key)!;
    merged.set(key, seen ? merge(seen, entry) : entry);
  }
  for (const [key, entry] of merged) {
    if (!entry) throw new Error('the events file changed while it was read (a held request is no longer in it)');
    consumer.onRequest(entry, hashId(key));
  }
}

/** The second pass: every request that is not held, at its first entry, merged with the later ones the index kept. */
async function handOverAgain(
  file: string,
  readLines: ReadLines,
  index: RequestIndex,
  held: ReadonlyMap<string, LedgerEntry | null>,
  consumer: DistinctRequestConsumer,
  options: DistinctRequestOptions,
): Promise<number> {
  consumer.restart();
  let handedOver = 0;
  const sorted = newLineSort();
  for await (const chunk of chunksOf(file, options)) {
    for (let i = 0; i < chunk.lines.length; i++) {
      const line = chunk.lines[i]!;
      if (line.trim() === '') continue;
      const entries = sortChunkLine(chunk, i, sorted).entries;
      for (let ordinal = 0; ordinal < entries.length; ordinal++) {
        const entry = entries[ordinal]!;
        const key = requestKey(entry);
        if (held.has(key) || !index.isFirst(key, { offset: chunk.offsets[i]!, ordinal })) continue;
        // With the later entries the index kept of it, if any: the consumer may hand the request on to be merged.
        const hash = hashId(key);
        const candidates = index.candidatesOf(hash);
        const known = candidates.length > 1 ? await knownEntry(readLines, index, candidates, key, () => undefined) : entry;
        consumer.onRequest(known ?? entry, hash);
        handedOver++;
      }
    }
  }
  return handedOver;
}
