import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJoinHandler } from '../../functions/handlers/join-diagnostics.js';
import { LogAnalyticsDiagnosticsSource } from '../../src/adapters/log-analytics/log-analytics-diagnostics-source.js';
import { TableWatermarkStore } from '../../src/adapters/tables/table-watermark-store.js';
import { startAzurite, type Azurite } from '../../src/local/azurite.js';
import { fireTimer } from '../../src/local/timer-runner.js';
import type { DiagnosticsRead, DiagnosticsSource, WatermarkStore } from '../../src/ports/diagnostics-source.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
import { ingestBatch } from '../../src/services/ingest-batch.js';
import { joinCounts } from '../../src/services/join-diagnostics.js';
import { simulateDay, type SimulatedDay } from '../../src/simulator/traffic.js';
import { FakeLogAnalytics, LA_FAULT_KINDS, localLogsClient, WORKSPACE } from '../support/fake-log-analytics.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore } from '../support/memory-stores.js';
import { FileCounters } from './support/counters.js';
import { checkGroundTruth } from './support/ground-truth.js';
import { errorKind } from './support/partition-consumer.js';

const counters = new FileCounters('log-analytics-faults.test.ts');
const DAY = '2026-11-21';
const HOUR = 3_600_000;
/** Three days after the simulated day: every record, late ones included (up to 30 h), has been ingested. */
const NOW = new Date('2026-11-24T00:00:00.000Z');
const SETTLE_MS = 5 * 60_000;
const INITIAL_LOOKBACK_MS = 4 * 24 * HOUR;
const MAX_ATTEMPTS = 3;
const BASE_DELAY_MS = 1_000;

