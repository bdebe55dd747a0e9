import type { Container } from '@azure/cosmos';
import { deadLetterSchema, type DeadLetter } from '../../contracts/dead-letter.js';
import type { DeadLetterStore, StoreOptions } from '../../ports/ledger-store.js';
import { bulkUpsert, throwIfRefused } from './bulk-write.js';
import { queryPages } from './query-pages.js';

export class CosmosDeadLetterStore implements DeadLetterStore {
  constructor(private readonly container: Container) {}

  async upsertDeadLetters(letters: readonly DeadLetter[], options?: StoreOptions): Promise<void> {
    // The dead-letter store is the last resort: failing the batch (so it is redelivered) is the only way not to lose these.
    throwIfRefused('dead-letter store', 'letters', await bulkUpsert(this.container, letters, options));
  }

  listDeadLetters(options: StoreOptions = {}): AsyncIterable<readonly DeadLetter[]> {
    return queryPages(this.container, { query: 'SELECT * FROM c' }, (doc) => deadLetterSchema.parse(doc), options);
  }
}
