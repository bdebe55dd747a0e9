import type { InvocationContext } from '@azure/functions';
import { receivedEvents } from '../../src/contracts/event-hub-trigger.js';
import { ingestBatch, type IngestPorts } from '../../src/services/ingest-batch.js';

/**
 * Event Hubs trigger handler (cardinality many): every event becomes a ledger entry or a dead letter. It
 * throws only when the store fails transiently, so the trigger's retry policy redelivers the batch, and
 * deterministic ids make the redelivery harmless. The local runner drives this same handler.
 */
export function createIngestHandler(ports: () => IngestPorts) {
  return async function ingestGatewayEvents(bodies: unknown[], context: InvocationContext): Promise<void> {
    const events = receivedEvents(bodies, context.triggerMetadata);
    const result = await ingestBatch(events, ports());
    context.log(
      `ingested partition ${events[0]?.position.partitionId ?? '?'}: ${bodies.length} events, ${result.accepted} accepted, ` +
        `${result.deadLettered} dead-lettered, ${result.entriesWritten} ledger entries written, ${result.diagnosticRecords} diagnostic records stored`,
    );
  };
}
