import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/contracts/dead-letter.js';
import { stableId } from '../../src/domain/stable-id.js';
import { ingestBatch } from '../../src/services/ingest-batch.js';
import { REPLAY_BATCH, replayDeadLetters, type DeadLetterReplayPorts } from '../../src/services/replay-dead-letters.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore, MemoryPayloadStore } from '../support/memory-stores.js';

function event(n: number, promptTokens = 100): string {
  return JSON.stringify({
    schema: 'tokenledger.gateway/v1',
    gatewayRequestId: `gw-${n}`,
    apimRequestId: null,
    time: '2026-11-20T10:15:03.120Z',
    gateway: { service: 'contoso-apim', region: 'West Europe', backendId: 'aoai-eastus' },
    backendRegion: 'East US',
    subscriptionId: 'sub-1',
    caller: { oid: 'oid-1', tid: 'tenant', idtyp: 'user', upn: 'u1@contoso.example' },
    deployment: 'gpt-4o-prod',
    model: 'gpt-4o-2024-08-06',
    operation: 'ChatCompletions_Create',
    stream: false,
    status: 200,
    usage: { promptTokens, cachedTokens: 0, completionTokens: 10, reasoningTokens: 0, totalTokens: promptTokens + 10 },
  });
}

function letter(data: string, n: number): DeadLetter {
  const id = stableId('utf8', data);
  return { id, pk: id.slice(0, 2), reason: 'reason of an earlier version', position: { partitionId: '0', sequenceNumber: n, offset: String(n), enqueuedTimeUtc: null, itemIndex: null }, raw: { encoding: 'utf8', data, bytes: Buffer.byteLength(data) } };
}

function memoryPorts(pageSize?: number) {
  return {
    ledger: new MemoryLedgerStore(),
    deadLetters: new MemoryDeadLetterStore(pageSize),
    diagnostics: new MemoryDiagnosticsStore(),
    aggregates: new MemoryAggregateStore(),
    deadLetterPayloads: new MemoryPayloadStore(),
  } satisfies DeadLetterReplayPorts;
}

