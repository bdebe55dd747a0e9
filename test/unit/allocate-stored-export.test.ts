import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCostExport } from '../../src/adapters/files/cost-export.js';
import { parseCsv } from '../../src/adapters/files/focus-cost-export.js';
import type { StoredDiagnostic } from '../../src/contracts/diagnostic-record.js';
import { sumAmounts, UNALLOCATED, type AllocationCostRow, type RowAllocation } from '../../src/domain/invoice-allocation.js';
import { assembleInvoice, currentExports, invoiceDocuments } from '../../src/domain/invoice-documents.js';
import { joinAll } from '../../src/domain/join.js';
import { allocateFiles, allocationInputs } from '../../src/services/allocate-files.js';
import { readArchiveFolder, readEventsFile } from '../../src/services/analyze-files.js';
import { allocateStoredExport } from '../../src/services/allocate-stored-export.js';
import { SIMULATION_FILES, writeSimulation } from '../../src/simulator/files.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { ledgerEntry, noCaller } from '../support/ledger-entries.js';
import { MemoryDiagnosticsStore, MemoryInvoiceAllocationStore, MemoryLedgerStore } from '../support/memory-stores.js';

const DAY = '2026-11-20';
const day = simulateDay({ requests: 600, seed: 17, day: DAY });
const identity = { gatewayObjectIds: new Set([day.groundTruth.reconciliation.gatewayObjectId]) };

/** The simulated day in the stores as the pipeline leaves it: the ledger joined, each record matched or bypass. */
async function storedDay(dir: string) {
  const { entries } = await readEventsFile(join(dir, SIMULATION_FILES.events));
  const { records } = await readArchiveFolder(join(dir, SIMULATION_FILES.diagnostics));
  const joined = joinAll(entries.values(), records);
  const ledger = new MemoryLedgerStore();
  await ledger.createEntries(joined.entries);
  const bypass = new Set(joined.bypass.map((r) => r.correlationId));
  const diagnostics = new MemoryDiagnosticsStore();
  await diagnostics.writeRecords(records.map((r) => ({ record: { ...r, gateway: bypass.has(r.correlationId) ? 'bypass' : 'matched' } satisfies StoredDiagnostic, etag: null })));
  return { ledger, diagnostics };
}

/** The simulated day's cost rows as an EA "Cost and usage details (actual)" export: a row's charge period becomes its day. */
function actualCostExport(focusText: string): string {
  const [header, template] = parseCsv(readFileSync(new URL('../fixtures/cost-exports/actual-ea-2024-08-01-azure-openai.csv', import.meta.url), 'utf8'));
  const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const lines = parseCostExport(focusText).rows.map((row) => {
    const [year, month, dayOfMonth] = row.ChargePeriodStart.slice(0, 10).split('-');
    const values: Record<string, string | undefined> = {
      Date: `${month}/${dayOfMonth}/${year}`,
      MeterName: row.SkuMeter || row.x_SkuMeterName,
      MeterCategory: row.x_SkuMeterCategory,
      MeterSubCategory: row.x_SkuMeterSubcategory,
      ConsumedService: row.ServiceName,
      ResourceId: row.ResourceId,
      CostInBillingCurrency: row.BilledCost,
      BillingAccountId: row.BillingAccountId,
      BillingCurrencyCode: row.BillingCurrency,
      Quantity: '',
      PricingModel: /reservation/i.test(row.CommitmentDiscountType ?? '') ? 'Reservation' : 'OnDemand',
    };
    return header!.fields.map((c, i) => quote(values[c] ?? template!.fields[i]!)).join(',');
  });
  return [header!.fields.join(','), ...lines].join('\r\n') + '\r\n';
}

const exportFile = (content: string | Uint8Array, name = 'focus/tokenledger/20261101-20261130/run-1/part_0_0001.csv') => ({
  name,
  etag: '"1"',
  lastModified: '2026-11-21T06:00:00.000Z',
  content: typeof content === 'string' ? new TextEncoder().encode(content) : content,
});

