import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseArchiveBlob, ArchiveDiagnosticsSource } from '../../src/adapters/archive/archive-diagnostics-source.js';
import type { DiagnosticRecord } from '../../src/contracts/diagnostic-record.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { joinAll } from '../../src/domain/join.js';
import { mergeByRequest } from '../../src/domain/ledger.js';
import { sortBatch } from '../../src/services/ingest-batch.js';
import { joinCounts, joinDiagnostics, type JoinPorts } from '../../src/services/join-diagnostics.js';
import type { ArchiveReader } from '../../src/ports/archive.js';
import type { LlmUsageSource } from '../../src/ports/diagnostics-source.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore, MemoryWatermarkStore } from '../support/memory-stores.js';

const fixture = readFileSync(new URL('../fixtures/aoai-requestresponse.archive.jsonl', import.meta.url), 'utf8');
const DAY = '2026-11-20';
const AFTER_EVERYTHING = new Date('2026-11-25T00:00:00Z');

/** The simulator's archive folder as an archive reader (in memory). */
function archiveOf(archive: ReadonlyMap<string, readonly string[]>): ArchiveReader {
  return {
    list: async () => [...archive.keys()],
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
    expect(first.nextWatermark).toBe(`${DAY}T11`);
    expect(first.records.every((r) => r.time < `${DAY}T12`)).toBe(true);
    const again = await source.readSince(first.nextWatermark);
    expect(again).toEqual({ records: [], rejected: [], nextWatermark: null, more: false });
  });

  it("reads an hour's blob of a busy account (150,000 records, some lines not JSON) whole, streamed in pieces", async () => {
    const line = fixture.split('\n')[1]!;
    const path = 'insights-logs-requestresponse/resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/A/y=2024/m=05/d=24/h=12/m=00/PT1H.json';
    const lines = Array.from({ length: 150_000 }, (_, i) => (i % 50_000 === 7 ? '{not json' : line.replace('d427a391', i.toString(16).padStart(8, '0'))));
    const pieces = function* () {
      for (let i = 0; i < lines.length; i += 4_096) yield lines.slice(i, i + 4_096);
    };
    const archive: ArchiveReader = { list: async () => [path], lines: async function* () { yield* pieces(); } };
    const read = await new ArchiveDiagnosticsSource(archive, { now: () => new Date('2024-05-25T00:00:00Z') }).readSince(null);
    expect(read.records).toHaveLength(150_000 - 3);
    expect(new Set(read.records.map((r) => r.correlationId)).size).toBe(150_000 - 3);
    expect(read.rejected.map((r) => r.source)).toEqual([8, 50_008, 100_008].map((n) => `${path}#L${n}`));
    expect(read.nextWatermark).toBe('2024-05-24T12');
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

  it('counts a stream matched before its LLM-log rows were queryable once they are, on a later run within the grace period', async () => {
    const { day, ports, ledger } = await pipeline(1500, 17);
    const grace = { graceInMs: 7_200_000, watermarkName: 'w' };
    const at = (time: string) => new Date(`${DAY}T${time}Z`);
    let queryable = false;
    const llmUsage: LlmUsageSource = {
      getUsage: async (ids) => (queryable ? ids.map((gatewayRequestId) => ({ gatewayRequestId, promptTokens: 40, completionTokens: 7, totalTokens: 47 })) : []),
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
