import { RestError } from '@azure/core-rest-pipeline';
import { LogsQueryResultStatus } from '@azure/monitor-query-logs';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseArchiveBlob, ArchiveDiagnosticsSource } from '../../src/adapters/archive/archive-diagnostics-source.js';
import { LogAnalyticsDiagnosticsSource, type LogsQuerier } from '../../src/adapters/log-analytics/log-analytics-diagnostics-source.js';
import type { DiagnosticRecord, GatewayMatch, StoredDiagnostic } from '../../src/contracts/diagnostic-record.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { joinAll, mergeStoredRecords } from '../../src/domain/join.js';
import { mergeByRequest } from '../../src/domain/ledger.js';
import { archivePosition, isLaterJoinWatermark } from '../../src/domain/join-watermark.js';
import { sortBatch } from '../../src/services/ingest-batch.js';
import { applyRecords, joinCounts, joinDiagnostics, type JoinPorts } from '../../src/services/join-diagnostics.js';
import type { ArchiveListing, ArchiveReader } from '../../src/ports/archive.js';
import type { LlmUsageSource } from '../../src/ports/diagnostics-source.js';
import type { DiagnosticsStore } from '../../src/ports/diagnostics-store.js';
import { TransientStoreError, type LedgerStore } from '../../src/ports/ledger-store.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { rollupChargeback } from '../../src/services/rollup-chargeback.js';
import { trafficReport } from '../../src/services/traffic-report.js';
import { expectConditionalRecordWrites } from '../support/diagnostics-store-contract.js';
import { diagnosticRecord } from '../support/diagnostic-records.js';
import { ledgerEntry } from '../support/ledger-entries.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore, MemoryWatermarkStore } from '../support/memory-stores.js';

const fixture = readFileSync(new URL('../fixtures/aoai-requestresponse.archive.jsonl', import.meta.url), 'utf8');
const DAY = '2026-11-20';
const AFTER_EVERYTHING = new Date('2026-11-25T00:00:00Z');

/** Blobs written once, long before any read. */
const WRITTEN = new Date('2000-01-01T00:00:00Z');

/** An archive listing of these paths, each written once long before. */
function listingOf(paths: Iterable<string>): ArchiveListing {
  return { entries: [...paths].map((path) => ({ path, lastModified: WRITTEN })), listedAt: AFTER_EVERYTHING };
}

/** The simulator's archive folder as an archive reader (in memory). */
function archiveOf(archive: ReadonlyMap<string, readonly string[]>): ArchiveReader {
  return {
    list: async () => listingOf(archive.keys()),
    lines: async function* (path) {
      yield archive.get(path) ?? [];
    },
  };
}

function entriesOf(lines: readonly string[]): LedgerEntry[] {
  const { entries } = sortBatch(lines.map((body) => ({ body, position: { partitionId: '0', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } })));
  return [...mergeByRequest(entries).values()];
}

async function pipeline(requests: number, seed: number) {
  const day = simulateDay({ requests, seed, day: DAY });
  const ledger = new MemoryLedgerStore();
  await ledger.createEntries(entriesOf(day.eventLines));
  const ports: JoinPorts = {
    source: new ArchiveDiagnosticsSource(archiveOf(day.archive), { now: () => AFTER_EVERYTHING, maxRecordsPerRead: 300 }),
    watermarks: new MemoryWatermarkStore(),
    ledger,
    diagnostics: new MemoryDiagnosticsStore(),
    deadLetters: new MemoryDeadLetterStore(),
    aggregates: new MemoryAggregateStore(),
  };
  return { day, ports, ledger, diagnostics: ports.diagnostics as MemoryDiagnosticsStore };
}

const range = { from: new Date(`${DAY}T00:00:00Z`), to: new Date(`${DAY}T23:59:59.999Z`) };