describe('allocating a stored cost export', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tokenledger-allocate-'));
    await writeSimulation(dir, day);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('gives exactly the offline allocation of the same files, and reads back from the store as it was allocated', async () => {
    const offline = await allocateFiles({
      costExportFile: join(dir, SIMULATION_FILES.costExport),
      eventsFile: join(dir, SIMULATION_FILES.events),
      diagnosticsDir: join(dir, SIMULATION_FILES.diagnostics),
      identity,
    });
    const allocations = new MemoryInvoiceAllocationStore();
    const result = await allocateStoredExport({ ...(await storedDay(dir)), allocations }, exportFile(day.costExport), { identity });
    expect(result.allocations).toEqual(offline.allocations);
    expect(result).toMatchObject({ months: ['2026-11'], skippedRows: offline.skippedRows, unplacedRequests: offline.unplacedRequests, bypassCalls: offline.bypassCalls });
    expect(offline.allocations.some((a) => a.parts.some((p) => p.identity !== UNALLOCATED))).toBe(true);
    const stored = await allocations.listAllocations('2026-11');
    const { exports, incomplete } = assembleInvoice(stored.heads, stored.parts);
    expect(incomplete).toEqual([]);
    expect(exports.map((e) => e.allocations)).toEqual([offline.allocations]);
  });

  it("leaves records of the gateway's own identity out of the bypass calls: a retried attempt or a lost event went through it", () => {
    const gateway = day.groundTruth.reconciliation.gatewayObjectId;
    const calls = [
      { time: `${DAY}T10:00:00Z`, resourceId: 'aoai', objectId: gateway.toUpperCase() },
      { time: `${DAY}T10:01:00Z`, resourceId: 'aoai', objectId: 'd4c3b2a1-0000-4000-8000-000000000009' },
      { time: `${DAY}T10:02:00Z`, resourceId: 'aoai', objectId: null },
    ];
    expect(allocationInputs([], new Map(), calls, { identity }).bypass).toEqual([
      { time: `${DAY}T10:01:00Z`, resourceId: 'aoai' },
      { time: `${DAY}T10:02:00Z`, resourceId: 'aoai' },
    ]);
  });

  it('allocates an actual-cost export as the offline allocation of the same file does', async () => {
    const text = actualCostExport(day.costExport);
    await writeFile(join(dir, 'actual-cost.csv'), text);
    const offline = await allocateFiles({ costExportFile: join(dir, 'actual-cost.csv'), eventsFile: join(dir, SIMULATION_FILES.events), diagnosticsDir: join(dir, SIMULATION_FILES.diagnostics), identity });
    const result = await allocateStoredExport({ ...(await storedDay(dir)), allocations: new MemoryInvoiceAllocationStore() }, exportFile(text, 'actual/tokenledger/20261101-20261130/run-1/part_0_0001.csv'), { identity });
    expect(result.allocations).toEqual(offline.allocations);
    expect(result.allocations.every((a) => a.row.chargePeriodStart === `${DAY}T00:00:00Z`)).toBe(true);
    const billed = result.allocations.map((a) => a.row.billedCost);
    expect(sumAmounts(result.allocations.flatMap((a) => a.parts.map((p) => p.billedCost)))).toBe(sumAmounts(billed));
    expect(sumAmounts(billed)).toBe(sumAmounts(parseCostExport(day.costExport).rows.filter((r) => /cognitiveservices/i.test(r.ResourceId)).map((r) => r.BilledCost)));
    expect(result.allocations.some((a) => a.parts.some((p) => p.identity !== UNALLOCATED))).toBe(true);
  });

  it('stores the same allocation, in as many documents, when the same export is allocated again, and replaces every document of a changed export', async () => {
    const stores = { ...(await storedDay(dir)), allocations: new MemoryInvoiceAllocationStore() };
    const file = exportFile(day.costExport);
    const stored = async () => {
      const { heads, parts } = await stores.allocations.listAllocations('2026-11');
      expect(parts.every((p) => p.generation === heads[0]!.generation)).toBe(true);
      return { documents: stores.allocations.documents.size, allocations: assembleInvoice(heads, parts).exports.map((e) => e.allocations) };
    };
    await allocateStoredExport(stores, file, { identity, now: () => new Date('2026-11-21T07:00:00Z') });
    const first = await stored();
    expect(await allocateStoredExport(stores, file, { identity, now: () => new Date('2026-11-21T08:00:00Z') })).toMatchObject({ stored: true });
    expect(await stored()).toEqual(first);

    // The same export restated with its first line of rows only: nothing of the first allocation may stay.
    const [header, firstRow] = day.costExport.split('\r\n');
    const restated = await allocateStoredExport(stores, { ...file, etag: '"2"', content: new TextEncoder().encode(`${header}\r\n${firstRow}\r\n`) }, { identity });
    const { heads, parts } = await stores.allocations.listAllocations('2026-11');
    expect(heads).toHaveLength(1);
    expect(parts.every((p) => p.generation === heads[0]!.generation)).toBe(true);
    expect(assembleInvoice(heads, parts).exports[0]!.allocations).toEqual(restated.allocations);
    expect(restated.allocations).toHaveLength(1);
  });

  it('removes what an export stored for a month its restatement no longer covers', async () => {
    const stores = { ...(await storedDay(dir)), allocations: new MemoryInvoiceAllocationStore() };
    const file = exportFile(day.costExport);
    await allocateStoredExport(stores, file, { identity });
    const [header, firstRow] = day.costExport.split('\r\n');
    const december = firstRow!.replaceAll('2026-11-20T00:00:00Z', '2026-12-01T00:00:00Z').replaceAll('2026-11-21T00:00:00Z', '2026-12-02T00:00:00Z');
    await allocateStoredExport(stores, { ...file, etag: '"2"', content: new TextEncoder().encode(`${header}\r\n${december}\r\n`) }, { identity });
    const november = await stores.allocations.listAllocations('2026-11');
    expect(november.parts).toEqual([]);
    expect(november.heads.map((h) => [h.rows, h.parts])).toEqual([[0, 0]]);
    expect(assembleInvoice(november.heads, november.parts).exports).toEqual([]);
    expect((await stores.allocations.listAllocations('2026-12')).heads.map((h) => h.month)).toEqual(['2026-12']);
    expect((await stores.allocations.listAllocatedExports()).map((m) => [m.etag, m.months])).toEqual([['"2"', ['2026-12']]]);
  });
});

