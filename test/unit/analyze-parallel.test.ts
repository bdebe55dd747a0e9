import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rangesCutNear, readJsonlChunks } from '../../src/adapters/files/jsonl-lines.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import { analyzeFiles } from '../../src/services/analyze-files.js';
import { analyzeInParallel, pieceCuts } from '../../src/services/analyze-parallel.js';
import { RangeClaims, allStreamsEnded, analyzeRange, releaseStreamsEnded, stopTakingPieces, takePieces } from '../../src/services/analyze-range.js';
import { hashId } from '../../src/domain/request-index.js';
import { sortBatch } from '../../src/services/ingest-batch.js';
import { SIMULATION_FILES, writeSimulation } from '../../src/simulator/files.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { apimRecords, eventBodyArbitrary, llmRowFor, retold, v1Lines } from '../support/event-body-arbitrary.js';

const prices = loadPriceTable(JSON.parse(readFileSync(new URL('../../prices/default-prices.json', import.meta.url), 'utf8')));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'analyze-parallel-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fileOf(lines: readonly string[], name = 'events.jsonl'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, lines.map((l) => `${l}\n`).join(''));
  return file;
}

/** The analysis on one thread and on `threads` threads, each thread taking every n-th piece of the file. */
async function bothWays(file: string, threads: number) {
  const single = await analyzeFiles({ eventsFile: file, prices, threads: 1 });
  const parallel = await analyzeFiles({ eventsFile: file, prices, threads, minBytesPerThread: 1, pieces: 'round-robin' });
  return { single, parallel };
}

describe('analyzeFiles over worker threads: the single-thread result, number for number', () => {
  it('equals the single-thread analysis for any mix of duplicates, halves and retold requests, wherever the pieces cut', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventBodyArbitrary, { minLength: 1, maxLength: 40 }), fc.integer({ min: 2, max: 3 }), async (bodies, threads) => {
        // Every body again, in reverse order: each request also has a copy far from its first line, in another piece.
        const file = await fileOf([...bodies, ...[...bodies].reverse()]);
        const { single, parallel } = await bothWays(file, threads);
        expect(parallel).toEqual(single);
      }),
      { numRuns: 12 },
    );
  }, 240_000);

  it('says why the distinct dead letters were rejected, the most frequent reason first, the same on one thread and on two', async () => {
    const good = v1Lines.slice(0, 8);
    const badStatus = (line: string) => line.replace(/"status":\d+/, '"status":700');
    // A redelivered line is one dead letter; two lines rejected for one reason are two.
    const lines = [good[0]!, 'plain text', badStatus(good[1]!), ...good.slice(2, 5), 'plain text', badStatus(good[2]!), '{"schema":"tokenledger.gateway/v0"}', ...good.slice(5), 'plain text'];
    const { single, parallel } = await bothWays(await fileOf(lines), 2);
    expect(single.deadLetterReasons).toEqual([
      { reason: 'invalid tokenledger.gateway/v1: status: Too big: expected number to be <=599', deadLetters: 2 },
      // JSON.parse's own words follow the prefix.
      { reason: expect.stringMatching(/^body is not JSON: .*plain text/), deadLetters: 1 },
      { reason: 'unsupported schema "tokenledger.gateway/v0"', deadLetters: 1 },
    ]);
    expect(single.deadLetters).toBe(4);
    expect(parallel).toEqual(single);
  });

  it('dead-letters a line that is not UTF-8 as the trigger does a body of those bytes, rather than charge it, on one thread and on two', async () => {
    const line = Buffer.from(v1Lines[3]!, 'utf8');
    // One Windows-1252 "é" (0xE9) inside a string: invalid UTF-8, and a CRLF line end.
    const at = line.indexOf('"gatewayRequestId":"') + 20;
    const latin1 = Buffer.concat([line.subarray(0, at), Buffer.from([0xe9]), line.subarray(at)]);
    const file = join(dir, 'not-utf8.jsonl');
    await writeFile(file, Buffer.concat([Buffer.from(v1Lines.slice(0, 3).join('\n') + '\n'), latin1, Buffer.from('\r\n'), latin1, Buffer.from('\n' + v1Lines[4] + '\n')]));
    const { single, parallel } = await bothWays(file, 2);
    expect(single.deadLetterReasons).toEqual([{ reason: 'body is not valid UTF-8', deadLetters: 1 }]);
    expect(single.report.totals.requests).toBe(4);
    expect(parallel).toEqual(single);
    // The dead letter the trigger keeps for that body, with the id the analysis counted once for both lines.
    const ingested = sortBatch([{ body: latin1, position: { partitionId: '0', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } }]);
    expect(ingested.deadLetters.map((letter) => letter.reason)).toEqual(['body is not valid UTF-8']);
  });

  it('merges across threads without falling back: redeliveries in other pieces count once, halves of a request meet', async () => {
    const lines = [...v1Lines.slice(0, 20), ...apimRecords.map((r) => JSON.stringify(r)), ...v1Lines.slice(0, 5)];
    const file = await fileOf(lines);
    const outcome = await analyzeInParallel({ eventsFile: file, prices, recordsByKey: Promise.resolve(new Map()), threads: 2, pieces: 'round-robin' });
    const { single, parallel } = await bothWays(file, 2);
    expect(outcome).not.toBeNull();
    expect(outcome!.totals.requests).toBe(single.entries);
    expect(parallel).toEqual(single);
  }, 60_000);

  it('takes the LLM-log rows of requests priced in another thread without falling back to one thread', async () => {
    // APIM's diagnostic setting streams GatewayLlmLogs minutes after the gateway's events: far from them in the file.
    const streamed = v1Lines.filter((line) => (JSON.parse(line) as { stream: boolean }).stream);
    const lines = [...streamed, ...v1Lines.slice(0, 10), ...streamed.map((line) => llmRowFor(line, true))];
    const file = await fileOf(lines);
    const outcome = await analyzeInParallel({ eventsFile: file, prices, recordsByKey: Promise.resolve(new Map()), threads: 2, pieces: 'round-robin' });
    const { single, parallel } = await bothWays(file, 2);
    expect(streamed.length).toBeGreaterThan(3);
    expect(outcome).not.toBeNull();
    expect(parallel).toEqual(single);
  }, 60_000);

  it('a request told differently in two threads\' pieces counts as the merge of both, as on one thread', async () => {
    // The first telling lacks the gateway's total time, so the merge changes whichever telling was priced first.
    const lines = [retold(v1Lines[1]!, 5), ...v1Lines.slice(2, 20), v1Lines[1]!];
    const file = await fileOf(lines);
    const { single, parallel } = await bothWays(file, 2);
    expect(single.entries).toBe(19);
    expect(parallel).toEqual(single);
  }, 60_000);
});