describe('RequestResponse archive records', () => {
  it('parses properties given as a JSON string and as an object, and keeps a record whose duration is negative, noting why', () => {
    const { records, rejected } = parseArchiveBlob('insights-logs-requestresponse/x/PT1H.json', fixture);
    expect(records.map((r) => [r.operationName, r.modelDeploymentName, r.regionCode, r.durationMs])).toEqual([
      ['Create_Thread', null, 'eastus', 102],
      ['ChatCompletions_Create', 'gpt-chat-pilot', 'eastus', 1021],
      ['ChatCompletions_Create', 'dall-e-3', 'eastus', null],
    ]);
    expect(records[2]!.notes).toEqual(['durationMs -1021 is negative or not a number; kept as null']);
    expect(records[2]!.modelName).toBe('dall-e-3');
    expect(records[1]!.notes).toBeUndefined();
    expect(rejected).toEqual([]);
  });

  // Learn, "Prepare for format change to Azure Monitor resource logs archived to a storage account": a blob written
  // before the change is one object holding a `records` array, the page's sample indented over many lines.
  it('reads a blob of the layout before JSON Lines, one {"records": […]} object indented or on one line, record by record', () => {
    const objects = fixture.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as unknown);
    const expected = parseArchiveBlob('p', fixture).records;
    for (const text of [JSON.stringify({ records: objects }, null, 4), JSON.stringify({ records: objects })]) {
      const { records, rejected } = parseArchiveBlob('p', text);
      expect(records).toEqual(expected);
      expect(rejected).toEqual([]);
    }
    const { rejected } = parseArchiveBlob('p', JSON.stringify({ records: [objects[1], { operationName: 'x' }] }, null, 2));
    expect(rejected.map((r) => r.source)).toEqual(['p#records[1]']);
    expect(parseArchiveBlob('p', '{\n  "value": []\n}').rejected.map((r) => r.reason)).toEqual(['blob is one JSON object without a "records" array']);
  });

  it('reads again a blob of an hour already read that was written since, within the hours Azure may still append to', async () => {
    const path = `insights-logs-requestresponse/resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/A/y=2026/m=11/d=20/h=10/m=00/PT1H.json`;
    const lines = fixture.split('\n').filter((line) => line.trim() !== '');
    const archive: ArchiveReader = {
      list: async () => ({ entries: [{ path, lastModified: new Date('2026-11-21T09:00:05Z') }], listedAt: new Date('2026-11-21T09:30:00Z') }),
      lines: async function* () {
        yield lines;
      },
    };
    const watermark = `${DAY}T10/2026-11-21T09:00:00.000Z`;
    const within = await new ArchiveDiagnosticsSource(archive, { now: () => new Date('2026-11-21T09:30:00Z') }).readSince(watermark);
    expect(within.records).toHaveLength(3);
    expect(within.nextWatermark).toBe(`${DAY}T10/2026-11-21T09:30:00.000Z`);
    // A blob of an hour over 72 hours old written again (a container restored or copied) is not read again.
    const restored = await new ArchiveDiagnosticsSource(archive, { now: () => new Date('2026-11-23T11:00:00Z') }).readSince(watermark);
    expect(restored.records).toEqual([]);
  });

  it('holds back the last line of a blob read in the middle of an append, reads it once complete, and rejects it once the blob is quiet', async () => {
    const path = `insights-logs-requestresponse/resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/A/y=2026/m=11/d=20/h=10/m=00/PT1H.json`;
    const [first, second] = fixture.split('\n').filter((line) => line.trim() !== '');
    const cut = second!.slice(0, 90);
    const archiveAt = (lines: readonly string[], lastModified: string, listedAt: string): ArchiveReader => ({
      list: async () => ({ entries: [{ path, lastModified: new Date(lastModified) }], listedAt: new Date(listedAt) }),
      lines: async function* () {
        yield lines;
      },
    });
    const readAt = (archive: ArchiveReader, watermark: string | null) => new ArchiveDiagnosticsSource(archive, { now: () => new Date('2026-11-20T11:30:00Z') }).readSince(watermark);
    // Written a minute before the listing: the cut line waits, and the watermark names the blob's time, not the listing's.
    const during = await readAt(archiveAt([first!, cut], '2026-11-20T11:29:00Z', '2026-11-20T11:30:00Z'), null);
    expect({ records: during.records.length, rejected: during.rejected, watermark: during.nextWatermark }).toEqual({ records: 1, rejected: [], watermark: `${DAY}T10/2026-11-20T11:29:00.000Z` });
    // The append ends: the blob is read again, the record whole.
    const after = await readAt(archiveAt([first!, second!], '2026-11-20T11:31:00Z', '2026-11-20T11:40:00Z'), during.nextWatermark);
    expect({ records: after.records.length, rejected: after.rejected }).toEqual({ records: 2, rejected: [] });
    // A line still cut in a blob nobody has written to for ten minutes is no append in progress: rejected.
    const quiet = await readAt(archiveAt([first!, cut], '2026-11-20T11:29:00Z', '2026-11-20T11:39:00Z'), during.nextWatermark);
    expect(quiet.rejected.map((r) => r.reason)).toEqual(['line is not JSON']);
  });

  it('reads the first record of a copy that begins with a UTF-8 byte-order mark', () => {
    const { records, rejected } = parseArchiveBlob('p', `\uFEFF${fixture}`);
    expect(records).toEqual(parseArchiveBlob('p', fixture).records);
    expect(rejected).toEqual([]);
  });

  it('rejects a line that is not JSON without stopping the blob', () => {
    const { records, rejected } = parseArchiveBlob('p', `${fixture.split('\n')[0]}\n{not json\n`);
    expect(records).toHaveLength(1);
    expect(rejected.map((r) => r.reason)).toEqual(['line is not JSON']);
  });

  it('reads only complete hours and resumes after the watermark', async () => {
    const day = simulateDay({ requests: 300, seed: 3, day: DAY });
    const noon = new Date(`${DAY}T12:30:00Z`);
    const source = new ArchiveDiagnosticsSource(archiveOf(day.archive), { now: () => noon, settleMinutes: 15 });
    const first = await source.readSince(null);
    expect(first.nextWatermark).toBe(`${DAY}T11/${AFTER_EVERYTHING.toISOString()}`);
    expect(first.records.every((r) => r.time < `${DAY}T12`)).toBe(true);
    const again = await source.readSince(first.nextWatermark);
    expect(again).toEqual({ records: [], rejected: [], nextWatermark: null, more: false });
  });

  it('goes on from the watermark Log Analytics left when the join moves to the archive, reading the two hours before it again', async () => {
    const day = simulateDay({ requests: 300, seed: 3, day: DAY });
    const source = new ArchiveDiagnosticsSource(archiveOf(day.archive), { now: () => new Date(`${DAY}T12:30:00Z`), settleMinutes: 15 });
    const read = await source.readSince(`${DAY}T10:23:45.000Z/${DAY}T10:30:00.000Z`);
    // The blobs of hours 09 to 11 (a blob holds a few records of the hour before it too).
    const hours = [...new Set(read.records.map((r) => r.time.slice(0, 13)))].sort();
    expect(hours.filter((hour) => hour >= `${DAY}T09`)).toEqual([`${DAY}T09`, `${DAY}T10`, `${DAY}T11`]);
    expect(hours[0]! >= `${DAY}T08`).toBe(true);
    expect(read.nextWatermark).toBe(`${DAY}T11/${AFTER_EVERYTHING.toISOString()}`);
  });

  it("stores the archive's watermark once it has read past the one Log Analytics left, though as text it sorts before it", async () => {
    const { day, ports: archived } = await pipeline(300, 3);
    // At 13:30 the archive's hours up to 12 are complete: it reads from hour 10 (two hours before Log Analytics' 12:00) to 12.
    const now = new Date(`${DAY}T13:30:00Z`);
    const ports = { ...archived, source: new ArchiveDiagnosticsSource(archiveOf(day.archive), { now: () => now, settleMinutes: 15 }) };
    const watermarks = ports.watermarks as MemoryWatermarkStore;
    await watermarks.set('w', `${DAY}T12:00:00.000Z/${DAY}T12:05:00.000Z`);
    await joinDiagnostics(ports, { now, graceInMs: 7_200_000, watermarkName: 'w' });
    expect(archivePosition((await watermarks.get('w'))!).hour).toBe(`${DAY}T12`);
    expect(isLaterJoinWatermark(`${DAY}T12/${DAY}T14:20:00.000Z`, `${DAY}T12:00:00.000Z/${DAY}T12:05:00.000Z`)).toBe(true);
    expect(isLaterJoinWatermark(`${DAY}T10/${DAY}T14:20:00.000Z`, `${DAY}T12:00:00.000Z/${DAY}T12:05:00.000Z`)).toBe(false);
  });

  it('reads again, after Log Analytics, a blob of an old hour written after what Log Analytics had read by ingestion time', async () => {
    const day = simulateDay({ requests: 300, seed: 3, day: DAY });
    const late = [...day.archive.keys()].find((path) => path.includes('/h=05/'))!;
    // Appended at 10:27: after Log Analytics' horizon (ingested before 10:25), before its read at 10:30.
    const archive: ArchiveReader = {
      list: async () => ({ entries: [...day.archive.keys()].map((path) => ({ path, lastModified: path === late ? new Date(`${DAY}T10:27:00Z`) : WRITTEN })), listedAt: AFTER_EVERYTHING }),
      lines: async function* (path) {
        yield day.archive.get(path) ?? [];
      },
    };
    const source = new ArchiveDiagnosticsSource(archive, { now: () => new Date(`${DAY}T12:30:00Z`), settleMinutes: 15 });
    const read = await source.readSince(`${DAY}T10:25:00.000Z/${DAY}T10:30:00.000Z`);
    const lateIds = parseArchiveBlob(late, day.archive.get(late)!.join('\n')).records.map((r) => r.correlationId);
    expect(lateIds.length).toBeGreaterThan(0);
    expect(read.records.map((r) => r.correlationId)).toEqual(expect.arrayContaining(lateIds));
  });

  it('lets Log Analytics go on from the watermark the archive left when the app is given a workspace', async () => {
    const queries: string[] = [];
    // A workspace with no records: the size query answers 0 rows, the data query an empty table.
    const emptyWorkspace: LogsQuerier = {
      async queryWorkspace(_workspace: string, query: string) {
        queries.push(query);
        const size = query.includes('summarize Records');
        const table = size ? { name: 'PrimaryResult', columnDescriptors: [{ name: 'Records', type: 'long' }, { name: 'Bytes', type: 'long' }], rows: [[0, 0]] } : { name: 'PrimaryResult', columnDescriptors: [], rows: [] };
        return { status: LogsQueryResultStatus.Success, tables: [table] } as never;
      },
    };
    const now = new Date(`${DAY}T13:00:00Z`);
    const source = new LogAnalyticsDiagnosticsSource({ client: emptyWorkspace, workspaceId: '3b6a5c1e-0d2f-4c8e-9a7b-5e4d3c2b1a00', windowInMs: 3_600_000, settleInMs: 5 * 60_000, now: () => now });
    const read = await source.readSince(`${DAY}T10/${DAY}T11:20:00.000Z`);
    expect(read.records).toEqual([]);
    // Ingestion time from the end of the archive's last hour on, one window (an hour) a read.
    expect(read.nextWatermark).toBe(`${DAY}T12:00:00.000Z/${now.toISOString()}`);
    expect(queries.length).toBeGreaterThan(0);
  });

  it("reads an hour's blob of a busy account (150,000 records, some lines not JSON) whole, streamed in pieces", async () => {
    const line = fixture.split('\n')[1]!;
    const path = 'insights-logs-requestresponse/resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/A/y=2024/m=05/d=24/h=12/m=00/PT1H.json';
    const lines = Array.from({ length: 150_000 }, (_, i) => (i % 50_000 === 7 ? '{not json' : line.replace('d427a391', i.toString(16).padStart(8, '0'))));
    const pieces = function* () {
      for (let i = 0; i < lines.length; i += 4_096) yield lines.slice(i, i + 4_096);
    };
    const archive: ArchiveReader = { list: async () => listingOf([path]), lines: async function* () { yield* pieces(); } };
    const read = await new ArchiveDiagnosticsSource(archive, { now: () => new Date('2024-05-25T00:00:00Z') }).readSince(null);
    expect(read.records).toHaveLength(150_000 - 3);
    expect(new Set(read.records.map((r) => r.correlationId)).size).toBe(150_000 - 3);
    expect(read.rejected.map((r) => r.source)).toEqual([8, 50_008, 100_008].map((n) => `${path}#L${n}`));
    expect(read.nextWatermark).toBe(`2024-05-24T12/${AFTER_EVERYTHING.toISOString()}`);
  });
});

