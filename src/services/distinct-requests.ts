import { open, type FileHandle } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { readJsonlChunks, readJsonlLineAt, readJsonlLinesAt, type ByteRange, type JsonlChunk } from '../adapters/files/jsonl-lines.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import { isPartial, mergeLedger, partHash, requestKey } from '../domain/ledger.js';
import { RequestIndex, hashId, type EntryLocation } from '../domain/request-index.js';
import { sortBody, type SortedEvents } from './ingest-batch.js';

export interface DistinctRequests {
  /** Distinct requests handed over. */
  readonly requests: number;
  /** Distinct dead letters (by dead-letter id) among the file's events. */
  readonly deadLetters: number;
  /** Non-blank lines read. */
  readonly lines: number;
  /** The distinct dead-letter ids themselves (ranges of one file are merged by their union). */
  readonly deadLetterIds: ReadonlySet<string>;
  /**
   * The conflicting duplicates (`duplicateWinner`) among the file's events, by `partHash`: what the pipeline keeps
   * as dead letters. Ranges of one file are merged by their union.
   */
  readonly conflictIds: ReadonlySet<string>;
  /**
   * The entries handed over whose id hash (`hashId`) passes `select`, read back from the file: what a consumer
   * was given for those ids, without keeping it. Call before `close`.
   */
  handedOver(select: (hash: number) => boolean): Promise<LedgerEntry[]>;
  /** Releases the file. */
  close(): Promise<void>;
}

export interface DistinctRequestOptions {
  /**
   * Only the lines that start in these byte ranges (`lineAlignedRanges`), read in the order the iterable gives
   * them (it may hand out ranges as they are asked for); the whole file otherwise.
   */
  readonly ranges?: Iterable<ByteRange>;
  /** Keep the file open after the stream for `handedOver` (then call `close`). */
  readonly keepOpen?: boolean;
}

/** Takes each distinct request once, with the `hashId` of its `requestKey`; `restart` drops all taken so far. */
export interface DistinctRequestConsumer {
  onRequest(entry: LedgerEntry, keyHash: number): void;
  restart(): void;
}

const FILE_POSITION = { partitionId: 'file', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } as const;

/** The ledger entries and dead letters of one line (one Event Hubs body), as the ingest function sorts them. */
function sortLine(line: string, into: SortedEvents = { entries: [], deadLetters: [] }): SortedEvents {
  into.entries.length = 0;
  into.deadLetters.length = 0;
  sortBody(line, FILE_POSITION, into);
  return into;
}