describe('charge periods that do not start on a whole hour', () => {
  const FIXTURE = readFileSync(new URL('../fixtures/cost-exports/focus-1.0-azure-openai.csv', import.meta.url), 'utf8');
  const SWEDEN = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/aoai-swedencentral';
  const [header, firstRow] = FIXTURE.split(/\r?\n/);

  async function allocateAt(periodStart: string) {
    const ledger = new MemoryLedgerStore();
    const diagnostics = new MemoryDiagnosticsStore();
    const request = (name: string, time: string) => {
      const id = `${name}-req`;
      return {
        entry: ledgerEntry({ id, apimRequestId: id, gatewayRequestId: `${name}-gw`, time, model: 'gpt-4o-2024-08-06', caller: { ...noCaller, oid: `${name}-oid` }, tokens: { source: 'gateway', promptTokens: 1000, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } }),
        record: { correlationId: id, time, resourceId: SWEDEN.toUpperCase(), account: 'aoai-swedencentral', regionCode: 'swedencentral', operationName: 'ChatCompletions_Create', durationMs: 900, status: 200, objectId: null, streamType: 'Non-Streaming', modelDeploymentName: 'gpt-4o', modelName: 'gpt-4o', modelVersion: '2024-08-06', gateway: 'matched' } satisfies StoredDiagnostic,
      };
    };
    const requests = [request('early', '2024-11-20T10:15:00.000Z'), request('late', '2024-11-20T10:45:00.000Z')];
    await ledger.createEntries(requests.map((r) => r.entry));
    await diagnostics.writeRecords(requests.map((r) => ({ record: r.record, etag: null })));
    const row = firstRow!.replace('2024-11-20T00:00Z', periodStart);
    const result = await allocateStoredExport({ ledger, diagnostics, allocations: new MemoryInvoiceAllocationStore() }, exportFile(`${header}\r\n${row}\r\n`));
    return result.allocations[0]!.parts.filter((p) => p.identity !== UNALLOCATED).map((p) => [p.identity, p.tokens]);
  }

  it('counts only the requests inside the charge period, to the instant', async () => {
    expect(await allocateAt('2024-11-20T10:30Z')).toEqual([['late-oid', 1000n]]);
    expect(await allocateAt('2024-11-20T00:00Z')).toEqual([['early-oid', 1000n], ['late-oid', 1000n]]);
  });
});

const ACCOUNT = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/aoai-eastus';

function costRow(day: string): AllocationCostRow {
  return {
    billingAccountId: '12345678',
    invoiceId: null,
    chargePeriodStart: `${day}T00:00:00Z`,
    chargePeriodEnd: `${day}T23:59:59Z`,
    resourceId: ACCOUNT,
    meterName: 'gpt 4.1 Inp glbl Tokens',
    meter: { type: 'tokens', model: 'gpt-4.1', kind: 'input' },
    billedCost: '100.00',
    effectiveCost: '90.00',
    currency: 'USD',
    billedTokens: 123_456_789n,
  };
}

