/**
 * Store figures at enterprise scale, measured on the in-memory stores of the tests (keyed, versioned and paged like
 * Cosmos DB: at most 100 documents or 4 MB per query page):
 * - `maxDocumentBytes`: the largest document the rollup writes for a month in which `documentIdentities` identities
 *   call every day (each identity its own usage lines);
 * - `monthReportReads`: store round trips (point reads, query pages) to serve that month's chargeback by identity
 *   for a month of `reportIdentities` identities;
 * - `hotPartitionShare`: the largest share of one hour's ledger documents that land in one logical partition (and,
 *   in its details, of one hour's diagnostic records).
 */
import type { LedgerEntry } from '../src/contracts/ledger-entry.js';
import type { LedgerStore } from '../src/ports/ledger-store.js';
import { loadPriceTable, type PriceFile } from '../src/contracts/price-table.js';
import { pricingOf } from '../src/domain/usage-pricing.js';
import { recordPartition } from '../src/adapters/cosmos/cosmos-diagnostics-store.js';
import { ledgerPartition } from '../src/domain/ledger.js';
import { daysOfMonth } from '../src/domain/tile-windows.js';
import { chargebackReportFor } from '../src/services/chargeback-report.js';
import { ingestBatch } from '../src/services/ingest-batch.js';
import { markRangeDirty, rollupChargeback } from '../src/services/rollup-chargeback.js';
import { simulateDay } from '../src/simulator/traffic.js';
import { ledgerEntry, noCaller } from '../test/support/ledger-entries.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore } from '../test/support/memory-stores.js';

const MODELS = [
  ['gpt-4o-2024-08-06', 'chat-gpt4o'],
  ['gpt-4o-mini-2024-07-18', 'chat-mini'],
  ['text-embedding-3-small', 'embed'],
] as const;
const REGIONS = ['eastus', 'swedencentral'] as const;

/** One request per identity on `day`, spread over its hours, with the model, deployment and region varying by identity. */
function dayOfRequests(day: string, identities: number): LedgerEntry[] {
  return Array.from({ length: identities }, (_, i) => {
    const [model, deployment] = MODELS[i % MODELS.length]!;
    const time = new Date(Date.parse(`${day}T00:00:00Z`) + ((i * 7_919) % 86_400) * 1_000).toISOString();
    return ledgerEntry({
      id: `${day}-${i}`,
      time,
      caller: { ...noCaller, oid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, idtyp: 'user' },
      model,
      deployment,
      backendRegion: REGIONS[i % REGIONS.length]!,
      tokens: { source: 'gateway', promptTokens: 200 + (i % 900), cachedTokens: i % 100, completionTokens: 50 + (i % 300), reasoningTokens: 0 },
    });
  });
}

export interface MonthRun {
  readonly identities: number;
  readonly days: number;
  readonly requests: number;
  readonly largestDocumentBytes: number;
  readonly usageDocuments: number;
  readonly reportReads: number | null;
  readonly reportRows: number | null;
  readonly seconds: number;
}

/** The one ledger read the rollup makes, over entries held by hour (the test store scans and copies every entry per read). */
function ledgerOfDay(entries: readonly LedgerEntry[]): Pick<LedgerStore, 'listEntries'> {
  const byHour = new Map<string, LedgerEntry[]>();
  for (const entry of entries) {
    const hour = entry.time.slice(0, 13);
    const list = byHour.get(hour) ?? [];
    list.push(entry);
    byHour.set(hour, list);
  }
  return {
    async *listEntries(range) {
      const page = byHour.get(range.from.toISOString().slice(0, 13));
      if (page && range.to.getTime() - range.from.getTime() === 3_600_000) yield page;
      else throw new Error('the bench ledger answers one whole hour at a time');
    },
  };
}

/**
 * Rolls up a month of daily requests by `identities` identities, a day at a time. With `report`, every day goes
 * into one store and the month's chargeback by identity is read from it at the end; without, each day gets a store
 * of its own (a day's tiles depend on that day alone), which keeps a month of 100,000 identities within memory.
 */
