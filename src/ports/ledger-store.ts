import type { DeadLetter, DeadLetterHeader } from '../contracts/dead-letter.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';

export interface StoreOptions {
  readonly abortSignal?: AbortSignal;
}

/** A store failure worth retrying (throttling, unavailability, timeouts): the batch fails so the trigger redelivers it. */
export class TransientStoreError extends Error {
  override readonly name = 'TransientStoreError';
}

/** A ledger document's key: its id, from which the store derives its partition (`ledgerPartition`). */
export interface LedgerKey {
  readonly id: string;
}

/** An entry the store refused for good (not worth retrying), with the store's reason. */
export interface RefusedEntry {
  readonly entry: LedgerEntry;
  readonly reason: string;
}

/** A stored entry with the version it was read at. */
export interface StoredEntry {
  readonly entry: LedgerEntry;
  readonly etag: string;
}

/** A conditional write: create when `etag` is null, else replace only if the document is still at that version. */
export interface EntryWrite {
  readonly entry: LedgerEntry;
  readonly etag: string | null;
}

export interface WriteOutcome {
  /** Writes that lost a race: the document was created or changed since it was read. */
  readonly conflicts: readonly LedgerKey[];
  readonly refused: readonly RefusedEntry[];
}

/**
 * The request ledger: one document per request, keyed by its id from the request alone (see `ledgerId`), in the
 * partition its id gives (`ledgerPartition`).
 * Every read-modify-write goes through `readEntries` and `writeEntries` (`updateLedger`), so two writers never
 * overwrite each other.
 */
/**
 * A position in the order `listEntryPage` walks the ledger in: partition by partition (`l00` to `lff`), by id
 * within a partition. It names the last entry a page held, so a walk resumes after it whatever was written since.
 */
export interface LedgerCursor {
  readonly pk: string;
  readonly id: string;
}

export interface LedgerEntryPage {
  readonly entries: readonly LedgerEntry[];
  /** Where the next page starts, or null when the walk is over. */
  readonly next: LedgerCursor | null;
}

export interface LedgerStore {
  /**
   * Writes new entries; an entry that already exists is left untouched. Throws `TransientStoreError` when a retry
   * may succeed; returns the entries refused for good.
   */
  createEntries(entries: readonly LedgerEntry[], options?: StoreOptions): Promise<readonly RefusedEntry[]>;
  /** The entries with these keys that exist, each with its version (one round trip per 100 keys, not per key). */
  readEntries(keys: readonly LedgerKey[], options?: StoreOptions): Promise<StoredEntry[]>;
  /** Conditional writes (see `EntryWrite`); a lost race is reported, never applied. Same errors as `createEntries`. */
  writeEntries(writes: readonly EntryWrite[], options?: StoreOptions): Promise<WriteOutcome>;
  /**
   * Entries whose backend `apimRequestId` is one of these (compared as given and lower-cased), each with its
   * version: how the join finds the requests of Azure OpenAI `RequestResponse` records.
   */
  getEntriesByApimRequestIds(apimRequestIds: readonly string[], options?: StoreOptions): Promise<StoredEntry[]>;
  /** Entries whose `gatewayRequestId` is one of these (compared as given and lower-cased). */
  getEntriesByGatewayRequestIds(gatewayRequestIds: readonly string[], options?: StoreOptions): Promise<LedgerEntry[]>;
  /** Entries the join has not judged yet (no `diagnostics`) whose request time is before `cutoff`. */
  listUnjoined(cutoff: Date, options?: StoreOptions): AsyncIterable<readonly LedgerEntry[]>;
  /** Streamed entries whose request time is in [from, to) and whose tokens nobody has counted (`tokens.source` `none`). */
  listUncountedStreams(range: { readonly from: Date; readonly to: Date }, options?: StoreOptions): AsyncIterable<readonly LedgerEntry[]>;
  /** Every entry whose request time is in [from, to), page by page. */
  listEntries(range: { readonly from: Date; readonly to: Date }, options?: StoreOptions): AsyncIterable<readonly LedgerEntry[]>;
  /**
   * At most `limit` entries whose request time is in [from, to), after `after` (from the start when null), in
   * `LedgerCursor` order: one bounded step of a walk over a time range that a caller can resume later.
   */
  listEntryPage(range: { readonly from: Date; readonly to: Date }, after: LedgerCursor | null, limit: number, options?: StoreOptions): Promise<LedgerEntryPage>;
}

/** Which dead letters a listing gives: those that match every filter given, all of them when none is. */
export interface DeadLetterQuery extends StoreOptions {
  /** Only letters whose reason contains this text (compared as Cosmos DB's `CONTAINS` does: case-sensitive). */
  readonly reasonContains?: string;
  /** Only letters with these ids. */
  readonly ids?: readonly string[];
}

/** A dead letter's key: its id and its partition. */
export interface DeadLetterKey {
  readonly id: string;
  readonly pk: string;
}

export interface DeadLetterStore {
  /** Idempotent: a dead letter's id is the hash of its raw payload. */
  upsertDeadLetters(letters: readonly DeadLetter[], options?: StoreOptions): Promise<void>;
  /** The letters the query selects, page by page (one page in memory at a time), in no set order. */
  listDeadLetters(query?: DeadLetterQuery): AsyncIterable<readonly DeadLetter[]>;
  /** The same letters without their payloads' bytes: what a listing shows, read without the payloads. */
  listDeadLetterHeaders(query?: DeadLetterQuery): AsyncIterable<readonly DeadLetterHeader[]>;
  /** Deletes these letters, in bulk requests; a letter already gone counts as deleted. */
  deleteDeadLetters(keys: readonly DeadLetterKey[], options?: StoreOptions): Promise<void>;
}
