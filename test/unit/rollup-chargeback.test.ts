import { describe, expect, it, vi } from 'vitest';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import type { UsageTileHead, UsageTilePart } from '../../src/contracts/usage-tile.js';
import type { AggregateStore } from '../../src/ports/aggregate-store.js';
import type { LedgerStore } from '../../src/ports/ledger-store.js';
import { matchedOutcome } from '../../src/domain/join.js';
import { ChargebackLines } from '../../src/domain/chargeback.js';
import { PriceMatcher } from '../../src/domain/price-matching.js';
import { MAX_PART_BYTES } from '../../src/domain/document-parts.js';
import { pricingOf } from '../../src/domain/usage-pricing.js';
import { sortBatch } from '../../src/services/ingest-batch.js';
import { chargebackLines, chargebackReportFor, listPriceFocus } from '../../src/services/chargeback-report.js';
import { applyRecords } from '../../src/services/join-diagnostics.js';
import { markRangeDirty, readUsageTiles, rollupChargeback } from '../../src/services/rollup-chargeback.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { diagnosticRecord } from '../support/diagnostic-records.js';
import { ledgerEntry, noCaller } from '../support/ledger-entries.js';
import { MemoryAggregateStore, MemoryDiagnosticsStore, MemoryLedgerStore } from '../support/memory-stores.js';
import { pausedAt } from '../support/paused-calls.js';

const prices = (gpt4oInput: string) =>
  loadPriceTable({
    currency: 'USD',
    source: 'test prices',
    retrieved: '2026-10-01',
    prices: [
      { model: 'gpt-4o', from: '2024-01-01', inputPer1M: gpt4oInput, cachedInputPer1M: '1.25', outputPer1M: '10.00' },
      { model: 'gpt-4o-mini', from: '2024-01-01', inputPer1M: '0.15', cachedInputPer1M: '0.075', outputPer1M: '0.60' },
      { model: 'o3-mini', from: '2024-01-01', inputPer1M: '1.10', cachedInputPer1M: '0.55', outputPer1M: '4.40' },
      { model: 'gpt-4.1', from: '2024-01-01', inputPer1M: '2.00', cachedInputPer1M: '0.50', outputPer1M: '8.00' },
      { model: 'text-embedding-3-small', from: '2024-01-01', inputPer1M: '0.02' },
    ],
  });

const DAY = '2026-10-15';
const range = { from: new Date(`${DAY}T00:00:00Z`), to: new Date('2026-10-16T00:00:00Z') };
const position = { partitionId: '0', sequenceNumber: null, offset: null, enqueuedTimeUtc: null };

async function ledgerOfDay(requests: number) {
  const day = simulateDay({ requests, seed: 4, day: DAY });
  const { entries } = sortBatch(day.eventLines.map((body) => ({ body, position })));
  const unique = [...new Map(entries.map((e) => [e.id, e])).values()];
  const ledger = new MemoryLedgerStore();
  await ledger.createEntries(unique);
  return { ledger, entries: unique };
}

function directCost(entries: readonly LedgerEntry[], matcher: PriceMatcher): bigint {
  const lines = new ChargebackLines(matcher);
  for (const entry of entries) lines.addEntry(entry);
  return lines.list().reduce((sum, l) => sum + l.costPico, 0n);
}

const costOf = async (aggregates: MemoryAggregateStore, within: { from: Date; to: Date }, table = prices('2.50')) =>
  (await chargebackLines(aggregates, within, pricingOf(table))).lines.reduce((sum, l) => sum + l.costPico, 0n);

