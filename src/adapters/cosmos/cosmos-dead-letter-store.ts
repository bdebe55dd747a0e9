import type { Container } from '@azure/cosmos';
import { deadLetterSchema, type DeadLetter } from '../../contracts/dead-letter.js';
import type { DeadLetterStore, StoreOptions } from '../../ports/ledger-store.js';
import { bulkUpsert } from './bulk-write.js';
import { queryPages } from './query-pages.js';

export class CosmosDeadLetterStore implements DeadLetterStore {
  constructor(private readonly container: Container) {}

  async upsertDeadLetters(letters: readonly DeadLetter[], options?: StoreOptions): Promise<void> {
    const rejected = await bulkUpsert(this.container, letters, options);
    if (rejected.length > 0) {
      // The dead-letter store is the last resort: failing the batch (so it is redelivered) is the only way not to lose these.
      throw new Error(`dead-letter store refused ${rejected.length} letters (status ${rejected.map((r) => String(r.status)).join(', ')})`);
    }
  }

  listDeadLetters(options: StoreOptions = {}): AsyncIterable<readonly DeadLetter[]> {
    return queryPages(this.container, { query: 'SELECT * FROM c' }, (doc) => deadLetterSchema.parse(doc), options);
  }
}
