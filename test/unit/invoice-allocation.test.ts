import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allocateInvoice,
  formatAmount,
  modelsMatch,
  readAmount,
  sumAmounts,
  UNALLOCATED,
  UNALLOCATED_REASONS,
  type AllocationCostRow,
  type AllocationUsage,
  type BypassCall,
  type RowAllocation,
} from '../../src/domain/invoice-allocation.js';
import { METER_KINDS, type MeterKind } from '../../src/domain/retail-price-meters.js';

const ACCOUNT = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/aoai-eastus';

function costRow(overrides: Partial<AllocationCostRow> = {}): AllocationCostRow {
  return {
    billingAccountId: '12345678',
    invoiceId: 'E0600ABCDE',
    chargePeriodStart: '2026-11-20T00:00:00Z',
    chargePeriodEnd: '2026-11-21T00:00:00Z',
    resourceId: ACCOUNT,
    meterName: 'gpt 4.1 Inp glbl Tokens',
    meter: { type: 'tokens', model: 'gpt-4.1', kind: 'input' },
    billedCost: '1.00',
    effectiveCost: '1.00',
    currency: 'USD',
    billedTokens: null,
    ...overrides,
  };
}

function use(identity: string, tokens: Partial<Record<MeterKind, bigint>>, overrides: Partial<AllocationUsage> = {}): AllocationUsage {
  // Diagnostics write resource ids upper-case.
  return { identity, attributed: true, time: '2026-11-20T10:00:00Z', resourceId: ACCOUNT.toUpperCase(), model: 'gpt-4.1-2025-04-14', tokens, ...overrides };
}

const parts = (allocation: RowAllocation) => allocation.parts.map((p) => [p.identity, p.billedCost, p.effectiveCost, p.tokens, p.reason]);

describe('exact amounts', () => {
  it('reads decimal text, exponents and signs without rounding, and writes it back at its own scale', () => {
    expect(readAmount('0.01968')).toEqual({ units: 1968n, scale: 5 });
    expect(readAmount('-0.0100')).toEqual({ units: -100n, scale: 4 });
    expect(readAmount('8e-07')).toEqual({ units: 8n, scale: 7 });
    expect(readAmount('1.5E2')).toEqual({ units: 150n, scale: 0 });
    expect(formatAmount(-5n, 3)).toBe('-0.005');
    expect(formatAmount(123456n, 2)).toBe('1234.56');
    expect(() => readAmount('1,5')).toThrow(RangeError);
  });

  it('sums amounts at their largest scale, or to the cent as rows are split (a row written 24 totals 24.00, nothing 0.00)', () => {
    expect(sumAmounts(['24', '0.5'])).toBe('24.50');
    expect(sumAmounts(['0.01968', '1'])).toBe('1.01968');
    expect(sumAmounts([])).toBe('0.00');
  });

  it('matches a meter model to request models of its base model and version', () => {
    expect(modelsMatch('gpt-4.1', 'gpt-4.1-2025-04-14')).toBe(true);
    expect(modelsMatch('gpt-4o-2024-08-06', 'gpt-4o-2024-08-06')).toBe(true);
    expect(modelsMatch('gpt-4o-2024-08-06', 'gpt-4o-2024-05-13')).toBe(false);
    expect(modelsMatch('gpt-4o', 'gpt-4o-mini-2024-07-18')).toBe(false);
  });

  it('matches the gpt-4-turbo meters to the GPT-4 Turbo previews, as the price table prices them (gpt-4-turbo-1106-Preview)', () => {
    expect(modelsMatch('gpt-4-turbo', 'gpt-4-turbo-1106-Preview')).toBe(true);
    expect(modelsMatch('gpt-4-turbo', 'gpt-4-turbo-0125-Preview')).toBe(true);
    expect(modelsMatch('gpt-4', 'gpt-4-turbo-1106-Preview')).toBe(false);
    expect(modelsMatch('gpt-4-turbo-vision', 'gpt-4-turbo-vision-preview')).toBe(true);
    expect(modelsMatch('gpt-4-turbo', 'gpt-4-turbo-vision-preview')).toBe(false);
    expect(modelsMatch('o1', 'o1-preview')).toBe(false);
  });

  it('matches an embeddings meter to requests whose diagnostics name the model version 1', () => {
    expect(modelsMatch('text-embedding-3-small', 'text-embedding-3-small-1')).toBe(true);
    expect(modelsMatch('text-embedding-3-small', 'text-embedding-3-large-1')).toBe(false);
    expect(modelsMatch('gpt-4o', 'gpt-4o-mini-1')).toBe(false);
  });
});

