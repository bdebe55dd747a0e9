import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { ChargebackLines } from '../../src/domain/chargeback.js';
import { PriceMatcher } from '../../src/domain/price-matching.js';
import { pricingOf } from '../../src/domain/usage-pricing.js';
import { loadPrices } from '../../src/config/core-options.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import type { AggregateStore } from '../../src/ports/aggregate-store.js';
import type { LedgerStore } from '../../src/ports/ledger-store.js';
import { chargebackLines } from '../../src/services/chargeback-report.js';
import { ingestBatch } from '../../src/services/ingest-batch.js';
import { rollupChargeback } from '../../src/services/rollup-chargeback.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { FileCounters } from './support/counters.js';

const counters = new FileCounters('rollup-races.test.ts');
const DAY = '2026-11-23';
const HOUR = `${DAY}T10`;
const hourRange = { from: new Date(`${HOUR}:00:00Z`), to: new Date(`${DAY}T11:00:00Z`) };
const dayRange = { from: new Date(`${DAY}T00:00:00Z`), to: new Date('2026-11-24T00:00:00Z') };
const position = { partitionId: '0', sequenceNumber: null, offset: null, enqueuedTimeUtc: null };

/** A promise with its resolver: how a test holds one writer between its read and its write. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** Gateway events of one hour, in two halves: what is ingested first, and what arrives while a rollup works. */
function eventsOfHour(seed: number) {
  const day = simulateDay({ requests: 2_400, seed, day: DAY });
  const lines = day.eventLines.filter((line) => line.includes(`"${HOUR}:`));
  const half = Math.floor(lines.length / 2);
  return [lines.slice(0, half), lines.slice(half)].map((part) => part.map((body) => ({ body, position })));
}

async function collect<T>(pages: AsyncIterable<readonly T[]>): Promise<T[]> {
  const items: T[] = [];
  for await (const page of pages) items.push(...page);
  return items;
}

/**
 * The hour's report against ground truth, the ledger priced request by request: requests the report misses count as
 * lost, requests it holds more than once as doubled; tokens and cost must match exactly too.
 */
async function checkAgainstLedger(stack: LocalStack, kind: string) {
  const entries: LedgerEntry[] = await collect(stack.stores.ledger.listEntries(hourRange));
  const table = loadPrices({});
  const direct = new ChargebackLines(new PriceMatcher(table));
  for (const entry of entries) direct.addEntry(entry);
  const expected = direct.list();
  const sum = (lines: typeof expected) => ({
    requests: lines.reduce((n, l) => n + l.requests, 0),
    tokens: lines.reduce((n, l) => n + l.promptTokens + l.completionTokens, 0),
    costPico: lines.reduce((n, l) => n + l.costPico, 0n),
  });
  const truth = sum(expected);
  for (const range of [hourRange, dayRange]) {
    const reported = sum((await chargebackLines(stack.stores.aggregates, range, pricingOf(table))).lines);
    if (reported.requests < truth.requests) counters.add('lost', truth.requests - reported.requests, kind);
    if (reported.requests > truth.requests) counters.add('doubled', reported.requests - truth.requests, kind);
    expect(reported).toEqual(truth);
  }
  counters.add('events', entries.length, kind);
}

/** The ledger with one rollup's reads held at a gate after its last page: that rollup works from what it read. */
function heldLedger(ledger: LedgerStore, held: { readonly opened: Promise<void> }, reached: () => void): LedgerStore {
  let first = true;
  return Object.assign(Object.create(ledger) as LedgerStore, {
    listEntries: async function* (range: { from: Date; to: Date }) {
      yield* ledger.listEntries(range);
      if (first) {
        first = false;
        reached();
        await held.opened;
      }
    },
  });
}

describe('rollups racing each other and the ingest, forced step by step on the local stack (Cosmos DB server)', () => {
  let stack: LocalStack;
  beforeEach(async () => {
    stack = await startLocalStack();
  });
  afterEach(async () => stack.stop());
  afterAll(() => counters.save());

  it('an older rollup that read the ledger before a newer one never commits its stale tile over the newer one', async () => {
    const [first, second] = eventsOfHour(71);
    await ingestBatch(first!, stack.stores);
    const held = gate();
    const reachedGate = gate();
    const older = rollupChargeback({ ...stack.stores, ledger: heldLedger(stack.stores.ledger, held, reachedGate.open) });
    await reachedGate.opened;
    await ingestBatch(second!, stack.stores);
    await rollupChargeback(stack.stores);
    held.open();
    await older;

    expect(await stack.stores.aggregates.listDirty()).toEqual([]);
    await checkAgainstLedger(stack, 'two-rollups');
    counters.add('races', 1, 'two-rollups');
  });

  it('a change ingested while a rollup works keeps its dirty marker, and the next rollup counts it', async () => {
    const [first, second] = eventsOfHour(72);
    await ingestBatch(first!, stack.stores);
    const aggregates: AggregateStore = Object.assign(Object.create(stack.stores.aggregates) as AggregateStore, {
      clearDirty: async (markers: Parameters<AggregateStore['clearDirty']>[0]) => {
        // Between the rollup's read of the markers and its delete of them.
        await ingestBatch(second!, stack.stores);
        await stack.stores.aggregates.clearDirty(markers);
      },
    });
    await rollupChargeback({ ...stack.stores, aggregates });
    expect((await stack.stores.aggregates.listDirty()).map((m) => m.value.hour)).toEqual([HOUR]);
    await rollupChargeback(stack.stores);
    expect(await stack.stores.aggregates.listDirty()).toEqual([]);
    await checkAgainstLedger(stack, 'ingest-during-clear');
    counters.add('races', 1, 'ingest-during-clear');
  });

  it('a change ingested after a rollup read the ledger but before it committed leaves the hour dirty until counted', async () => {
    const [first, second] = eventsOfHour(73);
    await ingestBatch(first!, stack.stores);
    const held = gate();
    const reachedGate = gate();
    const rollup = rollupChargeback({ ...stack.stores, ledger: heldLedger(stack.stores.ledger, held, reachedGate.open) });
    await reachedGate.opened;
    await ingestBatch(second!, stack.stores);
    held.open();
    await rollup;
    expect((await stack.stores.aggregates.listDirty()).map((m) => m.value.hour)).toEqual([HOUR]);
    await rollupChargeback(stack.stores);
    await checkAgainstLedger(stack, 'ingest-during-read');
    counters.add('races', 1, 'ingest-during-read');
  });

  it('two rollups of the same hours started together both finish and leave one tile per window', async () => {
    const [first, second] = eventsOfHour(74);
    await ingestBatch([...first!, ...second!], stack.stores);
    await Promise.all([rollupChargeback(stack.stores), rollupChargeback(stack.stores)]);
    const { heads, parts } = await stack.stores.aggregates.listUsageDocuments('hour', `${DAY}T00`, `${DAY}T24`);
    expect(heads.map((h) => h.window)).toEqual([HOUR]);
    expect(parts.every((p) => p.generation === heads[0]!.generation)).toBe(true);
    await checkAgainstLedger(stack, 'concurrent-rollups');
    counters.add('races', 1, 'concurrent-rollups');
  });
});
