import { CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deadLettersCommand } from '../../src/cli/commands/dead-letters.js';
import { BLOB_CONTAINERS, createStores, ensureContainers, type Stores } from '../../src/config/composition-root.js';
import type { DeadLetter, SourcePosition } from '../../src/contracts/dead-letter.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { stableId } from '../../src/domain/stable-id.js';
import { startLocalStack, type LocalStack } from '../../src/local/local-stack.js';
import { ingestBatch, type ReceivedEvent } from '../../src/services/ingest-batch.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { v1Event } from '../support/gateway-events.js';

const at = (partitionId: string, sequenceNumber: number, itemIndex: number | null = null): SourcePosition => ({
  partitionId,
  sequenceNumber,
  offset: String(sequenceNumber * 1024),
  enqueuedTimeUtc: `2026-11-20T10:15:${String(sequenceNumber % 60).padStart(2, '0')}.000Z`,
  itemIndex,
});

/** A dead letter as an earlier TokenLedger wrote it: the payload as received, with the reason it gave then. */
function earlierLetter(data: string, reason: string, position: SourcePosition): DeadLetter {
  const id = stableId('utf8', data);
  return { id, pk: id.slice(0, 2), reason, position, raw: { encoding: 'utf8', data, bytes: Buffer.byteLength(data) } };
}

async function all<T>(pages: AsyncIterable<readonly T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...page);
  return out;
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
const everything = { from: new Date('2020-01-01T00:00:00Z'), to: new Date('2030-01-01T00:00:00Z') };

interface ListedLetter {
  id: string;
  reason: string;
  kind: string;
  position: SourcePosition;
  payload: { location: 'inline' | 'blob'; encoding: string; bytes: number; blob?: { container: string; name: string; sha256: string } };
  duplicateOf?: { id: string; pk: string };
}