describe('join of gateway requests to diagnostics (in-memory fake stores)', () => {
  it("matches, settles and finds bypass traffic exactly as the simulator's ground truth says", async () => {
    const { day, ports, ledger, diagnostics } = await pipeline(1500, 21);
    await joinDiagnostics(ports, { now: AFTER_EVERYTHING, graceInMs: 7_200_000, watermarkName: 'w' });
    expect(await joinCounts(ledger, diagnostics, range)).toEqual(day.groundTruth.join);
  });

  it('gives the same counts as the in-memory join used for offline analysis', async () => {
    const { day, ports, ledger, diagnostics } = await pipeline(800, 5);
    await joinDiagnostics(ports, { now: AFTER_EVERYTHING, graceInMs: 7_200_000, watermarkName: 'w' });
    const records: DiagnosticRecord[] = [...day.archive.entries()].flatMap(([path, lines]) => parseArchiveBlob(path, lines.join('\n')).records);
    expect(joinAll(entriesOf(day.eventLines), records).counts).toEqual(await joinCounts(ledger, diagnostics, range));
  });

  it('leaves the ledger unchanged when the same diagnostics are replayed three times', async () => {
    const { ports, ledger, diagnostics } = await pipeline(600, 8);
    await joinDiagnostics(ports, { now: AFTER_EVERYTHING, graceInMs: 7_200_000, watermarkName: 'first' });
    const ledgerAfterOne = ledger.snapshot();
    const diagnosticsAfterOne = diagnostics.snapshot();
    for (const name of ['second', 'third', 'fourth']) await joinDiagnostics(ports, { now: AFTER_EVERYTHING, graceInMs: 7_200_000, watermarkName: name });
    expect(ledger.snapshot()).toEqual(ledgerAfterOne);
    expect(diagnostics.snapshot()).toEqual(diagnosticsAfterOne);
  });

  it('takes a record read again, as an overlapping read gives it, as a no-op: no store write, no hour marked for the rollup', async () => {
    const { day, ports } = await pipeline(500, 17);
    await joinDiagnostics(ports, { now: AFTER_EVERYTHING, graceInMs: 7_200_000, watermarkName: 'w' });
    const records = [...day.archive.entries()].flatMap(([path, lines]) => parseArchiveBlob(path, lines.join('\n')).records);
    const calls = { writeRecords: 0, ledgerWrites: 0, markDirty: 0 };
    const counted: JoinPorts = {
      ...ports,
      diagnostics: Object.assign(Object.create(ports.diagnostics) as DiagnosticsStore, {
        writeRecords: (...args: Parameters<DiagnosticsStore['writeRecords']>) => (calls.writeRecords++, ports.diagnostics.writeRecords(...args)),
      }),
      ledger: Object.assign(Object.create(ports.ledger) as LedgerStore, {
        writeEntries: (...args: Parameters<LedgerStore['writeEntries']>) => (calls.ledgerWrites++, ports.ledger.writeEntries(...args)),
      }),
      aggregates: { markDirty: async () => void calls.markDirty++ },
    };

    await applyRecords(records, counted, {});

    expect(records.length).toBeGreaterThan(400);
    expect(calls).toEqual({ writeRecords: 0, ledgerWrites: 0, markDirty: 0 });
  });

  it('settles nothing inside the grace period, then upgrades a settled request when its late record arrives', async () => {
    const { day, ports, ledger } = await pipeline(400, 13);
    // Hold back the archive's last hour: it holds records that arrived up to 30 hours late.
    const blobs = [...day.archive.entries()];
    const lastHour = blobs.map(([path]) => path.replace(/.*y=(\d+)\/m=(\d+)\/d=(\d+)\/h=(\d+).*/, '$1$2$3$4')).sort().at(-1)!;
    const inLastHour = ([path]: [string, readonly string[]]) => path.replace(/.*y=(\d+)\/m=(\d+)\/d=(\d+)\/h=(\d+).*/, '$1$2$3$4') === lastHour;
    const late = blobs.filter(inLastHour);
    const early: ArchiveReader = archiveOf(new Map(blobs.filter((b) => !inLastHour(b))));
    const withEarly: JoinPorts = { ...ports, source: new ArchiveDiagnosticsSource(early, { now: () => AFTER_EVERYTHING }) };
    await joinDiagnostics(withEarly, { now: new Date(`${DAY}T00:30:00Z`), graceInMs: 7_200_000, watermarkName: 'w' });
    expect(ledger.snapshot().filter((e) => e.diagnostics?.status === 'none')).toEqual([]);

    await joinDiagnostics(withEarly, { now: AFTER_EVERYTHING, graceInMs: 7_200_000, watermarkName: 'w' });
    const lateIds = new Set(late.flatMap(([path, lines]) => parseArchiveBlob(path, lines.join('\n')).records.map((r) => r.correlationId)));
    const settledNone = ledger.snapshot().filter((e) => e.apimRequestId && lateIds.has(e.apimRequestId) && e.diagnostics?.status === 'none');
    expect(settledNone.length).toBeGreaterThan(0);

    const withAll: JoinPorts = { ...ports, source: new ArchiveDiagnosticsSource(archiveOf(day.archive), { now: () => AFTER_EVERYTHING }) };
    await joinDiagnostics(withAll, { now: AFTER_EVERYTHING, graceInMs: 7_200_000, watermarkName: 'w' });
    const upgraded = ledger.snapshot().filter((e) => settledNone.some((s) => s.id === e.id));
    expect(upgraded.every((e) => e.diagnostics?.status === 'matched')).toBe(true);
  });

  it('takes tokens of interrupted streams from the APIM LLM log and records that source', async () => {
    const { ports, ledger } = await pipeline(1500, 17);
    const streamed = ledger.snapshot().filter((e) => e.stream && e.tokens.source === 'none' && e.status === 200);
    expect(streamed.length).toBeGreaterThan(0);
    const asked: string[] = [];
    const llmUsage: LlmUsageSource = {
      getUsage: async (ids) => {
        asked.push(...ids);
        return ids.map((gatewayRequestId) => ({ gatewayRequestId, promptTokens: 40, completionTokens: 7, totalTokens: 47 }));
      },
    };
    await joinDiagnostics({ ...ports, llmUsage }, { now: AFTER_EVERYTHING, graceInMs: 7_200_000, watermarkName: 'w' });
    const after = new Map(ledger.snapshot().map((e) => [e.id, e]));
    for (const entry of streamed) {
      expect(after.get(entry.id)!.tokens).toEqual({ source: 'llm-log', promptTokens: 40, cachedTokens: 0, completionTokens: 7, reasoningTokens: 0 });
    }
    const streamedIds = new Set(ledger.snapshot().filter((e) => e.stream).map((e) => e.gatewayRequestId));
    expect(asked.every((id) => streamedIds.has(id))).toBe(true);
  });

  it.each(['the mark after the writes', 'a ledger write that landed'])('leaves the hour of an enriched entry marked for the rollup when %s fails and the run is retried', async (failing) => {
    const hour = `${DAY}T10`;
    const ledger = new MemoryLedgerStore();
    const aggregates = new MemoryAggregateStore();
    const uncounted = { source: 'none' as const, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 };
    await ledger.createEntries([1, 2].map((n) => ledgerEntry({ id: `req-${n}`, gatewayRequestId: `gw-${n}`, apimRequestId: `req-${n}`, time: `${hour}:15:0${n}.000Z`, stream: true, tokens: uncounted })));
    let wrote = false;
    let failed = false;
    const fail = () => {
      failed = true;
      throw new TransientStoreError('429 from the store');
    };
    const writeEntries = ledger.writeEntries.bind(ledger);
    ledger.writeEntries = async (...args) => {
      const outcome = await writeEntries(...args);
      wrote = true;
      if (failing.startsWith('a ledger write') && !failed) fail();
      return outcome;
    };
    const markDirty = aggregates.markDirty.bind(aggregates);
    aggregates.markDirty = async (...args) => (failing.startsWith('the mark') && wrote && !failed ? fail() : markDirty(...args));
    const ports: JoinPorts = {
      source: { readSince: async () => ({ records: [], rejected: [], nextWatermark: null, more: false }) },
      watermarks: new MemoryWatermarkStore(),
      ledger,
      diagnostics: new MemoryDiagnosticsStore(),
      deadLetters: new MemoryDeadLetterStore(),
      aggregates,
      llmUsage: { getUsage: async (ids) => ids.map((gatewayRequestId) => ({ gatewayRequestId, promptTokens: 1000, completionTokens: 500, totalTokens: 1500 })) },
    };
    const run = () => joinDiagnostics(ports, { now: new Date(`${hour}:30:00Z`), graceInMs: 7_200_000, watermarkName: 'w' });

    await expect(run()).rejects.toThrow(TransientStoreError);
    expect(failed).toBe(true);
    await run();

    expect(ledger.snapshot().map((e) => [e.tokens.source, e.tokens.promptTokens])).toEqual([
      ['llm-log', 1000],
      ['llm-log', 1000],
    ]);
    expect([...aggregates.dirty.keys()]).toEqual([hour]);
  });

  it('settles requests without LLM-log tokens when the log fails for good (a workspace without its table), and says why; a transient failure still fails the run', async () => {
    const { ports, ledger } = await pipeline(1500, 17);
    const missing = new RestError("'where' operator: Failed to resolve table or column expression named 'ApiManagementGatewayLlmLog'", { code: 'BadArgumentError', statusCode: 400 });
    const throttled = new RestError('Your request was throttled', { code: 'ThrottledError', statusCode: 429 });
    const failing = (error: RestError): LlmUsageSource => ({ getUsage: () => Promise.reject(error) });
    await expect(joinDiagnostics({ ...ports, llmUsage: failing(throttled) }, { now: AFTER_EVERYTHING, graceInMs: 7_200_000, watermarkName: 'w' })).rejects.toThrow(/throttled/);

    const result = await joinDiagnostics({ ...ports, llmUsage: failing(missing) }, { now: AFTER_EVERYTHING, graceInMs: 7_200_000, watermarkName: 'w' });
    expect(result.llmUsageUnavailable).toMatch(/400 BadArgumentError: .*Failed to resolve table or column expression named 'ApiManagementGatewayLlmLog'/);
    expect(result.entriesJudged).toBeGreaterThan(0);
    expect(ledger.snapshot().filter((e) => e.diagnostics === null || e.diagnostics === undefined)).toEqual([]);
  });

  it.each([
    ['none of its LLM-log rows', () => []],
    // A split request's message rows carry null or 0 tokens: the usage of those alone has no count.
    ['only its message rows', (ids: readonly string[]) => ids.map((gatewayRequestId) => ({ gatewayRequestId, promptTokens: 0, completionTokens: 0, totalTokens: 0 }))],
  ])('counts a stream matched while %s were queryable once its token row is, on a later run within the grace period', async (_, early) => {
    const { day, ports, ledger } = await pipeline(1500, 17);
    const grace = { graceInMs: 7_200_000, watermarkName: 'w' };
    const at = (time: string) => new Date(`${DAY}T${time}Z`);
    let queryable = false;
    const llmUsage: LlmUsageSource = {
      getUsage: async (ids) => (queryable ? ids.map((gatewayRequestId) => ({ gatewayRequestId, promptTokens: 40, completionTokens: 7, totalTokens: 47 })) : early(ids)),
    };
    const source = (now: Date) => new ArchiveDiagnosticsSource(archiveOf(day.archive), { now: () => now });
    const uncounted = () => ledger.snapshot().filter((e) => e.stream && e.status === 200 && e.tokens.source === 'none' && e.time >= `${DAY}T10:40` && e.time < `${DAY}T12`);

    const first = await joinDiagnostics({ ...ports, llmUsage, source: source(at('12:30:00')) }, { now: at('12:30:00'), ...grace });
    const matchedEarly = uncounted().filter((e) => e.diagnostics?.status === 'matched');
    expect(matchedEarly.length).toBeGreaterThanOrEqual(3);
    expect(first.streamsCounted).toBe(0);

    queryable = true;
    const second = await joinDiagnostics({ ...ports, llmUsage, source: source(at('12:40:00')) }, { now: at('12:40:00'), ...grace });
    const after = new Map(ledger.snapshot().map((e) => [e.id, e]));
    for (const entry of matchedEarly) {
      expect(after.get(entry.id)!.tokens).toEqual({ source: 'llm-log', promptTokens: 40, cachedTokens: 0, completionTokens: 7, reasoningTokens: 0 });
      expect(after.get(entry.id)!.diagnostics?.status).toBe('matched');
    }
    expect(second.streamsCounted).toBeGreaterThanOrEqual(matchedEarly.length);
    expect(uncounted()).toEqual([]);
  });
});

