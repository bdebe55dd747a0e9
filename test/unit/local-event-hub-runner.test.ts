import { describe, expect, it } from 'vitest';
import type { CheckpointStore } from '../../src/local/checkpoint-store.js';
import { LocalEventHub, runEventHubTrigger } from '../../src/local/event-hub-runner.js';

function memoryCheckpoints(): CheckpointStore & { readonly written: Map<string, number> } {
  const written = new Map<string, number>();
  return {
    written,
    get: async (partitionId) => written.get(partitionId) ?? 0,
    set: async (partitionId, next) => {
      written.set(partitionId, next);
    },
  };
}

describe('local Event Hubs trigger runner', () => {
  it('passes over a batch that still fails when the retries run out, as the host advances its pointer, and goes on with the next ones', async () => {
    const hub = new LocalEventHub(1);
    for (let n = 0; n < 9; n++) hub.send(`event ${n}`, 'one-partition', new Date('2026-11-20T12:00:00Z'));
    const handled: string[] = [];
    const retryCounts: number[] = [];
    const checkpoints = memoryCheckpoints();
    const stats = await runEventHubTrigger(
      hub,
      async (bodies, context) => {
        const texts = (bodies as Buffer[]).map((b) => b.toString('utf8'));
        if (texts.includes('event 4')) {
          retryCounts.push((context.retryContext as { retryCount: number }).retryCount);
          throw new Error('the store refused the batch');
        }
        handled.push(...texts);
      },
      { functionName: 'ingest', dataType: 'binary', checkpoints, maxBatchSize: 3, maxRetries: 2 },
    );
    expect(retryCounts).toEqual([0, 1, 2]);
    expect(handled).toEqual(['event 0', 'event 1', 'event 2', 'event 6', 'event 7', 'event 8']);
    expect(stats.abandoned).toEqual([{ partitionId: '0', from: 3, to: 5, error: new Error('the store refused the batch') }]);
    expect({ deliveries: stats.deliveries, failures: stats.failures }).toEqual({ deliveries: 5, failures: 3 });
    expect(checkpoints.written.get('0')).toBe(9);
  });
});