describe('allocateInvoice', () => {
  it('splits a row by token share, the leftover cent to the largest remainders', () => {
    // 1.00 over 1:1:1 → 0.33 each and one cent left; equal remainders, so the first key (alice) gets it.
    const [allocation] = allocateInvoice([costRow()], [use('carol', { input: 100n }), use('alice', { input: 100n }), use('bob', { input: 100n })]);
    expect(parts(allocation!)).toEqual([
      ['alice', '0.34', '0.34', 100n, null],
      ['bob', '0.33', '0.33', 100n, null],
      ['carol', '0.33', '0.33', 100n, null],
    ]);
  });

  it('gives leftover units to the largest remainders first', () => {
    // 0.10 over 1:2:4 (sum 7): exact 0.0142…, 0.0285…, 0.0571… → floors 1, 2, 5 cents; remainders 3/7, 6/7, 5/7 → one cent to bob, one to carol.
    const row = costRow({ billedCost: '0.10', effectiveCost: '0.100' });
    const [allocation] = allocateInvoice([row], [use('alice', { input: 1n }), use('bob', { input: 2n }), use('carol', { input: 4n })]);
    expect(allocation!.parts.map((p) => p.billedCost)).toEqual(['0.01', '0.03', '0.06']);
    expect(allocation!.parts.map((p) => p.effectiveCost)).toEqual(['0.014', '0.029', '0.057']);
  });

  it('splits credits (negative amounts) the same way, keeping the row scale', () => {
    const [allocation] = allocateInvoice([costRow({ billedCost: '-0.0100', effectiveCost: '-0.0100' })], [use('alice', { input: 1n }), use('bob', { input: 2n })]);
    expect(allocation!.parts.map((p) => p.billedCost)).toEqual(['-0.0033', '-0.0067']);
  });

  it('splits a credit that bills no tokens of its own as the usage rows of its meter, resource and day, the tokens no request accounts for included', () => {
    // As the FOCUS 1.2 fixture's gpt-4.1 input row (0.0164 for 8.2K tokens) and its credit (-0.0100, ConsumedQuantity 0):
    // alice's requests account for half the billed tokens.
    const charge = costRow({ billedCost: '0.0164', effectiveCost: '0.0164', billedTokens: 8200n });
    const credit = costRow({ billedCost: '-0.0100', effectiveCost: '-0.0100', billedTokens: 0n });
    const elsewhere = costRow({ billedCost: '-0.0100', effectiveCost: '-0.0100', billedTokens: null, chargePeriodStart: '2026-11-21T00:00:00Z', chargePeriodEnd: '2026-11-22T00:00:00Z' });
    const [usage, corrected, alone] = allocateInvoice([charge, credit, elsewhere], [use('alice', { input: 4100n }), use('bob', { input: 100n }, { time: '2026-11-21T10:00:00Z' })]);
    expect(parts(usage!)).toEqual([
      ['alice', '0.0082', '0.0082', 4100n, null],
      [UNALLOCATED, '0.0082', '0.0082', 4100n, UNALLOCATED_REASONS.notSeen],
    ]);
    expect(parts(corrected!)).toEqual([
      ['alice', '-0.0050', '-0.0050', 4100n, null],
      [UNALLOCATED, '-0.0050', '-0.0050', 4100n, UNALLOCATED_REASONS.notSeen],
    ]);
    // A credit with no usage row of its meter beside it goes by the requests, as before.
    expect(parts(alone!)).toEqual([['bob', '-0.0100', '-0.0100', 100n, null]]);
  });

  it('counts only the meter kind and model of the row, on its resource and in its charge period', () => {
    const usage = [
      use('alice', { input: 10n, output: 90n }),
      use('bob', { output: 30n }),
      use('carol', { input: 50n }, { model: 'gpt-4o-2024-08-06' }),
      use('dave', { input: 50n }, { resourceId: '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/other' }),
      use('erin', { input: 50n }, { time: '2026-11-21T00:00:00Z' }),
    ];
    const [input, output] = allocateInvoice([costRow(), costRow({ meter: { type: 'tokens', model: 'gpt-4.1', kind: 'output' }, billedCost: '1.20', effectiveCost: '1.20' })], usage);
    expect(parts(input!)).toEqual([['alice', '1.00', '1.00', 10n, null]]);
    expect(parts(output!)).toEqual([['alice', '0.90', '0.90', 90n, null], ['bob', '0.30', '0.30', 30n, null]]);
  });

  it('reports a row with no usage as unallocated with the reason, never dropped', () => {
    const [allocation] = allocateInvoice([costRow({ billedCost: '2.50', effectiveCost: '2.25' })], []);
    expect(parts(allocation!)).toEqual([[UNALLOCATED, '2.50', '2.25', 0n, UNALLOCATED_REASONS.noUsage]]);
  });

  it('keeps unattributed requests and tokens billed beyond the gateway (bypass calls) unallocated', () => {
    const usage = [use('alice', { input: 600n }), use('anon', { input: 200n }, { attributed: false })];
    const bypass: BypassCall[] = [{ time: '2026-11-20T11:00:00Z', resourceId: ACCOUNT }];
    const [allocation] = allocateInvoice([costRow({ billedTokens: 1000n })], usage, bypass);
    expect(parts(allocation!)).toEqual([
      ['alice', '0.60', '0.60', 600n, null],
      [UNALLOCATED, '0.20', '0.20', 200n, UNALLOCATED_REASONS.notSeenBypass],
      [UNALLOCATED, '0.20', '0.20', 200n, UNALLOCATED_REASONS.unattributed],
    ]);
    const [unseen] = allocateInvoice([costRow({ billedTokens: 1000n })], [use('alice', { input: 750n })]);
    expect(parts(unseen!)).toEqual([['alice', '0.75', '0.75', 750n, null], [UNALLOCATED, '0.25', '0.25', 250n, UNALLOCATED_REASONS.notSeen]]);
  });

  it('allocates a provisioned row by all tokens of models no token meter of the resource bills', () => {
    const ptu = costRow({ meterName: 'Provisioned Managed Global Unit', meter: { type: 'provisioned' }, billedCost: '24', effectiveCost: '0' });
    const usage = [
      use('alice', { input: 100n }), // gpt-4.1: billed by the token row below
      use('bob', { input: 300n, cachedInput: 100n, output: 200n }, { model: 'gpt-4o-2024-08-06' }),
      use('carol', { input: 200n }, { model: 'gpt-4o-2024-08-06' }),
    ];
    const [provisioned] = allocateInvoice([ptu, costRow()], usage);
    expect(parts(provisioned!)).toEqual([['bob', '18.00', '0.00', 600n, null], ['carol', '6.00', '0.00', 200n, null]]);
    const [idle] = allocateInvoice([ptu], []);
    expect(parts(idle!)).toEqual([[UNALLOCATED, '24.00', '0.00', 0n, UNALLOCATED_REASONS.noProvisionedUsage]]);
  });

  it('splits a row written without cents to the cent: 24 over five equal users is 4.80 each, 1E+0 over two 0.50 each', () => {
    const ptu = (billedCost: string) => costRow({ meterName: 'Provisioned Managed Global Unit', meter: { type: 'provisioned' }, billedCost, effectiveCost: billedCost });
    const five = ['alice', 'bob', 'carol', 'dave', 'erin'].map((identity) => use(identity, { input: 100n }, { provisioned: true }));
    expect(parts(allocateInvoice([ptu('24')], five)[0]!).map(([identity, billed]) => [identity, billed])).toEqual(five.map((u) => [u.identity, '4.80']));
    expect(parts(allocateInvoice([ptu('1E+0')], five.slice(0, 2))[0]!).map(([, billed]) => billed)).toEqual(['0.50', '0.50']);
  });

  it('allocates a provisioned row by the deployments the price file names provisioned, and keeps them off token rows', () => {
    const ptu = costRow({ meterName: 'Provisioned Managed Global Unit', meter: { type: 'provisioned' }, billedCost: '10', effectiveCost: '10' });
    const usage = [
      use('alice', { input: 100n }, { provisioned: false }), // gpt-4.1 on a standard deployment
      use('bob', { input: 300n }, { provisioned: true }), // gpt-4.1 on the PTU deployment
      use('carol', { output: 100n }, { provisioned: true }),
    ];
    const [provisioned, tokens] = allocateInvoice([ptu, costRow()], usage);
    expect(parts(provisioned!)).toEqual([['bob', '7.50', '7.50', 300n, null], ['carol', '2.50', '2.50', 100n, null]]);
    expect(parts(tokens!)).toEqual([['alice', '1.00', '1.00', 100n, null]]);
  });

  it('leaves a provisioned row unallocated on a day none of the deployments the price file names provisioned was called', () => {
    // Azure bills a PTU deployment by the hour, used or not; the calls that day went to a fine-tuned model whose
    // token meter (`gpt-4.1-ft input global Tokens`) allocation does not read, so no token row claims them.
    const ptu = costRow({ meterName: 'Provisioned Managed Global Unit', meter: { type: 'provisioned' }, billedCost: '0', effectiveCost: '130' });
    const fineTuned = use('alice', { input: 10_000n }, { model: 'gpt-4.1-2025-04-14.ft-0a1b2c3d4e5f', provisioned: false });
    const [idle] = allocateInvoice([ptu], [fineTuned]);
    expect(parts(idle!)).toEqual([[UNALLOCATED, '0.00', '130.00', 0n, UNALLOCATED_REASONS.noProvisionedUsage]]);
    // Without a price file naming provisioned deployments, the row goes by the models no token row bills.
    const { provisioned: _, ...unknown } = fineTuned;
    expect(parts(allocateInvoice([ptu], [unknown])[0]!)).toEqual([['alice', '0.00', '130.00', 10_000n, null]]);
  });

  it('leaves a meter it cannot read unallocated with the reader’s reason', () => {
    const [allocation] = allocateInvoice([costRow({ meter: { type: 'unreadable', reason: 'meter not allocated: a Batch API price' }, billedCost: '0.5' })], [use('alice', { input: 1n })]);
    expect(parts(allocation!)).toEqual([[UNALLOCATED, '0.50', '1.00', 0n, 'meter not allocated: a Batch API price']]);
  });
});