describe('the join against a failing Log Analytics (429, 504, 503, PartialError)', () => {
  let day: SimulatedDay;
  let fake: FakeLogAnalytics;
  let azurite: Azurite;
  beforeAll(async () => {
    day = simulateDay({ requests: 20_000, seed: 515, day: DAY });
    fake = new FakeLogAnalytics(day, { seed: 31, faultRates: { throttle: 0.12, 'gateway-timeout': 0.08, unavailable: 0.04, 'internal-error': 0.03, reset: 0.03, partial: 0.06 } });
    [azurite] = await Promise.all([startAzurite(), fake.start()]);
  });
  afterAll(async () => {
    counters.save();
    await Promise.all([fake?.stop(), azurite?.stop()]);
  });

  it('advances the watermark (Table storage on Azurite) only after a complete read is stored; join counts equal ground truth', async () => {
    const ledger = new MemoryLedgerStore();
    const deadLetters = new MemoryDeadLetterStore();
    const diagnostics = new MemoryDiagnosticsStore();
    const aggregates = new MemoryAggregateStore();
    for (let i = 0; i < day.eventLines.length; i += 500) {
      const batch = day.eventLines.slice(i, i + 500).map((body, j) => ({ body, position: { partitionId: '0', sequenceNumber: i + j, offset: null, enqueuedTimeUtc: null } }));
      await ingestBatch(batch, { ledger, deadLetters, aggregates, diagnostics });
    }
    const ingested = await checkGroundTruth(day, ledger, deadLetters);
    expect({ lost: ingested.lost, doubled: ingested.doubled }).toEqual({ lost: 0, doubled: 0 });

    const store = TableWatermarkStore.fromConnectionString(azurite.connectionString, 'watermarks');
    const watermarkName = `aoai-${Date.now()}`;
    const delays: number[] = [];
    const source = new LogAnalyticsDiagnosticsSource({
      client: localLogsClient(fake.url),
      workspaceId: WORKSPACE,
      windowInMs: 2 * HOUR,
      settleInMs: SETTLE_MS,
      initialLookbackInMs: INITIAL_LOOKBACK_MS,
      maxAttempts: MAX_ATTEMPTS,
      baseDelayInMs: BASE_DELAY_MS,
      now: () => NOW,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });

    // Watch every read and every watermark write: a write must follow a successful read that ends at that
    // watermark, starts at the stored one, was answered completely by the service, and whose records are stored.
    let lastRead: { readonly from: string | null; readonly read: DiagnosticsRead } | null = null;
    const violations: string[] = [];
    const advances: string[] = [];
    const watchedSource: DiagnosticsSource = {
      readSince: async (watermark, options) => {
        lastRead = null;
        const read = await source.readSince(watermark, options);
        lastRead = { from: watermark, read };
        return read;
      },
    };
    // A watermark is `to/readAt`: ingestion times read up to `to`.
    const ingestedUpTo = (watermark: string) => Date.parse(watermark.split('/')[0]!);
    // Complete data queries, read in parts and reaching back behind the watermark, cover (from, to] without a gap.
    const answeredCompletely = (from: number, to: number) => {
      const complete = fake.seen.filter((q) => q.file === 'requestresponse-window.kql' && !q.size && !q.partial).map((q) => [Date.parse(q.from), Date.parse(q.to)] as const);
      for (let covered = from; covered < to; ) {
        const next = Math.max(...complete.filter(([qFrom, qTo]) => qFrom <= covered && qTo > covered && qTo <= to).map(([, qTo]) => qTo));
        if (!Number.isFinite(next)) return false;
        covered = next;
      }
      return true;
    };
    const watchedWatermarks: WatermarkStore = {
      get: (name, options) => store.get(name, options),
      set: async (name, watermark, options) => {
        const stored = await store.get(name, options);
        const read = lastRead;
        if (read === null || read.read.nextWatermark !== watermark) {
          violations.push(`watermark ${watermark} stored without a successful read ending there`);
        } else {
          if (read.from !== stored) violations.push(`read from ${read.from} while the stored watermark was ${stored}`);
          const from = read.from === null ? NOW.getTime() - INITIAL_LOOKBACK_MS : ingestedUpTo(read.from);
          if (!answeredCompletely(from, ingestedUpTo(watermark))) violations.push(`window (${read.from}, ${watermark}] was never answered completely`);
          const unstored = read.read.records.filter((r) => !diagnostics.records.has(r.correlationId)).length;
          if (unstored > 0) violations.push(`watermark ${watermark} stored before ${unstored} records of its read were`);
        }
        await store.set(name, watermark, options);
        advances.push(watermark);
      },
    };
    const join = createJoinHandler(
      () => ({ source: watchedSource, watermarks: watchedWatermarks, ledger, diagnostics, deadLetters, aggregates }),
      () => ({ graceInMs: 30 * 60_000, watermarkName, now: () => NOW }),
    );

    // The timer fires until a run completes; a failed run leaves the watermark where the last stored read put it.
    const failures: Record<string, number> = {};
    let runs = 0;
    for (let done = false; !done; ) {
      runs++;
      if (runs > 200) throw new Error('the join never completed');
      const before = await store.get(watermarkName);
      const advancesBefore = advances.length;
      try {
        await fireTimer('join', join, NOW);
        done = true;
      } catch (error) {
        const kind = error instanceof TransientStoreError ? 'TransientStoreError' : errorKind(error);
        failures[kind] = (failures[kind] ?? 0) + 1;
        // Nothing but this run's successful reads moved the watermark.
        expect(await store.get(watermarkName)).toBe(advances.length > advancesBefore ? advances.at(-1) : before);
      }
    }
    const afterFirst = { ledger: ledger.snapshot(), diagnostics: diagnostics.snapshot(), watermark: await store.get(watermarkName) };
    await fireTimer('join', join, NOW);
    const range = { from: new Date(`${DAY}T00:00:00Z`), to: new Date(Date.parse(`${DAY}T00:00:00Z`) + 24 * HOUR) };
    const counts = await joinCounts(ledger, diagnostics, range);
    const truth = day.groundTruth;

    const expectedIds = new Set(fake.rows.map((r) => r.correlationId));
    const lostRecords = [...expectedIds].filter((id) => !diagnostics.records.has(id)).length;
    const strayRecords = [...diagnostics.records.keys()].filter((id) => !expectedIds.has(id)).length;
    const joinDelta = (['matched', 'noDiagnostics', 'bypass'] as const).map((k) => counts[k] - truth.join[k]);
    const unexpected = Object.entries(failures).filter(([kind]) => kind !== 'TransientStoreError');
    counters.add('lost', lostRecords + joinDelta.filter((d) => d < 0).reduce((sum, d) => sum - d, 0) + violations.length);
    counters.add('doubled', strayRecords + joinDelta.filter((d) => d > 0).reduce((sum, d) => sum + d, 0));
    counters.add('crashes', unexpected.reduce((sum, [, n]) => sum + n, 0));
    counters.add('events', expectedIds.size, 'join-records');
    for (const kind of LA_FAULT_KINDS) counters.add('faults', fake.faults[kind], `log-analytics.${kind}`);
    for (const [kind, n] of Object.entries(failures)) counters.note(`failed-join-runs.${kind}`, n);
    counters.note('join-runs', runs);

    expect(violations).toEqual([]);
    expect(unexpected).toEqual([]);
    for (const kind of LA_FAULT_KINDS) expect(fake.faults[kind], kind).toBeGreaterThan(0);
    expect(runs).toBeGreaterThan(1);
    expect(advances.length).toBeGreaterThanOrEqual(Math.ceil((INITIAL_LOOKBACK_MS - SETTLE_MS) / (2 * HOUR)));
    expect(afterFirst.watermark).toBe(`${new Date(NOW.getTime() - SETTLE_MS).toISOString()}/${NOW.toISOString()}`);
    // Throttled queries waited as long as Retry-After said; other retries backed off exponentially.
    const backoffs = new Set(Array.from({ length: MAX_ATTEMPTS }, (_, i) => BASE_DELAY_MS * 2 ** i));
    const retryAfters = new Set(fake.retryAfterSent.map((s) => s * 1000));
    expect(delays.filter((ms) => !backoffs.has(ms) && !retryAfters.has(ms))).toEqual([]);
    expect(delays.some((ms) => retryAfters.has(ms) && !backoffs.has(ms))).toBe(true);
    // A second run changes nothing.
    expect({ ledger: ledger.snapshot(), diagnostics: diagnostics.snapshot(), watermark: await store.get(watermarkName) }).toEqual(afterFirst);
    expect(diagnostics.records.size).toBe(truth.diagnostics.records);
    expect({ lostRecords, strayRecords }).toEqual({ lostRecords: 0, strayRecords: 0 });
    expect(counts).toEqual(truth.join);
  });
});