describe("a record's gateway status only moves forward: pending, then bypass, then matched", () => {
  const record: StoredDiagnostic = {
    correlationId: 'req-1',
    time: '2026-03-10T09:15:00.000Z',
    resourceId: '/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/AOAI-EASTUS',
    account: 'aoai-eastus',
    regionCode: 'eastus',
    operationName: 'ChatCompletions_Create',
    durationMs: 850,
    status: 200,
    objectId: null,
    streamType: 'Non-Streaming',
    modelDeploymentName: 'chat-prod',
    modelName: 'gpt-4o-mini',
    modelVersion: '2024-07-18',
    gateway: 'pending',
  };
  const order: readonly GatewayMatch[] = ['pending', 'bypass', 'matched'];

  it('merges the writes of any number of writers, in any order, into the furthest status', () => {
    const statuses = fc.array(fc.constantFrom(...order), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(statuses, fc.infiniteStream(fc.nat()), (written, picks) => {
        const shuffled = [...written];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = picks.next().value % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const merged = (list: readonly GatewayMatch[]) => list.reduce<StoredDiagnostic | null>((current, gateway) => mergeStoredRecords(current, { ...record, gateway }), null)!.gateway;
        const furthest = order[Math.max(...written.map((g) => order.indexOf(g)))];
        expect(merged(written)).toBe(furthest);
        expect(merged(shuffled)).toBe(furthest);
      }),
    );
  });

  it('keeps a record in the hour it was first stored in', () => {
    expect(mergeStoredRecords(record, { ...record, time: '2026-03-10T10:00:00.000Z', gateway: 'matched' })).toEqual({ ...record, gateway: 'matched' });
  });

  it('the in-memory store refuses a write at a stale version and a second create, as Cosmos DB does', async () => {
    await expectConditionalRecordWrites(new MemoryDiagnosticsStore());
  });

  it("merges the join's verdict, given between the ingest's read and its write, instead of writing over it", async () => {
    const ledger = new MemoryLedgerStore();
    const diagnostics = new MemoryDiagnosticsStore();
    const ports = { ledger, diagnostics, deadLetters: new MemoryDeadLetterStore(), aggregates: new MemoryAggregateStore() };
    const judge = (store: LedgerStore) => joinDiagnostics({ ...ports, ledger: store, source: { readSince: async () => ({ records: [], rejected: [], nextWatermark: null, more: false }) }, watermarks: new MemoryWatermarkStore() }, { now: new Date('2026-03-11T12:00:00Z'), graceInMs: 3_600_000, watermarkName: 'w' });
    await applyRecords([record], ports, {});
    await judge(ledger);
    expect((await diagnostics.getRecords(['req-1']))[0]!.gateway).toBe('bypass');

    // The ingest receives another copy of the record, one that `preferredRecord` takes over the stored one; once it
    // has looked for its request (none yet), the request arrives late and the join matches it; only then does it write.
    let held = false;
    const heldLedger: LedgerStore = Object.assign(Object.create(ledger) as LedgerStore, {
      getEntriesByApimRequestIds: async (ids: readonly string[]) => {
        const found = await ledger.getEntriesByApimRequestIds(ids);
        if (!held) {
          held = true;
          await ledger.createEntries([ledgerEntry()]);
          await judge(ledger);
        }
        return found;
      },
    });
    let conflicts = 0;
    const counting: DiagnosticsStore = Object.assign(Object.create(diagnostics) as DiagnosticsStore, {
      writeRecords: async (...args: Parameters<DiagnosticsStore['writeRecords']>) => {
        const outcome = await diagnostics.writeRecords(...args);
        conflicts += outcome.conflicts.length;
        return outcome;
      },
    });
    const { gateway: _, ...later } = { ...record, durationMs: 830 };
    await applyRecords([later], { ...ports, ledger: heldLedger, diagnostics: counting }, {});

    // Its first write lost the race; it read the record again and merged: the preferred content at the join's verdict.
    expect(conflicts).toBe(1);
    expect(diagnostics.snapshot()).toEqual([{ ...record, durationMs: 830, gateway: 'matched' }]);
    expect(await joinCounts(ledger, diagnostics, { from: new Date('2026-03-10T00:00:00Z'), to: new Date('2026-03-11T00:00:00Z') })).toEqual({ matched: 1, noDiagnostics: 0, bypass: 0 });
  });
});

