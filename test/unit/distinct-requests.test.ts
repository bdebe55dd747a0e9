import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { mergeByRequest, partHash, partOf } from '../../src/domain/ledger.js';
import { forEachDistinctRequest, type DistinctRequestOptions } from '../../src/services/distinct-requests.js';
import { CONFLICTING_DUPLICATE, ingestBatch, sortBatch, type ReceivedEvent } from '../../src/services/ingest-batch.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore } from '../support/memory-stores.js';
import { eventBodyArbitrary as bodyArbitrary, llmRowFor, retold, v1Lines } from '../support/event-body-arbitrary.js';

/** The in-memory rule the stream must equal: every entry of every line, merged per request in file order. */
function mergedInMemory(lines: readonly string[]): { entries: Map<string, LedgerEntry>; deadLetters: number } {
  const sorted = sortBatch(lines.filter((l) => l.trim() !== '').map((body) => ({ body, position: { partitionId: 'file', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } })));
  const entries = new Map([...mergeByRequest(sorted.entries).values()].map((entry) => [entry.id, entry]));
  return { entries, deadLetters: new Set(sorted.deadLetters.map((d) => d.id)).size };
}

const entryOf = (line: string) => sortBatch([{ body: line, position: { partitionId: 'file', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } }]).entries[0]!;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distinct-requests-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `take`: the consumer keeps whole documents, so every update takes the place of what it was handed. */
async function stream(lines: readonly string[], lineEnd = '\n', onUpdate?: ((before: LedgerEntry, after: LedgerEntry) => boolean) | 'take', options: DistinctRequestOptions = {}) {
  const file = join(dir, 'events.jsonl');
  await writeFile(file, lines.map((l) => l + lineEnd).join(''));
  let handed = new Map<string, LedgerEntry>();
  let twice = 0;
  let restarts = 0;
  const result = await forEachDistinctRequest(file, {
    onRequest: (entry) => {
      if (handed.has(entry.id)) twice++;
      handed.set(entry.id, entry);
    },
    restart: () => {
      restarts++;
      handed = new Map();
    },
    ...(onUpdate === 'take' ? { onUpdate: (_before: LedgerEntry, after: LedgerEntry) => Boolean(handed.set(after.id, after)) } : onUpdate ? { onUpdate } : {}),
  }, undefined, options);
  return { handed, twice, restarts, result };
}

const byId = (entries: Map<string, LedgerEntry>) => [...entries.values()].sort((a, b) => (a.id < b.id ? -1 : 1));

/** What a consumer that reads no `parts` (the sources a document was merged from) makes of an entry. */
const withoutParts = ({ parts: _parts, ...rest }: LedgerEntry) => rest;
/** Such a consumer takes an update that changes only the sources. */
const sourcesOnly = (before: LedgerEntry, after: LedgerEntry) => isDeepStrictEqual(withoutParts(before), withoutParts(after));

/** A v1 event as its line, changed. */
const changed = (line: string, change: (event: Record<string, unknown>) => void) => {
  const event = JSON.parse(line) as Record<string, unknown>;
  change(event);
  return JSON.stringify(event);
};
const streamed = v1Lines.filter((line) => entryOf(line).stream);