describe('worker threads kept between analyses', () => {
  it('serve analyses in a row and at once: each analysis gets threads of its own and the single-thread result', async () => {
    const out = join(dir, 'simulated-at-once');
    await writeSimulation(out, simulateDay({ requests: 400, seed: 23, day: '2026-10-16' }));
    const files = { eventsFile: join(out, SIMULATION_FILES.events), diagnosticsDir: join(out, SIMULATION_FILES.diagnostics), prices };
    const single = await analyzeFiles({ ...files, threads: 1 });
    const parallel = { ...files, threads: 3, minBytesPerThread: 1 };
    // Three at once want six workers: threads kept by an earlier analysis, and new ones.
    await analyzeFiles(parallel);
    const together = await Promise.all([analyzeFiles(parallel), analyzeFiles(parallel), analyzeFiles(parallel)]);
    for (const result of together) expect(result).toEqual(single);
  }, 120_000);
});

describe('RangeClaims: which threads may hold an id', () => {
  it('of two threads that claim one id, the later one sees the earlier; an id claimed by one thread only stays its own', () => {
    const bits = 19;
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 40 }), { minLength: 2, maxLength: 50 }), (ids) => {
        const maps = [new SharedArrayBuffer(2 ** bits / 8), new SharedArrayBuffer(2 ** bits / 8)];
        const [first, second] = [new RangeClaims(maps, bits, 0), new RangeClaims(maps, bits, 1)];
        const [shared, ...own] = ids.map(hashId);
        expect(first.claim(shared!)).toBe(false);
        expect(second.claim(shared!)).toBe(true);
        expect(own.map((hash) => first.claim(hash))).toEqual(own.map(() => false));
      }),
    );
  });
});

