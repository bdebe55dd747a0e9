import type { DeadLetter } from '../contracts/dead-letter.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';

export interface StoreOptions {
  readonly abortSignal?: AbortSignal;
}

/** A store failure worth retrying (throttling, unavailability, timeouts): the batch fails so the trigger redelivers it. */
export class TransientStoreError extends Error {
  override readonly name = 'TransientStoreError';
}

export interface LedgerKey {
  readonly id: string;
  readonly pk: string;
}

/** An entry the store refused for good (not worth retrying), with the store's reason. */
export interface RefusedEntry {
  readonly entry: LedgerEntry;
  readonly reason: string;
}

/** The request ledger. Upserts are idempotent: entries have deterministic ids and content. */
export interface LedgerStore {
  /**
   * Writes new entries; an entry that already exists is left untouched (it has the same content, and may
   * carry the join's enrichment). Throws `TransientStoreError` when a retry may succeed; returns the
   * entries refused for good.
   */
  createEntries(entries: readonly LedgerEntry[], options?: StoreOptions): Promise<readonly RefusedEntry[]>;
  /** Writes entries whether or not they exist (merges and enrichment). Same errors as `createEntries`. */
  upsertEntries(entries: readonly LedgerEntry[], options?: StoreOptions): Promise<readonly RefusedEntry[]>;
  deleteEntries(keys: readonly LedgerKey[], options?: StoreOptions): Promise<void>;
  /** Entries with these keys that exist (one round trip per call, not per key). */
  getEntries(keys: readonly LedgerKey[], options?: StoreOptions): Promise<LedgerEntry[]>;
  /**
   * Entries whose `gatewayRequestId` is one of these (compared as given and lower-cased), whatever their id:
   * how a request told by several sources (v1 event, APIM GatewayLogs and GatewayLlmLogs) is found.
   */
  getEntriesByGatewayRequestIds(gatewayRequestIds: readonly string[], options?: StoreOptions): Promise<LedgerEntry[]>;
  /** Entries the join has not judged yet (no `diagnostics`) whose request time is before `cutoff`. */
  listUnjoined(cutoff: Date, options?: StoreOptions): AsyncIterable<readonly LedgerEntry[]>;
  /** Every entry whose request time is in [from, to), page by page. */
  listEntries(range: { readonly from: Date; readonly to: Date }, options?: StoreOptions): AsyncIterable<readonly LedgerEntry[]>;
}

export interface DeadLetterStore {
  /** Idempotent: a dead letter's id is the hash of its raw payload. */
  upsertDeadLetters(letters: readonly DeadLetter[], options?: StoreOptions): Promise<void>;
  listDeadLetters(options?: StoreOptions): AsyncIterable<readonly DeadLetter[]>;
}
