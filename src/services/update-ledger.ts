import { isDeepStrictEqual } from 'node:util';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import { hourBucket } from '../domain/ledger.js';
import { TransientStoreError, type LedgerKey, type LedgerStore, type RefusedEntry, type StoredEntry, type StoreOptions } from '../ports/ledger-store.js';

/** Rounds of read, merge and conditional write before a batch gives up and lets the trigger redeliver it. */
export const MAX_UPDATE_ROUNDS = 5;

export interface LedgerUpdate {
  readonly key: LedgerKey;
  /** The document the last round read (null: there was none). */
  readonly before: LedgerEntry | null;
  /** What was written, or null when the change left the document as it was. */
  readonly after: LedgerEntry | null;
}

/** The hours of the documents before and after their changes: a merge may move a request to another hour. */
export function hoursOf(changes: readonly LedgerUpdate[]): string[] {
  return [...new Set(changes.flatMap((c) => [c.before, c.after]).flatMap((e) => (e ? [hourBucket(e.time)] : [])))];
}

/** The hours documents leave with their changes: a merge that moves a request's time takes it out of its hour. */
export function hoursLeft(changes: readonly LedgerUpdate[]): string[] {
  return [...new Set(changes.flatMap((c) => (c.before && c.after && hourBucket(c.before.time) !== hourBucket(c.after.time) ? [hourBucket(c.before.time)] : [])))];
}

export interface LedgerUpdates {
  readonly updates: readonly LedgerUpdate[];
  readonly refused: readonly RefusedEntry[];
}

/**
 * Every read-modify-write of ledger documents, for the ingest and the join alike: reads each document with its
 * version, applies `change` (null: nothing to write), and writes conditionally (create when it did not exist,
 * replace only at the version read). A document another writer changed in between is read again and changed
 * again, up to `MAX_UPDATE_ROUNDS` rounds; then `TransientStoreError`, so the trigger redelivers the batch.
 * `change` must be a pure merge of what it is given, so a round repeated on newer content gives the right result.
 * `known` are documents already read with their version (their first round skips the read); `beforeWrite` is given
 * each round's changes before they are written.
 */
export async function updateLedger(
  ledger: Pick<LedgerStore, 'readEntries' | 'writeEntries'>,
  keys: readonly LedgerKey[],
  change: (key: LedgerKey, current: LedgerEntry | null) => LedgerEntry | null,
  options: StoreOptions = {},
  known: readonly StoredEntry[] = [],
  beforeWrite?: (changes: readonly (LedgerUpdate & { readonly after: LedgerEntry })[]) => Promise<void>,
): Promise<LedgerUpdates> {
  const current = new Map<string, StoredEntry | null>(known.map((stored) => [stored.entry.id, stored]));
  let pending: LedgerKey[] = [...new Set(keys.map((k) => k.id))].map((id) => ({ id }));
  const updates: LedgerUpdate[] = [];
  const refused: RefusedEntry[] = [];
  for (let round = 0; round < MAX_UPDATE_ROUNDS && pending.length > 0; round++) {
    const unread = pending.filter((k) => !current.has(k.id));
    for (const k of unread) current.set(k.id, null);
    if (unread.length > 0) for (const stored of await ledger.readEntries(unread, options)) current.set(stored.entry.id, stored);
    const writes: { key: LedgerKey; before: LedgerEntry | null; entry: LedgerEntry; etag: string | null }[] = [];
    for (const key of pending) {
      const stored = current.get(key.id) ?? null;
      const next = change(key, stored?.entry ?? null);
      if (next === null || (stored && isDeepStrictEqual(stored.entry, next))) updates.push({ key, before: stored?.entry ?? null, after: null });
      else writes.push({ key, before: stored?.entry ?? null, entry: next, etag: stored?.etag ?? null });
    }
    if (writes.length === 0) return { updates, refused };
    await beforeWrite?.(writes.map(({ key, before, entry }) => ({ key, before, after: entry })));
    const outcome = await ledger.writeEntries(writes.map(({ entry, etag }) => ({ entry, etag })), options);
    const lost = new Set(outcome.conflicts.map((k) => k.id));
    const refusedKeys = new Set(outcome.refused.map(({ entry }) => entry.id));
    refused.push(...outcome.refused);
    for (const write of writes) {
      if (!lost.has(write.key.id) && !refusedKeys.has(write.key.id)) updates.push({ key: write.key, before: write.before, after: write.entry });
    }
    pending = writes.filter((w) => lost.has(w.key.id)).map((w) => w.key);
    for (const k of pending) current.delete(k.id);
  }
  if (pending.length > 0) throw new TransientStoreError(`${pending.length} ledger documents changed under every one of ${MAX_UPDATE_ROUNDS} conditional writes`);
  return { updates, refused };
}