async function month(identities: number, monthText: string, prices: PriceFile, report: boolean): Promise<MonthRun> {
  const started = performance.now();
  let aggregates = new MemoryAggregateStore();
  let largestDocumentBytes = 0;
  let usageDocuments = 0;
  const days = daysOfMonth(monthText);
  for (const day of days) {
    if (!report) aggregates = new MemoryAggregateStore();
    const ledger = ledgerOfDay(dayOfRequests(day, identities));
    await markRangeDirty(aggregates, { from: new Date(`${day}T00:00:00Z`), to: new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000) });
    await rollupChargeback({ ledger, aggregates });
    largestDocumentBytes = Math.max(largestDocumentBytes, aggregates.largestDocumentBytes);
    if (!report) usageDocuments += aggregates.usage.size;
  }
  if (report) usageDocuments = aggregates.usage.size;
  let reportReads: number | null = null;
  let reportRows: number | null = null;
  if (report) {
    aggregates.reads = 0;
    const from = new Date(`${days[0]}T00:00:00Z`);
    const to = new Date(Date.parse(`${days.at(-1)}T00:00:00Z`) + 86_400_000);
    const result = await chargebackReportFor({ aggregates, directory: new Map(), pricing: pricingOf(loadPriceTable(prices)) }, { from, to, groupBy: 'identity', scope: 'all' }, 'USD');
    reportReads = aggregates.reads;
    reportRows = result.rows.length;
  }
  return { identities, days: days.length, requests: identities * days.length, largestDocumentBytes, usageDocuments, reportReads, reportRows, seconds: (performance.now() - started) / 1000 };
}

export interface HourPartitions {
  readonly hour: string;
  readonly documents: number;
  readonly partitions: number;
  readonly largestPartitionDocuments: number;
  readonly hotPartitionShare: number;
}

export interface PartitionRun extends HourPartitions {
  /** The same for the day's `RequestResponse` records in the diagnostics container (by record time). */
  readonly records: HourPartitions;
}

/** Documents by (UTC hour, logical partition): the busiest hour and how its documents spread over partitions. */
function busiestHour(documents: Iterable<{ time: string; partition: string }>): HourPartitions {
  const byHour = new Map<string, Map<string, number>>();
  for (const { time, partition } of documents) {
    const hour = time.slice(0, 13);
    const counts = byHour.get(hour) ?? new Map<string, number>();
    counts.set(partition, (counts.get(partition) ?? 0) + 1);
    byHour.set(hour, counts);
  }
  const [hour, counts] = [...byHour].sort(([, a], [, b]) => sum(b) - sum(a))[0]!;
  const largest = Math.max(...counts.values());
  return { hour, documents: sum(counts), partitions: counts.size, largestPartitionDocuments: largest, hotPartitionShare: largest / sum(counts) };
}

/** Ingests a simulated day and counts the busiest hour's ledger documents, and diagnostic records, by logical partition. */
async function partitions(requests: number, day: string): Promise<PartitionRun> {
  const simulated = simulateDay({ requests, seed: 42, day });
  const ledger = new MemoryLedgerStore();
  const stores = { ledger, deadLetters: new MemoryDeadLetterStore(), diagnostics: new MemoryDiagnosticsStore(), aggregates: new MemoryAggregateStore() };
  const position = { partitionId: '0', sequenceNumber: null, offset: null, enqueuedTimeUtc: null };
  for (let start = 0; start < simulated.eventLines.length; start += 500) {
    await ingestBatch(simulated.eventLines.slice(start, start + 500).map((body) => ({ body, position })), stores);
  }
  const records = [...simulated.archive.values()].flat().map((line) => JSON.parse(line) as { correlationId: string; time: string });
  return {
    ...busiestHour(ledger.snapshot().map((entry) => ({ time: entry.time, partition: ledgerPartition(entry.id) }))),
    records: busiestHour(records.map((record) => ({ time: record.time, partition: recordPartition(record.correlationId) }))),
  };
}

const sum = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);

export interface ScaleRun {
  readonly documents: MonthRun;
  readonly report: MonthRun;
  readonly partitions: PartitionRun;
}

export async function measureScale(options: { documentIdentities: number; reportIdentities: number; partitionRequests: number; prices: PriceFile }): Promise<ScaleRun> {
  return {
    documents: await month(options.documentIdentities, '2026-11', options.prices, false),
    report: await month(options.reportIdentities, '2026-11', options.prices, true),
    partitions: await partitions(options.partitionRequests, '2026-11-20'),
  };
}
