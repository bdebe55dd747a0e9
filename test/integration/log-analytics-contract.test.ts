import { TableClient } from '@azure/data-tables';
import type { LogsQueryClient } from '@azure/monitor-query-logs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  LogAnalyticsDiagnosticsSource,
  LogAnalyticsLlmUsageSource,
  QueryTimeoutError,
  type LogAnalyticsDiagnosticsSourceOptions,
  type ResultLimits,
} from '../../src/adapters/log-analytics/log-analytics-diagnostics-source.js';
import { AzureReconciliationSources } from '../../src/adapters/log-analytics/log-analytics-reconciliation-sources.js';
import { reconcileWindow } from '../../src/services/reconcile-windows.js';
import { TableWatermarkStore } from '../../src/adapters/tables/table-watermark-store.js';
import type { DiagnosticRecord } from '../../src/contracts/diagnostic-record.js';
import { parseRequestResponse } from '../../src/domain/diagnostic-parsing.js';
import { isLaterJoinWatermark } from '../../src/domain/join-watermark.js';
import { startAzurite, type Azurite } from '../../src/local/azurite.js';
import { MissingTableError, type DiagnosticsSource, type WatermarkStore } from '../../src/ports/diagnostics-source.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { FakeLogAnalytics, localLogsClient, WORKSPACE } from '../support/fake-log-analytics.js';
import { ledgerEntry } from '../support/ledger-entries.js';
import { MemoryLedgerStore } from '../support/memory-stores.js';

const DAY = '2026-11-21';
const NOW = new Date('2026-11-24T00:00:00.000Z');
const HOUR = 3_600_000;

// ---- fixtures: a small simulated day, as Log Analytics would hold it (test/support/fake-log-analytics.ts) ----

const day = simulateDay({ requests: 3_000, seed: 11, day: DAY });
/** A result limit small enough for a few hours of this day to exceed it, as a busy hour exceeds the service's 64 MB. */
const MAX_RESULT_BYTES = 200_000;
const fake = new FakeLogAnalytics(day);
/** The fake's rows, each with what the archive path makes of the same record: the expected result. */
const diagnosticRows = fake.rows.map((row) => ({ ...row, expected: parseRequestResponse(row.record) }));
/** APIM logs a streamed completion in several rows; the fake splits every streamed usage in two. */
const llmRows = fake.llmUsageRows;

function expectedWindow(from: string, to: string) {
  const rows = diagnosticRows.filter((r) => r.ingestedAt > Date.parse(from) && r.ingestedAt <= Date.parse(to));
  return {
    records: rows.flatMap((r) => (r.expected.ok ? [r.expected.record] : [])),
    rejected: rows.filter((r) => !r.expected.ok).length,
  };
}

/** What a caller does: read from its watermark, process, and only then store the next watermark. */
async function pumpOnce(source: DiagnosticsSource, store: WatermarkStore, name: string, sink: DiagnosticRecord[]) {
  const read = await source.readSince(await store.get(name));
  sink.push(...read.records);
  if (read.nextWatermark !== null) await store.set(name, read.nextWatermark);
  return read;
}

/** Reads from `from` until the watermark reaches `to`: the records, and the ingestion time read up to after each read. */
async function readUpTo(source: DiagnosticsSource, from: string, to: string) {
  const records: DiagnosticRecord[] = [];
  const watermarks: string[] = [];
  for (let watermark = from; watermark < to; ) {
    const read = await source.readSince(watermark);
    records.push(...read.records);
    watermark = read.nextWatermark!;
    watermarks.push(watermark.split('/')[0]!);
  }
  return { records, watermarks };
}

