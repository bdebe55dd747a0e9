import type { Container } from '@azure/cosmos';
import { compareResultKeys, reconciledHourSchema, storedCheckResultSchema, type ReconciledHour, type StoredCheckResult } from '../../contracts/reconciliation-result.js';
import type { CheckResult } from '../../domain/reconciliation.js';
import { namedRunResults, type NamedRun } from '../../domain/run-order.js';
import { stableId } from '../../domain/stable-id.js';
import type { Versioned } from '../../ports/aggregate-store.js';
import { TransientStoreError, type StoreOptions } from '../../ports/ledger-store.js';
import type { ReconciliationStore, TimeWindow } from '../../ports/reconciliation.js';
import { bulkDelete, bulkUpsert, throwIfRefused } from './bulk-write.js';
import { queryPages } from './query-pages.js';
import { readVersioned, writeIfVersion } from './versioned-documents.js';

/** Reads of a day while runs keep replacing its hours' results, before the read gives up. */
const READ_ATTEMPTS = 3;

/** One partition per day (`window` is `YYYY-MM-DDTHH`). */
const partitionOf = (hour: string) => `recon:${hour.slice(0, 10)}`;
const hourKey = (hour: string) => ({ id: `recon-hour:${hour}`, pk: partitionOf(hour) });

const toResult = ({ run: _run, ...result }: StoredCheckResult): CheckResult => result;

/** Reconciliation results in the `aggregates` container, one partition per day. */
export class CosmosReconciliationStore implements ReconciliationStore {
  constructor(private readonly container: Container) {}

  async putResults(hour: string, run: string, results: readonly CheckResult[], options: StoreOptions = {}): Promise<void> {
    const documents = results.map((r) => ({ ...r, run, id: `recon-${stableId(r.check, r.window, r.deployment, run)}`, pk: partitionOf(hour), kind: 'reconciliation' }));
    throwIfRefused('reconciliation store', 'results', await bulkUpsert(this.container, documents, options));
  }

  async getHourRun(hour: string, options: StoreOptions = {}): Promise<Versioned<NamedRun> | null> {
    const found = await readVersioned(this.container, hourKey(hour), (doc) => reconciledHourSchema.parse(doc), options);
    return found ? { value: { run: found.value.run, results: found.value.results }, version: found.version } : null;
  }

  async replaceHourRun(hour: string, named: NamedRun, expectedVersion: string | null, options: StoreOptions = {}): Promise<boolean> {
    const head: ReconciledHour = { ...hourKey(hour), kind: 'reconciled-hour', window: hour, ...named };
    return (await writeIfVersion(this.container, head, expectedVersion, options)) !== null;
  }

  async deleteResults(hour: string, remove: (run: string | undefined) => boolean, options: StoreOptions = {}): Promise<void> {
    const pk = partitionOf(hour);
    const query = { query: "SELECT c.id, c.run FROM c WHERE c.pk = @pk AND c.kind = 'reconciliation' AND c.window = @window", parameters: [{ name: '@pk', value: pk }, { name: '@window', value: hour }] };
    const keys: { id: string; pk: string }[] = [];
    for await (const page of queryPages(this.container, query, (doc) => doc as { id: string; run?: string }, { ...options, partitionKey: pk })) {
      for (const doc of page) if (remove(doc.run)) keys.push({ id: doc.id, pk });
    }
    throwIfRefused('reconciliation store', 'removals', await bulkDelete(this.container, keys, options));
  }

  async listResults(window: TimeWindow, options: StoreOptions = {}): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    for await (const day of this.resultsByDay(window, options)) results.push(...day);
    return results;
  }

  async *resultsByDay(window: TimeWindow, options: StoreOptions = {}): AsyncIterable<readonly CheckResult[]> {
    const from = window.from.toISOString().slice(0, 13);
    const to = window.to.toISOString().slice(0, 13);
    for (let day = Date.UTC(window.from.getUTCFullYear(), window.from.getUTCMonth(), window.from.getUTCDate()); day < window.to.getTime(); day += 86_400_000) {
      const pk = partitionOf(new Date(day).toISOString().slice(0, 13));
      for (let attempt = 1; ; attempt++) {
        const { results, incomplete } = await this.readDay(pk, from, to, options);
        if (incomplete.length === 0) {
          if (results.length > 0) yield results;
          break;
        }
        if (attempt === READ_ATTEMPTS) throw new TransientStoreError(`the reconciliation results of ${incomplete.join(', ')} changed while being read ${READ_ATTEMPTS} times`);
      }
    }
  }

  /** One day's partition: the hours in [from, to) of it, each its named run's results, sorted. */
  private async readDay(pk: string, from: string, to: string, options: StoreOptions): Promise<{ results: CheckResult[]; incomplete: string[] }> {
    const stored: StoredCheckResult[] = [];
    const named = new Map<string, NamedRun>();
    const query = {
      query: "SELECT * FROM c WHERE c.pk = @pk AND (c.kind = 'reconciliation' OR c.kind = 'reconciled-hour') AND c.window >= @from AND c.window < @to",
      parameters: [{ name: '@pk', value: pk }, { name: '@from', value: from }, { name: '@to', value: to }],
    };
    const parse = (doc: unknown) => ((doc as { kind?: unknown }).kind === 'reconciled-hour' ? reconciledHourSchema.parse(doc) : storedCheckResultSchema.parse(doc));
    for await (const page of queryPages(this.container, query, parse, { ...options, partitionKey: pk })) {
      for (const doc of page) {
        if ('kind' in doc) named.set(doc.window, { run: doc.run, results: doc.results });
        else stored.push(doc);
      }
    }
    const { results, incomplete } = namedRunResults(stored, (r) => r.window, named);
    return { results: results.map(toResult).sort(compareResultKeys), incomplete };
  }
}
