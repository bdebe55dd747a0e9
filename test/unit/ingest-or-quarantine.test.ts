import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/contracts/dead-letter.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
import { classifyFailure } from '../../src/services/failure-classification.js';
import { fromQuarantinedBatch, ingestOrQuarantine, quarantinedBody, restoredBody } from '../../src/services/ingest-or-quarantine.js';
import { deadLetterPayload, documentBytes, INLINE_DEAD_LETTER_BYTES, OffloadingDeadLetterStore } from '../../src/services/offloading-dead-letter-store.js';
import { replayAllQuarantined } from '../../src/services/replay-quarantine.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore, MemoryPayloadStore, MemoryQuarantineStore } from '../support/memory-stores.js';

const noWait = { attempts: 3, backoffInMs: () => 0 };

function statusError(status: number): Error {
  return Object.assign(new Error(`status ${status}`), { code: status });
}

function ports() {
  const letters = new MemoryDeadLetterStore();
  const payloads = new MemoryPayloadStore();
  return {
    ledger: new MemoryLedgerStore(),
    letters,
    payloads,
    deadLetters: new OffloadingDeadLetterStore(letters, payloads),
    aggregates: new MemoryAggregateStore(),
    diagnostics: new MemoryDiagnosticsStore(),
    quarantine: new MemoryQuarantineStore(),
  };
}

const lines = simulateDay({ requests: 30, seed: 5, day: '2026-11-19' }).eventLines;
const events = lines.map((body, i) => ({ body: Buffer.from(body), position: { partitionId: '2', sequenceNumber: 100 + i, offset: String(4096 * i), enqueuedTimeUtc: '2026-11-19T10:00:00Z' } }));