describe('analyzeRange: what a thread prices itself once every thread\'s stream has ended', () => {
  it('prices a stream cut short that no other thread holds, and hands back one whose LLM-log row another thread reads after', async () => {
    const cutShort = (line: string) => JSON.stringify({ ...(JSON.parse(line) as object), status: 200, usage: null });
    const [alone, shared] = v1Lines.filter((line) => (JSON.parse(line) as { stream: boolean }).stream).slice(0, 2).map(cutShort);
    // One line a piece, taken in turn: thread 0 reads both streams, thread 1 the LLM-log row of one of them.
    const lines = [alone!, llmRowFor(shared!, true), shared!];
    const file = await fileOf(lines);
    const starts = lines.map((_, i) => lines.slice(0, i).reduce((bytes, line) => bytes + Buffer.byteLength(line) + 1, 0));
    const pieces = starts.map((start, i) => ({ start, end: starts[i + 1] ?? start + Buffer.byteLength(lines[i]!) + 1 }));
    const claims = [new SharedArrayBuffer(2 ** 19 / 8), new SharedArrayBuffer(2 ** 19 / 8)];
    const streamsEnded = new SharedArrayBuffer(4);
    const handedBack: { ids: string[]; priced: number }[] = [];
    const thread = (index: number) =>
      analyzeRange({ file, pieces, counter: new SharedArrayBuffer(4), prices, identity: undefined, claims, claimBits: 19, streamsEnded, index, roundRobin: true, untilRecord: false }, new Map(), {
        progress: () => {},
        handBack: async (handBack, totals) => {
          handedBack[index] = { ids: handBack.deferred.map((entry) => entry.gatewayRequestId), priced: totals.requests };
          return { hashes: [] };
        },
      });
    const first = thread(0);
    // Thread 1 starts only once thread 0's stream has ended: thread 0 must still learn that the row is there.
    while (Atomics.load(new Int32Array(streamsEnded), 0) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await Promise.all([first, thread(1)]);
    const idOf = (line: string) => (JSON.parse(line) as { gatewayRequestId: string }).gatewayRequestId;
    expect(handedBack[0]).toEqual({ ids: [idOf(shared!)], priced: 1 });
    expect(handedBack[1]).toEqual({ ids: [idOf(shared!)], priced: 0 });
  });

  it('a thread waits until every thread\'s stream has ended, or until the analysis is given up', async () => {
    const settled = (promise: Promise<void>) => Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20))]);
    const ended = new SharedArrayBuffer(4);
    const first = allStreamsEnded(ended, 2);
    expect(await settled(first)).toBe(false);
    expect(await settled(allStreamsEnded(ended, 2))).toBe(true);
    expect(await settled(first)).toBe(true);
    const givenUp = new SharedArrayBuffer(4);
    const waiting = allStreamsEnded(givenUp, 3);
    expect(await settled(waiting)).toBe(false);
    releaseStreamsEnded(givenUp, 3);
    expect(await settled(waiting)).toBe(true);
  });
});

