import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/adapters/files/focus-cost-export.js';
import { checkFocusExport } from '../support/focus-conformance.js';
import { readAmount, sumAmounts, UNALLOCATED_REASONS } from '../../src/domain/invoice-allocation.js';
import { compareAmounts } from '../../src/domain/invoice-comparison.js';
import { PROVISIONED, unallocatableShare, type InvoiceTruth } from '../../src/simulator/cost-export.js';
import { GATEWAY_OBJECT_ID } from '../../src/simulator/population.js';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: new URL('../..', import.meta.url).pathname, maxBuffer: 64 * 2 ** 20 });
const FIXTURE = new URL('../fixtures/cost-exports/focus-1.2-preview-azure-openai.csv', import.meta.url).pathname;
/** The simulator's Azure OpenAI accounts (src/simulator/population.ts), as Cost Management writes their ids. */
const ACCOUNT = (name: string) => `/subscriptions/6f1c2b7e-3d4a-4b8e-9c0d-1a2b3c4d5e6f/resourceGroups/rg-ai-platform/providers/Microsoft.CognitiveServices/accounts/${name}`;

interface Allocation {
  identity: string;
  team: string | null;
  costCenter: string | null;
  resourceId: string;
  meter: string;
  chargePeriodStart: string;
  billedCost: string;
  effectiveCost: string;
  tokens: number;
  reason: string | null;
}

/** A cost export in the fixture's own layout (its header and its first row as the template), with the rows given. */
async function costExport(rows: readonly Record<string, string>[]): Promise<string> {
  const [header, template] = parseCsv(await readFile(FIXTURE, 'utf8'));
  const columns = header!.fields;
  const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const lines = rows.map((row) => columns.map((c, i) => quote(row[c] ?? template!.fields[i]!)).join(','));
  return [columns.join(','), ...lines].join('\r\n') + '\r\n';
}

const ACTUAL_FIXTURE = new URL('../fixtures/cost-exports/actual-ea-2024-08-01-azure-openai.csv', import.meta.url).pathname;

/** The same rows as an EA "Cost and usage details (actual)" export: its fixture's header and first row as the template. */
async function actualCostExport(rows: readonly Record<string, string>[]): Promise<string> {
  const [header, template] = parseCsv(await readFile(ACTUAL_FIXTURE, 'utf8'));
  const columns = header!.fields;
  const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const lines = rows.map((row) => {
    const values: Record<string, string | undefined> = { ResourceId: row.ResourceId, MeterName: row.SkuMeter, CostInBillingCurrency: row.BilledCost, Quantity: row.ConsumedQuantity, ...(row.ServiceName ? { MeterCategory: 'Storage', MeterSubCategory: '', ConsumedService: 'Microsoft.Storage' } : {}) };
    return columns.map((c, i) => quote(values[c] ?? template!.fields[i]!)).join(',');
  });
  return [columns.join(','), ...lines].join('\r\n') + '\r\n';
}

const sumUnits = (amounts: readonly string[]) => amounts.reduce((sum, a) => sum + readAmount(a).units, 0n);

