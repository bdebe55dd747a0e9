import { isDeepStrictEqual } from 'node:util';
import type { DeadLetter, SourcePosition } from '../contracts/dead-letter.js';
import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import { decodeBody, type RawPayload } from '../domain/event-decoding.js';
import { normalizeEvent, normalizeV1Text } from '../domain/event-normalization.js';
import { isPartial, mayHaveCounterparts, mergeByRequest, mergeLedgerEntries, requestKey, toLedgerEntry } from '../domain/ledger.js';
import { parseRequestResponse } from '../domain/diagnostic-parsing.js';
import { stableId } from '../domain/stable-id.js';
import type { DiagnosticsStore } from '../ports/diagnostics-store.js';
import { applyRecords } from './join-diagnostics.js';
import type { AggregateStore } from '../ports/aggregate-store.js';
import type { DeadLetterStore, LedgerKey, LedgerStore, StoreOptions } from '../ports/ledger-store.js';

export type { ReceivedEvent } from '../contracts/event-hub-trigger.js';
import type { ReceivedEvent } from '../contracts/event-hub-trigger.js';

export interface IngestResult {
  /** Items accepted into the ledger (before merging items that describe the same request). */
  readonly accepted: number;
  readonly deadLettered: number;
  /** Distinct ledger entries written. */
  readonly entriesWritten: number;
  /** Azure OpenAI `RequestResponse` records stored for the join. */
  readonly diagnosticRecords: number;
}

export interface IngestPorts {
  readonly ledger: LedgerStore;
  /** Azure OpenAI `RequestResponse` records streamed to the same Event Hubs go here, as the join stores them. */
  readonly diagnostics: DiagnosticsStore;
  readonly deadLetters: DeadLetterStore;
  /** Hours with new entries are marked for the rollup. */
  readonly aggregates: Pick<AggregateStore, 'markDirty'>;
}

/** Position of an entry refused by the ledger store: it was built from one or more events of this batch. */
const LEDGER_POSITION = { partitionId: 'ledger', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } as const;

function deadLetter(reason: string, raw: RawPayload, position: SourcePosition): DeadLetter {
  const id = stableId(raw.encoding, raw.data);
  return { id, pk: id.slice(0, 2), reason, position, raw };
}

export interface SortedEvents {
  readonly entries: LedgerEntry[];
  readonly deadLetters: DeadLetter[];
  /**
   * Azure OpenAI `RequestResponse` records (a diagnostic setting streaming to Event Hubs): they are not requests
   * but the diagnostics the join matches requests with. Without this list they are passed over.
   */
  readonly diagnostics?: DiagnosticRecord[];
}

function isRequestResponse(value: unknown): boolean {
  return value !== null && typeof value === 'object' && (value as Record<string, unknown>)['category'] === 'RequestResponse';
}

/** Every item of one body becomes exactly one ledger entry or one dead letter, appended to `into`. */
export function sortBody(body: unknown, position: ReceivedEvent['position'], into: SortedEvents): void {
  const v1 = typeof body === 'string' ? normalizeV1Text(body) : null;
  if (v1) {
    into.entries.push(toLedgerEntry(v1));
    return;
  }
  const decoded = decodeBody(body);
  if (!decoded.ok) {
    into.deadLetters.push(deadLetter(decoded.reason, decoded.raw, { ...position, itemIndex: null }));
    return;
  }
  for (const item of decoded.items) {
    if (isRequestResponse(item.value)) {
      const parsed = parseRequestResponse(item.value);
      if (!parsed.ok) into.deadLetters.push(deadLetter(`diagnostic record rejected: ${parsed.reason}`, item.raw, { ...position, itemIndex: item.itemIndex }));
      else into.diagnostics?.push(parsed.record);
      continue;
    }
    const normalized = normalizeEvent(item.value);
    if (normalized.ok) into.entries.push(toLedgerEntry(normalized.value));
    else into.deadLetters.push(deadLetter(normalized.reason, item.raw, { ...position, itemIndex: item.itemIndex }));
  }
}