describe('rangesCutNear: pieces that hold every line exactly once', () => {
  it('cuts only at line starts, and reading the pieces in turn (read ahead or inline) gives the lines of the file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, '')), { maxLength: 40 }), fc.integer({ min: 1, max: 9 }), fc.boolean(), fc.boolean(), async (lines, parts, finalNewline, readInline) => {
        const file = join(dir, 'lines.jsonl');
        await writeFile(file, lines.join('\n') + (finalNewline && lines.length > 0 ? '\n' : ''));
        const size = (await stat(file)).size;
        const ranges = await rangesCutNear(file, Array.from({ length: parts - 1 }, (_, k) => Math.floor((size * (k + 1)) / parts)));
        const read: string[] = [];
        for await (const chunk of readJsonlChunks(file, { ranges, bufferBytes: 7, readInline })) read.push(...chunk.lines);
        const whole: string[] = [];
        for await (const chunk of readJsonlChunks(file)) whole.push(...chunk.lines);
        expect(read).toEqual(whole);
        expect(ranges.length).toBeLessThanOrEqual(parts);
      }),
    );
  });

  it('cuts near any positions only at line starts, each at the first line start at or after its position', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, '')), { maxLength: 40 }), fc.array(fc.nat({ max: 1300 }), { maxLength: 12 }), async (lines, near) => {
        const text = lines.map((line) => `${line}\n`).join('');
        const file = join(dir, 'near.jsonl');
        await writeFile(file, text);
        const positions = [...near].sort((a, b) => a - b);
        const ranges = await rangesCutNear(file, positions);
        const read: string[] = [];
        for await (const chunk of readJsonlChunks(file, { ranges })) read.push(...chunk.lines);
        expect(read).toEqual(lines);
        const size = Buffer.byteLength(text);
        const lineStarts = lines.map((_, i) => Buffer.byteLength(lines.slice(0, i).map((l) => `${l}\n`).join('')));
        const expected = new Set(positions.map((p) => lineStarts.find((start) => start >= p)).filter((cut): cut is number => cut !== undefined && cut > 0 && cut < size));
        expect(ranges.slice(1).map((r) => r.start)).toEqual([...expected]);
      }),
    );
  });
  it('cuts after a line longer than the first read (4 KiB) and a later one (64 KiB), and not at the end of the file', async () => {
    const lines = ['{"a":1}', `{"b":"${'x'.repeat(150_000)}"}`, '{"c":3}'];
    const file = join(dir, 'long.jsonl');
    await writeFile(file, lines.map((line) => `${line}\n`).join(''));
    const secondStarts = lines[0]!.length + 1;
    const thirdStarts = secondStarts + lines[1]!.length + 1;
    expect(await rangesCutNear(file, [secondStarts + 1, thirdStarts + 2])).toEqual([
      { start: 0, end: thirdStarts },
      { start: thirdStarts, end: thirdStarts + lines[2]!.length + 1 },
    ]);
  });
});

describe('pieceCuts: where the file is cut for the threads', () => {
  const MiB = 2 ** 20;

  it('ends a large file with pieces that halve down to 256 KiB, a piece of each size per thread', () => {
    for (const threads of [2, 3]) {
      const size = 290 * MiB + 12_345;
      const cuts = pieceCuts(size, threads);
      const sizes = [...cuts, size].map((end, i) => end - (i === 0 ? 0 : cuts[i - 1]!));
      expect(sizes.slice(-4 * threads)).toEqual([2, 1, 0.5, 0.25].flatMap((m) => Array<number>(threads).fill(m * MiB)));
      expect(sizes.slice(1, -4 * threads).every((bytes) => bytes === 4 * MiB)).toBe(true);
      expect(sizes[0]).toBeGreaterThan(0);
      expect(sizes[0]).toBeLessThanOrEqual(4 * MiB);
    }
  });

  it('cuts a small file into four equal pieces per thread', () => {
    expect(pieceCuts(1000, 2)).toEqual([125, 250, 375, 500, 625, 750, 875]);
    expect(pieceCuts(2 * 2 * 4 * MiB - 1, 2)).toHaveLength(7);
  });
});

