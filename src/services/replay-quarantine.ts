import type { StoreOptions } from '../ports/ledger-store.js';
import type { QuarantineStore } from '../ports/quarantine-store.js';
import { ingestBatch, type IngestPorts, type IngestResult } from './ingest-batch.js';
import { fromQuarantinedBatch } from './ingest-or-quarantine.js';

export interface ReplayPorts extends IngestPorts {
  readonly quarantine: QuarantineStore;
}

export interface ReplayResult {
  readonly name: string;
  readonly partitionId: string;
  readonly events: number;
  readonly result: IngestResult;
}

/**
 * Re-ingests one quarantined batch through the ingest service, then marks it replayed. Ledger and dead-letter ids
 * are deterministic, so replaying a batch again (or one whose events were also delivered) changes nothing. A
 * failure leaves the batch unmarked, to be replayed again.
 */
export async function replayQuarantinedBatch(name: string, ports: ReplayPorts, options: StoreOptions & { now?: () => Date } = {}): Promise<ReplayResult> {
  const batch = await ports.quarantine.getBatch(name, options);
  if (batch === null) throw new Error(`no quarantined batch named ${JSON.stringify(name)}`);
  const result = await ingestBatch(fromQuarantinedBatch(batch), ports, options);
  await ports.quarantine.markReplayed(name, (options.now ?? (() => new Date()))(), options);
  return { name, partitionId: batch.partitionId, events: batch.events.length, result };
}

/** Replays every quarantined batch not replayed yet, in name order (partition, then position). */
export async function replayAllQuarantined(ports: ReplayPorts, options: StoreOptions & { now?: () => Date } = {}): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for (const listing of await ports.quarantine.listBatches(options)) {
    if (listing.replayedAt !== null) continue;
    results.push(await replayQuarantinedBatch(listing.name, ports, options));
  }
  return results;
}