describe('forEachDistinctRequest: every distinct request once, merged, in bounded memory', () => {
  it('hands over each request once, equal to merging all its entries in memory, for any mix of duplicates, halves and retold requests', async () => {
    await fc.assert(
      // Held halves kept in memory, none of them, or the first only (the others read back at the end).
      fc.asyncProperty(fc.array(bodyArbitrary, { maxLength: 60 }), fc.constantFrom('\n', '\r\n'), fc.constantFrom(undefined, 0, 1), async (lines, lineEnd, heldInMemory) => {
        const expected = mergedInMemory(lines);
        const { handed, twice, result } = await stream(lines, lineEnd, undefined, { heldInMemory });
        expect(twice).toBe(0);
        expect(byId(handed)).toEqual(byId(expected.entries));
        expect(result.requests).toBe(expected.entries.size);
        expect(result.deadLetterReasons.size).toBe(expected.deadLetters);
        expect(result.lines).toBe(lines.filter((l) => l.trim() !== '').length);
      }),
      { numRuns: 120 },
    );
  });

  it('ends the stream after the chunk in which it meets the first RequestResponse record, when asked to', async () => {
    // About 3 MB of requests (chunks of 1 MiB), a record streamed to the same event hub among the first of them.
    const record = readFileSync(new URL('../fixtures/aoai-requestresponse.archive.jsonl', import.meta.url), 'utf8').split('\n')[0]!;
    const events = Array.from({ length: 3_000 }, (_, n) => changed(v1Lines[n % v1Lines.length]!, (event) => Object.assign(event, { gatewayRequestId: `req-${n}` })));
    const lines = [...events.slice(0, 10), JSON.stringify({ records: [JSON.parse(record)] }), ...events.slice(10)];
    let met = 0;
    const ended = await stream(lines, '\n', undefined, { untilRecord: () => met++ });
    expect(met).toBe(1);
    expect(ended.result.diagnosticRecords).toBe(1);
    expect(ended.result.lines).toBeGreaterThan(10);
    expect(ended.result.lines).toBeLessThan(lines.length / 2);
    const whole = await stream(lines);
    expect(whole.result.lines).toBe(lines.length);
  });

  it('drops redelivered duplicates without a second pass', async () => {
    const lines = [...v1Lines, ...v1Lines.slice(0, 10), ...v1Lines.slice(5, 8)];
    const { handed, restarts, result } = await stream(lines);
    expect(restarts).toBe(0);
    expect(handed.size).toBe(v1Lines.length);
    expect(result.requests).toBe(v1Lines.length);
  });

  it('hands over each request once, equal but for its sources to the merge in memory, to a consumer that takes updates of the sources alone', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(bodyArbitrary, { maxLength: 60 }), async (lines) => {
        const expected = mergedInMemory(lines);
        const { handed, twice, result } = await stream(lines, '\n', sourcesOnly);
        expect(twice).toBe(0);
        expect(byId(handed).map(withoutParts)).toEqual(byId(expected.entries).map(withoutParts));
        expect(result.requests).toBe(expected.entries.size);
      }),
      { numRuns: 120 },
    );
  });

  it('never needs a second pass for a consumer that takes every update, and hands it the merge in memory', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(bodyArbitrary, { maxLength: 60 }), async (lines) => {
        const expected = mergedInMemory(lines);
        const { handed, restarts, result } = await stream(lines, '\n', 'take');
        expect(restarts).toBe(0);
        expect(byId(handed)).toEqual(byId(expected.entries));
        expect(result.requests).toBe(expected.entries.size);
      }),
      { numRuns: 120 },
    );
  });

  it('reads the events of LLM-log rows that come chunks later back at once, and passes the blank lines among them by', async () => {
    // About 3 MB of distinct requests (chunks of 1 MiB, the last two at hand), then the rows of the first 20 among
    // blank lines: more than a few rows of one chunk need lines read back, so the rest of that chunk is sorted ahead.
    const events = Array.from({ length: 3_000 }, (_, n) => changed(v1Lines[n % v1Lines.length]!, (event) => Object.assign(event, { gatewayRequestId: `far-${n}` })));
    const tail = events.slice(0, 20).flatMap((line, n) => [llmRowFor(line, true), ...(n % 3 === 0 ? ['', '   '] : [])]);
    const lines = [...events, ...tail];
    const { handed, twice, result } = await stream(lines, '\n', 'take');
    const expected = mergedInMemory(lines);
    expect(twice).toBe(0);
    expect(byId(handed)).toEqual(byId(expected.entries));
    expect(result.lines).toBe(lines.filter((l) => l.trim() !== '').length);
    expect(result.deadLetterReasons.size).toBe(0);
  });

  it('takes the LLM-log row of a request already handed over as an update, without a second pass', async () => {
    const lines = [streamed[0]!, v1Lines[1]!, llmRowFor(streamed[0]!, true)];
    const { handed, restarts } = await stream(lines, '\n', sourcesOnly);
    expect(restarts).toBe(0);
    expect(byId(handed).map(withoutParts)).toEqual(byId(mergedInMemory(lines).entries).map(withoutParts));
  });

  it('parses an Azure Monitor records body of many LLM-log rows for earlier requests at most twice, not once for each row', async () => {
    // As a diagnostic setting streams GatewayLlmLogs to Event Hubs: a message row and a token row of each request.
    const events = Array.from({ length: 200 }, (_, n) => changed(v1Lines[n % v1Lines.length]!, (event) => (event['gatewayRequestId'] = `gw-${n}`)));
    const rows = events.flatMap((line) => [llmRowFor(line, false), llmRowFor(line, true)].map((row) => (JSON.parse(row) as { records: unknown[] }).records[0]));
    const envelope = JSON.stringify({ records: rows });
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const { handed, restarts } = await stream([...events, envelope], '\n', sourcesOnly);
      expect(restarts).toBe(0);
      expect(byId(handed).map(withoutParts)).toEqual(byId(mergedInMemory([...events, envelope]).entries).map(withoutParts));
      expect(parse.mock.calls.filter(([text]) => text === envelope).length).toBeLessThanOrEqual(2);
    } finally {
      parse.mockRestore();
    }
  });

  it('keeps a row taken as an update for the later merges: a later telling that wins still gets what the row told', async () => {
    const first = entryOf(streamed[0]!);
    // Told again without model or deployment, and winning the conflict: the LLM-log row, taken earlier as an
    // update, is what names them.
    const winning = [...Array(200).keys()]
      .map((n) => changed(retold(streamed[0]!, 900_000 + n), (event) => Object.assign(event, { model: null, deployment: null })))
      .find((line) => partHash(partOf(entryOf(line))) < partHash(partOf(first)))!;
    const lines = [streamed[0]!, llmRowFor(streamed[0]!, true), winning];
    const { handed, restarts } = await stream(lines, '\n', sourcesOnly);
    expect(restarts).toBe(1);
    expect(byId(handed)).toEqual(byId(mergedInMemory(lines).entries));
    expect(handed.get(first.id)).toMatchObject({ model: 'gpt-4o', deployment: first.deployment });
  });

  it('hands a request over again in the second pass with the rows taken as updates, as the merge in memory', async () => {
    // Another request told again, and winning, forces the second pass.
    const other = entryOf(v1Lines[1]!);
    const winning = [...Array(200).keys()].map((n) => retold(v1Lines[1]!, 900_000 + n)).find((line) => partHash(partOf(entryOf(line))) < partHash(partOf(other)))!;
    const lines = [streamed[0]!, llmRowFor(streamed[0]!, true), v1Lines[1]!, winning];
    const { handed, restarts } = await stream(lines, '\n', sourcesOnly);
    expect(restarts).toBe(1);
    expect(byId(handed)).toEqual(byId(mergedInMemory(lines).entries));
  });

  it('holds a stream cut short to the end of the file, so that its tokens from the LLM log need no second pass', async () => {
    const cutShort = changed(streamed[0]!, (event) => Object.assign(event, { usage: null, status: 200 }));
    const lines = [cutShort, v1Lines[1]!, llmRowFor(cutShort, true)];
    const { handed, restarts } = await stream(lines);
    expect(restarts).toBe(0);
    expect(byId(handed)).toEqual(byId(mergedInMemory(lines).entries));
    expect(handed.get(entryOf(cutShort).id)!.tokens).toMatchObject({ source: 'llm-log', promptTokens: 40, completionTokens: 2 });
  });

  it('starts the consumers afresh when a request already handed over is told differently later and the later telling wins', async () => {
    const first = entryOf(v1Lines[0]!);
    // A retelling whose content hash is smaller than the first one's: the conflict rule keeps it.
    const winning = [...Array(200).keys()].map((n) => retold(v1Lines[0]!, 900_000 + n)).find((line) => partHash(partOf(entryOf(line))) < partHash(partOf(first)))!;
    const lines = [v1Lines[0]!, v1Lines[1]!, winning];
    const { handed, restarts, result } = await stream(lines);
    expect(restarts).toBe(1);
    expect(byId(handed)).toEqual(byId(mergedInMemory(lines).entries));
    expect(result.conflictIds).toEqual(new Set([partHash(partOf(first))]));
  });
});