describe("the hours of a record's changes are marked for the rollup", () => {
  const HOUR = '2026-11-20T10';
  const hour = { from: new Date(`${HOUR}:00:00.000Z`), to: new Date('2026-11-20T11:00:00.000Z') };
  const settle = (ports: JoinPorts) => joinDiagnostics(ports, { now: AFTER_EVERYTHING, graceInMs: 7_200_000, watermarkName: 'w' });

  function stores() {
    const aggregates = new MemoryAggregateStore();
    const ports: JoinPorts = {
      source: { readSince: async () => ({ records: [], rejected: [], nextWatermark: null, more: false }) },
      watermarks: new MemoryWatermarkStore(),
      ledger: new MemoryLedgerStore(),
      diagnostics: new MemoryDiagnosticsStore(),
      deadLetters: new MemoryDeadLetterStore(),
      aggregates,
    };
    return { ports, aggregates, rollup: () => rollupChargeback({ ledger: ports.ledger, aggregates, diagnostics: ports.diagnostics }) };
  }

  it("marks the hour of a record the join settles as bypass, so the hour's traffic tile counts it", async () => {
    const { ports, aggregates, rollup } = stores();
    await applyRecords([diagnosticRecord({ correlationId: 'bypass-1' })], ports, {});
    await rollup();
    expect(aggregates.dirty.size).toBe(0);
    await settle(ports);
    expect((await ports.diagnostics.getRecords(['bypass-1']))[0]!.gateway).toBe('bypass');
    expect([...aggregates.dirty.keys()]).toEqual([HOUR]);
    await rollup();
    expect((await trafficReport(aggregates, hour)).bypass).toEqual({ entra: 0, key: 1 });
  });

  it("keeps the bypass count when a rollup takes the join's first mark before the record is settled", async () => {
    const { ports, aggregates, rollup } = stores();
    await ports.ledger.createEntries([ledgerEntry({ id: 'req-x', apimRequestId: 'req-x', time: `${HOUR}:20:00.000Z` })]);
    await applyRecords([diagnosticRecord({ correlationId: 'bypass-1' })], ports, {});
    await rollup();
    // The join settles the entry (marking its hour), then lists pending records: another timer's rollup runs then.
    const diagnostics = ports.diagnostics as MemoryDiagnosticsStore;
    const listPending = diagnostics.listPending.bind(diagnostics);
    let rolledUp = false;
    diagnostics.listPending = (cutoff, options) => {
      const pages = listPending(cutoff, options);
      return (async function* () {
        if (!rolledUp) {
          rolledUp = true;
          await rollup();
        }
        yield* pages;
      })();
    };
    await settle(ports);
    expect(rolledUp).toBe(true);
    await rollup();
    const report = await trafficReport(aggregates, hour);
    expect(report.join.noDiagnostics).toBe(1);
    expect(report.bypass).toEqual({ entra: 0, key: 1 });
  });

  for (const failing of ['the mark before the write', 'the mark after it'] as const) {
    it(`leaves the hour of a new record marked when ${failing} fails and the batch is delivered again`, async () => {
      const { ports, aggregates } = stores();
      let calls = 0;
      const flaky: JoinPorts = {
        ...ports,
        aggregates: {
          markDirty: async (hours) => {
            calls++;
            if (calls === (failing === 'the mark before the write' ? 1 : 2)) throw new TransientStoreError('503 from the store');
            return aggregates.markDirty(hours);
          },
        },
      };
      const record = diagnosticRecord({ correlationId: 'rec-1' });
      await expect(applyRecords([record], flaky, {})).rejects.toThrow(TransientStoreError);
      await applyRecords([record], flaky, {});
      expect((await ports.diagnostics.getRecords(['rec-1'])).map((r) => r.correlationId)).toEqual(['rec-1']);
      expect([...aggregates.dirty.keys()]).toEqual([HOUR]);
    });
  }
});

