import { isDeepStrictEqual } from 'node:util';
import type { StoredDiagnostic } from '../contracts/diagnostic-record.js';
import type { DiagnosticsStore, VersionedRecord } from '../ports/diagnostics-store.js';
import { TransientStoreError, type StoreOptions } from '../ports/ledger-store.js';
import { MAX_UPDATE_ROUNDS } from './update-ledger.js';

/**
 * Every read-modify-write of diagnostic records, for the ingest and the join alike, as `updateLedger` does it for
 * ledger documents: reads each record with its version, applies `change` (null: nothing to write), and writes
 * conditionally (create when it did not exist, replace only at the version read). A record another writer changed
 * in between is read again and changed again, up to `MAX_UPDATE_ROUNDS` rounds; then `TransientStoreError`, so the
 * trigger or timer runs again. `change` must be a pure merge of what it is given (`mergeStoredRecords`), so a round
 * repeated on newer content gives the right result. `known` are records already read with their version;
 * `beforeWrite` is given each round's records before they are written. Returns the records written.
 */
export async function updateDiagnostics(
  store: Pick<DiagnosticsStore, 'readRecords' | 'writeRecords'>,
  correlationIds: readonly string[],
  change: (correlationId: string, current: StoredDiagnostic | null) => StoredDiagnostic | null,
  options: StoreOptions = {},
  known: readonly VersionedRecord[] = [],
  beforeWrite?: (records: readonly StoredDiagnostic[]) => Promise<void>,
): Promise<StoredDiagnostic[]> {
  const current = new Map<string, VersionedRecord | null>(known.map((stored) => [stored.record.correlationId, stored]));
  let pending = [...new Set(correlationIds)];
  const written: StoredDiagnostic[] = [];
  for (let round = 0; round < MAX_UPDATE_ROUNDS && pending.length > 0; round++) {
    const unread = pending.filter((id) => !current.has(id));
    for (const id of unread) current.set(id, null);
    if (unread.length > 0) for (const stored of await store.readRecords(unread, options)) current.set(stored.record.correlationId, stored);
    const writes: { record: StoredDiagnostic; etag: string | null }[] = [];
    for (const id of pending) {
      const stored = current.get(id) ?? null;
      const next = change(id, stored?.record ?? null);
      if (next !== null && !(stored && isDeepStrictEqual(stored.record, next))) writes.push({ record: next, etag: stored?.etag ?? null });
    }
    if (writes.length === 0) return written;
    await beforeWrite?.(writes.map((w) => w.record));
    const outcome = await store.writeRecords(writes, options);
    if (outcome.refused.length > 0) throw new Error(`diagnostics store refused ${outcome.refused.length} records: ${outcome.refused[0]!.reason}`);
    const lost = new Set(outcome.conflicts);
    written.push(...writes.filter((w) => !lost.has(w.record.correlationId)).map((w) => w.record));
    pending = [...lost];
    for (const id of pending) current.delete(id);
  }
  if (pending.length > 0) throw new TransientStoreError(`${pending.length} diagnostic records changed under every one of ${MAX_UPDATE_ROUNDS} conditional writes`);
  return written;
}