describe('usage rollup and reports priced when read (in-memory fake stores)', () => {
  it('builds hour and day usage tiles whose priced totals equal pricing the ledger directly, and clears the dirty markers', async () => {
    const { ledger, entries } = await ledgerOfDay(1500);
    const aggregates = new MemoryAggregateStore();
    await markRangeDirty(aggregates, range);
    const result = await rollupChargeback({ ledger, aggregates });
    expect(result).toEqual({ hours: 24, days: 1, entries: entries.length, remaining: 0, discarded: 0 });
    const expected = directCost(entries, new PriceMatcher(prices('2.50')));
    expect(await costOf(aggregates, range)).toBe(expected);
    const lastHour = new Date(`${DAY}T23:00:00Z`);
    expect((await costOf(aggregates, { from: range.from, to: lastHour })) + (await costOf(aggregates, { from: lastHour, to: range.to }))).toBe(expected);
    expect(aggregates.dirty.size).toBe(0);
  });

  it('shows a corrected past price in the next report, with no rollup run', async () => {
    const { ledger, entries } = await ledgerOfDay(800);
    const aggregates = new MemoryAggregateStore();
    await markRangeDirty(aggregates, range);
    await rollupChargeback({ ledger, aggregates });
    const tilesBefore = structuredClone([...aggregates.usage.entries()]);
    const directory = new Map();
    const report = (table: ReturnType<typeof prices>) => chargebackReportFor({ aggregates, directory, pricing: pricingOf(table) }, { ...range, groupBy: 'identity', scope: 'all' }, 'USD');
    const before = await report(prices('2.50'));
    const after = await report(prices('2.75'));

    expect([...aggregates.usage.entries()]).toEqual(tilesBefore);
    expect(after.totals.costPico).toBe(directCost(entries, new PriceMatcher(prices('2.75'))));
    expect(after.priceTable).not.toBe(before.priceTable);
    const gpt4oUncachedTokens = entries
      // gpt-4o by the response's model name (`gpt-4o-2024-08-06`) or by APIM's LLM log (`gpt-4o`), not gpt-4o-mini.
      .filter((e) => /^gpt-4o(-\d|$)/.test(e.model ?? ''))
      .reduce((sum, e) => sum + BigInt(e.tokens.promptTokens - e.tokens.cachedTokens), 0n);
    // 0.25 USD more per 1M uncached gpt-4o input tokens = 250,000 micro-USD per 1M = 250,000 picodollars per token.
    expect(after.totals.costPico - before.totals.costPico).toBe(gpt4oUncachedTokens * 250_000n);
  });

  it('reads a month report from one partition in a few pages', async () => {
    const { ledger } = await ledgerOfDay(600);
    const aggregates = new MemoryAggregateStore();
    await markRangeDirty(aggregates, range);
    await rollupChargeback({ ledger, aggregates });
    aggregates.reads = 0;
    await costOf(aggregates, { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') });
    expect(aggregates.reads).toBe(1);
  });

  it('cuts a tile of many identities into parts no larger than the bound, and reads them back whole', async () => {
    const entries = Array.from({ length: 12_000 }, (_, i) =>
      ledgerEntry({
        id: `req-${i}`,
        time: `${DAY}T10:${String(i % 60).padStart(2, '0')}:00.000Z`,
        caller: { ...noCaller, oid: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, idtyp: 'user' },
        tokens: { source: 'gateway', promptTokens: 100 + i, cachedTokens: 0, completionTokens: 10, reasoningTokens: 0 },
      }),
    );
    const ledger = new MemoryLedgerStore();
    await ledger.createEntries(entries);
    const aggregates = new MemoryAggregateStore();
    await markRangeDirty(aggregates, { from: new Date(`${DAY}T10:00:00Z`), to: new Date(`${DAY}T11:00:00Z`) });
    await rollupChargeback({ ledger, aggregates });
    const parts = [...aggregates.usage.values()].filter((d) => d.value.kind === 'usage-part');
    expect(parts.length).toBeGreaterThan(4);
    expect(aggregates.largestDocumentBytes).toBeLessThanOrEqual(MAX_PART_BYTES + 1024);
    const { lines } = await chargebackLines(aggregates, range, pricingOf(prices('2.50')));
    expect(lines).toHaveLength(12_000);
    expect(lines.reduce((sum, l) => sum + l.costPico, 0n)).toBe(directCost(entries, new PriceMatcher(prices('2.50'))));
  });

  it('leaves the same usage when rolled up twice, and removes the parts it replaced', async () => {
    const { ledger } = await ledgerOfDay(300);
    const aggregates = new MemoryAggregateStore();
    await markRangeDirty(aggregates, range);
    await rollupChargeback({ ledger, aggregates });
    const lines = (await chargebackLines(aggregates, range, pricingOf(prices('2.50')))).lines;
    const documents = aggregates.usage.size;
    await markRangeDirty(aggregates, range);
    await rollupChargeback({ ledger, aggregates });
    expect((await chargebackLines(aggregates, range, pricingOf(prices('2.50')))).lines).toEqual(lines);
    expect(aggregates.usage.size).toBe(documents);
  });

  it('works through at most maxHours dirty hours per run and leaves the rest marked', async () => {
    const { ledger, entries } = await ledgerOfDay(300);
    const aggregates = new MemoryAggregateStore();
    await markRangeDirty(aggregates, range);
    expect(await rollupChargeback({ ledger, aggregates }, { maxHours: 10 })).toMatchObject({ hours: 10, remaining: 14 });
    expect(aggregates.dirty.size).toBe(14);
    expect(await rollupChargeback({ ledger, aggregates }, { maxHours: 10 })).toMatchObject({ hours: 10, remaining: 4 });
    await rollupChargeback({ ledger, aggregates }, { maxHours: 10 });
    expect(await costOf(aggregates, range)).toBe(directCost(entries, new PriceMatcher(prices('2.50'))));
  });

  it('rolls up the hours of the last two days before a backlog of older ones (a rebuilt month), then older hours marked since, then the backlog oldest first', async () => {
    const ledger = new MemoryLedgerStore();
    const aggregates = new MemoryAggregateStore();
    await ledger.createEntries([
      ledgerEntry({ id: 'live-1', gatewayRequestId: 'live-1', apimRequestId: 'live-1', time: '2026-12-07T10:05:00.000Z' }),
      ledgerEntry({ id: 'late-1', gatewayRequestId: 'late-1', apimRequestId: 'late-1', time: '2026-12-04T22:05:00.000Z' }),
    ]);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2026-12-07T09:00:00Z'));
      await markRangeDirty(aggregates, { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-12-01T00:00:00Z') });
      // Later, ingest marks the current hour and the join an hour 60 hours back, for a late record.
      vi.setSystemTime(new Date('2026-12-07T10:15:00Z'));
      await aggregates.markDirty(['2026-12-04T22', '2026-12-07T10']);
    } finally {
      vi.useRealTimers();
    }
    const now = () => new Date('2026-12-07T10:20:00Z');
    expect(await rollupChargeback({ ledger, aggregates }, { maxHours: 10, now })).toMatchObject({ hours: 10, remaining: 30 * 24 + 2 - 10 });
    expect((await readUsageTiles(aggregates, 'hour', '2026-12-07T10', '2026-12-07T11')).map((t) => t.entries)).toEqual([1]);
    expect((await readUsageTiles(aggregates, 'hour', '2026-12-04T22', '2026-12-04T23')).map((t) => t.entries)).toEqual([1]);
    expect([...aggregates.dirty.keys()].sort().slice(0, 2)).toEqual(['2026-11-01T08', '2026-11-01T09']);
  });

  it('rolls up hours still to come (a rebuilt current month) after every hour that has begun', async () => {
    const ledger = new MemoryLedgerStore();
    const aggregates = new MemoryAggregateStore();
    await markRangeDirty(aggregates, { from: new Date('2026-12-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') });
    const now = () => new Date('2026-12-07T10:20:00Z');
    await rollupChargeback({ ledger, aggregates }, { maxHours: 60, now });
    const left = new Set(aggregates.dirty.keys());
    const december = Array.from({ length: 31 * 24 }, (_, h) => new Date(Date.UTC(2026, 11, 1, h)).toISOString().slice(0, 13));
    const taken = december.filter((hour) => !left.has(hour));
    // The 49 hours of the last two days (to 10:00), then December's first 11 from the oldest: none after 10:00.
    expect(taken).toHaveLength(60);
    expect(taken.filter((hour) => hour < '2026-12-05T10')).toEqual(Array.from({ length: 11 }, (_, h) => `2026-12-01T${String(h).padStart(2, '0')}`));
    expect(taken.filter((hour) => hour > '2026-12-07T10')).toEqual([]);
  });

  it('clears dirty markers that name no UTC hour, which earlier versions wrote, and rolls up the real hours', async () => {
    const { ledger, entries } = await ledgerOfDay(300);
    const aggregates = new MemoryAggregateStore();
    await aggregates.markDirty(['+010000-01-01', '-000001-01-01', '2026-02-30T10', '2026-10-15T24']);
    await markRangeDirty(aggregates, range);
    expect(await rollupChargeback({ ledger, aggregates })).toEqual({ hours: 24, days: 1, entries: entries.length, remaining: 0, discarded: 4 });
    expect(aggregates.dirty.size).toBe(0);
    expect(await costOf(aggregates, range)).toBe(directCost(entries, new PriceMatcher(prices('2.50'))));
  });

  it('leaves a run stopped part way (functionTimeout) only the hours it did not finish, so the next runs get through a busy day', async () => {
    const { ledger, entries } = await ledgerOfDay(300);
    const aggregates = new MemoryAggregateStore();
    await markRangeDirty(aggregates, range);
    // The host restarts the worker of a run past functionTimeout: here, at its 11th read of an hour of the ledger.
    const stopped = new Error('functionTimeout');
    let reads = 0;
    const stoppingLedger: LedgerStore = Object.assign(Object.create(ledger) as LedgerStore, {
      listEntries: (...args: Parameters<LedgerStore['listEntries']>) => {
        if (++reads > 10) throw stopped;
        return ledger.listEntries(...args);
      },
    });
    await expect(rollupChargeback({ ledger: stoppingLedger, aggregates })).rejects.toBe(stopped);
    // Hours 00 to 09 committed; the markers of 00 to 05 went with the day recomputed after them, those of 06 to 09
    // stay, as the day was not recomputed after them.
    expect([...aggregates.dirty.values()].map((m) => m.value.hour)).toEqual(Array.from({ length: 18 }, (_, h) => `${DAY}T${String(h + 6).padStart(2, '0')}`));
    for (let run = 0; run < 3; run++) {
      reads = 0;
      await rollupChargeback({ ledger: stoppingLedger, aggregates }).catch((error: unknown) => expect(error).toBe(stopped));
    }
    expect(aggregates.dirty.size).toBe(0);
    expect(await costOf(aggregates, range)).toBe(directCost(entries, new PriceMatcher(prices('2.50'))));
  });

  it("keeps an hour's marker until a day recompute after the hour's own: a stopped run and an older day commit lose nothing", async () => {
    const [h05, h10] = [`${DAY}T05`, `${DAY}T10`];
    const entry = (id: string, time: string) => ledgerEntry({ id, apimRequestId: id, gatewayRequestId: `gw-${id}`, time });
    const ledger = new MemoryLedgerStore();
    const aggregates = new MemoryAggregateStore();
    await ledger.createEntries([entry('a', `${h05}:10:00.000Z`), entry('b', `${h10}:10:00.000Z`)]);
    await aggregates.markDirty([h05, h10]);
    // Run A commits both hours and is held at its day commit, the day computed from them.
    let reached!: () => void;
    let release!: () => void;
    const atDayCommit = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const holding = Object.assign(Object.create(aggregates) as MemoryAggregateStore, {
      replaceUsageHead: async (...args: Parameters<MemoryAggregateStore['replaceUsageHead']>) => {
        if (args[0].grain === 'day') {
          reached();
          await released;
        }
        return aggregates.replaceUsageHead(...args);
      },
    });
    const runA = rollupChargeback({ ledger, aggregates: holding });
    await atDayCommit;
    // Ingest adds a request at 05; run B commits 05 with it and is stopped (functionTimeout) reading hour 10.
    await ledger.createEntries([entry('c', `${h05}:20:00.000Z`)]);
    await aggregates.markDirty([h05]);
    const stopped = new Error('functionTimeout');
    let reads = 0;
    const stopping: LedgerStore = Object.assign(Object.create(ledger) as LedgerStore, {
      listEntries: (...args: Parameters<LedgerStore['listEntries']>) => {
        if (++reads === 2) throw stopped;
        return ledger.listEntries(...args);
      },
    });
    await expect(rollupChargeback({ ledger: stopping, aggregates })).rejects.toBe(stopped);
    // A commits the day it computed before B's 05, then the next run.
    release();
    await runA;
    await rollupChargeback({ ledger, aggregates });
    const entriesOf = async (grain: 'hour' | 'day', from: string, to: string) => (await readUsageTiles(aggregates, grain, from, to)).reduce((n, tile) => n + tile.entries, 0);
    expect(await entriesOf('hour', `${DAY}T00`, '2026-10-16T00')).toBe(3);
    expect(await entriesOf('day', DAY, '2026-10-16')).toBe(3);
    expect(aggregates.dirty.size).toBe(0);
  });
});

describe('latency and traffic tiles beside the usage tile, when rollups of one hour overlap (in-memory fake stores)', () => {
  const HOUR = '2026-03-10T09';
  function request(n: number) {
    const id = `req-${n}`;
    const record = diagnosticRecord({ correlationId: id, time: `${HOUR}:1${n}:00.000Z`, account: 'aoai-eastus', regionCode: 'eastus', modelDeploymentName: 'gpt-4o' });
    const gateway = { service: 'apim', regionCode: 'eastus', backendId: 'aoai-eastus' };
    const entry = ledgerEntry({ id, apimRequestId: id, gatewayRequestId: `gw-${n}`, time: `${HOUR}:1${n}:00.000Z`, deployment: 'gpt-4o', gateway, diagnostics: matchedOutcome(record) });
    return { entry, record };
  }
  async function storesWithOneRequest() {
    const stores = { ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore(), aggregates: new MemoryAggregateStore() };
    await arrive(stores, 1);
    return stores;
  }
  async function arrive(stores: { ledger: MemoryLedgerStore; diagnostics: MemoryDiagnosticsStore; aggregates: MemoryAggregateStore }, n: number) {
    const { entry, record } = request(n);
    await stores.ledger.createEntries([entry]);
    await applyRecords([record], stores, {});
  }
  function tileCounts(aggregates: MemoryAggregateStore) {
    const hourTiles = [...aggregates.latency.values()].filter((t) => t.grain === 'hour');
    const traffic = [...aggregates.traffic.values()].find((t) => t.hour === HOUR);
    return { latencyRequests: hourTiles.reduce((sum, t) => sum + t.requests, 0), trafficMatched: traffic?.join.matched };
  }
  it('writes no tile of a run that stops before its usage commit, so a newer run\'s tiles stay', async () => {
    const stores = await storesWithOneRequest();
    // The older run is held at its first write, whichever it is, and then stopped at its usage write (the host
    // restarting its worker): what it computed from one request must not be left behind.
    let open!: () => void;
    let reached!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const arrived = new Promise<void>((resolve) => (reached = resolve));
    const stopped = new Error('functionTimeout');
    const firstWriteHeld = async () => {
      reached();
      await opened;
    };
    const older = Object.assign(Object.create(stores.aggregates) as AggregateStore, {
      upsertLatencyTiles: async (tiles: Parameters<AggregateStore['upsertLatencyTiles']>[0]) => {
        await firstWriteHeld();
        return stores.aggregates.upsertLatencyTiles(tiles);
      },
      upsertTrafficTiles: async (tiles: Parameters<AggregateStore['upsertTrafficTiles']>[0]) => {
        await firstWriteHeld();
        return stores.aggregates.upsertTrafficTiles(tiles);
      },
      putUsageParts: async () => {
        await firstWriteHeld();
        throw stopped;
      },
    });
    const olderRun = rollupChargeback({ ...stores, aggregates: older });
    await arrived;
    await arrive(stores, 2);
    await rollupChargeback(stores);
    open();
    await expect(olderRun).rejects.toBe(stopped);
    expect(stores.aggregates.dirty.size).toBe(0);
    expect(tileCounts(stores.aggregates)).toEqual({ latencyRequests: 2, trafficMatched: 2 });
  });

  it('marks the hour again when an older run writes its tiles after a newer run committed, and the next run repairs them', async () => {
    const stores = await storesWithOneRequest();
    // The older run commits its usage of one request, then is held before writing its latency tiles.
    const older = pausedAt(stores.aggregates, 'upsertLatencyTiles');
    const olderRun = rollupChargeback({ ...stores, aggregates: older.store });
    await older.reached;
    await arrive(stores, 2);
    await rollupChargeback(stores);
    older.release();
    await olderRun;
    expect(tileCounts(stores.aggregates), 'the older run\'s tiles landed last').toEqual({ latencyRequests: 1, trafficMatched: 1 });
    expect((await stores.aggregates.listDirty()).map((m) => m.value.hour)).toEqual([HOUR]);
    // The older run's marker is its own until no run can still hold it: a run ten minutes on clears it.
    await rollupChargeback({ ...stores }, { now: () => new Date(Date.now() + 10 * 60_000) });
    expect(await stores.aggregates.listDirty()).toEqual([]);
    expect(tileCounts(stores.aggregates)).toEqual({ latencyRequests: 2, trafficMatched: 2 });
    expect((await stores.aggregates.getUsageHead('hour', HOUR))!.value.entries).toBe(2);
  });

  it('repairs the tiles of an older run the host stopped after it wrote them over a newer run\'s, before it could check the head', async () => {
    const stores = await storesWithOneRequest();
    const older = pausedAt(stores.aggregates, 'upsertLatencyTiles');
    const stopped = new Error('functionTimeout');
    let written = false;
    const stopping = Object.assign(Object.create(older.store) as MemoryAggregateStore, {
      upsertTrafficTiles: async (...args: Parameters<MemoryAggregateStore['upsertTrafficTiles']>) => {
        written = true;
        return stores.aggregates.upsertTrafficTiles(...args);
      },
      getUsageHead: async (...args: Parameters<MemoryAggregateStore['getUsageHead']>) => {
        if (written) throw stopped;
        return stores.aggregates.getUsageHead(...args);
      },
    });
    const olderRun = rollupChargeback({ ...stores, aggregates: stopping });
    await older.reached;
    await arrive(stores, 2);
    await rollupChargeback(stores);
    older.release();
    await expect(olderRun).rejects.toBe(stopped);
    expect(tileCounts(stores.aggregates), "the older run's tiles landed last").toEqual({ latencyRequests: 1, trafficMatched: 1 });
    await rollupChargeback(stores);
    expect(tileCounts(stores.aggregates)).toEqual({ latencyRequests: 2, trafficMatched: 2 });
  });
});

const SUBSCRIPTION = 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE';

const miniPricing = pricingOf(
  loadPriceTable({
    currency: 'USD',
    source: 'test prices',
    retrieved: '2026-10-01',
    prices: [{ model: 'gpt-4o-mini', from: '2024-01-01', inputPer1M: '0.15', cachedInputPer1M: '0.075', outputPer1M: '0.60' }],
  }),
);

/**
 * The hour tile an earlier release stored for one request of APIM subscription SUBSCRIPTION (its id a GUID
 * in upper case): produced by `rollupChargeback` of `git show 4a9c8fb^:src/services/rollup-chargeback.ts` over
 * `ledgerEntry({ subscriptionId: SUBSCRIPTION, time: 2026-12-01T09:15Z, tokens 1000/100 })`. resolveIdentity then
 * keyed the line by the subscription id as it came (identity.ts), where it is now `normalizeIdentityKey`'s spelling.
 */
const GENERATION = 'f3e030df-c890-42fb-8a9e-b8b77b9de0f5';
const OLD_HEAD: UsageTileHead = { id: 'usage:hour:2026-12-01T09', pk: 'usage:2026-12-01', kind: 'usage-head', grain: 'hour', window: '2026-12-01T09', generation: GENERATION, parts: 1, entries: 1 };
const OLD_PART: UsageTilePart = {
  id: `usage:hour:2026-12-01T09:${GENERATION}:0`,
  pk: 'usage:2026-12-01',
  kind: 'usage-part',
  grain: 'hour',
  window: '2026-12-01T09',
  generation: GENERATION,
  part: 0,
  lines: [
    {
      identity: SUBSCRIPTION,
      identityKind: 'apimSubscription',
      model: 'gpt-4o-mini-2024-07-18',
      pricingModel: 'gpt-4o-mini-2024-07-18',
      deployment: 'chat-prod',
      region: 'eastus',
      tokenSource: 'gateway',
      uses: ['text'],
      requests: 1,
      promptTokens: 1000,
      cachedTokens: 0,
      completionTokens: 100,
      reasoningTokens: 0,
      audioPromptTokens: 0,
      audioCompletionTokens: 0,
      uncachedInputTokens: 1000,
    },
  ],
};

describe('usage tiles rolled up by an earlier release', () => {
  it('count one APIM subscription as one identity in a report over hours rolled up before and after the upgrade', async () => {
    const aggregates = new MemoryAggregateStore();
    await aggregates.putUsageParts([OLD_PART]);
    expect(await aggregates.replaceUsageHead(OLD_HEAD, null)).toBe(true);
    // After the upgrade the same subscription calls again, in the next hour, and the rollup tiles that hour.
    const ledger = new MemoryLedgerStore();
    await ledger.createEntries([
      ledgerEntry({ id: 'req-new', apimRequestId: 'req-new', gatewayRequestId: 'gw-new', time: '2026-12-01T10:15:00.000Z', subscriptionId: SUBSCRIPTION, tokens: { source: 'gateway', promptTokens: 1000, cachedTokens: 0, completionTokens: 100, reasoningTokens: 0 } }),
    ]);
    await aggregates.markDirty(['2026-12-01T10']);
    await rollupChargeback({ ledger, aggregates });

    const report = await chargebackReportFor(
      { aggregates, directory: new Map(), pricing: miniPricing },
      { from: new Date('2026-12-01T09:00:00Z'), to: new Date('2026-12-01T11:00:00Z'), groupBy: 'identity', scope: 'all' },
      'USD',
    );
    expect(report.rows.map((r) => [r.key, r.requests])).toEqual([[SUBSCRIPTION.toLowerCase(), 2]]);
    // The FOCUS export names it the same way, and so does the day tile the rollup builds from both hours.
    const focus = await listPriceFocus({ aggregates, directory: new Map(), pricing: miniPricing, accounts: [] }, { from: new Date('2026-12-01T09:00:00Z'), to: new Date('2026-12-01T11:00:00Z'), scope: 'all' }, 'USD');
    expect([...new Set(focus.map((row) => row.x_Identity))]).toEqual([SUBSCRIPTION.toLowerCase()]);
    const [day] = await readUsageTiles(aggregates, 'day', '2026-12-01', '2026-12-02');
    expect(day!.lines.map((line) => [line.identity, line.requests])).toEqual([[SUBSCRIPTION.toLowerCase(), 2]]);
  });
});
