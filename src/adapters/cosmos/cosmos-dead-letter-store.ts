import type { Container, SqlParameter, SqlQuerySpec } from '@azure/cosmos';
import { deadLetterHeaderSchema, deadLetterSchema, type DeadLetter, type DeadLetterHeader } from '../../contracts/dead-letter.js';
import type { DeadLetterKey, DeadLetterQuery, DeadLetterStore, StoreOptions } from '../../ports/ledger-store.js';
import { bulkDelete, bulkUpsert, throwIfRefused } from './bulk-write.js';
import { IDS_PER_QUERY, queryPages } from './query-pages.js';

/** Everything of a dead letter but its payload's bytes (an object built in the projection keeps the document's shape). */
const HEADER = 'c.id, c.pk, c.reason, c.position, c.duplicateOf, {"encoding": c.raw.encoding, "bytes": c.raw.bytes, "blob": c.raw.blob} AS raw';

/** The queries that select what `query` asks for: one, or one per 1,000 ids. */
function querySpecs(select: string, query: DeadLetterQuery): SqlQuerySpec[] {
  const conditions: string[] = [];
  const parameters: SqlParameter[] = [];
  if (query.reasonContains !== undefined) {
    conditions.push('CONTAINS(c.reason, @reason)');
    parameters.push({ name: '@reason', value: query.reasonContains });
  }
  const spec = (extra: string[], extraParameters: SqlParameter[]): SqlQuerySpec => {
    const all = [...conditions, ...extra];
    return { query: `SELECT ${select} FROM c${all.length > 0 ? ` WHERE ${all.join(' AND ')}` : ''}`, parameters: [...parameters, ...extraParameters] };
  };
  if (query.ids === undefined) return [spec([], [])];
  const ids = [...new Set(query.ids)];
  const specs: SqlQuerySpec[] = [];
  for (let start = 0; start < ids.length; start += IDS_PER_QUERY) specs.push(spec(['ARRAY_CONTAINS(@ids, c.id)'], [{ name: '@ids', value: ids.slice(start, start + IDS_PER_QUERY) }]));
  return specs;
}

export class CosmosDeadLetterStore implements DeadLetterStore {
  constructor(private readonly container: Container) {}

  async upsertDeadLetters(letters: readonly DeadLetter[], options?: StoreOptions): Promise<void> {
    // The dead-letter store is the last resort: failing the batch (so it is redelivered) is the only way not to lose these.
    throwIfRefused('dead-letter store', 'letters', await bulkUpsert(this.container, letters, options));
  }

  async *listDeadLetters(query: DeadLetterQuery = {}): AsyncIterable<readonly DeadLetter[]> {
    for (const spec of querySpecs('*', query)) yield* queryPages(this.container, spec, (doc) => deadLetterSchema.parse(doc), query);
  }

  async *listDeadLetterHeaders(query: DeadLetterQuery = {}): AsyncIterable<readonly DeadLetterHeader[]> {
    for (const spec of querySpecs(HEADER, query)) yield* queryPages(this.container, spec, (doc) => deadLetterHeaderSchema.parse(doc), query);
  }

  async deleteDeadLetters(keys: readonly DeadLetterKey[], options?: StoreOptions): Promise<void> {
    throwIfRefused('dead-letter store', 'deletes', await bulkDelete(this.container, keys.map(({ id, pk }) => ({ id, pk })), options));
  }
}
