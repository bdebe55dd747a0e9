import { readFileSync } from 'node:fs';
import functions from '@azure/functions';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createIngestHandler, INGEST_BUDGET_MS, INGEST_TRIGGER } from '../../functions/handlers/ingest-gateway-events.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
import { QUARANTINE_BUDGET_MS, QUARANTINE_WRITE_RETRY } from '../../src/services/ingest-or-quarantine.js';
import { OffloadingDeadLetterStore } from '../../src/services/offloading-dead-letter-store.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore, MemoryPayloadStore, MemoryQuarantineStore } from '../support/memory-stores.js';

const host = JSON.parse(readFileSync(new URL('../../host.json', import.meta.url), 'utf8')) as { functionTimeout: string };
const [hours, minutes, seconds] = host.functionTimeout.split(':').map(Number) as [number, number, number];
const functionTimeoutMs = ((hours * 60 + minutes) * 60 + seconds) * 1_000;

const bodies = simulateDay({ requests: 10, seed: 3, day: '2026-11-19' }).eventLines.map((line) => Buffer.from(line));

/** Memory stores, and the context of a batch's last delivery on partition 3, its error log collected. */
function lastDelivery() {
  const stores = { ledger: new MemoryLedgerStore(), deadLetters: new OffloadingDeadLetterStore(new MemoryDeadLetterStore(), new MemoryPayloadStore()), aggregates: new MemoryAggregateStore(), diagnostics: new MemoryDiagnosticsStore(), quarantine: new MemoryQuarantineStore() };
  const errors: string[] = [];
  const context = new functions.InvocationContext({
    logHandler: (level, ...args) => void (level === 'error' && errors.push(args.join(' '))),
    retryContext: { retryCount: INGEST_TRIGGER.retry.maxRetryCount, maxRetryCount: INGEST_TRIGGER.retry.maxRetryCount },
    triggerMetadata: {
      partitionContext: { partitionId: '3' },
      sequenceNumberArray: bodies.map((_, i) => 700 + i),
      offsetArray: bodies.map((_, i) => String(4096 * i)),
      enqueuedTimeUtcArray: bodies.map(() => '2026-11-19T10:00:00Z'),
    },
  });
  return { stores, context, errors };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the ingest handler under the Functions host', () => {
  // After its last retry the host checkpoints past the batch, and a run past functionTimeout counts as a failure
  // (learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages, functions-host-json#functiontimeout).
  it("gives up ingesting early enough for its last delivery to quarantine the batch before host.json's functionTimeout", () => {
    const quarantineWaits = Array.from({ length: QUARANTINE_WRITE_RETRY.attempts - 1 }, (_, i) => QUARANTINE_WRITE_RETRY.backoffInMs(i + 1)).reduce((a, b) => a + b, 0);
    expect(QUARANTINE_BUDGET_MS).toBeGreaterThan(quarantineWaits);
    // What is left after both budgets: the handler's log line and the host's own work.
    expect(functionTimeoutMs - INGEST_BUDGET_MS - QUARANTINE_BUDGET_MS).toBeGreaterThanOrEqual(20_000);
  });

  it('names the partition, sequence numbers and offsets of a batch it could neither ingest nor quarantine on its last delivery', async () => {
    const { stores, context, errors } = lastDelivery();
    stores.ledger.writeEntries = async () => {
      throw new TransientStoreError('503');
    };
    stores.quarantine.putBatch = async () => {
      throw Object.assign(new Error('This request is not authorized to perform this operation using this permission.'), { statusCode: 403 });
    };
    const handler = createIngestHandler(() => stores, { retry: { attempts: 1, backoffInMs: () => 0 } });
    await expect(handler(bodies, context)).rejects.toThrow(/not authorized/);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`partition 3: ${bodies.length} events (sequence numbers 700–${700 + bodies.length - 1}, offsets 0–${4096 * (bodies.length - 1)}`);
    expect(errors[0]).toContain('read them again from the event hub');
  });

  it("names the batch before functionTimeout when both the store and the quarantine write hang (fake timers)", async () => {
    vi.useFakeTimers();
    const { stores, context, errors } = lastDelivery();
    stores.ledger.writeEntries = () => new Promise(() => {});
    let writes = 0;
    stores.quarantine.putBatch = () => (writes++, new Promise(() => {}));
    let settled = 'pending';
    void createIngestHandler(() => stores)(bodies, context).then(
      () => (settled = 'resolved'),
      (error: Error) => (settled = `rejected: ${error.message}`),
    );
    await vi.advanceTimersByTimeAsync(functionTimeoutMs - 1_000);
    expect({ writes, settled, errors: errors.length }).toEqual({ writes: 1, settled: expect.stringContaining('the batch was not quarantined within 90 s'), errors: 1 });
  });
});