describe("two copies of one record give the entry the complete copy's verdict", () => {
  // The ingest's copy (streamed to Event Hubs) and the join's (Log Analytics or the archive): one has an unusable field.
  const complete = diagnosticRecord({ durationMs: 840 });
  const unusable = diagnosticRecord({ durationMs: null, notes: ['durationMs -840 is negative or not a number; kept as null'] });

  async function stored() {
    const ports = { ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore(), aggregates: new MemoryAggregateStore() };
    await ports.ledger.createEntries([ledgerEntry({ id: 'gw-1', gatewayRequestId: 'gw-1', apimRequestId: complete.correlationId, time: '2026-11-20T10:14:59.000Z' })]);
    return { ports, verdict: async () => (await ports.ledger.readEntries([{ id: 'gw-1' }]))[0]!.entry.diagnostics };
  }

  for (const [first, second] of [[complete, unusable], [unusable, complete]] as const) {
    it(`applied one after the other, ${first === complete ? 'the complete one first' : 'the unusable one first'}, and applied at once`, async () => {
      const { ports, verdict } = await stored();
      for (const record of [first, second]) await applyRecords([record], ports, {});
      expect(await verdict()).toMatchObject({ status: 'matched', durationMs: 840 });

      // At once: the second copy's writer reads the stored records before the first copy is applied in full.
      const racing = await stored();
      const readRecords = racing.ports.diagnostics.readRecords.bind(racing.ports.diagnostics);
      let raced = false;
      const diagnostics = Object.assign(Object.create(racing.ports.diagnostics) as DiagnosticsStore, {
        readRecords: async (...args: Parameters<DiagnosticsStore['readRecords']>) => {
          const read = await readRecords(...args);
          if (!raced) {
            raced = true;
            await applyRecords([first], racing.ports, {});
          }
          return read;
        },
      });
      await applyRecords([second], { ...racing.ports, diagnostics }, {});
      expect(raced).toBe(true);
      expect(await verdict()).toEqual(await racing.verdict());
      expect((await racing.ports.diagnostics.getRecords([complete.correlationId]))[0]!.durationMs).toBe(840);
    });
  }
});


