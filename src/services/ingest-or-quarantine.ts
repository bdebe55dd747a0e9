import { QUARANTINE_SCHEMA_V1, type QuarantinedBatch, type QuarantinedBody } from '../contracts/quarantine.js';
import { bytesWithoutContent, textWithoutContent } from '../domain/content-fields.js';
import { asBytes, keptText } from '../domain/event-decoding.js';
import { TransientStoreError, type StoreOptions } from '../ports/ledger-store.js';
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

/**
 * Writes of a batch to quarantine, on its last delivery: the host moves past the batch when this invocation ends,
 * so a write failing for a moment is tried again (about 21 s in all) rather than losing the batch.
 */
export const QUARANTINE_WRITE_RETRY: RetryPolicy = { attempts: 4, backoffInMs: (attempt) => 1_000 * 4 ** (attempt - 1) };

/** How long keeping a batch in quarantine may take, retries included: a hung write fails in time to be logged. */
export const QUARANTINE_BUDGET_MS = 90_000;

export interface GuardedIngestOptions extends StoreOptions {
  /** True when the host will not deliver this batch again if this invocation fails (its retry count is spent). */
  readonly lastDelivery: boolean;
  readonly retry?: RetryPolicy;
  /**
   * How long the batch may take to ingest, retries included: past it the attempt is given up (its store calls
   * aborted) and the batch fails, or is quarantined on its last delivery. It must leave the quarantine write time
   * before the host's `functionTimeout` cancels the run, which counts as one more failure.
   */
  readonly budgetMs?: number;
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
  let text = keptText(body);
  if (text === null && body !== null && typeof body === 'object' && !ArrayBuffer.isView(body) && !(body instanceof ArrayBuffer)) {
    try {
      text = JSON.stringify(body) ?? null;
    } catch {
      text = null;
    }
  }
  if (text !== null) return textWithoutContent(text) ?? body;
  const bytes = asBytes(body);
  return (bytes && bytesWithoutContent(bytes)) ?? body;
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

/** The error of a batch not ingested (or kept) within its budget (transient: the next delivery may succeed), with the last failure. */
function budgetSpent(what: string, budgetMs: number, last: unknown): TransientStoreError {
  return new TransientStoreError(`the batch was not ${what} within ${budgetMs / 1000} s${last === undefined ? '' : `; last failure: ${describe(last)}`}`);
}

interface Budget {
  /** Aborted when the budget is spent, or when `outer` is. */
  readonly signal: AbortSignal;
  /** Whether this budget (not `outer`) ended the work. */
  readonly spent: () => boolean;
  /** Rejects when the budget is spent, for racing calls that do not heed the signal. */
  readonly ends: Promise<never>;
  readonly clear: () => void;
}

function budget(what: string, budgetMs: number, outer: AbortSignal | undefined): Budget {
  const controller = new AbortController();
  const ends = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true }));
  ends.catch(() => {});
  const timer = Number.isFinite(budgetMs) ? setTimeout(() => controller.abort(budgetSpent(what, budgetMs, undefined)), budgetMs) : undefined;
  timer?.unref?.();
  return {
    signal: outer ? AbortSignal.any([outer, controller.signal]) : controller.signal,
    spent: () => controller.signal.aborted && !outer?.aborted,
    ends,
    clear: () => clearTimeout(timer),
  };
}

/**
 * Ingests a trigger batch so that only a transient failure fails it. A transient failure is retried here a few times
 * within the budget; if it persists, the batch fails (the host redelivers it) unless this is its last delivery. A
 * permanent failure fails the same way on every delivery, so it is not retried. In both last cases the batch is
 * quarantined whole to Blob storage (partition, sequence numbers, offsets, raw bodies) and the invocation succeeds,
 * so the partition moves on; `quarantine replay` ingests it later through the same service. The quarantine write is
 * tried again while it fails for a moment; if it still fails, the batch fails with that error: the host redelivers it
 * while it has retries left; after its last retry the host moves past it, and its events remain only in the event
 * hub, for its retention period.
 */
export async function ingestOrQuarantine(events: readonly ReceivedEvent[], ports: GuardedIngestPorts, options: GuardedIngestOptions): Promise<GuardedOutcome> {
  const retry = options.retry ?? DEFAULT_RETRY;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const limit = options.budgetMs ?? Number.POSITIVE_INFINITY;
  const time = budget('ingested', limit, options.abortSignal);
  let failed: { error: unknown; failure: FailureKind; attempts: number };
  try {
    const storeOptions: StoreOptions = { abortSignal: time.signal };
    for (let attempts = 1; ; attempts++) {
      try {
        // Raced with the budget: a store call that does not heed the signal does not hold the invocation past it.
        return { kind: 'ingested', result: await Promise.race([ingestBatch(events, ports, storeOptions), time.ends]), attempts };
      } catch (error) {
        const spent = time.spent();
        failed = { error: spent ? budgetSpent('ingested', limit, error === time.signal.reason ? undefined : error) : error, failure: spent ? 'transient' : classifyFailure(error), attempts };
        if (spent || failed.failure !== 'transient' || attempts >= retry.attempts) break;
        await Promise.race([sleep(retry.backoffInMs(attempts)), time.ends]).catch(() => {});
        if (time.spent()) {
          failed = { ...failed, error: budgetSpent('ingested', limit, error) };
          break;
        }
      }
    }
  } finally {
    time.clear();
  }
  const { error, failure, attempts } = failed;
  if (failure === 'transient' && !options.lastDelivery) throw error;
  const reason = describe(error);
  const batch = toQuarantinedBatch(events, failure, reason, attempts, (options.now ?? (() => new Date()))());
  const name = await keepQuarantined(batch, ports.quarantine, options.lastDelivery ? QUARANTINE_WRITE_RETRY : { attempts: 1, backoffInMs: () => 0 }, sleep, options.abortSignal);
  return { kind: 'quarantined', name, failure, reason, attempts };
}

/** Writes the batch to quarantine, trying again while a write fails for a moment, within `QUARANTINE_BUDGET_MS`. */
async function keepQuarantined(batch: QuarantinedBatch, quarantine: QuarantineStore, retry: RetryPolicy, sleep: (ms: number) => Promise<void>, outer: AbortSignal | undefined): Promise<string> {
  const time = budget('quarantined', QUARANTINE_BUDGET_MS, outer);
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await Promise.race([quarantine.putBatch(batch, { abortSignal: time.signal }), time.ends]);
      } catch (error) {
        if (time.spent()) throw budgetSpent('quarantined', QUARANTINE_BUDGET_MS, error === time.signal.reason ? undefined : error);
        if (attempt >= retry.attempts || classifyFailure(error) !== 'transient' || outer?.aborted) throw error;
        await Promise.race([sleep(retry.backoffInMs(attempt)), time.ends]).catch(() => {});
        if (time.spent()) throw budgetSpent('quarantined', QUARANTINE_BUDGET_MS, error);
      }
    }
  } finally {
    time.clear();
  }
}
