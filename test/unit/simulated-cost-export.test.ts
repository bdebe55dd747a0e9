import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCostExport } from '../../src/adapters/files/cost-export.js';
import { parseCsv } from '../../src/adapters/files/focus-cost-export.js';
import { loadPrices } from '../../src/config/core-options.js';
import { allocationRowOf } from '../../src/domain/focus-cost-rows.js';
import { formatAmount, modelsMatch, readAmount, sumAmounts } from '../../src/domain/invoice-allocation.js';
import { compareAmounts } from '../../src/domain/invoice-comparison.js';
import { costPicodollars } from '../../src/domain/money.js';
import { readMeter } from '../../src/domain/retail-price-meters.js';
import { PROVISIONED, TOKEN_METERS, unallocatableShare, type AzureCall } from '../../src/simulator/cost-export.js';
import { DEPLOYMENTS } from '../../src/simulator/population.js';
import { simulateDay } from '../../src/simulator/traffic.js';

const day = simulateDay({ requests: 3000, seed: 5, day: '2026-11-20', faults: true });
const truth = day.groundTruth.invoice;
const costExport = parseCostExport(day.costExport, 'simulated cost export');
const FIXTURE = readFileSync(new URL('../fixtures/cost-exports/focus-1.2-preview-azure-openai.csv', import.meta.url), 'utf8');

const isProvisioned = (call: AzureCall) => call.backend.account === PROVISIONED.account && call.deployment.deployment === PROVISIONED.deployment;
const [header, ...records] = parseCsv(day.costExport);
/** A column's sum over the export's rows, read as the CSV holds it (the FOCUS reader keeps only what allocation needs). */
const column = (name: 'ListCost' | 'BilledCost' | 'EffectiveCost') => sumAmounts(records.map((r) => r.fields[header!.fields.indexOf(name)]!));
const prices = loadPrices({}).prices;
const priceOf = (modelName: string) => prices.find((p) => p.model === modelName)!;

/** The list cost of a call at the shipped price table's prices (prices/default-prices.json), in picodollars. */
function listPico(call: AzureCall): bigint {
  const price = priceOf(call.deployment.modelName);
  return (
    costPicodollars(call.promptTokens - call.cachedTokens, price.inputPer1MMicros) +
    costPicodollars(call.cachedTokens, price.cachedInputPer1MMicros) +
    costPicodollars(call.completionTokens, price.outputPer1MMicros)
  );
}

