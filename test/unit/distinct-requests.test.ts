import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { mergeByRequest } from '../../src/domain/ledger.js';
import { forEachDistinctRequest } from '../../src/services/distinct-requests.js';
import { sortBatch } from '../../src/services/ingest-batch.js';
import { eventBodyArbitrary as bodyArbitrary, retold, v1Lines } from '../support/event-body-arbitrary.js';

/** The in-memory rule the stream must equal: every entry of every line, merged per request in file order. */
function mergedInMemory(lines: readonly string[]): { entries: Map<string, LedgerEntry>; deadLetters: number } {
  const sorted = sortBatch(lines.filter((l) => l.trim() !== '').map((body) => ({ body, position: { partitionId: 'file', sequenceNumber: null, offset: null, enqueuedTimeUtc: null } })));
  const entries = new Map([...mergeByRequest(sorted.entries).values()].map((entry) => [entry.id, entry]));
  return { entries, deadLetters: new Set(sorted.deadLetters.map((d) => d.id)).size };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distinct-requests-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function stream(lines: readonly string[], lineEnd = '\n') {
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
  });
  return { handed, twice, restarts, result };
}

const byId = (entries: Map<string, LedgerEntry>) => [...entries.values()].sort((a, b) => (a.id < b.id ? -1 : 1));

describe('forEachDistinctRequest: every distinct request once, merged, in bounded memory', () => {
  it('hands over each request once, equal to merging all its entries in memory, for any mix of duplicates, halves and retold requests', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(bodyArbitrary, { maxLength: 60 }), fc.constantFrom('\n', '\r\n'), async (lines, lineEnd) => {
        const expected = mergedInMemory(lines);
        const { handed, twice, result } = await stream(lines, lineEnd);
        expect(twice).toBe(0);
        expect(byId(handed)).toEqual(byId(expected.entries));
        expect(result.requests).toBe(expected.entries.size);
        expect(result.deadLetters).toBe(expected.deadLetters);
        expect(result.lines).toBe(lines.filter((l) => l.trim() !== '').length);
      }),
      { numRuns: 120 },
    );
  });

  it('drops redelivered duplicates without a second pass', async () => {
    const lines = [...v1Lines, ...v1Lines.slice(0, 10), ...v1Lines.slice(5, 8)];
    const { handed, restarts, result } = await stream(lines);
    expect(restarts).toBe(0);
    expect(handed.size).toBe(v1Lines.length);
    expect(result.requests).toBe(v1Lines.length);
  });

  it('starts the consumers afresh when a request already handed over is told differently later', async () => {
    // More tokens than the first telling: the merge keeps the larger count, so the request changes.
    const lines = [v1Lines[0]!, v1Lines[1]!, retold(v1Lines[0]!, 900_000)];
    const { handed, restarts } = await stream(lines);
    expect(restarts).toBe(1);
    expect(byId(handed)).toEqual(byId(mergedInMemory(lines).entries));
  });
});
