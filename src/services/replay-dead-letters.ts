import type { DeadLetter, DeadLetterHeader, SourcePosition } from '../contracts/dead-letter.js';
import type { DeadLetterKey, DeadLetterQuery, DeadLetterStore, StoreOptions } from '../ports/ledger-store.js';
import type { PayloadStore } from '../ports/payload-store.js';
import { ingestBatch, LEDGER_POSITION, sortBody, type IngestPorts, type ReceivedEvent, type SortedEvents } from './ingest-batch.js';
import { REJECTED_RECORD_POSITION } from './join-diagnostics.js';
import { deadLetterPayload, UnreadablePayloadError } from './offloading-dead-letter-store.js';

export interface DeadLetterReplayPorts extends IngestPorts {
  /** Payloads of dead letters too large for their document (see `OffloadingDeadLetterStore`). */
  readonly deadLetterPayloads: PayloadStore;
}

/**
 * What a dead letter keeps. Only a rejected event holds a payload received from Event Hubs, which ingest can read
 * again; a conflicting duplicate and a refused entry hold a ledger document, and a rejected record one the join read
 * from Log Analytics or the archive.
 */
export type DeadLetterKind = 'rejected event' | 'conflicting duplicate' | 'refused entry' | 'rejected record';

export function deadLetterKind(letter: Pick<DeadLetter | DeadLetterHeader, 'position' | 'duplicateOf'>): DeadLetterKind {
  if (letter.duplicateOf) return 'conflicting duplicate';
  if (letter.position.partitionId === LEDGER_POSITION.partitionId) return 'refused entry';
  if (letter.position.partitionId === REJECTED_RECORD_POSITION.partitionId) return 'rejected record';
  return 'rejected event';
}

/** Which dead letters to replay: those with these ids, those whose reason contains a text, or (neither) all. */
export type DeadLetterFilter = Pick<DeadLetterQuery, 'ids' | 'reasonContains'>;

export interface DeadLetterReplayResult {
  /**
   * Payloads of rejected events ingested again: those of the letters selected, and of a selected letter the run
   * wrote again, as an item of another payload, before it came to it.
   */
  readonly replayed: number;
  /** Of those, the ones ingest now accepts: their dead letters were removed. */
  readonly accepted: number;
  /** Of those, the ones rejected again: each stays a dead letter, with today's reason and its position. */
  readonly stillRejected: number;
  /** Letters that are no rejected event (see `DeadLetterKind`): never ingested, left as they are. */
  readonly skipped: number;
  /** Letters whose payload is missing from Blob storage or not the bytes its SHA-256 names: left as they are. */
  readonly unreadable: number;
}

/**
 * The most payloads, and payload bytes, in one ingest call: the trigger's largest batch (`maxEventBatchSize` in
 * host.json), and a few times Event Hubs' largest event.
 */
export const REPLAY_BATCH = { letters: 500, bytes: 8 * 1024 * 1024 } as const;

export interface DeadLetterReplayOptions extends StoreOptions {
  readonly batch?: { readonly letters: number; readonly bytes: number };
  /** Told of each letter left unreplayed because its payload cannot be read, with why. */
  readonly onUnreadable?: (letter: DeadLetter, problem: string) => void;
}

interface Replayable {
  readonly letter: DeadLetter;
  readonly payload: Buffer;
}

/** Throws, naming them, when some of these ids are no dead letter: a replay of ids replays all of them or none. */
async function requireLetters(ids: readonly string[], store: DeadLetterStore, options: StoreOptions): Promise<void> {
  const missing = new Set(ids);
  for await (const page of store.listDeadLetterHeaders({ ...options, ids })) for (const header of page) missing.delete(header.id);
  if (missing.size > 0) throw new Error(`no dead letter with id ${[...missing].map((id) => JSON.stringify(id)).join(', ')}`);
}

/** The ledger id of the entry a refused-entry letter keeps (its payload is the entry's ledger document). */
function refusedEntryId(letter: DeadLetter): string | null {
  if (deadLetterKind(letter) !== 'refused entry' || !('data' in letter.raw)) return null;
  const document = JSON.parse(letter.raw.data) as { id?: unknown };
  return typeof document.id === 'string' ? document.id : null;
}

/** Whether a filter selects a letter, as the store's query does. */
function selects(filter: DeadLetterFilter): (letter: DeadLetterHeader) => boolean {
  const ids = filter.ids && new Set(filter.ids);
  return (letter) => (ids === undefined || ids.has(letter.id)) && (filter.reasonContains === undefined || letter.reason.includes(filter.reasonContains));
}

interface BatchOutcome {
  /** Letters of the batch whose payload ingest now accepts: removed. */
  readonly accepted: number;
  /** Letters there were before the run, not in `seen`, that the ingest wrote again: as they were before. */
  readonly rewritten: readonly DeadLetterHeader[];
}

/**
 * Ingests the payloads of one batch of letters with one call of the ingest service, then deletes the letters of
 * the payloads it read: every item became a ledger entry, a diagnostic record or a dead letter of its own (an item
 * of a body once refused whole), the ledger refused none of those entries, and no dead letter was written for the
 * payload itself, under any id. A letter written again (its id is its payload's hash) takes today's reason and
 * keeps the position it has; a new one takes the position of the payload it came from. Every letter written is
 * added to `seen`.
 */
