import { QUARANTINE_SCHEMA_V1, type QuarantinedBatch, type QuarantinedBody } from '../contracts/quarantine.js';
import { textWithoutContent } from '../domain/content-fields.js';
import { bodyText } from '../domain/event-decoding.js';
import type { StoreOptions } from '../ports/ledger-store.js';
import type { QuarantineStore } from '../ports/quarantine-store.js';
import { classifyFailure, type FailureKind } from './failure-classification.js';
import { ingestBatch, type IngestPorts, type IngestResult, type ReceivedEvent } from './ingest-batch.js';

export interface GuardedIngestPorts extends IngestPorts {
  readonly quarantine: QuarantineStore;
}

/** Attempts of the whole batch within one invocation, for transient failures only, and the wait before each retry. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly backoffInMs: (attempt: number) => number;
}

/**
 * Throttled requests are retried by the Cosmos DB SDK, and throttled operations of a bulk request by the Cosmos
 * adapter, both after the wait the service asks for (`x-ms-retry-after-ms`); so the batch is retried here only a
 * few times, briefly, for what gets through: unavailability, resets, timeouts.
 */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffInMs: (attempt) => 100 * 4 ** (attempt - 1) };

export interface GuardedIngestOptions extends StoreOptions {
  /** True when the host will not deliver this batch again if this invocation fails (its retry count is spent). */
  readonly lastDelivery: boolean;
  readonly retry?: RetryPolicy;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
}

export type GuardedOutcome =
  | { readonly kind: 'ingested'; readonly result: IngestResult; readonly attempts: number }
  | { readonly kind: 'quarantined'; readonly name: string; readonly failure: FailureKind; readonly reason: string; readonly attempts: number };

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, 2_000);
}

/** A body as the trigger handed it over, in a form that gives the ingest service the same body back. */
export function quarantinedBody(body: unknown): QuarantinedBody {
  if (body instanceof Uint8Array) return { encoding: 'base64', data: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64') };
  if (body instanceof ArrayBuffer) return { encoding: 'base64', data: Buffer.from(body).toString('base64') };
  if (typeof body === 'string') return { encoding: 'utf8', data: body };
  try {
    const json = JSON.stringify(body);
    if (json !== undefined) return { encoding: 'json', data: json };
  } catch {
    // Not serialisable (a cycle, a BigInt): kept as its text, which the ingest service dead-letters the same way.
  }
  return { encoding: 'utf8', data: String(body) };
}

export function restoredBody(body: QuarantinedBody): unknown {
  if (body.encoding === 'base64') return Buffer.from(body.data, 'base64');
  if (body.encoding === 'json') return JSON.parse(body.data) as unknown;
  return body.data;
}

/**
 * The body without prompt, completion and credential content (an APIM resource log with body, header or message
 * logging on: see `content-fields.ts`), which ingest reads the same; the body itself when it has none.
 */
function bodyWithoutContent(body: unknown): unknown {
  let text = bodyText(body);
  if (text === null && body !== null && typeof body === 'object' && !ArrayBuffer.isView(body) && !(body instanceof ArrayBuffer)) {
    try {
      text = JSON.stringify(body) ?? null;
    } catch {
      text = null;
    }
  }
  return text === null ? body : (textWithoutContent(text) ?? body);
}

/** A failed batch as it is kept for `quarantine replay`: every body, without content TokenLedger never stores. */
export function toQuarantinedBatch(events: readonly ReceivedEvent[], failure: FailureKind, reason: string, attempts: number, at: Date): QuarantinedBatch {
  return {
    schema: QUARANTINE_SCHEMA_V1,
    partitionId: events[0]?.position.partitionId ?? 'unknown',
    reason,
    failure,
    attempts,
    quarantinedAt: at.toISOString(),
    events: events.map(({ body, position }) => ({
      sequenceNumber: position.sequenceNumber,
      offset: position.offset,
      enqueuedTimeUtc: position.enqueuedTimeUtc,
      body: quarantinedBody(bodyWithoutContent(body)),
    })),
  };
}

export function fromQuarantinedBatch(batch: QuarantinedBatch): ReceivedEvent[] {
  return batch.events.map((event) => ({
    body: restoredBody(event.body),
    position: { partitionId: batch.partitionId, sequenceNumber: event.sequenceNumber, offset: event.offset, enqueuedTimeUtc: event.enqueuedTimeUtc },
  }));
}

/**
 * Ingests a trigger batch so that only a transient failure fails it. A transient failure is retried here a few times;
 * if it persists, the batch fails (the host redelivers it) unless this is its last delivery. A permanent failure
 * fails the same way on every delivery, so it is not retried. In both last cases the batch is quarantined whole to
 * Blob storage (partition, sequence numbers, offsets, raw bodies) and the invocation succeeds, so the partition
 * moves on; `quarantine replay` ingests it later through the same service. If the quarantine write itself fails,
 * the batch fails with that error: the host redelivers it while it has retries left; after its last retry the host
 * moves past it, and its events remain only in the event hub, for its retention period.
 */
export async function ingestOrQuarantine(events: readonly ReceivedEvent[], ports: GuardedIngestPorts, options: GuardedIngestOptions): Promise<GuardedOutcome> {
  const retry = options.retry ?? DEFAULT_RETRY;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const storeOptions: StoreOptions = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  for (let attempts = 1; ; attempts++) {
    try {
      return { kind: 'ingested', result: await ingestBatch(events, ports, storeOptions), attempts };
    } catch (error) {
      const failure = classifyFailure(error);
      if (failure === 'transient' && attempts < retry.attempts) {
        await sleep(retry.backoffInMs(attempts));
        continue;
      }
      if (failure === 'transient' && !options.lastDelivery) throw error;
      const reason = describe(error);
      const batch = toQuarantinedBatch(events, failure, reason, attempts, (options.now ?? (() => new Date()))());
      const name = await ports.quarantine.putBatch(batch, storeOptions);
      return { kind: 'quarantined', name, failure, reason, attempts };
    }
  }
}