const digits = (max: number) => fc.bigInt({ min: -(10n ** BigInt(max)), max: 10n ** BigInt(max) });
const amountArb = fc.tuple(digits(9), fc.integer({ min: 0, max: 8 })).map(([units, scale]) => formatAmount(units, scale));
const resources = ['aoai-a', 'aoai-b'].map((name) => `/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/${name}`);
const days = ['2026-11-20', '2026-11-21'];
const meterArb = fc.oneof(
  fc.record({ type: fc.constant('tokens' as const), model: fc.constantFrom('gpt-4.1', 'gpt-4o-2024-08-06'), kind: fc.constantFrom(...METER_KINDS) }),
  fc.constant({ type: 'provisioned' as const }),
  fc.constant({ type: 'unreadable' as const, reason: 'meter not allocated: a Batch API price' }),
);
const rowArb = fc.record({ resource: fc.constantFrom(...resources), day: fc.constantFrom(...days), meter: meterArb, billed: amountArb, effective: amountArb, billedTokens: fc.option(fc.bigInt({ min: 0n, max: 100_000n }), { nil: null }) }).map(
  (r): AllocationCostRow => costRow({ resourceId: r.resource, chargePeriodStart: `${r.day}T00:00:00Z`, chargePeriodEnd: `${r.day === days[0] ? days[1] : '2026-11-22'}T00:00:00Z`, meter: r.meter, billedCost: r.billed, effectiveCost: r.effective, billedTokens: r.billedTokens }),
);
const usageArb = fc.record({
  identity: fc.constantFrom('alice', 'bob', 'carol', 'dave'),
  attributed: fc.boolean(),
  day: fc.constantFrom(...days),
  hour: fc.integer({ min: 0, max: 23 }),
  resource: fc.constantFrom(...resources),
  model: fc.constantFrom('gpt-4.1-2025-04-14', 'gpt-4o-2024-08-06', 'o3-mini-2025-01-31'),
  tokens: fc.dictionary(fc.constantFrom(...METER_KINDS), fc.bigInt({ min: 0n, max: 50_000n })),
}).map((u): AllocationUsage => ({ identity: u.identity, attributed: u.attributed, time: `${u.day}T${String(u.hour).padStart(2, '0')}:30:00Z`, resourceId: u.resource, model: u.model, tokens: u.tokens }));
const bypassArb = fc.record({ resource: fc.constantFrom(...resources), day: fc.constantFrom(...days) }).map((b): BypassCall => ({ time: `${b.day}T12:00:00Z`, resourceId: b.resource.toUpperCase() }));