describe('tokenledger dead-letters list | replay, on Azurite and the local Cosmos DB server', () => {
  let stack: LocalStack;
  let databases = 0;
  beforeAll(async () => {
    stack = await startLocalStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** Stores on a database of their own, so that each test sees only its own ledger and dead letters. */
  async function freshStores(): Promise<Stores> {
    const settings = { ...stack.settings, TOKENLEDGER_DATABASE: `deadletters-cli-${++databases}` };
    const { database } = await stack.client.databases.createIfNotExists({ id: settings.TOKENLEDGER_DATABASE });
    await ensureContainers(database);
    return createStores(stack.client, settings, stack.blobs);
  }

  function harness(stores: Stores) {
    const io = { out: '', err: '', connects: 0, closes: 0 };
    const command = deadLettersCommand(async () => {
      io.connects++;
      return { ports: stores, close: async () => void io.closes++ };
    })
      .exitOverride()
      .configureOutput({ writeOut: (s) => void (io.out += s), writeErr: (s) => void (io.err += s) });
    return { io, run: (...args: string[]) => command.parseAsync(args, { from: 'user' }) };
  }

  async function listed(stores: Stores, ...args: string[]): Promise<{ deadLetters: ListedLetter[]; reasons: { reason: string; deadLetters: number }[]; total: number }> {
    const { io, run } = harness(stores);
    await run('list', '--format', 'json', ...args);
    return JSON.parse(io.out) as never;
  }

  async function replay(stores: Stores, ...args: string[]): Promise<{ replayed: number; accepted: number; stillRejected: number; skipped: number; unreadable: number }> {
    const { io, run } = harness(stores);
    await run('replay', '--format', 'json', ...args);
    return JSON.parse(io.out) as never;
  }

  const ledger = async (stores: Stores): Promise<LedgerEntry[]> => (await all(stores.ledger.listEntries(everything))).sort(byId);
  const letters = async (stores: Stores): Promise<DeadLetter[]> => (await all(stores.deadLetters.listDeadLetters())).sort(byId);

  it('lists the dead letters real ingest made, with their reasons and positions, and counts them by reason', async () => {
    const stores = await freshStores();
    const day = simulateDay({ requests: 300, seed: 21, day: '2026-11-19' });
    const events: ReceivedEvent[] = day.eventLines.map((body, i) => ({ body: Buffer.from(body), position: { partitionId: '1', sequenceNumber: 100 + i, offset: String(i * 4096), enqueuedTimeUtc: '2026-11-19T12:00:00.000Z' } }));
    const badItem = JSON.stringify([v1Event(1), v1Event(2, { usage: { promptTokens: -12, cachedTokens: 0, completionTokens: 10, reasoningTokens: 0, totalTokens: 0 } })]);
    events.push({ body: Buffer.from(badItem), position: { partitionId: '3', sequenceNumber: 7, offset: '70000', enqueuedTimeUtc: '2026-11-20T10:15:04.000Z' } });
    await ingestBatch(events, stores);

    const { deadLetters, reasons, total } = await listed(stores);

    expect(total).toBe(day.groundTruth.deadLetters + 1);
    expect(deadLetters).toHaveLength(total);
    expect(reasons.reduce((sum, r) => sum + r.deadLetters, 0)).toBe(total);
    const item = deadLetters.find((l) => l.position.partitionId === '3')!;
    expect(item).toMatchObject({ kind: 'rejected event', position: { partitionId: '3', sequenceNumber: 7, offset: '70000', enqueuedTimeUtc: '2026-11-20T10:15:04.000Z', itemIndex: 1 }, payload: { location: 'inline', encoding: 'utf8' } });
    expect(item.reason).toMatch(/promptTokens/);
    // Each simulated line's letter names the line it came from: its sequence number, and the line as its payload.
    const stored = new Map((await letters(stores)).map((l) => [l.id, l]));
    const simulated = deadLetters.filter((l) => l.position.partitionId === '1');
    expect(simulated).toHaveLength(day.groundTruth.deadLetters);
    expect(simulated.length).toBeGreaterThan(0);
    for (const letter of simulated) {
      const line = day.eventLines[letter.position.sequenceNumber! - 100]!;
      expect(letter.position).toEqual({ partitionId: '1', sequenceNumber: letter.position.sequenceNumber, offset: String((letter.position.sequenceNumber! - 100) * 4096), enqueuedTimeUtc: '2026-11-19T12:00:00.000Z', itemIndex: null });
      expect(stored.get(letter.id)!.raw).toMatchObject({ data: line });
      expect(letter.payload.bytes).toBe(Buffer.byteLength(line));
    }

    const table = harness(stores);
    await table.run('list');
    const lines = table.io.out.split('\n');
    expect(lines[0]).toMatch(/^id\s+partition\s+sequence\s+offset\s+enqueued \(UTC\)\s+item\s+bytes\s+payload\s+reason$/);
    expect(lines.find((l) => l.startsWith(item.id))).toMatch(new RegExp(`^${item.id}\\s+3\\s+7\\s+70000\\s+2026-11-20T10:15:04.000Z\\s+1\\s+[\\d,]+\\s+inline\\s+.*promptTokens`));
    expect(table.io.out).toContain(`\n${total} dead letters, by reason:\n`);
    expect([table.io.connects, table.io.closes]).toEqual([1, 1]);
  });

  it('lists only the dead letters whose reason contains --reason', async () => {
    const stores = await freshStores();
    const bodies = ['plain text, not an event', '{"schema":"tokenledger.gateway/v1", broken', JSON.stringify(v1Event(3, { status: 999 })), JSON.stringify(v1Event(4))];
    await ingestBatch(bodies.map((body, i) => ({ body: Buffer.from(body), position: at('0', i) })), stores);

    const notJson = await listed(stores, '--reason', 'not JSON');
    const none = harness(stores);
    await none.run('list', '--reason', 'no such reason');

    expect(notJson.deadLetters.map((l) => l.position.sequenceNumber).sort()).toEqual([0, 1]);
    expect(notJson.deadLetters.every((l) => l.reason.includes('not JSON'))).toBe(true);
    expect(notJson.reasons.every((r) => r.reason.includes('not JSON'))).toBe(true);
    expect(none.io.out).toBe('no dead letters whose reason contains "no such reason"\n');
  });

  it('writes the control characters of reasons and positions as visible escapes in the table', async () => {
    const stores = await freshStores();
    await stores.deadLetters.upsertDeadLetters([earlierLetter('{}', 'bad \u001b]0;owned\u0007 title \u202e', { ...at('0', 1), partitionId: 'p\u001b[2J' })]);

    const { io, run } = harness(stores);
    await run('list');

    expect(io.out).not.toMatch(/[\u001b\u0007\u202e]/);
    expect(io.out).toContain('p\\x1b[2J');
    expect(io.out).toContain('bad \\x1b]0;owned\\x07 title \\u202e');
  });

  it('replays a letter whose cause was fixed: it becomes a ledger entry and leaves the dead letters', async () => {
    const stores = await freshStores();
    const fixed = earlierLetter(JSON.stringify(v1Event(10)), 'unknown schema tokenledger.gateway/v1 (TokenLedger 0.0.9)', at('2', 77, 3));
    await stores.deadLetters.upsertDeadLetters([fixed]);

    const { io, run } = harness(stores);
    await run('replay', '--id', fixed.id);

    expect(io.out).toBe('replayed 1 dead letter: 1 accepted (removed), 0 still rejected; 0 skipped (not events), 0 unreadable\n');
    expect((await ledger(stores)).map((e) => [e.gatewayRequestId, e.tokens.promptTokens])).toEqual([['gw-10', 110]]);
    expect(await letters(stores)).toEqual([]);
  });

  it('replays an event rejected for a clock that was behind once the clock has caught up', async () => {
    const stores = await freshStores();
    const body = JSON.stringify(v1Event(11, { time: '2026-11-20T10:15:03.120Z' }));
    const now = vi.spyOn(Date, 'now').mockReturnValue(Date.parse('2026-11-18T00:00:00Z'));
    try {
      await ingestBatch([{ body: Buffer.from(body), position: at('4', 5) }], stores);
    } finally {
      now.mockRestore();
    }
    const [rejected] = (await listed(stores)).deadLetters;
    expect(rejected!.reason).toMatch(/more than a day in the future/);

    expect(await replay(stores, '--reason', 'in the future')).toEqual({ replayed: 1, accepted: 1, stillRejected: 0, skipped: 0, unreadable: 0 });
    expect((await ledger(stores)).map((e) => e.gatewayRequestId)).toEqual(['gw-11']);
    expect(await letters(stores)).toEqual([]);
  });

  it("keeps a payload still rejected, counted, as the same letter with today's reason at its original position", async () => {
    const stores = await freshStores();
    const stillBad = earlierLetter(JSON.stringify(v1Event(12, { usage: { promptTokens: -12, cachedTokens: 0, completionTokens: 1, reasoningTokens: 0, totalTokens: 0 } })), 'reason of an earlier version', at('5', 40, 2));
    await stores.deadLetters.upsertDeadLetters([stillBad]);

    expect(await replay(stores, '--all')).toEqual({ replayed: 1, accepted: 0, stillRejected: 1, skipped: 0, unreadable: 0 });

    const [kept] = await letters(stores);
    expect(kept).toMatchObject({ id: stillBad.id, pk: stillBad.pk, position: stillBad.position, raw: stillBad.raw });
    expect(kept!.reason).toMatch(/promptTokens/);
    expect(await ledger(stores)).toEqual([]);
  });

  it('skips conflicting duplicates and entries the ledger refused: they are no events, and stay as they are', async () => {
    const stores = await freshStores();
    const first = JSON.stringify(v1Event(13));
    const second = JSON.stringify(v1Event(13, { usage: { promptTokens: 999, cachedTokens: 0, completionTokens: 10, reasoningTokens: 0, totalTokens: 1009 } }));
    await ingestBatch([{ body: Buffer.from(first), position: at('6', 1) }, { body: Buffer.from(second), position: at('6', 2) }], stores);
    const ledgerDocument = JSON.stringify({ id: 'l-refused', schema: 'tokenledger.ledger/v2' });
    await stores.deadLetters.upsertDeadLetters([earlierLetter(ledgerDocument, 'ledger store refused the entry (status 413)', { partitionId: 'ledger', sequenceNumber: null, offset: null, enqueuedTimeUtc: null, itemIndex: null })]);
    const before = { ledger: await ledger(stores), letters: await letters(stores) };
    expect(before.letters.map((l) => l.reason).sort()).toEqual(['conflicting duplicate', 'ledger store refused the entry (status 413)']);

    expect(await replay(stores, '--all')).toEqual({ replayed: 0, accepted: 0, stillRejected: 0, skipped: 2, unreadable: 0 });
    expect(await replay(stores, '--id', ...before.letters.map((l) => l.id))).toEqual({ replayed: 0, accepted: 0, stillRejected: 0, skipped: 2, unreadable: 0 });

    expect({ ledger: await ledger(stores), letters: await letters(stores) }).toEqual(before);
    expect((await listed(stores)).deadLetters.map((l) => l.kind).sort()).toEqual(['conflicting duplicate', 'refused entry']);
  });

  it('fetches a payload kept in Blob storage, checks it against its SHA-256, and replays it', async () => {
    const stores = await freshStores();
    const large = JSON.stringify(Array.from({ length: 700 }, (_, n) => v1Event(20_000 + n)));
    const tampered = JSON.stringify(Array.from({ length: 700 }, (_, n) => v1Event(30_000 + n)));
    await stores.deadLetters.upsertDeadLetters([earlierLetter(large, 'body holds more than 500 events (TokenLedger 0.0.9)', at('7', 1)), earlierLetter(tampered, 'body holds more than 500 events (TokenLedger 0.0.9)', at('7', 2))]);
    const listing = await listed(stores);
    expect(listing.deadLetters.map((l) => l.payload.location)).toEqual(['blob', 'blob']);
    const tamperedLetter = listing.deadLetters.find((l) => l.position.sequenceNumber === 2)!;
    await stack.blobs.getContainerClient(BLOB_CONTAINERS.deadLetterPayloads).getBlockBlobClient(tamperedLetter.payload.blob!.name).uploadData(Buffer.from(tampered.replace('gw-30000', 'gw-31337')));

    const { io, run } = harness(stores);
    await run('replay', '--reason', 'more than 500 events', '--format', 'json');

    expect(JSON.parse(io.out)).toEqual({ replayed: 1, accepted: 1, stillRejected: 0, skipped: 0, unreadable: 1 });
    expect(io.err).toBe(`dead letter ${tamperedLetter.id} not replayed: dead letter ${tamperedLetter.id}: payload does not match its SHA-256\n`);
    const entries = await ledger(stores);
    expect(entries).toHaveLength(700);
    expect(entries.every((e) => /^gw-2\d{4}$/.test(e.gatewayRequestId))).toBe(true);
    expect((await letters(stores)).map((l) => l.id)).toEqual([tamperedLetter.id]);
  });

  it('keeps a payload rejected again as its own letter, whether the letter kept text (over 1 MiB, in Blob storage) or bytes', async () => {
    const stores = await freshStores();
    // A body over 1 MiB handed to ingest as text, as `quarantine replay` hands a body quarantined as UTF-8 text, is
    // kept as text; bytes that are not UTF-8 are kept as base64.
    const large = JSON.stringify(Array.from({ length: 2_400 }, (_, n) => v1Event(40_000 + n)));
    expect(Buffer.byteLength(large)).toBeGreaterThan(1024 * 1024);
    await ingestBatch([{ body: large, position: at('10', 1) }, { body: Buffer.from([0x7b, 0xff, 0x7d]), position: at('10', 2) }], stores);
    const before = await letters(stores);
    expect((await listed(stores)).deadLetters.map((l) => `${l.payload.encoding} ${l.payload.location}`).sort()).toEqual(['base64 inline', 'utf8 blob']);

    expect(await replay(stores, '--all')).toEqual({ replayed: 2, accepted: 0, stillRejected: 2, skipped: 0, unreadable: 0 });

    expect({ letters: await letters(stores), ledger: await ledger(stores) }).toEqual({ letters: before, ledger: [] });
  });

  it('a second replay changes nothing', async () => {
    const stores = await freshStores();
    await stores.deadLetters.upsertDeadLetters([
      earlierLetter(JSON.stringify(v1Event(40)), 'reason of an earlier version', at('8', 1)),
      earlierLetter('{"schema":"tokenledger.gateway/v1", broken', 'reason of an earlier version', at('8', 2)),
    ]);
    await ingestBatch([JSON.stringify(v1Event(41)), JSON.stringify(v1Event(41, { status: 500 }))].map((body, i) => ({ body: Buffer.from(body), position: at('8', 3 + i) })), stores);

    expect(await replay(stores, '--all')).toEqual({ replayed: 2, accepted: 1, stillRejected: 1, skipped: 1, unreadable: 0 });
    const after = { ledger: await ledger(stores), letters: await letters(stores) };
    expect(await replay(stores, '--all')).toEqual({ replayed: 1, accepted: 0, stillRejected: 1, skipped: 1, unreadable: 0 });

    expect({ ledger: await ledger(stores), letters: await letters(stores) }).toEqual(after);
  });

  it('names ids that are no dead letter and replays nothing', async () => {
    const stores = await freshStores();
    const fixed = earlierLetter(JSON.stringify(v1Event(50)), 'reason of an earlier version', at('9', 1));
    await stores.deadLetters.upsertDeadLetters([fixed]);

    const { run } = harness(stores);
    await expect(run('replay', '--id', fixed.id, 'f'.repeat(32))).rejects.toThrow(`no dead letter with id "${'f'.repeat(32)}"`);

    expect(await ledger(stores)).toEqual([]);
    expect((await letters(stores)).map((l) => l.id)).toEqual([fixed.id]);
  });

  it('refuses to replay without --id, --reason or --all, or with two of them, before connecting', async () => {
    const stores = await freshStores();
    for (const args of [[], ['--all', '--reason', 'x'], ['--id', 'a', '--all'], ['--reason', '']]) {
      const { io, run } = harness(stores);
      await expect(run('replay', ...args)).rejects.toBeInstanceOf(CommanderError);
      expect(io.connects).toBe(0);
    }
  });
});