/**
 * Streams a JSONL file of Event Hubs bodies and hands every distinct request to `onRequest` exactly once, as
 * the merge of all its entries (`mergeLedgerEntries`, the ledger's own rule), in bounded memory:
 *
 * - a request is handed over at its first entry; only a compact index of where each id was first seen is kept
 *   (`RequestIndex`, ~20 bytes per id, not the entry);
 * - a later entry of the same id is compared with the first one, read back from the file: a redelivered
 *   duplicate changes nothing and is dropped;
 * - entries of sources that describe half a request (APIM `GatewayLogs` / `GatewayLlmLogs`) are held until
 *   the end of the file, merged, and handed over then;
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
  const index = new RequestIndex();
  const held = new Map<string, LedgerEntry>();
  const deadLetterIds = new Set<string>();
  const conflictIds = new Set<string>();
  const merge = (a: LedgerEntry, b: LedgerEntry) => {
    const { entry, losers } = mergeLedger(a, b);
    for (const loser of losers) conflictIds.add(partHash(loser));
    return entry;
  };
  let handedOver = 0;
  let changedAfterHandover = false;
  let lines = 0;
  const sorted: SortedEvents = { entries: [], deadLetters: [] };
  const handle = await open(file, 'r');
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  // Redelivered duplicates mostly follow their first event closely: the text of the last two chunks is at hand.
  const recent = new RecentLines();
  try {
    for await (const chunk of chunksOf(file, options.ranges, taken)) {
      recent.push(chunk);
      for (let i = 0; i < chunk.lines.length; i++) {
        const line = chunk.lines[i]!;
        if (line.trim() === '') continue;
        lines++;
        sortLine(line, sorted);
        for (const letter of sorted.deadLetters) deadLetterIds.add(letter.id);
        for (let ordinal = 0; ordinal < sorted.entries.length; ordinal++) {
          const entry = sorted.entries[ordinal]!;
          // One request told by several sources (v1 event, APIM GatewayLogs / GatewayLlmLogs) shares this key.
          const key = requestKey(entry);
          const heldEntry = held.get(key);
          if (heldEntry) {
            held.set(key, merge(heldEntry, entry));
            continue;
          }
          const hash = hashId(key);
          const candidates = index.candidatesOf(hash);
          // The same text as the key's first line gives the same entries: a redelivery, which changes nothing.
          if (candidates.length > 0 && isRepeatOfFirst(index, candidates, recent, line, ordinal)) continue;
          const first = candidates.length === 0 ? null : await firstEntry(handle, index, candidates, key, recent);
          if (!first) {
            index.addOf(hash, { offset: chunk.offsets[i]!, ordinal });
            if (isPartial(entry)) held.set(key, entry);
            else {
              consumer.onRequest(entry, hash);
              handedOver++;
            }
            continue;
          }
          const merged = merge(first, entry);
          if (isDeepStrictEqual(merged, first)) continue;
          held.set(key, merged);
          changedAfterHandover = true;
        }
      }
      onProgress?.(lines);
    }
    if (changedAfterHandover) handedOver = await handOverAgain(file, index, held, consumer, options.ranges ? taken : undefined);
  } catch (error) {
    await close();
    throw error;
  }
  if (!options.keepOpen) await close();
  for (const [key, entry] of held) consumer.onRequest(entry, hashId(key));
  return {
    requests: handedOver + held.size,
    deadLetters: deadLetterIds.size,
    lines,
    deadLetterIds,
    conflictIds,
    close,
    handedOver: async (select) => {
      if (closed) throw new Error('handedOver after close');
      const locations = index.locationsWhere(select);
      const lines = await readJsonlLinesAt(handle, locations.map((l) => l.offset));
      return locations.map((location, i) => {
        const entry = entryOf(lines[i]!, location);
        return held.get(requestKey(entry)) ?? entry;
      });
    },
  };
}

/** The chunks of the whole file, or of each range in turn (each range taken is noted in `taken`). */
function chunksOf(file: string, ranges: Iterable<ByteRange> | undefined, taken?: ByteRange[]): AsyncGenerator<JsonlChunk> {
  return readJsonlChunks(file, ranges ? { ranges: noted(ranges, taken) } : {});
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

function isRepeatOfFirst(index: RequestIndex, candidates: readonly number[], recent: RecentLines, line: string, ordinal: number): boolean {
  for (const candidate of candidates) {
    const location = index.location(candidate);
    if (location.ordinal === ordinal && recent.at(location.offset) === line) return true;
  }
  return false;
}

/** The first entry of request `key` among the index's candidates, from recent text or read back from the file; null when it has not been seen. */
async function firstEntry(handle: FileHandle, index: RequestIndex, candidates: readonly number[], key: string, recent: RecentLines): Promise<LedgerEntry | null> {
  for (const candidate of candidates) {
    const location = index.location(candidate);
    const text = recent.at(location.offset);
    const entry = text === undefined ? await entryAt(handle, location) : sortLine(text).entries[location.ordinal];
    if (entry && requestKey(entry) === key) return entry;
  }
  return null;
}

async function entryAt(handle: FileHandle, location: EntryLocation): Promise<LedgerEntry> {
  return entryOf(await readJsonlLineAt(handle, location.offset), location);
}

/** The entry at `location`, from the text of its line read again. */
function entryOf(line: string, location: EntryLocation): LedgerEntry {
  const entry = sortLine(line).entries[location.ordinal];
  if (!entry) throw new Error(`the events file changed while it was read (no entry ${location.ordinal} at byte ${location.offset})`);
  return entry;
}

/** The second pass: every request that is not held, at its first entry. */
async function handOverAgain(
  file: string,
  index: RequestIndex,
  held: ReadonlyMap<string, LedgerEntry>,
  consumer: DistinctRequestConsumer,
  ranges: readonly ByteRange[] | undefined,
): Promise<number> {
  consumer.restart();
  let handedOver = 0;
  const sorted: SortedEvents = { entries: [], deadLetters: [] };
  for await (const chunk of chunksOf(file, ranges)) {
    for (let i = 0; i < chunk.lines.length; i++) {
      const line = chunk.lines[i]!;
      if (line.trim() === '') continue;
      const entries = sortLine(line, sorted).entries;
      for (let ordinal = 0; ordinal < entries.length; ordinal++) {
        const entry = entries[ordinal]!;
        const key = requestKey(entry);
        if (held.has(key) || !index.isFirst(key, { offset: chunk.offsets[i]!, ordinal })) continue;
        consumer.onRequest(entry, hashId(key));
        handedOver++;
      }
    }
  }
  return handedOver;
}
