import type { DeadLetter, SourcePosition } from '../contracts/dead-letter.js';
import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import { bytesWithoutContent, textWithoutContent } from '../domain/content-fields.js';
import { bodyText, decodeBody, keptText, type RawPayload } from '../domain/event-decoding.js';
import { normalizeEvent, normalizeV1Text } from '../domain/event-normalization.js';
import { canonicalJson, hourBucket, ledgerDocument, ledgerPartition, loserEntry, mergeRequests, mergeLedger, mergeLedgerEntries, toLedgerEntry } from '../domain/ledger.js';
import { parseRequestResponse } from '../domain/diagnostic-parsing.js';
import { stableId } from '../domain/stable-id.js';
import type { DiagnosticsStore } from '../ports/diagnostics-store.js';
import { applyRecords } from './join-diagnostics.js';
import type { AggregateStore } from '../ports/aggregate-store.js';
import type { DeadLetterStore, LedgerKey, LedgerStore, StoreOptions } from '../ports/ledger-store.js';
import { hoursLeft, updateLedger } from './update-ledger.js';

export type { ReceivedEvent } from '../contracts/event-hub-trigger.js';
import type { ReceivedEvent } from '../contracts/event-hub-trigger.js';

export interface IngestResult {
  /** Items accepted into the ledger (before merging items that describe the same request). */
  readonly accepted: number;
  /** Items kept as dead letters. */
  readonly deadLettered: number;
  /** Distinct ledger entries written. */
  readonly entriesWritten: number;
  /** Distinct dead letters written: items of the same payload are one. */
  readonly deadLettersWritten: number;
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
export const LEDGER_POSITION = { partitionId: 'ledger', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } as const;

/**
 * A dead letter keeps what was received, except prompt, completion and credential content (an APIM resource log
 * with body, header or message logging on): it is never stored (see `content-fields.ts`).
 */
function deadLetter(reason: string, received: RawPayload, position: SourcePosition): DeadLetter {
  const bytes = received.encoding === 'utf8' ? null : Buffer.from(received.data, 'base64');
  const text = bytes === null ? received.data : keptText(bytes);
  const withoutContent = text !== null ? textWithoutContent(text) : bytes && bytesWithoutContent(bytes);
  const raw = withoutContent === null ? received : { encoding: 'utf8' as const, data: withoutContent, bytes: Buffer.byteLength(withoutContent, 'utf8') };
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

/** The `category` of Azure OpenAI's `RequestResponse` diagnostic records. */
export const REQUEST_RESPONSE_CATEGORY = 'RequestResponse';

function isRequestResponse(value: unknown): boolean {
  return value !== null && typeof value === 'object' && (value as Record<string, unknown>)['category'] === REQUEST_RESPONSE_CATEGORY;
}

/** Every item of one body becomes exactly one ledger entry or one dead letter, appended to `into`. */
export function sortBody(body: unknown, position: ReceivedEvent['position'], into: SortedEvents): void {
  // The trigger delivers bytes (`dataType: binary`): decoded once, an event as the APIM policy writes it is read
  // straight from its text there too.
  const text = bodyText(body);
  const v1 = text === null ? null : normalizeV1Text(text);
  if (v1) {
    into.entries.push(toLedgerEntry(v1));
    return;
  }
  const decoded = decodeBody(text ?? body);
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

/** Reason of the dead letter that keeps a conflicting duplicate (see `duplicateWinner`). */
export const CONFLICTING_DUPLICATE = 'conflicting duplicate';

/** A ledger entry as a dead letter, as the ledger would store it; its text is canonical, so one entry is one dead letter whatever its key order. */
function entryLetter(reason: string, entry: LedgerEntry, duplicateOf?: LedgerKey): DeadLetter {
  const data = canonicalJson(ledgerDocument(entry));
  const letter = deadLetter(reason, { encoding: 'utf8', data, bytes: Buffer.byteLength(data) }, { ...LEDGER_POSITION, itemIndex: null });
  return duplicateOf ? { ...letter, duplicateOf: { id: duplicateOf.id, pk: ledgerPartition(duplicateOf.id) } } : letter;
}

/**
 * Ingests one trigger batch. At-least-once contract: each request is one document whose id comes from the
 * request alone, merged into what is stored with conditional writes (`updateLedger`), so a redelivered batch
 * changes nothing and two workers merging halves of one request at once both count; the only errors thrown are
 * the store's transient ones, so the trigger retries the whole batch and nothing is lost.
 */
export async function ingestBatch(events: readonly ReceivedEvent[], ports: IngestPorts, options: StoreOptions = {}): Promise<IngestResult> {
  const sorted = sortBatch(events);
  const byRequest = mergeRequests(sorted.entries);
  const fresh = new Map([...byRequest.values()].map((merged) => [merged.entry.id, merged]));
  const freshOf = (key: LedgerKey) => fresh.get(key.id)!;
  // The hour a merge moves a request out of is marked before the write too: a delivery whose write landed but whose
  // marking failed finds the merge done when redelivered, and no longer sees that hour. Every other hour it marks
  // again then, after the writes.
  const { updates, refused } = await updateLedger(
    ports.ledger,
    [...fresh.keys()].map((id) => ({ id })),
    (key, current) => (current ? mergeLedgerEntries(current, freshOf(key).entry) : freshOf(key).entry),
    options,
    [],
    async (changes) => {
      const left = hoursLeft(changes);
      if (left.length > 0) await ports.aggregates.markDirty(left, options);
    },
  );
  const hours = new Set<string>();
  const losers: DeadLetter[] = [];
  for (const { key, before, after } of updates) {
    const { entry, losers: inBatch } = freshOf(key);
    // A merge may move the request's time to another hour: both hours change.
    for (const e of [before, after ?? entry]) if (e) hours.add(hourBucket(e.time));
    for (const loser of [...inBatch, ...(before ? mergeLedger(before, entry).losers : [])]) losers.push(entryLetter(CONFLICTING_DUPLICATE, loserEntry(entry, loser), key));
  }
  await ports.aggregates.markDirty([...hours], options);
  const rejected = [...sorted.deadLetters, ...new Map(losers.map((letter) => [letter.id, letter])).values(), ...refused.map(({ entry, reason }) => entryLetter(reason, entry))];
  // One dead letter per payload (its id is the payload's hash): the same bad payload twice in a batch is one document.
  const letters = [...new Map(rejected.map((letter) => [letter.id, letter])).values()];
  await ports.deadLetters.upsertDeadLetters(letters, options);
  // After the entries, so that a record finds the request of the same batch.
  if (sorted.diagnostics && sorted.diagnostics.length > 0) await applyRecords(sorted.diagnostics, ports, options);
  return {
    accepted: sorted.entries.length - refused.length,
    deadLettered: rejected.length,
    entriesWritten: byRequest.size - refused.length,
    deadLettersWritten: letters.length,
    diagnosticRecords: sorted.diagnostics?.length ?? 0,
  };
}
