import type { CheckpointStore } from '../../../src/local/checkpoint-store.js';
import { INGEST_TRIGGER } from '../../../functions/handlers/ingest-gateway-events.js';
import { hostBodies, triggerContext, type EventHubHandler, type LocalEventHub, type TriggerDataType } from '../../../src/local/event-hub-runner.js';
import { TransientStoreError, type DeadLetterStore, type LedgerStore } from '../../../src/ports/ledger-store.js';
import type { GuardedIngestPorts } from '../../../src/services/ingest-or-quarantine.js';
import { Random } from '../../../src/simulator/random.js';

/** Thrown by an injected crash: the worker process "dies" at that point and a new one starts from the checkpoint. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

/** One (re)started worker: its handler, and what to release when it dies or finishes. */
export interface WorkerInstance {
  readonly handler: EventHubHandler;
  readonly checkpoints: CheckpointStore;
  dispose(): void | Promise<void>;
}

export interface ConsumeOptions {
  readonly seed: number;
  /** Each batch holds 1..maxBatchSize events (random split, as a host's batches vary with timing). */
  readonly maxBatchSize: number;
  /** Starts a worker for a partition: a new process, so a new client and a new checkpoint reader. */
  readonly start: (partitionId: string, instance: number) => Promise<WorkerInstance>;
  /** Chance that a worker dies after the handler succeeded but before it checkpointed. */
  readonly crashBeforeCheckpoint?: number;
  /** Checked after every successful batch, before its checkpoint: true stops every worker there (a whole-group outage). */
  readonly stopAll?: () => boolean;
  /** Failed deliveries of one batch before the consumer gives up (and reports a crash). */
  readonly maxRetries?: number;
  readonly backoffMs?: (attempt: number) => number;
  /** How the host hands bodies over (default: the ingest trigger's registered `dataType`). */
  readonly dataType?: TriggerDataType;
}

export interface ConsumeStats {
  /** Handler invocations. */
  deliveries: number;
  /** Events handed to the handler, redeliveries included. */
  eventsDelivered: number;
  /** Failed invocations by error type and message start (`TransientStoreError: …`, `Error: Bulk request errored…`, …). */
  failures: Record<string, number>;
  /** Injected crashes that killed a worker (inside the handler, or between handler and checkpoint). */
  crashes: { midBatch: number; beforeCheckpoint: number };
  restarts: number;
  /** Errors the consumer gave up on: anything that kept failing beyond maxRetries. */
  unexpected: string[];
  /** True when `stopAll` ended the run before every partition was consumed. */
  stopped: boolean;
}

export function emptyStats(): ConsumeStats {
  return { deliveries: 0, eventsDelivered: 0, failures: {}, crashes: { midBatch: 0, beforeCheckpoint: 0 }, restarts: 0, unexpected: [], stopped: false };
}

/** A short, stable label for an error: its type, and for untyped errors the start of the message. */
export function errorKind(error: unknown): string {
  if (error instanceof Error) return `${error instanceof TransientStoreError ? 'TransientStoreError' : error.name}: ${error.message.replace(/\d+/g, 'N').slice(0, 70)}`;
  return typeof error;
}

/**
 * Consumes every partition of a local hub concurrently, one worker per partition, like scaled-out Functions
 * instances: random batch sizes from the checkpoint on, host-shaped `triggerMetadata`, the same batch retried
 * after a failure, a checkpoint (in Table storage) after each success. A `SimulatedCrash` from the handler or a
 * crash between handler and checkpoint kills the worker: a new instance starts from the stored checkpoint and
 * splits the stream differently, so a batch is redelivered partly, in other batch boundaries.
 */
