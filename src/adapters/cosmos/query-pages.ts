import type { Container, FeedOptions, SqlQuerySpec } from '@azure/cosmos';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { cosmosCall } from './bulk-write.js';

/** Ids per `ARRAY_CONTAINS` query: about 40 KB of query text. */
export const IDS_PER_QUERY = 1000;

/** Large pages: the service still caps each response at 4 MB, and fewer round trips serve bulk reads best. */
const PAGE_SIZE = 10_000;

/** Runs a query page by page, parsing each document (which also strips Cosmos system properties). */
export async function* queryPages<T>(
  container: Container,
  query: SqlQuerySpec,
  parse: (document: unknown) => T,
  options: StoreOptions & Pick<FeedOptions, 'partitionKey'> = {},
): AsyncIterable<readonly T[]> {
  const iterator = container.items.query(query, { maxItemCount: PAGE_SIZE, abortSignal: options.abortSignal, partitionKey: options.partitionKey });
  while (iterator.hasMoreResults()) {
    const page = await cosmosCall(`query ${container.id}`, () => iterator.fetchNext());
    if (page.resources.length > 0) yield page.resources.map(parse);
  }
}

/**
 * Documents whose `field` (default `id`) is in `ids`: one query per 1,000 ids (about 40 KB of query text), never
 * one request per id.
 */
export async function queryByIds<T>(container: Container, ids: readonly string[], parse: (document: unknown) => T, options: StoreOptions = {}, field: 'id' | 'gatewayRequestId' | 'apimRequestId' = 'id'): Promise<T[]> {
  const found: T[] = [];
  const unique = [...new Set(ids)];
  for (let start = 0; start < unique.length; start += IDS_PER_QUERY) {
    const query = { query: `SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.${field})`, parameters: [{ name: '@ids', value: unique.slice(start, start + IDS_PER_QUERY) }] };
    for await (const page of queryPages(container, query, parse, options)) found.push(...page);
  }
  return found;
}