describe('replaying dead letters', () => {
  it('ingests many payloads per call of the ingest service and deletes the accepted letters in one call per batch', async () => {
    const ports = memoryPorts(200);
    const letters = Array.from({ length: 1_200 }, (_, n) => letter(n % 12 === 0 ? event(n, -1) : event(n), n));
    await ports.deadLetters.upsertDeadLetters(letters);

    const result = await replayDeadLetters({}, ports);

    expect(result).toEqual({ replayed: 1_200, accepted: 1_100, stillRejected: 100, skipped: 0, unreadable: 0 });
    expect(ports.ledger.entries.size).toBe(1_100);
    expect(ports.ledger.upsertCalls).toBe(3);
    expect(ports.deadLetters.deleteCalls).toBe(3);
    expect(ports.deadLetters.snapshot().map((l) => l.position.sequenceNumber! % 12)).toEqual(Array(100).fill(0));
  });

  it('removes the letter of a body once refused whole when its items are read now, the items still bad kept as letters of their own', async () => {
    const ports = memoryPorts();
    const items = Array.from({ length: 700 }, (_, n) => JSON.parse(event(20_000 + n, n === 350 ? -12 : 100)) as unknown);
    const body = letter(JSON.stringify(items), 1);
    await ports.deadLetters.upsertDeadLetters([body]);

    const result = await replayDeadLetters({}, ports);

    expect(result).toEqual({ replayed: 1, accepted: 1, stillRejected: 0, skipped: 0, unreadable: 0 });
    expect(ports.ledger.entries.size).toBe(699);
    expect(ports.deadLetters.snapshot().map((l) => ({ position: l.position, reason: l.reason.slice(0, 46) }))).toEqual([
      { position: { ...body.position, itemIndex: 350 }, reason: 'invalid tokenledger.gateway/v1: usage.promptTo' },
    ]);
  });

  it('counts only the letters there were when it began, not those its own batches write into the container it pages through', async () => {
    const ports = memoryPorts(100);
    // The ledger holds one version of each request, the letters another: replayed, each merges as a conflicting
    // duplicate, whose losing version becomes a new letter.
    await ingestBatch(Array.from({ length: 600 }, (_, n) => ({ body: Buffer.from(event(n, 100)), position: { partitionId: '1', sequenceNumber: n, offset: String(n), enqueuedTimeUtc: null } })), { ...ports, deadLetters: new MemoryDeadLetterStore() });
    await ports.deadLetters.upsertDeadLetters(Array.from({ length: 600 }, (_, n) => letter(event(n, 200), n)));

    const result = await replayDeadLetters({}, ports);

    expect(result).toEqual({ replayed: 600, accepted: 600, stillRejected: 0, skipped: 0, unreadable: 0 });
    expect(ports.deadLetters.snapshot().every((l) => l.reason === 'conflicting duplicate')).toBe(true);
  });

  describe('a letter still rejected that a batch wrote again, as the bad item of a body an earlier version refused whole', () => {
    // X: a body an earlier version refused whole, whose item 1 is still bad; Y: that item, a letter of its own
    // (the body delivered again since), listed after X and past the first batch.
    async function lettersXAndY() {
      const ports = memoryPorts();
      const body = `[${event(9_998)},${event(9_999, -12)}]`;
      const x = letter(body, 1);
      await ports.deadLetters.upsertDeadLetters([x, ...Array.from({ length: REPLAY_BATCH.letters }, (_, n) => letter(event(n), 2 + n))]);
      await ingestBatch([{ body: Buffer.from(body), position: { partitionId: '3', sequenceNumber: 7, offset: '7', enqueuedTimeUtc: null } }], ports);
      const y = ports.deadLetters.snapshot().find((l) => l.position.partitionId === '3')!;
      const rank = (l: DeadLetter) => (l.id === x.id ? 0 : l.id === y.id ? 2 : 1);
      const list = ports.deadLetters.listDeadLetters.bind(ports.deadLetters);
      ports.deadLetters.listDeadLetters = async function* (query) {
        const found: DeadLetter[] = [];
        for await (const page of list(query)) found.push(...page);
        yield found.sort((a, b) => rank(a) - rank(b));
      };
      return { ports, x, y };
    }

    it('counts it once, still rejected, and it keeps its own position', async () => {
      const { ports, y } = await lettersXAndY();

      expect(await replayDeadLetters({}, ports)).toEqual({ replayed: 502, accepted: 501, stillRejected: 1, skipped: 0, unreadable: 0 });

      const [kept] = ports.deadLetters.snapshot();
      expect(ports.deadLetters.letters.size).toBe(1);
      expect(kept).toMatchObject({ id: y.id, position: y.position, raw: y.raw });
      expect(kept!.reason).toMatch(/promptTokens/);
    });

    it('does not count it when it was not selected', async () => {
      const { ports, x, y } = await lettersXAndY();

      expect(await replayDeadLetters({ ids: [x.id] }, ports)).toEqual({ replayed: 1, accepted: 1, stillRejected: 0, skipped: 0, unreadable: 0 });

      expect(ports.deadLetters.letters.get(y.id)).toMatchObject({ position: y.position, raw: y.raw });
      expect(ports.deadLetters.letters.has(x.id)).toBe(false);
    });
  });

  it('keeps, still rejected, a letter whose payload is rejected again under another id: bytes kept as base64 that ingest now reads as text', async () => {
    const ports = memoryPorts();
    const data = Buffer.from('{"schema":"tokenledger.gateway/v1", broken').toString('base64');
    const id = stableId('base64', data);
    const base64 = { ...letter('', 1), id, pk: id.slice(0, 2), raw: { encoding: 'base64' as const, data, bytes: Buffer.from(data, 'base64').byteLength } };
    await ports.deadLetters.upsertDeadLetters([base64]);

    expect(await replayDeadLetters({}, ports)).toEqual({ replayed: 1, accepted: 0, stillRejected: 1, skipped: 0, unreadable: 0 });
    expect(ports.deadLetters.letters.get(id)).toEqual(base64);
  });

  it('bounds a batch by payload bytes as well as by letters', async () => {
    const ports = memoryPorts();
    await ports.deadLetters.upsertDeadLetters(Array.from({ length: 10 }, (_, n) => letter(event(n), n)));

    await replayDeadLetters({}, ports, { batch: { letters: 500, bytes: 1_000 } });

    expect(ports.ledger.upsertCalls).toBe(5);
  });

  it('leaves the letters when their delete fails after the ingest, and a second replay then removes them and changes nothing else', async () => {
    const ports = memoryPorts();
    await ports.deadLetters.upsertDeadLetters(Array.from({ length: 5 }, (_, n) => letter(event(n), n)));
    const deleteDeadLetters = ports.deadLetters.deleteDeadLetters.bind(ports.deadLetters);
    ports.deadLetters.deleteDeadLetters = async () => {
      throw new Error('connection reset');
    };

    await expect(replayDeadLetters({}, ports)).rejects.toThrow('connection reset');
    const ledger = ports.ledger.snapshot();
    expect(ledger).toHaveLength(5);
    expect(ports.deadLetters.letters.size).toBe(5);

    ports.deadLetters.deleteDeadLetters = deleteDeadLetters;
    expect(await replayDeadLetters({}, ports)).toEqual({ replayed: 5, accepted: 5, stillRejected: 0, skipped: 0, unreadable: 0 });
    expect(ports.ledger.snapshot()).toEqual(ledger);
    expect(ports.deadLetters.letters.size).toBe(0);
  });

  it('keeps the letter of a payload whose entry the ledger store refused, beside the letter of the refused entry', async () => {
    const ports = memoryPorts();
    const refusedPayload = letter(event(2), 2);
    await ports.deadLetters.upsertDeadLetters([letter(event(1), 1), refusedPayload]);
    ports.ledger.refuse = (entry) => (entry.gatewayRequestId === 'gw-2' ? 'ledger store refused the entry (status 413)' : null);

    expect(await replayDeadLetters({}, ports)).toEqual({ replayed: 2, accepted: 1, stillRejected: 1, skipped: 0, unreadable: 0 });

    const kept = ports.deadLetters.snapshot();
    expect(kept.map((l) => l.reason).sort()).toEqual(['ledger store refused the entry (status 413)', refusedPayload.reason]);
    expect(kept.find((l) => l.id === refusedPayload.id)).toEqual(refusedPayload);
    expect(await replayDeadLetters({}, ports)).toEqual({ replayed: 1, accepted: 0, stillRejected: 1, skipped: 1, unreadable: 0 });
  });

  it('replays only the letters whose reason contains the text', async () => {
    const ports = memoryPorts();
    await ports.deadLetters.upsertDeadLetters([{ ...letter(event(1), 1), reason: 'time is more than a day in the future' }, letter(event(2), 2)]);

    expect(await replayDeadLetters({ reasonContains: 'in the future' }, ports)).toEqual({ replayed: 1, accepted: 1, stillRejected: 0, skipped: 0, unreadable: 0 });
    expect([...ports.ledger.entries.values()].map((e) => e.gatewayRequestId)).toEqual(['gw-1']);
  });
});