describe('allocation documents', () => {
  /** A row split over this many identities is far more than one document may hold at the limit used. */
  const identities = 4000;
  const allocations: RowAllocation[] = ['2026-11-29', '2026-11-30', '2026-12-01'].map((d) => ({
    row: costRow(d),
    parts: Array.from({ length: identities }, (_, i) => ({ identity: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, billedCost: '0.02', effectiveCost: '0.01', tokens: BigInt(i), reason: null })),
  }));
  const allocation = { run: '2026-12-02T01:00:00.000Z#1', exportName: 'focus/x/20261101-20261231/r/part_0.csv', contentHash: 'h', exportedAt: '2026-12-02T00:00:00Z', allocatedAt: '2026-12-02T01:00:00Z', counts: { skippedRows: 0, unplacedRequests: 0, bypassCalls: 0 }, allocations };
  const maxPartBytes = 64 * 1024;

  it('cuts rows of many identities into documents of at most the part size, one head per month, and reads them back whole', () => {
    const { heads, parts } = invoiceDocuments(allocation, maxPartBytes);
    expect(heads.map((h) => [h.pk, h.rows])).toEqual([['invoice:2026-11', 2], ['invoice:2026-12', 1]]);
    expect(parts.length).toBeGreaterThan(identities * 3 * 100 / maxPartBytes);
    expect(Math.max(...parts.map((p) => Buffer.byteLength(JSON.stringify(p))))).toBeLessThanOrEqual(maxPartBytes + 1024);
    const { exports, incomplete } = assembleInvoice(heads, parts);
    expect(incomplete).toEqual([]);
    expect(exports.flatMap((e) => e.allocations)).toEqual(allocations);
  });

  it('reads an export whose parts are not all there as incomplete, never as part of its rows', () => {
    const { heads, parts } = invoiceDocuments(allocation, maxPartBytes);
    const { exports, incomplete } = assembleInvoice(heads, parts.slice(1));
    expect(incomplete).toEqual([allocation.exportName]);
    expect(exports.map((e) => e.head.month)).toEqual(['2026-12']);
  });

  it.each([
    // Azure/azure-rest-api-specs, cost-management stable/2025-03-01 examples/ExportRunHistoryGetByBillingAccount.json.
    ['a file per run in the date-range folder (the Exports API run history)', ['JohnDoeSchedule_1e25d58a-a3b0-4916-9542-6e04a89bc100.csv'], ['JohnDoeSchedule_11ac6811-dca3-46ad-b326-4704cf0c58ef.csv']],
    // microsoft/finops-toolkit, docs-mslearn/toolkit/hubs/data-processing.md: `<date-range>/<export-time>/<guid>/<file>`.
    [
      'an export-time folder per run, with a guid folder under it (a manifest blobName)',
      ['202611200612/af754a8e-30fc-4ef3-bfc6-71bd1efb8598/part_0_0001.csv', '202611200612/af754a8e-30fc-4ef3-bfc6-71bd1efb8598/part_1_0001.csv'],
      ['202611210609/0b0e2c1d-1111-4f00-9c1a-000000000002/part_0_0001.csv', '202611210609/0b0e2c1d-1111-4f00-9c1a-000000000002/part_1_0001.csv'],
    ],
  ])('counts one run of a month-to-date export whose runs are written as %s: the latest, all its files', (_, older, newer) => {
    const at = (file: string, exportedAt: string) => ({ head: { exportName: `exports/daily/20261101-20261130/${file}`, exportedAt } });
    const stored = [...older.map((file) => at(file, '2026-11-20T06:12:00Z')), ...newer.map((file) => at(file, '2026-11-21T06:09:00Z'))];
    expect(currentExports(stored).map((s) => s.head.exportName)).toEqual(newer.map((file) => `exports/daily/20261101-20261130/${file}`));
  });

  it('counts only the latest run of an export and date range, with every file of that run', () => {
    const at = (exportName: string, exportedAt: string) => ({ head: { exportName, exportedAt } });
    const stored = [
      at('focus/daily/20261101-20261130/run-a/part_0_0001.csv', '2026-11-20T06:00:00Z'),
      at('focus/daily/20261101-20261130/run-b/part_0_0001.csv', '2026-11-21T06:00:00Z'),
      at('focus/daily/20261101-20261130/run-b/part_1_0001.csv', '2026-11-21T06:01:00Z'),
      at('focus/daily/20261201-20261231/run-c/part_0_0001.csv', '2026-12-01T06:00:00Z'),
      at('cost-export.csv', '2026-11-01T00:00:00Z'),
      at('manual/cost-export.csv', '2026-11-02T00:00:00Z'),
    ];
    expect(currentExports(stored).map((s) => s.head.exportName)).toEqual([
      'focus/daily/20261101-20261130/run-b/part_0_0001.csv',
      'focus/daily/20261101-20261130/run-b/part_1_0001.csv',
      'focus/daily/20261201-20261231/run-c/part_0_0001.csv',
      'cost-export.csv',
      'manual/cost-export.csv',
    ]);
  });
});
