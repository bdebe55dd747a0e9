import type { Container } from '@azure/cosmos';
import { beforeAll, describe, expect, it } from 'vitest';
import { bulkConditionalWrite, bulkRead, bulkUpsert } from '../../src/adapters/cosmos/bulk-write.js';
import { CosmosAggregateStore } from '../../src/adapters/cosmos/cosmos-aggregate-store.js';
import { MAX_ITEM_BYTES, MAX_RESPONSE_BYTES } from '../../src/local/cosmos-server.js';
import { useLocalCosmos } from '../support/local-cosmos.js';

/** An item whose JSON is `bytes` long (UTF-8). */
function itemOfSize(id: string, bytes: number, pk = 'p'): { id: string; pk: string; pad: string } {
  const empty = JSON.stringify({ id, pk, pad: '' });
  return { id, pk, pad: 'x'.repeat(bytes - Buffer.byteLength(empty)) };
}

async function statusOf(call: Promise<unknown>): Promise<{ code: unknown; body: unknown }> {
  try {
    await call;
    return { code: 'ok', body: null };
  } catch (error) {
    return { code: (error as { code?: unknown }).code, body: (error as { body?: unknown }).body };
  }
}

describe('the local Cosmos DB server answers as Azure does at the per-item and request size limits', () => {
  const client = useLocalCosmos();
  let container: Container;
  beforeAll(async () => {
    const { database } = await client().databases.createIfNotExists({ id: 'limits' });
    ({ container } = await database.containers.createIfNotExists({ id: 'items', partitionKey: { paths: ['/pk'] } }));
  });

  it('refuses a 2.1 MB item with 413 RequestEntityTooLarge and stores nothing', async () => {
    const result = await statusOf(container.items.create(itemOfSize('big', 2.1 * 1024 * 1024)));
    expect(result.code).toBe(413);
    expect(result.body).toMatchObject({ code: 'RequestEntityTooLarge' });
    expect((await container.item('big', 'p').read()).statusCode).toBe(404);
  });

  it('accepts an item of exactly 2 MB, and refuses one byte more on upsert and replace too', async () => {
    await container.items.create(itemOfSize('edge', MAX_ITEM_BYTES));
    expect((await statusOf(container.items.upsert(itemOfSize('edge', MAX_ITEM_BYTES + 1)))).code).toBe(413);
    expect((await statusOf(container.item('edge', 'p').replace(itemOfSize('edge', MAX_ITEM_BYTES + 1)))).code).toBe(413);
  });

  // The SDK refuses '/', '\\' and '#' in a single item's id before sending; bulk operations reach the server as they are.
  it.each(['a/b', 'a\\b', 'a?b', 'a#b', 'x'.repeat(1024)])('refuses the id %s with 400 BadRequest', async (id) => {
    const [result] = await container.items.bulk([{ operationType: 'Create', resourceBody: { id, pk: 'p' } }], { continueOnError: true });
    expect(result!.statusCode).toBe(400);
    expect((await container.items.query({ query: 'SELECT VALUE COUNT(1) FROM c WHERE c.id = @id', parameters: [{ name: '@id', value: id }] }).fetchAll()).resources).toEqual([0]);
  });

  it.each([
    ['a/b', 'a/b'],
    ['a\\b', 'a\\b'],
    ['a?b', 'a?b'],
    ['a#b', 'a#b'],
    ['of 1,024 bytes', 'x'.repeat(1024)],
  ])('answers a bulk read and a bulk delete of the id %s with 400, as Azure does', async (_name, id) => {
    const results = await container.items.bulk([
      { operationType: 'Read', id, partitionKey: 'p' },
      { operationType: 'Delete', id, partitionKey: 'p' },
    ]);
    expect(results.map((r) => r.statusCode)).toEqual([400, 400]);
  });

  it('bulk reads of the store adapters leave out a key whose id no document can have, and read the others', async () => {
    await container.items.upsert({ id: 'readable', pk: 'p' });
    const found = await bulkRead(container, ['a/b', 'x'.repeat(1024), 'readable', 'missing'].map((id) => ({ id, pk: 'p' })));
    expect(found.map(({ document }) => document['id'])).toEqual(['readable']);
  });

  it('answers a single write with an id over the limit with the 400 error body Azure sends', async () => {
    const result = await statusOf(container.items.create({ id: 'x'.repeat(1024), pk: 'p' }));
    expect(result.code).toBe(400);
    expect(result.body).toMatchObject({ code: 'BadRequest' });
  });

  it('answers an item whose partition key value is over 2,048 bytes with 400, as a large-partition-key container does', async () => {
    const result = await statusOf(container.items.create({ id: 'long-pk', pk: 'p'.repeat(2049) }));
    expect(result.code).toBe(400);
    expect(result.body).toMatchObject({ code: 'BadRequest' });
    expect((await statusOf(container.items.create({ id: 'long-pk', pk: 'p'.repeat(2048) }))).code).toBe('ok');
  });

  it('keeps the weights of a deployment whose name is too long for a partition key value (a diagnostic record sets no bound)', async () => {
    const store = new CosmosAggregateStore(container);
    const deployment = `gpt-4o-${'x'.repeat(2100)}`;
    const weights = { deployment, windowEnd: '2026-10-15T02:00:00.000Z', weights: { 'aoai-eastus': 100 }, basedOn: null };
    expect(await store.createWeights(weights)).toBe(true);
    expect(await store.latestWeights(deployment, weights.windowEnd)).toEqual(weights);
    expect(await store.latestWeights(`${deployment}y`, weights.windowEnd)).toBeNull();
  });

  it('in a bulk request, refuses only the operation with a bad id', async () => {
    const results = await container.items.bulk(
      [
        { operationType: 'Create', resourceBody: { id: 'small-1', pk: 'p' } },
        { operationType: 'Create', resourceBody: { id: 'bad/id', pk: 'p' } },
        { operationType: 'Create', resourceBody: { id: 'small-2', pk: 'p' } },
      ],
      { continueOnError: true },
    );
    expect(results.map((r) => r.statusCode)).toEqual([201, 400, 201]);
  });

  it('refuses a bulk request carrying an item over the limit whole, which the SDK throws as one untyped error', async () => {
    const bulk = container.items.bulk([{ operationType: 'Create', resourceBody: { id: 'small-3', pk: 'p' } }, { operationType: 'Upsert', resourceBody: itemOfSize('huge', 2.1 * 1024 * 1024) }], { continueOnError: true });
    await expect(bulk).rejects.toThrow(/^Bulk request errored with: .*Request size is too large/s);
    expect((await container.item('huge', 'p').read()).statusCode).toBe(404);
  });

  it('answers bulk reads past the 4 MB response limit in part: 413 with substatus 3402 for those it did not run', async () => {
    const items = Array.from({ length: 30 }, (_, i) => itemOfSize(`answer-${i}`, 200_000));
    expect(await bulkUpsert(container, items)).toEqual([]);
    const results = await container.items.bulk(items.map(({ id, pk }) => ({ operationType: 'Read', id, partitionKey: pk })));
    const fits = results.findIndex((r) => r.statusCode !== 200);
    expect(fits).toBeGreaterThan(0);
    expect(JSON.stringify(results.slice(0, fits)).length).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(results.slice(fits).map((r) => [r.statusCode, (r as { subStatusCode?: number }).subStatusCode])).toEqual(results.slice(fits).map(() => [413, 3402]));
  });

  it('bulk reads of the store adapters send again what Azure did not run for the size of its answer, and read every document', async () => {
    const items = Array.from({ length: 30 }, (_, i) => itemOfSize(`reread-${i}`, 200_000));
    expect(await bulkUpsert(container, items)).toEqual([]);
    const found = await bulkRead(container, items.map(({ id, pk }) => ({ id, pk })));
    expect(found.map(({ document }) => document['id'])).toEqual(items.map((item) => item.id));
  });

  it('bulk writes of the store adapters refuse with 413 an item whose partition key value takes its operation past the request limit', async () => {
    // Within both per-item limits (a 2,000-byte partition key value, an item under 2 MB), not within one bulk request.
    const pk = 'k'.repeat(2000);
    const refused = await bulkUpsert(container, [itemOfSize('small-4', 100), itemOfSize('long-key', MAX_ITEM_BYTES - 1100, pk)]);
    expect(refused.map((r) => [r.document.id, r.status])).toEqual([['long-key', 413]]);
    expect((await container.item('small-4', 'p').read()).statusCode).toBe(200);
  });

  it('bulk writes of the store adapters refuse an item over the limit with 413 before sending it, and write the others', async () => {
    const documents = [itemOfSize('fits-1', 1_000), itemOfSize('too-big', MAX_ITEM_BYTES + 1), itemOfSize('fits-2', MAX_ITEM_BYTES - 2048)];
    const refused = await bulkUpsert(container, documents);
    expect(refused.map((r) => [r.document.id, r.status])).toEqual([['too-big', 413]]);
    const conditional = await bulkConditionalWrite(container, [{ document: itemOfSize('fits-3', 1_000), etag: null }, { document: itemOfSize('too-big-2', 3 * 1024 * 1024), etag: null }]);
    expect(conditional.rejected.map((r) => [r.document.id, r.status])).toEqual([['too-big-2', 413]]);
    const stored = await container.items.query<string>('SELECT VALUE c.id FROM c WHERE STARTSWITH(c.id, "fits") OR STARTSWITH(c.id, "too-big")').fetchAll();
    expect(stored.resources.sort()).toEqual(['fits-1', 'fits-2', 'fits-3']);
  });
});