describe('two different complete records of one correlation id give one verdict, whatever order they are read in', () => {
  // The archive sample holds two records under one CorrelationId, of different deployments and models; overlapping
  // reads (the join's reach-back, a second worker, the stream and the archive) apply them in any order, again.
  const chat = diagnosticRecord({ modelDeploymentName: 'gpt-chat-pilot', modelName: 'gpt-35-turbo' });
  const image = diagnosticRecord({ modelDeploymentName: 'dall-e-3', modelName: 'dall-e-3' });

  async function after(reads: DiagnosticRecord[][]) {
    const ports = { ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore(), aggregates: new MemoryAggregateStore() };
    await ports.ledger.createEntries([ledgerEntry({ id: 'gw-1', gatewayRequestId: 'gw-1', apimRequestId: chat.correlationId, time: '2026-11-20T10:14:59.000Z' })]);
    for (const read of reads) await applyRecords(read, ports, {});
    return { verdict: (await ports.ledger.readEntries([{ id: 'gw-1' }]))[0]!.entry.diagnostics, stored: await ports.diagnostics.getRecords([chat.correlationId]) };
  }

  it('in either order, read again, or in one read', async () => {
    expect(chat.correlationId).toBe(image.correlationId);
    const first = await after([[chat], [image]]);
    for (const reads of [[[image], [chat]], [[chat], [image], [chat]], [[image], [chat], [image], [chat]], [[chat, image]], [[image, chat]]]) {
      expect(await after(reads)).toEqual(first);
    }
    expect(first.verdict).toMatchObject({ status: 'matched' });
  });
});