async function replayBatch(batch: readonly Replayable[], ports: DeadLetterReplayPorts, seen: Set<string>, options: StoreOptions): Promise<BatchOutcome> {
  const events: ReceivedEvent[] = [];
  const positions = new Map(batch.map(({ letter }) => [letter.id, letter.position]));
  const cutFrom = new Map<string, SourcePosition>();
  // Sorted apart, as `ingestBatch` sorts them, to know which payload each outcome comes from.
  const outcomes = batch.map(({ letter, payload }) => {
    const { itemIndex, ...position } = letter.position;
    // In the form the letter kept: ingest keeps text over 1 MiB as text, but does not read bytes over 1 MiB as text.
    const event: ReceivedEvent = { body: letter.raw.encoding === 'utf8' ? payload.toString('utf8') : payload, position };
    events.push(event);
    const outcome: SortedEvents = { entries: [], deadLetters: [] };
    sortBody(event.body, event.position, outcome);
    // A payload cut from a body of several items is read as a body of its own: its item index is the one it had there.
    if (itemIndex !== null) for (const again of outcome.deadLetters) cutFrom.set(again.id, letter.position);
    return outcome;
  });
  const refused = new Set<string>();
  const written = new Set<string>();
  const rewritten: DeadLetterHeader[] = [];
  const deadLetters: DeadLetterStore = {
    upsertDeadLetters: async (letters, upsertOptions) => {
      const others = letters.filter((letter) => !positions.has(letter.id)).map((letter) => letter.id);
      if (others.length > 0) {
        for await (const page of ports.deadLetters.listDeadLetterHeaders({ ...upsertOptions, ids: others })) {
          for (const header of page) {
            positions.set(header.id, header.position);
            if (!seen.has(header.id)) rewritten.push(header);
          }
        }
      }
      for (const letter of letters) {
        written.add(letter.id);
        seen.add(letter.id);
        const entryId = refusedEntryId(letter);
        if (entryId !== null) refused.add(entryId);
      }
      await ports.deadLetters.upsertDeadLetters(
        letters.map((letter) => ({ ...letter, position: positions.get(letter.id) ?? cutFrom.get(letter.id) ?? letter.position })),
        upsertOptions,
      );
    },
    listDeadLetters: (query) => ports.deadLetters.listDeadLetters(query),
    listDeadLetterHeaders: (query) => ports.deadLetters.listDeadLetterHeaders(query),
    deleteDeadLetters: (keys, deleteOptions) => ports.deadLetters.deleteDeadLetters(keys, deleteOptions),
  };
  await ingestBatch(events, { ledger: ports.ledger, diagnostics: ports.diagnostics, aggregates: ports.aggregates, deadLetters }, options);
  const accepted: DeadLetterKey[] = [];
  batch.forEach(({ letter }, i) => {
    const { entries, deadLetters: rejected } = outcomes[i]!;
    // A letter just written, as an item of another payload, is never deleted, though its payload alone was accepted.
    const kept = rejected.some((again) => again.position.itemIndex === null) || entries.some((entry) => refused.has(entry.id)) || written.has(letter.id);
    if (!kept) accepted.push({ id: letter.id, pk: letter.pk });
  });
  if (accepted.length > 0) await ports.deadLetters.deleteDeadLetters(accepted, options);
  return { accepted: accepted.length, rewritten };
}

/**
 * Ingests the payloads of dead letters again, through the same ingest service as the trigger, in batches (many
 * payloads per call), each at the position it was received at; those now accepted are removed from the dead letters.
 * A payload kept in Blob storage is fetched and checked against its SHA-256 first. Ledger and dead-letter ids are
 * deterministic, and a letter is deleted only after the ingest of its payload succeeded: a failure in between
 * leaves it, and replaying it again changes nothing. Every letter selected is counted once: one a batch wrote again
 * (an item of another payload) before the listing came to it is counted then.
 */
export async function replayDeadLetters(filter: DeadLetterFilter, ports: DeadLetterReplayPorts, options: DeadLetterReplayOptions = {}): Promise<DeadLetterReplayResult> {
  const storeOptions: StoreOptions = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  if (filter.ids !== undefined) await requireLetters(filter.ids, ports.deadLetters, storeOptions);
  const limits = options.batch ?? REPLAY_BATCH;
  const selected = selects(filter);
  let replayed = 0;
  let accepted = 0;
  let skipped = 0;
  let unreadable = 0;
  let batch: Replayable[] = [];
  let bytes = 0;
  // Letters this replay counted or wrote: the query pages through the container they are written to, and returns them too.
  const seen = new Set<string>();
  const flush = async () => {
    if (batch.length === 0) return;
    replayed += batch.length;
    const outcome = await replayBatch(batch, ports, seen, storeOptions);
    accepted += outcome.accepted;
    for (const letter of outcome.rewritten.filter(selected)) {
      if (deadLetterKind(letter) === 'rejected event') replayed++;
      else skipped++;
    }
    batch = [];
    bytes = 0;
  };
  for await (const page of ports.deadLetters.listDeadLetters({ ...filter, ...storeOptions })) {
    for (const letter of page) {
      if (seen.has(letter.id)) continue;
      seen.add(letter.id);
      if (deadLetterKind(letter) !== 'rejected event') {
        skipped++;
        continue;
      }
      let payload: Buffer;
      try {
        payload = await deadLetterPayload(letter, ports.deadLetterPayloads, storeOptions);
      } catch (error) {
        if (!(error instanceof UnreadablePayloadError)) throw error;
        unreadable++;
        options.onUnreadable?.(letter, error.message);
        continue;
      }
      batch.push({ letter, payload });
      bytes += payload.byteLength;
      if (batch.length >= limits.letters || bytes >= limits.bytes) await flush();
    }
  }
  await flush();
  return { replayed, accepted, stillRejected: replayed - accepted, skipped, unreadable };
}