const total = (amounts: readonly string[], scale: number) => amounts.reduce((sum, a) => {
  const { units, scale: s } = readAmount(a);
  return sum + units * 10n ** BigInt(scale - s);
}, 0n);

describe('allocateInvoice properties', () => {
  it('the parts of every row sum to its BilledCost and EffectiveCost exactly, at the row’s own scale or to the cent', () => {
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 8 }), fc.array(usageArb, { maxLength: 30 }), fc.array(bypassArb, { maxLength: 3 }), (rows, usage, bypass) => {
        const allocations = allocateInvoice(rows, usage, bypass);
        expect(allocations).toHaveLength(rows.length);
        for (const { row, parts } of allocations) {
          expect(parts.length).toBeGreaterThan(0);
          for (const column of ['billedCost', 'effectiveCost'] as const) {
            const amount = readAmount(row[column]);
            const scale = Math.max(amount.scale, 2);
            expect(parts.every((p) => readAmount(p[column]).scale === scale)).toBe(true);
            expect(total(parts.map((p) => p[column]), scale)).toBe(amount.units * 10n ** BigInt(scale - amount.scale));
          }
          expect(parts.every((p) => (p.identity === UNALLOCATED) === (p.reason !== null))).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on the order of rows, usage or bypass calls', () => {
    fc.assert(
      fc.property(
        fc.array(rowArb, { maxLength: 8 }),
        fc.array(usageArb, { maxLength: 30 }),
        fc.array(bypassArb, { maxLength: 3 }),
        fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
        (rows, usage, bypass, randoms) => {
          const shuffle = <T>(items: readonly T[]) => items.map((item) => ({ item, key: randoms.next().value as number })).sort((a, b) => a.key - b.key).map((x) => x.item);
          const keyed = (allocations: RowAllocation[]) => allocations.map((a, i) => ({ i, text: JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) }));
          const indexed = rows.map((row, i) => ({ ...row, invoiceId: `row-${i}` }));
          const plain = keyed(allocateInvoice(indexed, usage, bypass)).map((a) => a.text).sort();
          const shuffled = keyed(allocateInvoice(shuffle(indexed), shuffle(usage), shuffle(bypass))).map((a) => a.text).sort();
          expect(shuffled).toEqual(plain);
        },
      ),
      { numRuns: 200 },
    );
  });
});
