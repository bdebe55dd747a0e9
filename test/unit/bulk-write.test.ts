import type { Container, OperationInput } from '@azure/cosmos';
import { describe, expect, it } from 'vitest';
import { bulkUpsert } from '../../src/adapters/cosmos/bulk-write.js';

/**
 * A fake container (mocked: no local server throttles) whose `items.bulk` answers as Cosmos DB's bulk API does for
 * a throttled partition: each operation's first answer is 429 with `retryAfterMilliseconds`, the next one 200.
 */
function throttledOnce(): { container: Container; sends: () => number } {
  const seen = new Set<string>();
  let sends = 0;
  const container = {
    id: 'throttled',
    items: {
      bulk: async (operations: OperationInput[]) =>
        operations.map((operation) => {
          sends++;
          const id = (operation as unknown as { resourceBody: { id: string } }).resourceBody.id;
          if (seen.has(id)) return { statusCode: 200, requestCharge: 1 };
          seen.add(id);
          return { statusCode: 429, requestCharge: 0, retryAfterMilliseconds: 0 };
        }),
    },
  } as unknown as Container;
  return { container, sends: () => sends };
}

describe('bulk writes to a throttled partition (fake container)', () => {
  it('resends 300,000 throttled upserts once each, however many were throttled at once', async () => {
    const { container, sends } = throttledOnce();
    const documents = Array.from({ length: 300_000 }, (_, i) => ({ id: `d${i}`, pk: `p${i % 1000}` }));
    await expect(bulkUpsert(container, documents)).resolves.toEqual([]);
    expect(sends()).toBe(600_000);
  });
});
