import type { Container, OperationInput } from '@azure/cosmos';
import { NETWORK_ERROR_CODES } from '../../domain/failure-reason.js';
import { RESTRICTED_ID_CHARACTERS } from '../../domain/stable-id.js';
import { TransientStoreError, type StoreOptions } from '../../ports/ledger-store.js';

/** Status codes Cosmos DB documents as retryable: timeout, throttled, retry-with, unavailable, gone. */
const TRANSIENT_STATUS = new Set([408, 410, 429, 449, 500, 503]);
/**
 * One bulk request carries at most 100 operations per partition key range. `items.bulk` sends them at once;
 * its successor `executeBulkOperations` waits at least a second per call for partial batches to fill
 * (BulkHelper's partial-batch interval), which for trigger-sized batches would dominate ingest latency.
 */
const CHUNK = 100;
const CONCURRENT_CHUNKS = 4;

/**
 * Azure Cosmos DB refuses an item over 2 MB, the UTF-8 length of its JSON (learn.microsoft.com
 * azure/cosmos-db/concepts-limits), with 413. The SDK cuts bulk requests at 220 KB, so such an item travels in a
 * request of its own; the service refuses that whole request, and `items.bulk` throws one untyped error for the
 * call, losing the other operations' results. An item over the limit is refused here, before anything is sent.
 */
export const MAX_ITEM_BYTES = 2 * 1024 * 1024;
/** A bulk request is at most 2 MB too: one operation carries its item, its partition key value and its own fields. */
const MAX_BULK_ITEM_BYTES = MAX_ITEM_BYTES - 1024;
const TOO_LARGE = 413;

/** An id is at most 1,023 bytes (the same per-item limits). */
export const MAX_ID_BYTES = 1023;
/** A partition key value is at most 2,048 bytes (per-item limits, containers with large partition keys). */
export const MAX_PARTITION_KEY_BYTES = 2048;

/** Whether Azure Cosmos DB takes this text as an item's id. */
export function isDocumentId(id: string): boolean {
  return id !== '' && Buffer.byteLength(id, 'utf8') <= MAX_ID_BYTES && !RESTRICTED_ID_CHARACTERS.test(id);
}

/** The writes whose operation is within the limit; the others' documents join `refused`, with 413. */
function withinItemLimit<W, T extends { pk: string }>(writes: readonly W[], documentOf: (write: W) => T, refused: RejectedWrite<T>[]): W[] {
  return writes.filter((write) => {
    const document = documentOf(write);
    if (Buffer.byteLength(JSON.stringify(document), 'utf8') + Buffer.byteLength(document.pk, 'utf8') <= MAX_BULK_ITEM_BYTES) return true;
    refused.push({ document, status: TOO_LARGE });
    return false;
  });
}

/**
 * `items.bulk` rethrows a failed bulk request as a plain `Error("Bulk request errored with: …")` without its
 * status (so a 429, 503, reset or timeout cannot be told apart): such a failure is taken as transient, and the
 * batch is redelivered, which upserts and creates make harmless.
 */
const UNTYPED_BULK_FAILURE = /^Bulk request errored with/;

export function isTransientCosmosError(error: unknown): boolean {
  if (error instanceof Error && UNTYPED_BULK_FAILURE.test(error.message)) return true;
  const code = (error as { code?: unknown; statusCode?: unknown } | null)?.code ?? (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof code === 'number') return TRANSIENT_STATUS.has(code);
  return NETWORK_ERROR_CODES.has(String(code));
}

/** Runs a store call, turning the SDK's retryable failures into `TransientStoreError`. */
export async function cosmosCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isTransientCosmosError(error)) throw new TransientStoreError(`${what}: ${(error as Error).message}`, { cause: error });
    throw error;
  }
}

export interface RejectedWrite<T> {
  readonly document: T;
  readonly status: number | string | undefined;
}

/** Throws when a store refused writes for good, naming the store, what it refused and the statuses. */
export function throwIfRefused(store: string, what: string, rejected: readonly { status: unknown }[]): void {
  if (rejected.length > 0) throw new Error(`${store} refused ${rejected.length} ${what} (status ${rejected.map((r) => String(r.status)).join(', ')})`);
}

/**
 * Upserts documents with bulk operations. If any operation failed for a retryable reason the call throws
 * `TransientStoreError` (the rest were written; upserts are idempotent, so a retry rewrites them harmlessly);
 * documents the store refuses for good are returned, so the caller can dead-letter them.
 */
export async function bulkUpsert<T extends { id: string; pk: string }>(container: Container, documents: readonly T[], options: StoreOptions = {}): Promise<RejectedWrite<T>[]> {
  return bulkWrite(container, documents, 'Upsert', options);
}

