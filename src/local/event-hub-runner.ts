import functions from '@azure/functions';

// @azure/functions is CommonJS: its classes come through the default export under ESM.
const { InvocationContext } = functions;
import type { CheckpointStore } from './checkpoint-store.js';

/** One event as stored in a partition of the local hub. */
export interface HubEvent {
  readonly body: unknown;
  readonly sequenceNumber: number;
  readonly offset: string;
  readonly enqueuedTimeUtc: string;
}

/**
 * A local Event Hub: partitions of ordered events. Bodies are kept as the producer sent them (strings or
 * bytes); the trigger hands them over as the Functions host does for the binding's `dataType` (`hostBodies`).
 */
export class LocalEventHub {
  readonly partitions: HubEvent[][];
  private bytes: number[];

  constructor(partitionCount: number) {
    this.partitions = Array.from({ length: partitionCount }, () => []);
    this.bytes = Array.from({ length: partitionCount }, () => 0);
  }

  /** Appends to a partition chosen by the partition key's hash, as Event Hubs does for keyed sends. */
  send(body: unknown, partitionKey: string, enqueuedTime: Date): void {
    let hash = 0;
    for (let i = 0; i < partitionKey.length; i++) hash = (Math.imul(hash, 31) + partitionKey.charCodeAt(i)) | 0;
    const partition = Math.abs(hash) % this.partitions.length;
    const events = this.partitions[partition]!;
    const size = typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : 0;
    events.push({ body, sequenceNumber: events.length, offset: String(this.bytes[partition]), enqueuedTimeUtc: enqueuedTime.toISOString() });
    this.bytes[partition]! += size;
  }

  get eventCount(): number {
    return this.partitions.reduce((sum, p) => sum + p.length, 0);
  }
}

/** A trigger's `dataType`: `binary` hands bodies over as bytes; without one the host JSON-binds them. */
export type TriggerDataType = 'binary' | 'default';

/** The host could not bind a batch: the invocation fails before the handler runs. */
export class HostBindingError extends Error {
  override readonly name = 'HostBindingError';
}

function bodyBytes(body: unknown): Buffer {
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
}

/**
 * The bodies the host hands a cardinality-many trigger. `binary`: each body's bytes; no data type: each body is
 * JSON-bound, and one that is not JSON fails the whole batch before the handler runs
 * (Azure/azure-functions-eventhubs-extension #118, Azure/azure-functions-nodejs-library #187).
 */
export function hostBodies(batch: readonly HubEvent[], dataType: TriggerDataType): unknown[] {
  if (dataType === 'binary') return batch.map((e) => bodyBytes(e.body));
  return batch.map((e) => {
    if (typeof e.body !== 'string' && !(e.body instanceof Uint8Array)) return e.body;
    try {
      return JSON.parse(bodyBytes(e.body).toString('utf8')) as unknown;
    } catch (error) {
      throw new HostBindingError(`binding the batch failed: event ${e.sequenceNumber} is not JSON (${(error as Error).message})`);
    }
  });
}

/**
 * The invocation context the Functions host gives an Event Hubs trigger of cardinality many, for one batch;
 * `retry` is the host's retry context (how many times this batch was retried, and the policy's maximum).
 */
export function triggerContext(
  invocationId: string,
  functionName: string,
  partitionId: string,
  batch: readonly HubEvent[],
  retry?: { retryCount: number; maxRetryCount: number },
): functions.InvocationContext {
  return new InvocationContext({
    invocationId,
    functionName,
    logHandler: () => {},
    ...(retry ? { retryContext: retry } : {}),
    triggerMetadata: {
      partitionContext: { eventHubName: 'gateway-events', consumerGroup: '$Default', partitionId },
      sequenceNumberArray: batch.map((e) => e.sequenceNumber),
      offsetArray: batch.map((e) => e.offset),
      enqueuedTimeUtcArray: batch.map((e) => e.enqueuedTimeUtc),
      propertiesArray: batch.map(() => ({})),
    },
  });
}

export type EventHubHandler = (bodies: unknown[], context: functions.InvocationContext) => Promise<void>;

export interface RunOptions {
  readonly functionName: string;
  readonly checkpoints: CheckpointStore;
  readonly maxBatchSize: number;
  /** The trigger's `dataType`, as registered (functions/ingest.ts). */
  readonly dataType: TriggerDataType;
  /** Chance that an instance "crashes" after the handler succeeded but before it checkpointed: the batch is delivered again. */
  readonly redeliveryRate?: number;
  /** The trigger's retry policy's `maxRetryCount`, as registered (functions/ingest.ts): the handler sees it in its retry context. */
  readonly maxRetries: number;
  readonly random?: () => number;
  readonly onBatch?: (info: { partitionId: string; size: number; redelivered: boolean }) => void;
}

export interface RunStats {
  readonly deliveries: number;
  readonly redeliveries: number;
  readonly failures: number;
  /** Batches that still failed when the retry policy ran out: checkpointed past, as the host does. */
  readonly abandoned: readonly AbandonedBatch[];
}

export interface AbandonedBatch {
  readonly partitionId: string;
  /** Sequence numbers of the batch's first and last events. */
  readonly from: number;
  readonly to: number;
  readonly error: unknown;
}

/**
 * Drives a trigger handler over every partition concurrently, as scaled-out instances would: batches from
 * the checkpoint on, host-shaped `triggerMetadata`, retries on failure, checkpoint after success. Delivery is
 * at least once: a failed or "crashed" batch is delivered again, up to `maxRetries` times; a batch that fails beyond
 * them is abandoned and checkpointed past, since the host "always advances the stream's pointer, regardless of
 * success or failure" (learn.microsoft.com/azure/azure-functions/functions-reliable-event-processing).
 */
export async function runEventHubTrigger(hub: LocalEventHub, handler: EventHubHandler, options: RunOptions): Promise<RunStats> {
  const random = options.random ?? Math.random;
  let deliveries = 0;
  let redeliveries = 0;
  let failures = 0;
  const abandoned: AbandonedBatch[] = [];
  await Promise.all(
    hub.partitions.map(async (events, index) => {
      const partitionId = String(index);
      let next = await options.checkpoints.get(partitionId);
      let attempts = 0;
      let redelivering = false;
      while (next < events.length) {
        const batch = events.slice(next, next + options.maxBatchSize);
        const context = triggerContext(`${options.functionName}-${partitionId}-${next}-${deliveries}`, options.functionName, partitionId, batch, { retryCount: attempts, maxRetryCount: options.maxRetries });
        deliveries++;
        if (redelivering) redeliveries++;
        options.onBatch?.({ partitionId, size: batch.length, redelivered: redelivering });
        let gaveUp = false;
        try {
          await handler(hostBodies(batch, options.dataType), context);
        } catch (error) {
          failures++;
          attempts++;
          if (attempts <= options.maxRetries) {
            redelivering = true;
            await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 10 * 2 ** attempts)));
            continue;
          }
          abandoned.push({ partitionId, from: batch[0]!.sequenceNumber, to: batch[batch.length - 1]!.sequenceNumber, error });
          gaveUp = true;
        }
        attempts = 0;
        if (!gaveUp && random() < (options.redeliveryRate ?? 0)) {
          redelivering = true;
          continue;
        }
        redelivering = false;
        next += batch.length;
        await options.checkpoints.set(partitionId, next);
      }
    }),
  );
  return { deliveries, redeliveries, failures, abandoned };
}
