import type { InvocationContext, RetryOptions } from '@azure/functions';
import { receivedEvents } from '../../src/contracts/event-hub-trigger.js';
import { ingestOrQuarantine, type GuardedIngestPorts, type GuardedOutcome, type RetryPolicy } from '../../src/services/ingest-or-quarantine.js';

/**
 * How the ingest trigger is bound. `dataType: 'binary'`: without it the host JSON-binds every body, and one
 * body that is not JSON fails the whole batch before the handler runs (Azure/azure-functions-eventhubs-extension
 * #118, Azure/azure-functions-nodejs-library #187); bodies arrive as bytes and are decoded in the handler, where
 * a bad one is dead-lettered alone. The retry count is finite: a batch the host gave up on is quarantined by the
 * handler's last delivery instead of stalling its partition (with `maxRetryCount: -1` a deterministic failure
 * retries forever, and the host checkpoints past a failed batch once retries are spent).
 */
export const INGEST_TRIGGER = {
  cardinality: 'many',
  dataType: 'binary',
  retry: { strategy: 'exponentialBackoff', maxRetryCount: 5, minimumInterval: 2_000, maximumInterval: 60_000 } satisfies RetryOptions,
} as const;

/**
 * How long one invocation tries to ingest its batch: two minutes under host.json's `functionTimeout` (10 minutes),
 * which leaves the last delivery time to quarantine the batch before the host cancels the run and moves past it.
 */
export const INGEST_BUDGET_MS = 8 * 60_000;

export interface IngestHandlerOptions {
  /** Retries of a transiently failing batch within one invocation (default `DEFAULT_RETRY`). */
  readonly retry?: RetryPolicy;
  /** Default `INGEST_BUDGET_MS`. */
  readonly budgetMs?: number;
}

/** True when the host will not redeliver the batch if this invocation fails. */
function isLastDelivery(context: InvocationContext): boolean {
  const retry = context.retryContext;
  return retry !== undefined && retry.maxRetryCount >= 0 && retry.retryCount >= retry.maxRetryCount;
}

/**
 * Event Hubs trigger handler (cardinality many): every event becomes a ledger entry or a dead letter. It throws
 * only for a transient failure that outlasted its in-invocation retries while the host still has retries left, so
 * the host redelivers the batch (deterministic ids make that harmless); a batch that fails for good is quarantined
 * and the invocation succeeds. The local runner drives this same handler.
 */
export function createIngestHandler(ports: () => GuardedIngestPorts, options: IngestHandlerOptions = {}) {
  return async function ingestGatewayEvents(bodies: unknown[], context: InvocationContext): Promise<void> {
    const events = receivedEvents(bodies, context.triggerMetadata);
    const partition = events[0]?.position.partitionId ?? '?';
    const lastDelivery = isLastDelivery(context);
    const positions = events.map((e) => e.position.sequenceNumber).filter((n) => n !== null);
    let outcome: GuardedOutcome;
    try {
      outcome = await ingestOrQuarantine(events, ports(), { lastDelivery, budgetMs: options.budgetMs ?? INGEST_BUDGET_MS, ...(options.retry ? { retry: options.retry } : {}) });
    } catch (error) {
      if (lastDelivery) {
        // The host checkpoints past the batch after its last retry: these positions are all that is left to find it by.
        const offsets = events.map((e) => e.position.offset).filter((n) => n !== null);
        context.error(
          `partition ${partition}: ${bodies.length} events (sequence numbers ${positions[0] ?? '?'}–${positions.at(-1) ?? '?'}, offsets ${offsets[0] ?? '?'}–${offsets.at(-1) ?? '?'}, ` +
            `enqueued ${events[0]?.position.enqueuedTimeUtc ?? '?'}–${events.at(-1)?.position.enqueuedTimeUtc ?? '?'}) were neither ingested nor quarantined on their last delivery, ` +
            'and the host moves past them now: read them again from the event hub within its retention period',
        );
      }
      throw error;
    }
    if (outcome.kind === 'quarantined') {
      context.warn(
        `quarantined partition ${partition}: ${bodies.length} events (sequence numbers ${positions[0] ?? '?'}–${positions.at(-1) ?? '?'}) after ${outcome.attempts} ` +
          `attempt(s), ${outcome.failure} failure: ${outcome.reason}; stored as ${outcome.name}, replay with \`tokenledger quarantine replay --batch ${outcome.name}\``,
      );
      return;
    }
    const { result } = outcome;
    context.log(
      `ingested partition ${partition}: ${bodies.length} events, ${result.accepted} accepted, ` +
        `${result.deadLettered} dead-lettered, ${result.entriesWritten} ledger entries written, ${result.deadLettersWritten} dead letters written, ` +
        `${result.diagnosticRecords} diagnostic records stored`,
    );
  };
}