describe('Log Analytics adapters against a local fake of the Log Analytics query API, built from its documented wire format', () => {
  let azurite: Azurite;
  let client: LogsQueryClient;
  let delays: number[];
  const sleep = async (ms: number) => {
    delays.push(ms);
  };
  // Windows as read, without reaching back behind the watermark, unless a test sets an overlap.
  const diagnosticsSource = (overrides: Partial<LogAnalyticsDiagnosticsSourceOptions> = {}) =>
    new LogAnalyticsDiagnosticsSource({ client, workspaceId: WORKSPACE, windowInMs: HOUR, settleInMs: 5 * 60_000, overlapInMs: 0, maxAttempts: 4, now: () => NOW, sleep, ...overrides });

  beforeAll(async () => {
    [azurite] = await Promise.all([startAzurite(), fake.start()]);
    client = localLogsClient(fake.url);
  });
  afterAll(async () => {
    await Promise.all([fake.stop(), azurite?.stop()]);
  });
  beforeEach(() => {
    fake.reset();
    delays = [];
  });

  it('reads one window: exactly the records ingested in it, one count and one data query, and the next watermark', async () => {
    const expected = expectedWindow('2026-11-21T09:00:00.000Z', '2026-11-21T10:00:00.000Z');
    expect(expected.records.length).toBeGreaterThan(50);

    const read = await diagnosticsSource().readSince('2026-11-21T09:00:00.000Z');

    expect(read.records).toEqual(expected.records);
    expect(read.rejected).toHaveLength(expected.rejected);
    expect(read.nextWatermark).toBe(`2026-11-21T10:00:00.000Z/${NOW.toISOString()}`);
    expect(read.more).toBe(true);
    expect(fake.seen.map((q) => [q.file, q.size])).toEqual([
      ['requestresponse-window.kql', true],
      ['requestresponse-window.kql', false],
    ]);
    expect(fake.seen[1]).toMatchObject({ from: '2026-11-21T09:00:00.0000000Z', to: '2026-11-21T10:00:00.0000000Z', rows: expected.records.length + expected.rejected });
  });

  it('reads the whole simulated day from watermark to watermark: every record exactly once, late ones included', async () => {
    const store = TableWatermarkStore.fromConnectionString(azurite.connectionString, 'watermarksday');
    await store.set('aoai', '2026-11-20T23:00:00.000Z');
    const source = diagnosticsSource({ windowInMs: 12 * HOUR });
    const records: DiagnosticRecord[] = [];
    let reads = 0;
    for (let more = true; more; reads++) more = (await pumpOnce(source, store, 'aoai', records)).more;

    const all = diagnosticRows.flatMap((r) => (r.expected.ok ? [r.expected.record] : []));
    expect(records).toEqual(all);
    expect(new Set(records.map((r) => r.correlationId)).size).toBe(records.length);
    expect(all.length).toBe(day.groundTruth.diagnostics.records);
    expect(await store.get('aoai')).toBe(`${new Date(NOW.getTime() - 5 * 60_000).toISOString()}/${NOW.toISOString()}`);
    expect(fake.seen).toHaveLength(2 * reads);
  });

  it("moves a watermark in Azure Table storage (Azurite) forward only, by the order the writer gives: the join's across its two sources", async () => {
    const store = TableWatermarkStore.fromConnectionString(azurite.connectionString, 'watermarksorder');
    const afterLogAnalytics = '2026-11-21T12:00:00.000Z/2026-11-21T12:05:00.000Z';
    const archiveThroughHour12 = '2026-11-21T12/2026-11-21T14:20:00.000Z';
    await store.set('join', afterLogAnalytics);
    // As text, the archive's position sorts first: the default order keeps Log Analytics' one.
    await store.set('join', archiveThroughHour12);
    expect(await store.get('join')).toBe(afterLogAnalytics);
    await store.set('join', archiveThroughHour12, { isLater: isLaterJoinWatermark });
    expect(await store.get('join')).toBe(archiveThroughHour12);
    await store.set('join', afterLogAnalytics, { isLater: isLaterJoinWatermark });
    expect(await store.get('join')).toBe(archiveThroughHour12);
  });

  it('starts the lookback before now without a watermark, stops at now minus the settle time, then has nothing new', async () => {
    const source = diagnosticsSource({ windowInMs: 6 * HOUR, initialLookbackInMs: 2 * HOUR });
    const first = await source.readSince(null);
    expect(first).toMatchObject({ records: [], nextWatermark: `2026-11-23T23:55:00.000Z/${NOW.toISOString()}`, more: false });
    expect(fake.seen.map((q) => [q.from, q.to])).toEqual([
      ['2026-11-23T22:00:00.0000000Z', '2026-11-23T23:55:00.0000000Z'],
      ['2026-11-23T22:00:00.0000000Z', '2026-11-23T23:55:00.0000000Z'],
    ]);
    expect(await source.readSince(first.nextWatermark)).toEqual({ records: [], rejected: [], nextWatermark: null, more: false });
    expect(fake.seen).toHaveLength(2);
  });

  // Learn, "Azure Monitor Log Analytics API response format": a partial error is HTTP 200 with `tables` and an `error`
  // (code PartialError) beside them; the rows are incomplete.
  it('never takes a partial result as the window: it is read in halves instead, and the watermark in Azure Table storage (Azurite) moves half by half', async () => {
    const store = TableWatermarkStore.fromConnectionString(azurite.connectionString, 'watermarks');
    expect(await store.get('aoai-diagnostics')).toBeNull();
    await store.set('aoai-diagnostics', '2026-11-21T12:00:00.000Z');
    const source = diagnosticsSource();
    const records: DiagnosticRecord[] = [];
    fake.failNext('requestresponse-window.kql', { kind: 'partial' });

    const read = await pumpOnce(source, store, 'aoai-diagnostics', records);
    expect(fake.faultCount).toBe(1);
    const data = fake.seen.filter((q) => !q.size);
    expect(data.map((q) => [q.from, q.to, q.partial])).toEqual([
      ['2026-11-21T12:00:00.0000000Z', '2026-11-21T13:00:00.0000000Z', true],
      ['2026-11-21T12:00:00.0000000Z', '2026-11-21T12:30:00.0000000Z', false],
    ]);
    expect(read.records).toEqual(expectedWindow('2026-11-21T12:00:00.000Z', '2026-11-21T12:30:00.000Z').records);
    expect(await store.get('aoai-diagnostics')).toBe(`2026-11-21T12:30:00.000Z/${NOW.toISOString()}`);
    const next = await pumpOnce(source, store, 'aoai-diagnostics', records);
    expect(next.records).toEqual(expectedWindow('2026-11-21T12:30:00.000Z', '2026-11-21T13:30:00.000Z').records);
  });

  it('fails the read with a TransientStoreError, the watermark unmoved, when a minute of records still answers a partial result', async () => {
    const store = TableWatermarkStore.fromConnectionString(azurite.connectionString, 'watermarkspartial');
    await store.set('aoai-diagnostics', '2026-11-21T12:00:00.000Z');
    fake.failNext('requestresponse-window.kql', ...Array.from({ length: 12 }, () => ({ kind: 'partial' as const })));

    const failure = await pumpOnce(diagnosticsSource(), store, 'aoai-diagnostics', []).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TransientStoreError);
    expect(String(failure)).toMatch(/partial result for window \(2026-11-21T12:00:00\.000Z, 2026-11-21T12:00:56\.250Z\] \(PartialError: /);
    expect(await store.get('aoai-diagnostics')).toBe('2026-11-21T12:00:00.000Z');
  });

  it('never moves a watermark in Azure Table storage (Azurite) back: an older run finishing last, or racing between read and write, keeps the later one', async () => {
    const store = TableWatermarkStore.fromConnectionString(azurite.connectionString, 'watermarksrace');
    await store.set('join', '2026-11-21T13:00:00.000Z');
    await store.set('join', '2026-11-21T12:00:00.000Z');
    expect(await store.get('join')).toBe('2026-11-21T13:00:00.000Z');

    // A newer run writes between this run's read of the row and its write: the conditional write fails and the
    // run reads again, finding a later watermark than its own.
    const table = TableClient.fromConnectionString(azurite.connectionString, 'watermarksrace', { allowInsecureConnection: true });
    const newer = TableWatermarkStore.fromConnectionString(azurite.connectionString, 'watermarksrace');
    const getEntity = table.getEntity.bind(table);
    let raced = false;
    table.getEntity = (async (...args: Parameters<typeof table.getEntity>) => {
      const entity = await getEntity(...args);
      if (!raced) {
        raced = true;
        await newer.set('join', '2026-11-21T15:00:00.000Z');
      }
      return entity;
    }) as typeof table.getEntity;
    await new TableWatermarkStore(table).set('join', '2026-11-21T14:00:00.000Z');
    expect(raced).toBe(true);
    expect(await store.get('join')).toBe('2026-11-21T15:00:00.000Z');
  });

  it('retries 429 twice, waiting as long as Retry-After says, then succeeds', async () => {
    fake.failNextSize('requestresponse-window.kql', { kind: 'throttle', retryAfter: 7 }, { kind: 'throttle', retryAfter: 3 });
    const read = await diagnosticsSource().readSince('2026-11-21T14:00:00.000Z');
    expect(fake.faultCount).toBe(2);
    expect(delays).toEqual([7_000, 3_000]);
    expect(read.records).toEqual(expectedWindow('2026-11-21T14:00:00.000Z', '2026-11-21T15:00:00.000Z').records);
  });

  // The Azure SDK's retry policy, which the adapter's own retry replaces (the clients run with maxRetries: 0), retries
  // 5xx answers but 501/505 and requests whose connection dropped (ECONNRESET and other socket errors).
  it('retries a query answered 500 (InternalServerFault) and one whose connection dropped without an answer, as it retries 503', async () => {
    fake.failNextSize('requestresponse-window.kql', { kind: 'internal-error' }, { kind: 'reset' }, { kind: 'unavailable' });
    const read = await diagnosticsSource({ baseDelayInMs: 250 }).readSince('2026-11-21T14:00:00.000Z');
    expect(fake.faultCount).toBe(3);
    expect(delays).toEqual([250, 500, 1_000]);
    expect(read.records).toEqual(expectedWindow('2026-11-21T14:00:00.000Z', '2026-11-21T15:00:00.000Z').records);
  });

  it('backs off exponentially without Retry-After and gives up with a TransientStoreError after maxAttempts', async () => {
    for (let i = 0; i < 4; i++) fake.failNextSize('requestresponse-window.kql', { kind: 'unavailable' });
    const error = await diagnosticsSource({ baseDelayInMs: 250 }).readSince('2026-11-21T14:00:00.000Z').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientStoreError);
    expect(fake.faultCount).toBe(4);
    expect(delays).toEqual([250, 500, 1_000]);
    expect(fake.seen).toEqual([]);
  });

  it('reads a record that became queryable after a read past its ingestion time on the next read, which reaches back over what that read could have missed', async () => {
    const at = (time: string) => Date.parse(`2026-11-21T${time}:00.000Z`);
    // Ingested at 09:5x, queryable only at 10:03: the 10:00 read (up to 09:55) cannot see it.
    const late = diagnosticRows.find((r) => r.expected.ok && r.ingestedAt > at('09:45') && r.ingestedAt <= at('09:55'))!;
    fake.queryableFrom.set(late.correlationId, at('10:03'));
    const runAt = (overlapInMs: number) => {
      let clock = at('10:00');
      const source = diagnosticsSource({ overlapInMs, now: () => new Date(clock) });
      return async (time: string, watermark: string) => {
        clock = fake.clock = at(time);
        return source.readSince(watermark);
      };
    };
    const ids = (read: { records: readonly DiagnosticRecord[] }) => read.records.map((r) => r.correlationId);

    const read = runAt(10 * 60_000);
    const first = await read('10:00', '2026-11-21T09:00:00.000Z/2026-11-21T09:05:00.000Z');
    expect(first.nextWatermark).toBe('2026-11-21T09:55:00.000Z/2026-11-21T10:00:00.000Z');
    expect(ids(first)).not.toContain(late.correlationId);
    const second = await read('10:05', first.nextWatermark!);
    expect(ids(second)).toContain(late.correlationId);
    // The 10:00 read could miss what was ingested less than settle + overlap before it: from 09:45 on.
    expect(fake.seen.filter((q) => !q.size).map((q) => [q.from, q.to])).toEqual([
      ['2026-11-21T08:50:00.0000000Z', '2026-11-21T09:55:00.0000000Z'],
      ['2026-11-21T09:45:00.0000000Z', '2026-11-21T10:00:00.0000000Z'],
    ]);
    expect(second.records).toEqual(expectedWindow('2026-11-21T09:45:00.000Z', '2026-11-21T10:00:00.000Z').records);

    // Without reaching back, the record is never read.
    fake.seen.length = 0;
    const exact = runAt(0);
    const missed = [...ids(await exact('10:00', '2026-11-21T09:00:00.000Z/2026-11-21T09:05:00.000Z')), ...ids(await exact('10:05', first.nextWatermark!))];
    expect(missed).not.toContain(late.correlationId);
  });

  it('reaches back behind a watermark only over what its read could have missed: not behind a backlog read, the whole overlap behind a bare instant', async () => {
    const source = diagnosticsSource({ overlapInMs: 10 * 60_000 });
    const windows = () => fake.seen.filter((q) => !q.size).map((q) => q.from);

    await source.readSince(`2026-11-21T09:00:00.000Z/${NOW.toISOString()}`);
    await source.readSince('2026-11-21T09:00:00.000Z');

    expect(windows()).toEqual(['2026-11-21T09:00:00.0000000Z', '2026-11-21T08:50:00.0000000Z']);
    await expect(source.readSince('2026-11-21T09:00:00.000Z/soon')).rejects.toThrow(/not an ISO instant or interval/);
  });

  it('splits a window whose count exceeds maxRowsPerQuery: every record once, one data query per part, the watermark moved part by part', async () => {
    const from = '2026-11-21T08:00:00.000Z';
    const to = '2026-11-21T11:00:00.000Z';
    const expected = expectedWindow(from, to);
    expect(expected.records.length).toBeGreaterThan(200);

    const { records, watermarks } = await readUpTo(diagnosticsSource({ windowInMs: 3 * HOUR, maxRowsPerQuery: 50 }), from, to);

    expect(records).toEqual(expected.records);
    expect(new Set(records.map((r) => r.correlationId)).size).toBe(records.length);
    const data = fake.seen.filter((q) => !q.size);
    expect(data.length).toBeGreaterThan(1);
    expect(data.every((q) => q.rows <= 50)).toBe(true);
    // One read per part, each ending its part: a window's progress is stored as each part is.
    expect(watermarks).toEqual(data.map((q) => new Date(Date.parse(q.to)).toISOString()));
    expect(fake.seen.length).toBeLessThan(expected.records.length / 2);
    for (let i = 1; i < data.length; i++) expect(data[i]!.from).toBe(data[i - 1]!.to);
    expect([data[0]!.from, data.at(-1)!.to]).toEqual(['2026-11-21T08:00:00.0000000Z', '2026-11-21T11:00:00.0000000Z']);
  });

  it('reads a window whose result exceeds the size limit in parts that each fit, where one query would be refused', async () => {
    fake.maxResultBytes = MAX_RESULT_BYTES;
    const from = '2026-11-21T08:00:00.000Z';
    const to = '2026-11-21T11:00:00.000Z';
    const expected = expectedWindow(from, to);

    // One query for the whole window is what the service refuses (a partial result, for ever): a size estimate that
    // fits the limit set too high is read in halves after that answer.
    const trusting = await readUpTo(diagnosticsSource({ windowInMs: 3 * HOUR, maxBytesPerQuery: 10 * MAX_RESULT_BYTES }), from, to);
    expect(trusting.records).toEqual(expected.records);
    expect(fake.seen.find((q) => !q.size && q.partial)).toMatchObject({ from: '2026-11-21T08:00:00.0000000Z', to: '2026-11-21T11:00:00.0000000Z' });
    fake.seen.length = 0;

    const { records, watermarks } = await readUpTo(diagnosticsSource({ windowInMs: 3 * HOUR, maxBytesPerQuery: MAX_RESULT_BYTES / 2 }), from, to);

    expect(records).toEqual(expected.records);
    expect(watermarks.at(-1)).toBe(to);
    const data = fake.seen.filter((q) => !q.size);
    expect(data.length).toBeGreaterThan(2);
    expect(fake.seen.some((q) => q.partial)).toBe(false);
    for (let i = 1; i < data.length; i++) expect(data[i]!.from).toBe(data[i - 1]!.to);
  });

  it('reads a window whose queries run past their time limit (504) in halves that finish in time, never running a timed-out query again', async () => {
    fake.maxRowsInTime = 60;
    const from = '2026-11-21T08:00:00.000Z';
    const to = '2026-11-21T11:00:00.000Z';
    const expected = expectedWindow(from, to);
    expect(expected.records.length).toBeGreaterThan(3 * 60);

    const { records, watermarks } = await readUpTo(diagnosticsSource({ windowInMs: 3 * HOUR }), from, to);

    expect(records).toEqual(expected.records);
    expect(watermarks.at(-1)).toBe(to);
    expect(fake.timedOut.length).toBeGreaterThan(0);
    // Each timed-out query was not retried: no backoff, and every answered query differs from the others.
    expect(delays).toEqual([]);
    const answered = fake.seen.map((q) => `${q.size} ${q.from} ${q.to}`);
    expect(new Set(answered).size).toBe(answered.length);
    expect(fake.seen.every((q) => q.rows <= 60 && q.prefer === 'wait=120')).toBe(true);
  });

  it('asks the service for the configured time limit, and fails the run with a TransientStoreError when a minute of records still runs past it', async () => {
    fake.maxRowsInTime = 0;
    // Just before a record's ingestion: every first half of the window holds it.
    const ingested = diagnosticRows.find((r) => r.ingestedAt > Date.parse('2026-11-21T09:00:00.000Z'))!.ingestedAt;
    const error = await diagnosticsSource({ queryTimeoutInSeconds: 45 }).readSince(new Date(ingested - 1).toISOString()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(QueryTimeoutError);
    expect(error).toBeInstanceOf(TransientStoreError);
    expect(String(error)).toMatch(/ran past its limit of 45 s/);
    // The hour's first half halved six times, down to 56.25 s: seven queries, none retried.
    expect(fake.timedOut).toEqual(Array.from({ length: 7 }, () => 'wait=45'));
    expect(fake.posts).toBe(7);
    expect(delays).toEqual([]);
  });

  describe('reconciliation sources', () => {
    const window = { from: new Date('2026-11-21T06:00:00.000Z'), to: new Date('2026-11-21T18:00:00.000Z') };
    const sources = (limits: ResultLimits = {}) => new AzureReconciliationSources({ logs: client, workspaceId: WORKSPACE, sleep, ...limits });
    const byId = <T extends { correlationId: string } | { gatewayRequestId: string }>(items: readonly T[]) =>
      new Map(items.map((item) => ['correlationId' in item ? item.correlationId : item.gatewayRequestId, item]));

    it('read every RequestResponse record of a window once, in one query or in parts that each fit', async () => {
      fake.maxResultBytes = MAX_RESULT_BYTES;
      const expected = diagnosticRows.filter((r) => r.timeGenerated >= window.from.getTime() && r.timeGenerated < window.to.getTime() && r.expected.ok);
      expect(expected.length).toBeGreaterThan(500);

      const inParts = await sources({ maxBytesPerQuery: MAX_RESULT_BYTES / 2 }).records(window);
      expect(fake.seen.filter((q) => !q.size).length).toBeGreaterThan(2);
      expect(fake.seen.some((q) => q.partial)).toBe(false);
      fake.seen.length = 0;
      const inOne = await sources({ maxRowsPerQuery: 500_000 }).records({ from: window.from, to: new Date('2026-11-21T07:00:00.000Z') });

      expect(inParts).toHaveLength(expected.length);
      expect(byId(inParts)).toEqual(new Map(expected.map((r) => [r.correlationId, r.expected.ok ? r.expected.record : null])));
      expect(fake.seen.map((q) => [q.file, q.size])).toEqual([
        ['reconcile-requestresponse.kql', true],
        ['reconcile-requestresponse.kql', false],
      ]);
      expect(inOne.length).toBeGreaterThan(0);
    });

    it('read one LLM usage row per request, the same whether a window is read whole or in parts that cut through requests', async () => {
      const whole = await sources().llmUsage(window);
      expect(fake.seen.filter((q) => !q.size)).toHaveLength(1);
      fake.reset();
      const inParts = await sources({ maxRowsPerQuery: 97 }).llmUsage(window);
      expect(fake.seen.filter((q) => !q.size).length).toBeGreaterThan(10);

      const expected = new Map<string, { promptTokens: number; completionTokens: number }>();
      for (const row of llmRows) {
        if (row.TimeGenerated < window.from.getTime() || row.TimeGenerated >= window.to.getTime()) continue;
        const known = expected.get(row.CorrelationId) ?? { promptTokens: 0, completionTokens: 0 };
        expected.set(row.CorrelationId, { promptTokens: Math.max(known.promptTokens, row.PromptTokens), completionTokens: Math.max(known.completionTokens, row.CompletionTokens) });
      }
      expect(new Map(whole.map((r) => [r.gatewayRequestId, { promptTokens: r.promptTokens, completionTokens: r.completionTokens }]))).toEqual(expected);
      expect(whole).toHaveLength(expected.size);
      expect(byId(inParts)).toEqual(byId(whole));
      expect(whole.every((r) => r.deployment !== '')).toBe(true);
    });
  });

  /** One hour with one gateway request (1,500 tokens of gpt-4o) in the ledger, and the Azure sources of the fake. */
  async function oneRequestWindow() {
    const window = { from: new Date('2026-11-21T06:00:00.000Z'), to: new Date('2026-11-21T07:00:00.000Z') };
    const ledger = new MemoryLedgerStore();
    await ledger.createEntries([ledgerEntry({ id: 'req-1', apimRequestId: 'req-1', gatewayRequestId: 'gw-1', time: '2026-11-21T06:10:00.000Z', deployment: 'gpt-4o', tokens: { source: 'gateway', promptTokens: 1000, cachedTokens: 0, completionTokens: 500, reasoningTokens: 0 } })]);
    return { window, ledger, sources: new AzureReconciliationSources({ logs: client, workspaceId: WORKSPACE, sleep }) };
  }

  it('reconciles a window of a workspace without ApiManagementGatewayLlmLog: llm-tokens unavailable, naming the table, the other checks stored', async () => {
    fake.missingTables.add('ApiManagementGatewayLlmLog');
    const { window, ledger, sources } = await oneRequestWindow();
    await expect(sources.llmUsage(window)).rejects.toMatchObject({ statusCode: 400 });

    const results = await reconcileWindow({ ledger, sources }, window, { gatewayObjectIds: new Set() });
    const llm = results.filter((r) => r.check === 'llm-tokens');
    expect(llm.map((r) => [r.window, r.deployment, r.status, r.expected, r.actual])).toEqual([['2026-11-21T06', 'gpt-4o', 'unavailable', null, 1500]]);
    expect(llm[0]!.reason).toBe(
      "HTTP 400 BadArgumentError: The request had some invalid properties (SEM0100: 'where' operator: Failed to resolve table or column expression named 'ApiManagementGatewayLlmLog')",
    );
    expect(results.some((r) => r.check === 'requests')).toBe(true);
  });

  it('reads a workspace without AzureDiagnostics as one holding no records yet: the watermark moves on, and the first records are read once the table exists', async () => {
    fake.missingTables.add('AzureDiagnostics');
    const source = diagnosticsSource();
    const before = await source.readSince('2026-11-21T09:00:00.000Z');
    expect(before).toEqual({ records: [], rejected: [], nextWatermark: `2026-11-21T10:00:00.000Z/${NOW.toISOString()}`, more: true });

    fake.missingTables.delete('AzureDiagnostics');
    const after = await source.readSince(before.nextWatermark);
    expect(after.records).toEqual(expectedWindow('2026-11-21T10:00:00.000Z', '2026-11-21T11:00:00.000Z').records);
    expect(after.records.length).toBeGreaterThan(50);
  });

  it('reconciles a window of a workspace without AzureDiagnostics: requests unavailable, naming the table, the token checks graded', async () => {
    fake.missingTables.add('AzureDiagnostics');
    const { window, ledger, sources } = await oneRequestWindow();
    await expect(sources.records(window)).rejects.toBeInstanceOf(MissingTableError);

    const results = await reconcileWindow({ ledger, sources }, window, { gatewayObjectIds: new Set() });
    expect(results.filter((r) => r.check === 'requests').map((r) => [r.window, r.deployment, r.status, r.expected, r.actual, r.gatewayOnlyCount])).toEqual([['2026-11-21T06', 'gpt-4o', 'unavailable', null, 1, 0]]);
    expect(results.find((r) => r.check === 'requests')!.reason).toBe('the workspace holds no AzureDiagnostics table yet (Azure Monitor creates it when its first row arrives)');
    expect(results.some((r) => r.check === 'bypass')).toBe(false);
    const llm = results.filter((r) => r.check === 'llm-tokens');
    expect(llm.length).toBeGreaterThan(1);
    expect(llm.every((r) => r.status !== 'unavailable' && r.expected !== null)).toBe(true);
  });

  it('reads LLM token usage per gateway request id, each count from the row that has it, 1,000 ids per query, hostile ids kept as data', async () => {
    const ids = [...new Set(llmRows.map((r) => r.CorrelationId))].slice(0, 2_400);
    const hostile = ['x" | union AzureDiagnostics', '\\" | union *', 'a"])) | take 1'];
    const source = new LogAnalyticsLlmUsageSource({ client, workspaceId: WORKSPACE, sleep });

    const usage = await source.getUsage([...ids, ...hostile, ids[0]!], { from: new Date(`${DAY}T00:00:00Z`), to: new Date(`${DAY}T23:59:59.999Z`) });

    const expected = new Map<string, { promptTokens: number; completionTokens: number; totalTokens: number }>();
    for (const row of llmRows.filter((r) => ids.includes(r.CorrelationId))) {
      const known = expected.get(row.CorrelationId) ?? { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
      expected.set(row.CorrelationId, {
        promptTokens: Math.max(known.promptTokens, row.PromptTokens),
        completionTokens: Math.max(known.completionTokens, row.CompletionTokens),
        totalTokens: Math.max(known.totalTokens, row.TotalTokens),
      });
    }
    expect(new Map(usage.map(({ gatewayRequestId, ...tokens }) => [gatewayRequestId, tokens]))).toEqual(expected);
    expect(usage).toHaveLength(ids.length);
    expect(llmRows.filter((r) => ids.includes(r.CorrelationId)).length).toBeGreaterThan(expected.size);
    expect(fake.seen.map((q) => q.file)).toEqual(['gateway-llm-usage.kql', 'gateway-llm-usage.kql', 'gateway-llm-usage.kql']);
  });

  it('reads no LLM token usage for a request whose token row is outside the range and only its message rows inside', async () => {
    const streamed = llmRows.filter((r) => r.DeploymentName === '' && llmRows.some((t) => t.CorrelationId === r.CorrelationId && t.TimeGenerated < r.TimeGenerated));
    expect(streamed.length).toBeGreaterThan(0);
    const [message] = streamed;
    const source = new LogAnalyticsLlmUsageSource({ client, workspaceId: WORKSPACE, sleep });

    const messageOnly = await source.getUsage([message!.CorrelationId], { from: new Date(message!.TimeGenerated), to: new Date(message!.TimeGenerated + 60_000) });
    const whole = await source.getUsage([message!.CorrelationId], { from: new Date(message!.TimeGenerated - 60_000), to: new Date(message!.TimeGenerated + 60_000) });

    expect(messageOnly).toEqual([]);
    expect(whole).toHaveLength(1);
    expect(whole[0]!.totalTokens).toBeGreaterThan(0);
  });

  /** The LLM usage of 400 requests of the day, read whole, then again after `fault` (which the fake serves next). */
  async function usageWholeThenAfter(fault: () => void) {
    const ids = [...new Set(llmRows.map((r) => r.CorrelationId))].slice(0, 400);
    const source = new LogAnalyticsLlmUsageSource({ client, workspaceId: WORKSPACE, sleep });
    const range = { from: new Date(`${DAY}T00:00:00Z`), to: new Date(`${DAY}T23:59:59.999Z`) };
    const whole = await source.getUsage(ids, range);
    fake.reset();
    fault();
    return { whole, inHalves: await source.getUsage(ids, range) };
  }

  it('reads LLM token usage in halves of the id list when a query runs past its time limit', async () => {
    const { whole, inHalves } = await usageWholeThenAfter(() => (fake.maxRowsInTime = 90));

    expect(fake.timedOut.length).toBeGreaterThan(0);
    expect(fake.seen.every((q) => q.rows <= 90)).toBe(true);
    expect(new Map(inHalves.map((u) => [u.gatewayRequestId, u]))).toEqual(new Map(whole.map((u) => [u.gatewayRequestId, u])));
    expect(inHalves).toHaveLength(whole.length);
    expect(delays).toEqual([]);
  });

  it('reads LLM token usage in halves of the id list when a query answers a partial result, never taking its rows', async () => {
    const { whole, inHalves } = await usageWholeThenAfter(() => fake.failNext('gateway-llm-usage.kql', { kind: 'partial' }));

    expect(fake.seen.map((q) => q.partial)).toEqual([true, false, false]);
    expect(new Map(inHalves.map((u) => [u.gatewayRequestId, u]))).toEqual(new Map(whole.map((u) => [u.gatewayRequestId, u])));
    expect(inHalves).toHaveLength(whole.length);
  });
});
