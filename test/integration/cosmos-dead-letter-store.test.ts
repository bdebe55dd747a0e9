import type { Container } from '@azure/cosmos';
import { describe, expect, it, vi } from 'vitest';
import { CosmosDeadLetterStore } from '../../src/adapters/cosmos/cosmos-dead-letter-store.js';
import { CONTAINERS, ensureContainers } from '../../src/config/composition-root.js';
import type { DeadLetter } from '../../src/contracts/dead-letter.js';
import { stableId } from '../../src/domain/stable-id.js';
import { useLocalCosmos } from '../support/local-cosmos.js';

function letter(n: number, reason: string, raw: DeadLetter['raw'] = { encoding: 'utf8', data: `payload ${n}`, bytes: `payload ${n}`.length }): DeadLetter {
  const id = stableId('utf8', `payload ${n}`);
  return { id, pk: id.slice(0, 2), reason, position: { partitionId: String(n % 4), sequenceNumber: n, offset: String(n * 512), enqueuedTimeUtc: '2026-11-20T10:00:00.000Z', itemIndex: null }, raw };
}

async function all<T>(pages: AsyncIterable<readonly T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...page);
  return out;
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);

describe('dead letters on the local Cosmos DB server', () => {
  const client = useLocalCosmos();
  let databases = 0;

  async function freshStore(): Promise<{ store: CosmosDeadLetterStore; container: Container }> {
    const { database } = await client().databases.createIfNotExists({ id: `deadletters-${++databases}` });
    await ensureContainers(database);
    const container = database.container(CONTAINERS.deadLetters.id);
    return { store: new CosmosDeadLetterStore(container), container };
  }

  it('lists only the letters whose reason contains a text, with the text a parameter of the store query', async () => {
    const { store, container } = await freshStore();
    const letters = Array.from({ length: 30 }, (_, n) => letter(n, n % 3 === 0 ? `body is not JSON: Unexpected token at ${n}` : `usage.promptTokens: must be >= 0 (${n})`));
    await store.upsertDeadLetters(letters);
    const query = vi.spyOn(container.items, 'query');

    const found = await all(store.listDeadLetters({ reasonContains: "not JSON: Unexpected token at 1" }));

    expect(found.map((l) => l.reason).sort()).toEqual(['body is not JSON: Unexpected token at 12', 'body is not JSON: Unexpected token at 15', 'body is not JSON: Unexpected token at 18']);
    expect(query.mock.calls).toHaveLength(1);
    expect(query.mock.calls[0]![0]).toEqual({
      query: 'SELECT * FROM c WHERE CONTAINS(c.reason, @reason)',
      parameters: [{ name: '@reason', value: 'not JSON: Unexpected token at 1' }],
    });
  });

  it("treats the reason text as a value, never as query text", async () => {
    const { store } = await freshStore();
    await store.upsertDeadLetters([letter(1, "it's broken') OR true OR CONTAINS(c.reason, '"), letter(2, 'another reason')]);

    expect((await all(store.listDeadLetters({ reasonContains: "') OR true OR CONTAINS(c.reason, '" }))).map((l) => l.reason)).toEqual(["it's broken') OR true OR CONTAINS(c.reason, '"]);
    expect(await all(store.listDeadLetters({ reasonContains: "x') OR true OR CONTAINS(c.reason, '" }))).toEqual([]);
  });

  it('lists headers without the payload bytes: size, encoding, and the blob of an offloaded payload', async () => {
    const { store, container } = await freshStore();
    const blob = { container: 'dead-letters', name: 'b.bin', sha256: 'a'.repeat(64) };
    const inline = letter(1, 'body is not valid UTF-8', { encoding: 'base64', data: Buffer.from([0xff, 0xfe]).toString('base64'), bytes: 2 });
    const offloaded = letter(2, 'body of 2000000 bytes exceeds 1048576', { encoding: 'utf8', bytes: 2_000_000, blob });
    const duplicate = { ...letter(3, 'conflicting duplicate'), duplicateOf: { id: 'gw-1', pk: 'l3f' } };
    await store.upsertDeadLetters([inline, offloaded, duplicate]);
    const query = vi.spyOn(container.items, 'query');

    const headers = (await all(store.listDeadLetterHeaders())).sort(byId);

    expect(headers).toEqual(
      [
        { id: inline.id, pk: inline.pk, reason: inline.reason, position: inline.position, raw: { encoding: 'base64', bytes: 2 } },
        { id: offloaded.id, pk: offloaded.pk, reason: offloaded.reason, position: offloaded.position, raw: { encoding: 'utf8', bytes: 2_000_000, blob } },
        { id: duplicate.id, pk: duplicate.pk, reason: duplicate.reason, position: duplicate.position, duplicateOf: duplicate.duplicateOf, raw: { encoding: 'utf8', bytes: duplicate.raw.bytes } },
      ].sort(byId),
    );
    expect(String((query.mock.calls[0]![0] as { query: string }).query)).not.toMatch(/SELECT \*|c\.raw\.data/);
  });

  it('lists the letters of given ids, more than one query holds, and none of the others', async () => {
    const { store } = await freshStore();
    const letters = Array.from({ length: 1_200 }, (_, n) => letter(n, 'status: must be a valid HTTP status'));
    await store.upsertDeadLetters(letters);
    const wanted = letters.filter((_, n) => n % 2 === 0).map((l) => l.id);

    const found = await all(store.listDeadLetterHeaders({ ids: [...wanted, 'no-such-letter'] }));

    expect(found.map((l) => l.id).sort()).toEqual([...wanted].sort());
  });

  it('deletes a batch of letters by id and partition key, in bulk, and a letter already gone counts as deleted', async () => {
    const { store } = await freshStore();
    const letters = Array.from({ length: 250 }, (_, n) => letter(n, n < 200 ? 'fixed since' : 'still bad'));
    await store.upsertDeadLetters(letters);
    const gone = letters.slice(0, 200).map(({ id, pk }) => ({ id, pk }));

    await store.deleteDeadLetters(gone);
    await store.deleteDeadLetters(gone.slice(0, 10));

    expect((await all(store.listDeadLetters())).map((l) => l.reason)).toEqual(Array(50).fill('still bad'));
  });
});