describe('pipeline and analyze on conflicting duplicates', () => {
  const position = (n: number): ReceivedEvent['position'] => ({ partitionId: '0', sequenceNumber: n, offset: null, enqueuedTimeUtc: null });
  const base = v1Lines.slice(0, 6);
  const conflicting = [...base.slice(0, 3).flatMap((line, i) => [retold(line, 7 + i), retold(line, 70 + i)]), llmRowFor(base[3]!, true), retold(base[4]!, 5)];

  it('keep the same winner and count the same conflicting duplicates, in any order and batching', async () => {
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray([...base, ...conflicting], { minLength: base.length + conflicting.length, maxLength: base.length + conflicting.length }), fc.integer({ min: 1, max: 5 }), fc.constantFrom(undefined, 0), async (order, batchSize, heldInMemory) => {
        const { handed, result } = await stream(order, '\n', undefined, { heldInMemory });
        const ports = { ledger: new MemoryLedgerStore(), deadLetters: new MemoryDeadLetterStore(), aggregates: new MemoryAggregateStore(), diagnostics: new MemoryDiagnosticsStore() };
        for (let start = 0; start < order.length; start += batchSize) {
          await ingestBatch(order.slice(start, start + batchSize).map((body, n) => ({ body, position: position(start + n) })), ports);
        }
        expect(ports.ledger.snapshot()).toEqual(byId(handed));
        const duplicates = ports.deadLetters.snapshot().filter((l) => l.reason === CONFLICTING_DUPLICATE);
        // Three requests told three ways, one told two ways: seven losers.
        expect(duplicates).toHaveLength(7);
        expect(result.conflictIds.size).toBe(duplicates.length);
        for (const letter of duplicates) expect(ports.ledger.entries.has(`${letter.duplicateOf!.pk}|${letter.duplicateOf!.id}`)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });
});