describe('tokenledger allocate', () => {
  let dir = '';
  const rows: readonly (Record<string, string> & { ResourceId: string; SkuMeter: string; BilledCost: string; EffectiveCost: string })[] = [
    { ResourceId: ACCOUNT('contoso-aoai-eastus'), SkuMeter: 'gpt 4o 0806 Inp glbl Tokens', x_SkuMeterName: 'gpt 4o 0806 Inp glbl Tokens', BilledCost: '3.21', EffectiveCost: '3.2100', ConsumedQuantity: '', ConsumedUnit: '1K Tokens' },
    { ResourceId: ACCOUNT('contoso-aoai-eastus'), SkuMeter: 'gpt 4o 0806 Outp glbl Tokens', x_SkuMeterName: 'gpt 4o 0806 Outp glbl Tokens', BilledCost: '7.777', EffectiveCost: '7.777', ConsumedQuantity: '', ConsumedUnit: '1K Tokens' },
    { ResourceId: ACCOUNT('contoso-aoai-swedencentral'), SkuMeter: 'gpt 4o 0806 Inp glbl Tokens', x_SkuMeterName: 'gpt 4o 0806 Inp glbl Tokens', BilledCost: '-0.05', EffectiveCost: '-0.05', ConsumedQuantity: '', ConsumedUnit: '1K Tokens', ChargeCategory: 'Credit' },
    { ResourceId: ACCOUNT('contoso-aoai-unused'), SkuMeter: 'gpt 4o 0806 Inp glbl Tokens', x_SkuMeterName: 'gpt 4o 0806 Inp glbl Tokens', BilledCost: '1.00', EffectiveCost: '1.00', ConsumedQuantity: '4', ConsumedUnit: '1K Tokens' },
    { ResourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st', SkuMeter: 'Hot LRS Data Stored', x_SkuMeterName: 'Hot LRS Data Stored', ServiceName: 'Storage Accounts', BilledCost: '0.31', EffectiveCost: '0.31' },
  ];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tokenledger-allocate-'));
    await cli('simulate', '--requests', '300', '--seed', '3', '--day', '2026-11-20', '--out', dir);
    await writeFile(join(dir, 'cost.csv'), await costExport(rows));
    await writeFile(join(dir, 'actual-cost.csv'), await actualCostExport(rows));
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    await connection.run(`COPY (SELECT * FROM read_csv('${join(dir, 'actual-cost.csv')}', header = true)) TO '${join(dir, 'actual-cost.parquet')}' (FORMAT parquet, COMPRESSION snappy)`);
    connection.closeSync();
    db.closeSync();
  }, 120_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('allocates every Azure OpenAI row to identities and unallocated, summing to BilledCost and EffectiveCost exactly', async () => {
    const { stdout, stderr } = await cli('allocate', '--cost-export', join(dir, 'cost.csv'), '--events', join(dir, 'events.jsonl'), '--diagnostics', join(dir, 'diagnostics'), '--directory', join(dir, 'directory.csv'), '--format', 'json');
    const result = JSON.parse(stdout) as { allocations: Allocation[]; totals: { allocatedRows: number; skippedRows: number; byCurrency: { billedCost: string; unallocatedBilledCost: string }[] } };
    expect(result.totals).toMatchObject({ allocatedRows: 4, skippedRows: 1 });
    const truth = JSON.parse(await readFile(join(dir, 'ground-truth.json'), 'utf8')) as { identities: { identity: string }[]; deadLetters: number };
    // The events file's dead letters are told on stderr, a reason a line.
    const told = stderr.trimEnd().split('\n').map((line) => /^\[\s*[\d.]+ s\] (\d+) dead letters?: \S/.exec(line));
    expect(told.every((match) => match !== null)).toBe(true);
    expect(told.reduce((sum, match) => sum + Number(match![1]), 0)).toBe(truth.deadLetters);
    const known = new Set(truth.identities.map((i) => i.identity));
    for (const row of rows.slice(0, 4)) {
      const parts = result.allocations.filter((a) => a.resourceId === row.ResourceId && a.meter === row.SkuMeter);
      expect(sumUnits(parts.map((p) => p.billedCost))).toBe(readAmount(row.BilledCost).units);
      expect(sumUnits(parts.map((p) => p.effectiveCost))).toBe(readAmount(row.EffectiveCost).units);
      expect(parts.every((p) => (p.identity === 'unallocated' ? p.reason !== null : known.has(p.identity) && p.team !== null))).toBe(true);
    }
    const eastusInput = result.allocations.filter((a) => a.resourceId === rows[0]!.ResourceId && a.meter === rows[0]!.SkuMeter);
    expect(eastusInput.filter((a) => a.identity !== 'unallocated').length).toBeGreaterThan(1);
    expect(eastusInput.every((a) => /^\d\.\d{2}$/.test(a.billedCost) && /^\d\.\d{4}$/.test(a.effectiveCost))).toBe(true);
    expect(result.allocations.filter((a) => a.resourceId === ACCOUNT('contoso-aoai-unused'))).toEqual([
      expect.objectContaining({ identity: 'unallocated', billedCost: '1.00', tokens: 4000, reason: 'tokens Azure billed that no gateway request accounts for' }),
    ]);
    expect(result.totals.byCurrency[0]!.billedCost).toBe('11.937');
    expect(result.totals.byCurrency[0]!.unallocatedBilledCost).toBe('1.00');
  });

  it('writes FOCUS rows that keep the source row’s billing account, invoice and charge period', async () => {
    const { stdout } = await cli('allocate', '--cost-export', join(dir, 'cost.csv'), '--events', join(dir, 'events.jsonl'), '--diagnostics', join(dir, 'diagnostics'), '--format', 'focus');
    const [header, ...records] = parseCsv(stdout).map((r) => r.fields);
    const column = (name: string) => header!.indexOf(name);
    expect(records.length).toBeGreaterThan(4);
    expect(records.every((r) => r[column('BillingAccountId')] === '12345678' && r[column('InvoiceId')] === 'E0600ABCDE' && r[column('ChargePeriodStart')] === '2026-11-20T00:00:00Z' && r[column('ChargePeriodEnd')] === '2026-11-21T00:00:00Z')).toBe(true);
    const credit = records.filter((r) => r[column('ResourceId')] === ACCOUNT('contoso-aoai-swedencentral'));
    expect(sumUnits(credit.map((r) => r[column('BilledCost')]!))).toBe(-5n);
    expect(JSON.parse(credit[0]![column('Tags')]!)).toHaveProperty('identity');
    const refunds = credit.filter((r) => r[column('BilledCost')]!.startsWith('-'));
    expect(refunds.length).toBeGreaterThan(0);
    expect(refunds.every((r) => r[column('ChargeCategory')] === 'Credit' && r[column('ConsumedQuantity')] === '')).toBe(true);
    expect(checkFocusExport(stdout).problems).toEqual([]);
  });

  it('with --prices, shares a provisioned row among the requests of the deployments the price file names provisioned', async () => {
    const prices = JSON.parse(await readFile(new URL('../../prices/default-prices.json', import.meta.url), 'utf8')) as { provisioned: unknown[] };
    prices.provisioned = [{ deployment: 'gpt-4o-mini', monthlyCost: '2000', from: '2026-11-01' }];
    await writeFile(join(dir, 'prices.json'), JSON.stringify(prices));
    const ptu = { ResourceId: ACCOUNT('contoso-aoai-eastus'), SkuMeter: 'Provisioned Managed Global Unit', x_SkuMeterName: 'Provisioned Managed Global Unit', BilledCost: '24.00', EffectiveCost: '24.00', ConsumedQuantity: '24', ConsumedUnit: '1/Hour' };
    await writeFile(join(dir, 'ptu.csv'), await costExport([ptu, rows[0]!]));
    const args = ['allocate', '--cost-export', join(dir, 'ptu.csv'), '--events', join(dir, 'events.jsonl'), '--diagnostics', join(dir, 'diagnostics')];
    const withPrices = (JSON.parse((await cli(...args, '--prices', join(dir, 'prices.json'))).stdout) as { allocations: Allocation[] }).allocations;
    const without = (JSON.parse((await cli(...args)).stdout) as { allocations: Allocation[] }).allocations;
    const provisioned = (list: Allocation[]) => list.filter((a) => a.meter === ptu.SkuMeter);
    expect(sumUnits(provisioned(withPrices).map((a) => a.billedCost))).toBe(2400n);
    expect(provisioned(withPrices).some((a) => a.identity !== 'unallocated')).toBe(true);
    const tokens = (list: Allocation[]) => list.reduce((sum, a) => sum + a.tokens, 0);
    // Without --prices the row goes by every model no token row bills (gpt-4o-mini, o3-mini, gpt-4.1, embeddings);
    // with it, by the gpt-4o-mini deployment alone.
    expect(tokens(provisioned(withPrices))).toBeGreaterThan(0);
    expect(tokens(provisioned(withPrices))).toBeLessThan(tokens(provisioned(without)));
    const identitiesWithout = new Set(provisioned(without).map((a) => a.identity));
    expect(provisioned(withPrices).every((a) => identitiesWithout.has(a.identity))).toBe(true);
    // The gpt-4o token row is the same either way: no gpt-4o deployment is provisioned.
    const inputRow = (list: Allocation[]) => list.filter((a) => a.meter === rows[0]!.SkuMeter);
    expect(inputRow(withPrices)).toEqual(inputRow(without));
    expect(tokens(inputRow(withPrices))).toBeGreaterThan(0);
  });

  it('allocates an actual-cost export as it allocates the same rows of a FOCUS export', async () => {
    const args = (file: string) => ['allocate', '--cost-export', join(dir, file), '--events', join(dir, 'events.jsonl'), '--diagnostics', join(dir, 'diagnostics'), '--directory', join(dir, 'directory.csv'), '--format', 'json'];
    const billed = async (file: string) => (JSON.parse((await cli(...args(file))).stdout) as { allocations: Allocation[] }).allocations.map(({ effectiveCost: _, ...a }) => a);
    const fromActual = await billed('actual-cost.csv');
    expect(fromActual).toEqual(await billed('cost.csv'));
    expect(new Set(fromActual.map((a) => a.resourceId)).size).toBe(3);
    expect(fromActual.some((a) => a.tokens > 0 && !a.reason)).toBe(true);
  });

  it('allocates a Parquet export as the CSV export it was written from, amounts equal to the exact decimal', async () => {
    const args = (file: string) => ['allocate', '--cost-export', join(dir, file), '--events', join(dir, 'events.jsonl'), '--diagnostics', join(dir, 'diagnostics'), '--format', 'json'];
    const atOneScale = (amount: string) => sumAmounts([amount, '0.000000000']);
    const allocated = async (file: string) =>
      (JSON.parse((await cli(...args(file))).stdout) as { allocations: Allocation[] }).allocations.map((a) => ({ ...a, billedCost: atOneScale(a.billedCost), effectiveCost: atOneScale(a.effectiveCost) }));
    const fromParquet = await allocated('actual-cost.parquet');
    expect(fromParquet).toEqual(await allocated('actual-cost.csv'));
    expect(fromParquet.length).toBeGreaterThan(rows.length);
  });

  it('writes CSV lines and names a missing cost export', async () => {
    const { stdout } = await cli('allocate', '--cost-export', join(dir, 'cost.csv'), '--events', join(dir, 'events.jsonl'), '--diagnostics', join(dir, 'diagnostics'), '--format', 'csv');
    expect(stdout.split('\r\n')[0]).toBe('identity,team,costCenter,resourceId,meter,chargePeriodStart,billedCost,effectiveCost,tokens,currency,reason');
    await expect(cli('allocate', '--cost-export', join(dir, 'missing.csv'), '--events', join(dir, 'events.jsonl'), '--diagnostics', join(dir, 'diagnostics'))).rejects.toMatchObject({
      stderr: expect.stringContaining(`--cost-export "${join(dir, 'missing.csv')}" does not exist`),
    });
  });
});