describe('the simulated cost export', () => {
  it('has the header of a FOCUS 1.2-preview export, CRLF line ends, and parses with the FOCUS reader', () => {
    expect(day.costExport.split('\r\n')[0]).toBe(FIXTURE.split('\r\n')[0]);
    expect(day.costExport.replace(/\r\n/g, '')).not.toMatch(/\n/);
    expect(costExport.kind).toBe('focus');
    expect(costExport.rows.length).toBe(truth.rows.length);
  });

  it('is all Azure OpenAI rows, one per account and meter of the day, every token meter read as its deployment’s model and token kind', () => {
    const rows = costExport.rows.map(allocationRowOf);
    expect(rows.every((row) => row !== null && row.meter.type !== 'unreadable' && row.chargePeriodStart === '2026-11-20T00:00:00Z')).toBe(true);
    expect(new Set(rows.map((row) => `${row!.resourceId}|${row!.meterName}`)).size).toBe(rows.length);
    expect(rows.filter((row) => row!.meter.type === 'provisioned')).toHaveLength(1);
    for (const deployment of DEPLOYMENTS) {
      const meters = TOKEN_METERS[deployment.deployment]!;
      expect(meters.length).toBeGreaterThan(0);
      for (const meter of meters) {
        const reading = readMeter({ productName: 'Azure OpenAI', meterName: meter.name, unitOfMeasure: '1K', type: 'Consumption' });
        expect(reading.meter?.kind).toBe(meter.kind);
        expect(modelsMatch(reading.meter!.model, deployment.model)).toBe(true);
        expect(reading.meter?.deploymentType).toBe('global');
      }
    }
  });

  it('lists prices equal to the shipped price table, so the ledger’s estimate and the export’s ListCost agree', () => {
    for (const deployment of DEPLOYMENTS) {
      const price = priceOf(deployment.modelName);
      for (const meter of TOKEN_METERS[deployment.deployment]!) {
        const per1M = meter.kind === 'input' ? price.inputPer1MMicros : meter.kind === 'output' ? price.outputPer1MMicros : price.cachedInputPer1MMicros;
        // Micros per 1M tokens are picodollars per token: × 1,000 for a price per 1K tokens.
        expect(compareAmounts(meter.listPer1K, formatAmount(per1M * 1000n, 12))).toBe(0);
      }
    }
  });

  it('bills every call Azure OpenAI answered, bypass calls and the AI Hub accelerator’s included', () => {
    expect(truth.calls.bypass).toBeGreaterThan(0);
    expect(truth.calls.aiHub).toBeGreaterThan(0);
    expect(truth.calls.lostEvent).toBeGreaterThan(0);
    const tokenRows = truth.rows.filter((row) => row.meter !== PROVISIONED.meter);
    const callTokens = day.azureCalls.filter((call) => !isProvisioned(call)).reduce((sum, c) => sum + c.promptTokens + c.completionTokens, 0);
    expect(tokenRows.reduce((sum, row) => sum + row.tokens, 0)).toBe(callTokens);
    const consumed = costExport.rows.filter((row) => row.ConsumedUnit === '1K Tokens').map((row) => readAmount(row.ConsumedQuantity!));
    expect(consumed.reduce((sum, q) => sum + q.units * 10n ** BigInt(3 - q.scale), 0n)).toBe(BigInt(callTokens));
    const bypassed = day.azureCalls.filter((call) => call.origin !== 'gateway' && !isProvisioned(call)).reduce((sum, c) => sum + c.promptTokens + c.completionTokens, 0);
    expect(tokenRows.reduce((sum, row) => sum + row.unallocatableTokens, 0)).toBe(bypassed);
  });

  it('totals the ground truth’s list cost, and the list cost less the negotiated discount, exactly', () => {
    const tokenListPico = day.azureCalls.filter((call) => !isProvisioned(call)).reduce((sum, call) => sum + listPico(call), 0n);
    const ptuList = `${PROVISIONED.ptus * 24}`;
    expect(compareAmounts(column('ListCost'), truth.listCost)).toBe(0);
    expect(compareAmounts(truth.listCost, sumAmounts([formatAmount(tokenListPico, 12), ptuList]))).toBe(0);
    // 3 % off list on the per-token rows; the reservation-covered provisioned row bills nothing.
    const discounted = formatAmount(tokenListPico * 97n, 14);
    expect(compareAmounts(column('BilledCost'), truth.billedCost)).toBe(0);
    expect(compareAmounts(truth.billedCost, discounted)).toBe(0);
    // EffectiveCost adds the reservation amortized over the day: 15 PTUs × 260 USD a month / 30 days of November.
    expect(compareAmounts(column('EffectiveCost'), truth.effectiveCost)).toBe(0);
    expect(compareAmounts(truth.effectiveCost, sumAmounts([discounted, '130']))).toBe(0);
    expect(truth.provisioned.effectiveCost).toBe('130');
  });

  it('bounds the unallocatable share of a row by its amount × unallocatable tokens / tokens, rounded up at the amount’s decimals', () => {
    expect(unallocatableShare('1.00', 3, 1)).toBe('0.34');
    expect(unallocatableShare('0.99', 3, 1)).toBe('0.33');
    expect(unallocatableShare('0.5', 0, 0)).toBe('0.5');
    expect(unallocatableShare('2.425', 1000, 0)).toBe('0.000');
  });
});