/** Creates documents; one that already exists (409) is left as it is, which is what a redelivery needs. */
export async function bulkCreate<T extends { id: string; pk: string }>(container: Container, documents: readonly T[], options: StoreOptions = {}): Promise<RejectedWrite<T>[]> {
  return bulkWrite(container, documents, 'Create', options);
}

/**
 * Deletes documents by key; one that is already gone (404) counts as deleted. A key with `ifMatch` deletes its
 * document only while it is at that version (ETag); one changed since (412) is left as it is.
 */
export async function bulkDelete(container: Container, keys: readonly { id: string; pk: string; ifMatch?: string }[], options: StoreOptions = {}): Promise<RejectedWrite<{ id: string; pk: string }>[]> {
  return bulkWrite(container, keys, 'Delete', options);
}

const ALREADY_DONE: Record<'Create' | 'Upsert' | 'Delete', readonly number[]> = { Create: [409], Upsert: [], Delete: [404, 412] };

async function bulkWrite<T extends { id: string; pk: string }>(
  container: Container,
  documents: readonly T[],
  operationType: 'Create' | 'Upsert' | 'Delete',
  options: StoreOptions,
): Promise<RejectedWrite<T>[]> {
  const rejected: RejectedWrite<T>[] = [];
  const sendable = operationType === 'Delete' ? documents : withinItemLimit(documents, (doc) => doc, rejected);
  const operations = sendable.map((doc) =>
    operationType === 'Delete'
      ? { operationType, partitionKey: doc.pk, id: doc.id, ...('ifMatch' in doc && typeof doc.ifMatch === 'string' ? { ifMatch: doc.ifMatch } : {}) }
      : { operationType, partitionKey: doc.pk, resourceBody: doc as unknown as Record<string, never> },
  ) as OperationInput[];
  const results = await bulkInChunks(container, operations, operationType.toLowerCase(), options);
  const transient: number[] = [];
  results.forEach(({ statusCode: status }, index) => {
    if (status < 400 || ALREADY_DONE[operationType].includes(status)) return;
    if (TRANSIENT_STATUS.has(status)) transient.push(status);
    else rejected.push({ document: sendable[index] as T, status });
  });
  if (transient.length > 0) {
    throw new TransientStoreError(`${transient.length} of ${documents.length} ${operationType.toLowerCase()}s in ${container.id} failed (status ${[...new Set(transient)].join(', ')})`);
  }
  return rejected;
}

interface BulkResult {
  readonly statusCode: number;
  readonly subStatusCode?: number;
  readonly eTag?: string;
  readonly resourceBody?: unknown;
  /** On a 429: how long the service asks the client to wait before sending the operation again. */
  readonly retryAfterMilliseconds?: number;
}

/**
 * Throttled operations are sent again as the SDK retries a throttled request (its `RetryOptions` defaults): at most
 * 9 times, waiting what the service asked, 30 s in all. A bulk request answers each operation apart (207), and
 * `items.bulk` leaves an operation's 429 to its caller (Azure/azure-sdk-for-js#29100).
 */
const THROTTLE_RESENDS = 9;
const THROTTLE_WAIT_MS = 30_000;
/** The wait when a throttled operation names none: the SDK's own default. */
const DEFAULT_THROTTLE_WAIT_MS = 1_000;
const THROTTLED = 429;

/**
 * Azure answers a bulk request whose results would pass its 4 MB response limit in part: 413 with substatus 3402
 * for the operations it did not run, which the client sends again at once (the .NET SDK's
 * `BulkExecutionRetryPolicy`; Azure/azure-cosmos-dotnet-v3#2124).
 */