describe('analyzeFiles over worker threads, with diagnostics to join', () => {
  it('gives the single-thread latency and weights: records find their backend from entries joined in any thread', async () => {
    const out = join(dir, 'simulated');
    await writeSimulation(out, simulateDay({ requests: 600, seed: 11, day: '2026-10-15' }));
    const files = { eventsFile: join(out, SIMULATION_FILES.events), diagnosticsDir: join(out, SIMULATION_FILES.diagnostics), prices };
    const single = await analyzeFiles({ ...files, threads: 1 });
    const parallel = await analyzeFiles({ ...files, threads: 2, minBytesPerThread: 1, pieces: 'round-robin' });
    expect(single.join.matched).toBeGreaterThan(0);
    expect(single.weights.some((w) => w.backendId === 'aoai-eastus-2')).toBe(true);
    // The records a diagnostic setting also streamed into the events file are counted, not joined: each line of them holds one.
    const streamedRecords = (await readFile(files.eventsFile, 'utf8')).split('"category":"RequestResponse"').length - 1;
    expect(streamedRecords).toBeGreaterThan(0);
    expect(single.diagnosticsInEvents).toBe(streamedRecords);
    expect(parallel).toEqual(single);
  }, 120_000);

  it('without an archive, joins the records streamed into the events file as it joins the same records in an archive', async () => {
    const out = join(dir, 'simulated-streamed');
    await writeSimulation(out, simulateDay({ requests: 600, seed: 12, day: '2026-10-15' }));
    const eventsFile = join(out, SIMULATION_FILES.events);
    const text = await readFile(eventsFile, 'utf8');
    // The records a diagnostic setting also streamed into the events file, one a line as the archive holds them.
    const lines = text.split('\n').filter((line) => line.includes('"category":"RequestResponse"'));
    const streamed = lines.flatMap((line) => (JSON.parse(line) as { records: unknown[] }).records);
    expect(streamed.length).toBeGreaterThan(0);
    const blob = join(out, 'streamed-archive', 'insights-logs-requestresponse', 'PT1H.json');
    await mkdir(dirname(blob), { recursive: true });
    await writeFile(blob, streamed.map((record) => `${JSON.stringify(record)}\n`).join(''));
    // The same events after a blank line of 5 MiB: no record in the first bytes, so one is met only by an analysis.
    const late = join(out, 'late-records.jsonl');
    await writeFile(late, `${' '.repeat(5 * 2 ** 20)}\n${text}`);
    for (const file of [eventsFile, late]) {
      const withArchive = await analyzeFiles({ eventsFile: file, diagnosticsDir: join(out, 'streamed-archive'), prices, threads: 1 });
      expect(withArchive.join.matched).toBeGreaterThan(0);
      const single = await analyzeFiles({ eventsFile: file, prices, threads: 1 });
      const parallel = await analyzeFiles({ eventsFile: file, prices, threads: 2, minBytesPerThread: 1, pieces: 'round-robin' });
      expect(single).toEqual(withArchive);
      expect(parallel).toEqual(single);
    }
  }, 120_000);

  it('without an archive, ends the first analysis at the first record streamed into the events file: no thread takes another piece', async () => {
    const record = (await readFile(new URL('../fixtures/aoai-requestresponse.archive.jsonl', import.meta.url), 'utf8')).split('\n')[0]!;
    const events = Array.from({ length: 4_000 }, (_, n) => v1Lines[n % v1Lines.length]!.replace(/"gatewayRequestId":"[^"]*"/, `"gatewayRequestId":"req-${n}"`));
    const file = await fileOf([JSON.stringify({ records: [JSON.parse(record)] }), ...events], 'record-first.jsonl');
    const outcome = await analyzeInParallel({ eventsFile: file, prices, recordsByKey: Promise.resolve(new Map()), threads: 2, pieces: 'round-robin', untilRecord: true });
    expect(outcome!.diagnosticRecords).toBe(1);
    // The thread that met it read one chunk of its first piece; the other its own pieces (round robin takes no shared count).
    expect(outcome!.lines).toBeLessThan(events.length * 0.75);
    const pieces = [{ start: 0, end: 10 }, { start: 10, end: 20 }, { start: 20, end: 30 }];
    const counter = new SharedArrayBuffer(4);
    const taken = takePieces(pieces, counter);
    expect(taken.next().value).toEqual(pieces[0]);
    stopTakingPieces(pieces, counter);
    expect(taken.next().done).toBe(true);
    expect([...takePieces(pieces, counter)]).toEqual([]);
  });

  it('with the LLM-log export, charges streams cut short in every thread as on one', async () => {
    const out = join(dir, 'simulated-llm-log');
    const day = simulateDay({ requests: 600, seed: 11, day: '2026-10-15' });
    await writeSimulation(out, day);
    const files = { eventsFile: join(out, SIMULATION_FILES.events), diagnosticsDir: join(out, SIMULATION_FILES.diagnostics), llmLogFile: join(out, SIMULATION_FILES.llmLog), prices };
    const single = await analyzeFiles({ ...files, threads: 1 });
    const parallel = await analyzeFiles({ ...files, threads: 2, minBytesPerThread: 1, pieces: 'round-robin' });
    expect(single.report.totals.tokenSources['llm-log']).toBe(day.groundTruth.sources.interruptedStreams);
    expect(single.report.totals.promptTokens).toBe(day.groundTruth.identities.reduce((sum, i) => sum + i.promptTokens, 0));
    expect(parallel).toEqual(single);
  }, 120_000);
});