describe('tokenledger allocate on the cost export tokenledger simulate writes', () => {
  let dir = '';
  let truth: { identities: { identity: string }[]; invoice: InvoiceTruth };
  let result: { allocations: Allocation[]; totals: { byCurrency: { billedCost: string; effectiveCost: string; unallocatedBilledCost: string; unallocatedEffectiveCost: string; unallocatedByReason: { reason: string }[] }[] } };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tokenledger-allocate-simulated-'));
    await cli('simulate', '--requests', '1500', '--seed', '9', '--day', '2026-11-20', '--faults', '--out', dir);
    truth = JSON.parse(await readFile(join(dir, 'ground-truth.json'), 'utf8')) as typeof truth;
    const { stdout } = await cli('allocate', '--cost-export', join(dir, 'cost-export.csv'), '--events', join(dir, 'events.jsonl'), '--diagnostics', join(dir, 'diagnostics'), '--directory', join(dir, 'directory.csv'), '--gateway-object-ids', GATEWAY_OBJECT_ID, '--format', 'json');
    result = JSON.parse(stdout) as typeof result;
  }, 120_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('allocates the whole bill: identities and unallocated sum to the export’s BilledCost and EffectiveCost exactly', () => {
    const [totals] = result.totals.byCurrency;
    expect(compareAmounts(totals!.billedCost, truth.invoice.billedCost)).toBe(0);
    expect(compareAmounts(totals!.effectiveCost, truth.invoice.effectiveCost)).toBe(0);
    expect(compareAmounts(sumAmounts(result.allocations.map((a) => a.billedCost)), truth.invoice.billedCost)).toBe(0);
    expect(compareAmounts(sumAmounts(result.allocations.map((a) => a.effectiveCost)), truth.invoice.effectiveCost)).toBe(0);
    const known = new Set(truth.identities.map((i) => i.identity));
    expect(result.allocations.every((a) => (a.identity === 'unallocated' ? a.team === null : known.has(a.identity) && a.team !== null))).toBe(true);
  });

  it('leaves unallocated only what bypass calls, lost events, missing records and streams cut short account for, by the ground truth', () => {
    const [totals] = result.totals.byCurrency;
    const allowed: string[] = [UNALLOCATED_REASONS.notSeenBypass, UNALLOCATED_REASONS.notSeen, UNALLOCATED_REASONS.unattributed];
    expect(totals!.unallocatedByReason.map((r) => r.reason).every((reason) => allowed.includes(reason))).toBe(true);
    const bound = sumAmounts(truth.invoice.rows.map((r) => unallocatableShare(r.billedCost, r.tokens, r.unallocatableTokens)));
    expect(compareAmounts(totals!.unallocatedBilledCost, '0')).toBe(1);
    expect(compareAmounts(totals!.unallocatedBilledCost, bound)).toBeLessThanOrEqual(0);
    for (const row of truth.invoice.rows) {
      const parts = result.allocations.filter((a) => a.meter === row.meter && a.resourceId === row.resourceId && a.identity === 'unallocated');
      expect(compareAmounts(parts.length === 0 ? '0' : sumAmounts(parts.map((p) => p.billedCost)), unallocatableShare(row.billedCost, row.tokens, row.unallocatableTokens))).toBeLessThanOrEqual(0);
    }
  });

  it('shares the PTU reservation’s amortized cost among the identities that called the provisioned deployment', () => {
    const ptu = result.allocations.filter((a) => a.meter === PROVISIONED.meter);
    expect(ptu.length).toBeGreaterThan(1);
    expect(ptu.every((a) => a.identity !== 'unallocated' && a.tokens > 0 && a.resourceId.endsWith(`/accounts/${PROVISIONED.account}`))).toBe(true);
    expect(compareAmounts(sumAmounts(ptu.map((a) => a.effectiveCost)), truth.invoice.provisioned.effectiveCost)).toBe(0);
    expect(compareAmounts(sumAmounts(ptu.map((a) => a.billedCost)), '0')).toBe(0);
  });
});