export async function consume(hub: LocalEventHub, options: ConsumeOptions, stats: ConsumeStats = emptyStats()): Promise<ConsumeStats> {
  const maxRetries = options.maxRetries ?? 60;
  const backoff = options.backoffMs ?? ((attempt: number) => Math.min(200, 2 ** attempt));
  await Promise.all(
    hub.partitions.map(async (events, index) => {
      const partitionId = String(index);
      const random = new Random(options.seed * 7919 + index);
      for (let instance = 1; ; instance++) {
        if (instance > 1) stats.restarts++;
        const worker = await options.start(partitionId, instance);
        let next = await worker.checkpoints.get(partitionId);
        let size = 0;
        let attempts = 0;
        let crashed = false;
        try {
          while (next < events.length) {
            if (attempts === 0) size = random.int(1, options.maxBatchSize);
            const batch = events.slice(next, next + size);
            const context = triggerContext(`ingest-${partitionId}-${instance}-${next}-${stats.deliveries}`, 'ingest', partitionId, batch, { retryCount: attempts, maxRetryCount: maxRetries });
            stats.deliveries++;
            stats.eventsDelivered += batch.length;
            try {
              await worker.handler(hostBodies(batch, options.dataType ?? INGEST_TRIGGER.dataType), context);
            } catch (error) {
              if (error instanceof SimulatedCrash) {
                stats.crashes.midBatch++;
                crashed = true;
                break;
              }
              const kind = errorKind(error);
              stats.failures[kind] = (stats.failures[kind] ?? 0) + 1;
              attempts++;
              if (attempts > maxRetries) {
                stats.unexpected.push(`partition ${partitionId}: gave up after ${attempts} failures: ${String(error)}`);
                return;
              }
              await new Promise((resolve) => setTimeout(resolve, backoff(attempts)));
              continue;
            }
            attempts = 0;
            if (options.stopAll?.()) {
              stats.stopped = true;
              return;
            }
            if (random.chance(options.crashBeforeCheckpoint ?? 0)) {
              stats.crashes.beforeCheckpoint++;
              crashed = true;
              break;
            }
            next += batch.length;
            await worker.checkpoints.set(partitionId, next);
          }
        } finally {
          await worker.dispose();
        }
        if (!crashed) return;
      }
    }),
  );
  return stats;
}

/**
 * Ingest ports whose ledger and dead-letter writes sometimes write only part of a bulk and then "crash". A dead
 * process writes nothing more: after a crash, the quarantine refuses too, so the crash ends the invocation as a
 * killed process would, instead of being handled as a failed batch.
 */
export function crashingPorts(ports: GuardedIngestPorts, random: Random, rate: number): GuardedIngestPorts {
  let crash: SimulatedCrash | null = null;
  const partial = async <T>(items: readonly T[], write: (items: readonly T[]) => Promise<unknown>, what: string) => {
    const written = random.int(0, items.length);
    await write(items.slice(0, written));
    crash = new SimulatedCrash(`worker killed after writing ${written} of ${items.length} ${what}`);
    throw crash;
  };
  const ledger: LedgerStore = {
    readEntries: (keys, options) => ports.ledger.readEntries(keys, options),
    getEntriesByApimRequestIds: (ids, options) => ports.ledger.getEntriesByApimRequestIds(ids, options),
    getEntriesByGatewayRequestIds: (ids, options) => ports.ledger.getEntriesByGatewayRequestIds(ids, options),
    listEntries: (range, options) => ports.ledger.listEntries(range, options),
    listEntryPage: (range, after, limit, options) => ports.ledger.listEntryPage(range, after, limit, options),
    listUnjoined: (cutoff, options) => ports.ledger.listUnjoined(cutoff, options),
    listUncountedStreams: (range, options) => ports.ledger.listUncountedStreams(range, options),
    createEntries: (entries, options) => ports.ledger.createEntries(entries, options),
    writeEntries: async (writes, options) => {
      if (writes.length > 0 && random.chance(rate)) return partial(writes, (part) => ports.ledger.writeEntries(part, options), 'ledger entries');
      return ports.ledger.writeEntries(writes, options);
    },
  };
  const deadLetters: DeadLetterStore = {
    listDeadLetters: (query) => ports.deadLetters.listDeadLetters(query),
    listDeadLetterHeaders: (query) => ports.deadLetters.listDeadLetterHeaders(query),
    deleteDeadLetters: (keys, options) => ports.deadLetters.deleteDeadLetters(keys, options),
    upsertDeadLetters: async (letters, options) => {
      if (letters.length > 0 && random.chance(rate)) return partial(letters, (part) => ports.deadLetters.upsertDeadLetters(part, options), 'dead letters');
      return ports.deadLetters.upsertDeadLetters(letters, options);
    },
  };
  const quarantine: GuardedIngestPorts['quarantine'] = {
    getBatch: (name, options) => ports.quarantine.getBatch(name, options),
    listBatches: (options) => ports.quarantine.listBatches(options),
    markReplayed: (name, at, options) => ports.quarantine.markReplayed(name, at, options),
    putBatch: async (batch, options) => {
      if (crash) throw crash;
      return ports.quarantine.putBatch(batch, options);
    },
  };
  return { ledger, deadLetters, aggregates: ports.aggregates, diagnostics: ports.diagnostics, quarantine };
}