function notRun(result: BulkResult): boolean {
  return result.statusCode === TOO_LARGE && result.subStatusCode === 3402;
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs operations 100 at a time (up to four requests at once), giving each operation's result in order. Operations
 * the service did not run for the size of its answer are sent again at once (see `notRun`); operations it throttled
 * (429) are sent again after the wait it asked for (`retryAfterMilliseconds`), within the SDK's bounds, and what is
 * still throttled then is returned as 429.
 */
async function bulkInChunks(container: Container, operations: readonly OperationInput[], what: string, options: StoreOptions): Promise<BulkResult[]> {
  const results: BulkResult[] = new Array(operations.length);
  let pending = operations.map((_, index) => index);
  let waited = 0;
  for (let resends = 0; ; resends++) {
    const chunks: number[][] = [];
    for (let start = 0; start < pending.length; start += CHUNK) chunks.push(pending.slice(start, start + CHUNK));
    for (let next = 0; next < chunks.length; next += CONCURRENT_CHUNKS) {
      await Promise.all(
        chunks.slice(next, next + CONCURRENT_CHUNKS).map(async (chunk) => {
          // Until every operation ran, or a request ran none of them (nothing more fits an answer).
          for (let unanswered = chunk; unanswered.length > 0; ) {
            const sent = unanswered;
            const answered = await cosmosCall(`bulk ${what} in ${container.id}`, () =>
              container.items.bulk(sent.map((index) => operations[index]!), { continueOnError: true }, { abortSignal: options.abortSignal }),
            );
            answered.forEach((result, i) => {
              const { retryAfterMilliseconds, subStatusCode } = result as { retryAfterMilliseconds?: unknown; subStatusCode?: unknown };
              results[sent[i]!] = {
                statusCode: result.statusCode,
                ...(typeof subStatusCode === 'number' ? { subStatusCode } : {}),
                ...(result.eTag ? { eTag: result.eTag } : {}),
                resourceBody: result.resourceBody,
                ...(typeof retryAfterMilliseconds === 'number' ? { retryAfterMilliseconds } : {}),
              };
            });
            unanswered = sent.filter((index) => notRun(results[index]!));
            if (unanswered.length === sent.length) break;
          }
        }),
      );
    }
    pending = pending.filter((index) => results[index]!.statusCode === THROTTLED);
    if (pending.length === 0 || resends === THROTTLE_RESENDS) return results;
    // A loop, not Math.max(...): a call takes no more than about 100,000 arguments in V8.
    const asked = pending.reduce((most, index) => Math.max(most, results[index]!.retryAfterMilliseconds ?? DEFAULT_THROTTLE_WAIT_MS), 0);
    if (waited + asked > THROTTLE_WAIT_MS) return results;
    await wait(asked, options.abortSignal);
    waited += asked;
  }
}

/** Documents read by key with their `_etag`, with bulk `Read` operations; a missing document is left out, and so is a key whose id no document can have. */
export async function bulkRead(container: Container, allKeys: readonly { id: string; pk: string }[], options: StoreOptions = {}): Promise<{ document: Record<string, unknown>; etag: string }[]> {
  // No item has an id Cosmos DB refuses, and a bulk read of one is answered 400, not 404 (azure-cosmos-dotnet-v3#3456).
  const keys = allKeys.filter((k) => isDocumentId(k.id));
  const results = await bulkInChunks(container, keys.map((k) => ({ operationType: 'Read', id: k.id, partitionKey: k.pk }) as OperationInput), 'read', options);
  const found: { document: Record<string, unknown>; etag: string }[] = [];
  const transient: number[] = [];
  results.forEach((result, index) => {
    if (result.statusCode === 404) return;
    if (result.statusCode >= 400) {
      if (TRANSIENT_STATUS.has(result.statusCode)) transient.push(result.statusCode);
      else throw new Error(`bulk read in ${container.id} failed for ${keys[index]!.id} (status ${result.statusCode})`);
      return;
    }
    const document = result.resourceBody as Record<string, unknown>;
    found.push({ document, etag: result.eTag ?? String(document['_etag']) });
  });
  if (transient.length > 0) throw new TransientStoreError(`${transient.length} of ${keys.length} reads in ${container.id} failed (status ${[...new Set(transient)].join(', ')})`);
  return found;
}

export interface ConditionalWriteResult<T> {
  /** Documents created or changed by someone else since they were read (409 on create; 412, or 404, on replace). */
  readonly conflicts: readonly T[];
  readonly rejected: readonly RejectedWrite<T>[];
}

/** `Create` where `etag` is null, else `Replace` with `ifMatch: etag`; lost races are returned, not retried. */
export async function bulkConditionalWrite<T extends { id: string; pk: string }>(
  container: Container,
  allWrites: readonly { document: T; etag: string | null }[],
  options: StoreOptions = {},
): Promise<ConditionalWriteResult<T>> {
  const rejected: RejectedWrite<T>[] = [];
  const writes = withinItemLimit(allWrites, (write) => write.document, rejected);
  const operations = writes.map(({ document, etag }) =>
    etag === null
      ? { operationType: 'Create', partitionKey: document.pk, resourceBody: document }
      : { operationType: 'Replace', partitionKey: document.pk, id: document.id, resourceBody: document, ifMatch: etag },
  ) as OperationInput[];
  const results = await bulkInChunks(container, operations, 'conditional write', options);
  const conflicts: T[] = [];
  const transient: number[] = [];
  results.forEach((result, index) => {
    const { document, etag } = writes[index]!;
    const status = result.statusCode;
    if (status < 400) return;
    if ((etag === null && status === 409) || (etag !== null && (status === 412 || status === 404))) conflicts.push(document);
    else if (TRANSIENT_STATUS.has(status)) transient.push(status);
    else rejected.push({ document, status });
  });
  if (transient.length > 0) throw new TransientStoreError(`${transient.length} of ${writes.length} writes in ${container.id} failed (status ${[...new Set(transient)].join(', ')})`);
  return { conflicts, rejected };
}
