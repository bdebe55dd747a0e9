import type { Container } from '@azure/cosmos';
import { checkResultSchema } from '../../contracts/reconciliation-result.js';
import type { CheckResult } from '../../domain/reconciliation.js';
import { stableId } from '../../domain/stable-id.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import type { ReconciliationStore, TimeWindow } from '../../ports/reconciliation.js';
import { bulkUpsert } from './bulk-write.js';
import { queryPages } from './query-pages.js';

/** Reconciliation results in the `aggregates` container, one partition per day. */
export class CosmosReconciliationStore implements ReconciliationStore {
  constructor(private readonly container: Container) {}

  async upsertResults(results: readonly CheckResult[], options?: StoreOptions): Promise<void> {
    const documents = results.map((r) => ({ ...r, id: `recon-${stableId(r.check, r.window, r.deployment)}`, pk: `recon:${r.window.slice(0, 10)}`, kind: 'reconciliation' }));
    const rejected = await bulkUpsert(this.container, documents, options);
    if (rejected.length > 0) throw new Error(`reconciliation store refused ${rejected.length} results`);
  }

  async listResults(window: TimeWindow, options: StoreOptions = {}): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    const from = window.from.toISOString().slice(0, 13);
    const to = window.to.toISOString().slice(0, 13);
    for (let day = Date.UTC(window.from.getUTCFullYear(), window.from.getUTCMonth(), window.from.getUTCDate()); day < window.to.getTime(); day += 86_400_000) {
      const pk = `recon:${new Date(day).toISOString().slice(0, 10)}`;
      const query = { query: 'SELECT * FROM c WHERE c.pk = @pk AND c.window >= @from AND c.window < @to', parameters: [{ name: '@pk', value: pk }, { name: '@from', value: from }, { name: '@to', value: to }] };
      for await (const page of queryPages(this.container, query, (doc) => checkResultSchema.parse(doc), { ...options, partitionKey: pk })) results.push(...page);
    }
    return results.sort((a, b) => (a.window < b.window ? -1 : a.window > b.window ? 1 : a.check < b.check ? -1 : a.check > b.check ? 1 : a.deployment < b.deployment ? -1 : 1));
  }
}