describe('classifying failures', () => {
  it.each([408, 410, 429, 449, 500, 503])('status %i is transient', (status) => expect(classifyFailure(statusError(status))).toBe('transient'));
  it.each([400, 401, 403, 404, 409, 412, 413])('status %i is permanent', (status) => expect(classifyFailure(statusError(status))).toBe('permanent'));

  it('takes TransientStoreError, socket errors and a transient cause as transient, and anything else as permanent', () => {
    expect(classifyFailure(new TransientStoreError('throttled'))).toBe('transient');
    expect(classifyFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('transient');
    expect(classifyFailure(new Error('wrapped', { cause: Object.assign(new Error('x'), { statusCode: 503 }) }))).toBe('transient');
    expect(classifyFailure(new TypeError("Cannot read properties of undefined (reading 'pk')"))).toBe('permanent');
    expect(classifyFailure(new Error('dead-letter store refused 1 letters (status 413)'))).toBe('permanent');
    expect(classifyFailure('a string')).toBe('permanent');
  });
});

describe('ingesting a batch or quarantining it', () => {
  it('retries a transient failure within the invocation and ingests the batch', async () => {
    const p = ports();
    let failures = 2;
    const original = p.ledger.writeEntries.bind(p.ledger);
    p.ledger.writeEntries = async (...args) => {
      if (failures-- > 0) throw new TransientStoreError('503');
      return original(...args);
    };
    const outcome = await ingestOrQuarantine(events, p, { lastDelivery: false, retry: noWait });
    expect(outcome).toMatchObject({ kind: 'ingested', attempts: 3 });
    expect(p.quarantine.batches.size).toBe(0);
  });

  it('fails the batch for the host to redeliver while the host has retries left', async () => {
    const p = ports();
    p.ledger.writeEntries = async () => {
      throw new TransientStoreError('503');
    };
    await expect(ingestOrQuarantine(events, p, { lastDelivery: false, retry: noWait })).rejects.toBeInstanceOf(TransientStoreError);
    expect(p.quarantine.batches.size).toBe(0);
    const last = await ingestOrQuarantine(events, p, { lastDelivery: true, retry: noWait });
    expect(last).toMatchObject({ kind: 'quarantined', failure: 'transient', attempts: 3 });
  });

  it('keeps a batch on its last delivery when the quarantine write fails for a moment', async () => {
    const p = ports();
    p.ledger.writeEntries = async () => {
      throw new TransientStoreError('503');
    };
    const put = p.quarantine.putBatch.bind(p.quarantine);
    const waits: number[] = [];
    let writes = 0;
    p.quarantine.putBatch = async (...args) => {
      if (++writes <= 2) throw statusError(503);
      return put(...args);
    };
    const outcome = await ingestOrQuarantine(events, p, { lastDelivery: true, retry: noWait, sleep: async (ms) => void waits.push(ms) });
    expect(outcome).toMatchObject({ kind: 'quarantined', failure: 'transient' });
    expect({ writes, stored: p.quarantine.batches.size, waits }).toEqual({ writes: 3, stored: 1, waits: [0, 0, 1_000, 4_000] });
  });

  it('gives up on a batch past its budget, even while a store call hangs: the host redelivers it, or its last delivery quarantines it', async () => {
    const p = ports();
    let aborted = 0;
    p.ledger.readEntries = (_keys, options) =>
      new Promise((_, reject) => {
        // A call that hears the abort, and one that does not (the race ends the attempt all the same).
        options?.abortSignal?.addEventListener('abort', () => void aborted++);
        void reject;
      });
    await expect(ingestOrQuarantine(events, p, { lastDelivery: false, retry: noWait, budgetMs: 200 })).rejects.toThrow(/the batch was not ingested within 0.2 s/);
    const outcome = await ingestOrQuarantine(events, p, { lastDelivery: true, retry: noWait, budgetMs: 200 });
    expect(outcome).toMatchObject({ kind: 'quarantined', failure: 'transient', reason: expect.stringContaining('not ingested within 0.2 s') });
    expect(p.quarantine.batches.size).toBe(1);
    expect(aborted).toBe(2);
  });

  it('quarantines a permanent failure at once, with partition, positions and the bodies as delivered', async () => {
    const p = ports();
    let calls = 0;
    p.ledger.writeEntries = async () => {
      calls++;
      throw statusError(400);
    };
    const outcome = await ingestOrQuarantine(events, p, { lastDelivery: false, retry: noWait, now: () => new Date('2026-11-19T11:00:00Z') });
    expect(outcome).toMatchObject({ kind: 'quarantined', failure: 'permanent', attempts: 1 });
    expect(calls).toBe(1);
    const [stored] = [...p.quarantine.batches.values()];
    expect(stored!.batch).toMatchObject({ partitionId: '2', quarantinedAt: '2026-11-19T11:00:00.000Z', reason: 'Error: status 400' });
    expect(fromQuarantinedBatch(stored!.batch)).toEqual(events);
  });

  it('replays a quarantined batch to the same ledger a healthy ingest gives, and a second replay finds nothing', async () => {
    const healthy = ports();
    await ingestOrQuarantine(events, healthy, { lastDelivery: false, retry: noWait });
    const p = ports();
    const create = p.ledger.writeEntries.bind(p.ledger);
    p.ledger.writeEntries = async () => {
      throw statusError(400);
    };
    await ingestOrQuarantine(events, p, { lastDelivery: false, retry: noWait });
    expect(p.ledger.snapshot()).toEqual([]);
    p.ledger.writeEntries = create;
    expect((await replayAllQuarantined(p)).map((r) => r.events)).toEqual([events.length]);
    expect(p.ledger.snapshot()).toEqual(healthy.ledger.snapshot());
    expect(p.letters.snapshot()).toEqual(healthy.letters.snapshot());
    expect(await replayAllQuarantined(p)).toEqual([]);
  });

  it('keeps bodies as delivered: bytes, text and values the host parsed', () => {
    for (const body of [Buffer.from([0xff, 0x00, 0x7b]), 'not json', { a: [1, 'x'] }]) expect(restoredBody(quarantinedBody(body))).toEqual(body);
  });
});

describe('dead letters too large for a Cosmos DB item', () => {
  function letter(data: string, encoding: 'utf8' | 'base64'): DeadLetter {
    return { id: 'a'.repeat(32), pk: 'aa', reason: 'body is not JSON', position: { partitionId: '0', sequenceNumber: 1, offset: '0', enqueuedTimeUtc: null, itemIndex: null }, raw: { encoding, data, bytes: encoding === 'utf8' ? Buffer.byteLength(data) : Buffer.from(data, 'base64').byteLength } };
  }

  it('keeps a small letter whole, and stores the payload of a large one in Blob storage with its size and SHA-256', async () => {
    const p = ports();
    // 50,000 control characters: 50 KB of payload, 300 KB once JSON escapes them.
    const escaped = letter('\u0001'.repeat(50_000), 'utf8');
    const small = { ...letter('{"a":1}', 'utf8'), id: 'b'.repeat(32) };
    await p.deadLetters.upsertDeadLetters([escaped, small]);
    const [stored, kept] = p.letters.snapshot();
    expect(kept).toEqual(small);
    expect(documentBytes(escaped)).toBeGreaterThan(INLINE_DEAD_LETTER_BYTES);
    expect(stored!.raw).toEqual({ encoding: 'utf8', bytes: 50_000, blob: { container: 'dead-letters', name: `${'a'.repeat(32)}.bin`, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(documentBytes(stored)).toBeLessThan(2_000);
    expect((await deadLetterPayload(stored!, p.payloads)).toString('utf8')).toBe('\u0001'.repeat(50_000));
  });

  it('stores the exact bytes of a base64 payload, and refuses a payload that does not match its hash', async () => {
    const p = ports();
    const bytes = Buffer.alloc(300_000, 0xfe);
    await p.deadLetters.upsertDeadLetters([letter(bytes.toString('base64'), 'base64')]);
    const [stored] = p.letters.snapshot();
    expect((await deadLetterPayload(stored!, p.payloads)).equals(bytes)).toBe(true);
    await p.payloads.putPayload(`${'a'.repeat(32)}.bin`, Buffer.from('tampered'));
    await expect(deadLetterPayload(stored!, p.payloads)).rejects.toThrow(/SHA-256/);
  });
});