/** Pure half of ingestion: every item of every body becomes exactly one ledger entry or one dead letter. */
export function sortBatch(events: readonly ReceivedEvent[]): SortedEvents {
  const sorted: SortedEvents = { entries: [], deadLetters: [], diagnostics: [] };
  for (const { body, position } of events) sortBody(body, position, sorted);
  return sorted;
}

/**
 * Ingests one trigger batch. At-least-once contract: entries and dead letters are upserted with
 * deterministic ids, so a redelivered batch rewrites identical documents; the only errors thrown are
 * the store's transient ones, so the trigger retries the whole batch and nothing is lost.
 */
export async function ingestBatch(events: readonly ReceivedEvent[], ports: IngestPorts, options: StoreOptions = {}): Promise<IngestResult> {
  const sorted = sortBatch(events);
  const byRequest = mergeByRequest(sorted.entries);
  // Stored documents of each request that this batch merges with, by request key.
  const stored = new Map<string, LedgerEntry[]>();
  const told = [...byRequest.values()].filter(mayHaveCounterparts);
  if (told.length > 0) {
    // Another source of the same request (a v1 event, APIM GatewayLogs or GatewayLlmLogs) may be stored already,
    // under the apim-request-id or, when that source did not know it, under a hash of the gateway's request id.
    for (const found of await ports.ledger.getEntriesByGatewayRequestIds(told.map((e) => e.gatewayRequestId), options)) {
      const key = requestKey(found);
      const fresh = byRequest.get(key);
      if (!fresh) continue;
      byRequest.set(key, mergeLedgerEntries(found, fresh));
      stored.set(key, [...(stored.get(key) ?? []), found]);
    }
  }
  const toCreate: LedgerEntry[] = [];
  const toUpsert: LedgerEntry[] = [];
  for (const [key, entry] of byRequest) {
    const before = stored.get(key);
    // A redelivery that changes nothing stored writes nothing.
    if (before?.length === 1 && isDeepStrictEqual(before[0], entry)) continue;
    (before || isPartial(entry) ? toUpsert : toCreate).push(entry);
  }
  const refused = [...(await ports.ledger.createEntries(toCreate, options)), ...(await ports.ledger.upsertEntries(toUpsert, options))];
  // A stored document now held by another one (a new id or hour) is removed once the merge is written.
  const refusedKeys = new Set(refused.map(({ entry }) => requestKey(entry)));
  const gone: LedgerKey[] = [];
  for (const [key, documents] of stored) {
    if (refusedKeys.has(key)) continue;
    const entry = byRequest.get(key)!;
    for (const k of documents) if (k.id !== entry.id || k.pk !== entry.pk) gone.push({ id: k.id, pk: k.pk });
  }
  if (gone.length > 0) await ports.ledger.deleteEntries(gone, options);
  const entries = [...byRequest.values()];
  await ports.aggregates.markDirty([...new Set([...entries.map((e) => e.pk), ...gone.map((k) => k.pk)])], options);
  const letters = [
    ...sorted.deadLetters,
    ...refused.map(({ entry, reason }) => {
      const data = JSON.stringify(entry);
      return deadLetter(reason, { encoding: 'utf8', data, bytes: Buffer.byteLength(data) }, { ...LEDGER_POSITION, itemIndex: null });
    }),
  ];
  await ports.deadLetters.upsertDeadLetters(letters, options);
  // After the entries, so that a record finds the request of the same batch.
  if (sorted.diagnostics && sorted.diagnostics.length > 0) await applyRecords(sorted.diagnostics, ports, options);
  return {
    accepted: sorted.entries.length - refused.length,
    deadLettered: letters.length,
    entriesWritten: entries.length - refused.length,
    diagnosticRecords: sorted.diagnostics?.length ?? 0,
  };
}
