import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StoredDiagnostic } from '../../src/contracts/diagnostic-record.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import { requestsQuerySchemaAt } from '../../src/contracts/report-query.js';
import { ledgerPartition } from '../../src/domain/ledger.js';
import { PriceMatcher } from '../../src/domain/price-matching.js';
import { decodeContinuation, encodeContinuation, queryDigest, requestCost } from '../../src/domain/request-drilldown.js';
import { UsageLines } from '../../src/domain/usage.js';
import { pricingOf, priceUsage } from '../../src/domain/usage-pricing.js';
import { listRequests, MAX_SCANNED_PER_PAGE, traceRequest, type RequestDrilldownPorts } from '../../src/services/request-drilldown.js';
import { ledgerEntry, noCaller, userCaller } from '../support/ledger-entries.js';
import { MemoryDiagnosticsStore, MemoryLedgerStore } from '../support/memory-stores.js';
import { MIXED_PRICES } from '../support/price-tables.js';

const table = loadPriceTable({ ...MIXED_PRICES, provisioned: [{ deployment: 'ptu-chat', monthlyCost: '7440.00', from: '2026-10-01' }] });

function entryOf(g: { n: number; oid: string; day: string; model: string | null; deployment: string | null; operation: string; prompt: number; completion: number; cachedShare: number; audioOut: boolean }): LedgerEntry {
  const id = `req-${g.n}`;
  return ledgerEntry({
    id,
    gatewayRequestId: `gw-${g.n}`,
    apimRequestId: `apim-${g.n}`,
    time: `${g.day}T${String(g.n % 24).padStart(2, '0')}:00:00.000Z`,
    caller: userCaller(g.oid),
    model: g.model,
    deployment: g.deployment,
    operation: g.operation,
    tokens: {
      source: 'gateway',
      promptTokens: g.prompt,
      cachedTokens: Math.floor((g.prompt * g.cachedShare) / 100),
      completionTokens: g.completion,
      reasoningTokens: 0,
      ...(g.audioOut && g.completion > 0 ? { audioCompletionTokens: g.completion } : {}),
    },
  });
}

const entries = fc
  .array(
    fc.record({
      oid: fc.constantFrom('a', 'b', 'c'),
      day: fc.constantFrom('2026-10-14', '2026-10-15', '2026-10-16'),
      model: fc.constantFrom('gpt-4o-2024-08-06', 'gpt-4o-mini-2024-07-18', 'dall-e-3', 'o9-unknown', null),
      deployment: fc.constantFrom('chat', 'batch', null),
      operation: fc.constantFrom('ChatCompletions_Create', 'ImageGenerations_Create'),
      prompt: fc.integer({ min: 0, max: 5_000 }),
      completion: fc.integer({ min: 0, max: 2_000 }),
      cachedShare: fc.integer({ min: 0, max: 100 }),
      audioOut: fc.boolean(),
    }),
    { maxLength: 80 },
  )
  .map((list) => list.map((g, n) => entryOf({ ...g, n })));

const matcher = new PriceMatcher(table);

describe('the cost of one request', () => {
  it("adds up, per identity, model and deployment, to the report's priced usage to the picodollar", () => {
    fc.assert(
      fc.property(entries, (generated) => {
        const byDay = new Map<string, UsageLines>();
        const perRequest = new Map<string, bigint>();
        for (const entry of generated) {
          const usage = byDay.get(entry.time.slice(0, 10)) ?? new UsageLines();
          usage.addEntry(entry);
          byDay.set(entry.time.slice(0, 10), usage);
          const key = `${entry.caller.oid}/${entry.model ?? '(unknown)'}/${entry.deployment ?? '(unknown)'}`;
          perRequest.set(key, (perRequest.get(key) ?? 0n) + requestCost(entry, matcher).costPico);
        }
        const report = new Map<string, bigint>();
        for (const line of priceUsage([...byDay].map(([day, usage]) => ({ day, lines: usage.list() })), matcher)) {
          const key = `${line.identity}/${line.model}/${line.deployment}`;
          report.set(key, (report.get(key) ?? 0n) + line.costPico);
        }
        expect(perRequest).toEqual(report);
      }),
      { numRuns: 200 },
    );
  });

  it('names the price entry it used, and calls usage without a covering price unpriced rather than free', () => {
    const base = { n: 1, oid: 'a', day: '2026-10-15', deployment: 'chat', operation: 'ChatCompletions_Create', prompt: 1_000_000, completion: 0, cachedShare: 0, audioOut: false };
    expect(requestCost(entryOf({ ...base, model: 'gpt-4o-2024-08-06' }), matcher)).toMatchObject({ basis: 'per-token', costPico: 2_500_000_000_000n, priceVersion: expect.stringContaining('gpt-4o') });
    expect(requestCost(entryOf({ ...base, model: 'o9-unknown' }), matcher)).toMatchObject({ basis: 'unpriced', costPico: 0n, priceVersion: null });
    expect(requestCost(entryOf({ ...base, model: 'gpt-4o-2024-08-06', prompt: 0 }), matcher)).toMatchObject({ basis: 'no-usage', costPico: 0n });
  });

  it('leaves the fixed cost of a provisioned deployment out and says so', () => {
    const cost = requestCost(entryOf({ n: 1, oid: 'a', day: '2026-10-15', model: 'gpt-4o-2024-08-06', deployment: 'ptu-chat', operation: 'ChatCompletions_Create', prompt: 1000, completion: 10, cachedShare: 0, audioOut: false }), matcher);
    expect(cost).toMatchObject({ basis: 'provisioned', costPico: 0n, priceVersion: 'provisioned:ptu-chat@2026-10-01' });
  });
});

describe('continuations of the request list', () => {
  const query = { from: new Date('2026-10-15T00:00:00Z'), to: new Date('2026-10-16T00:00:00Z'), filter: { identity: 'a' } };

  it('resume where they stopped for the same query, and are refused for another or when forged', () => {
    const token = encodeContinuation({ pk: 'l3f', id: 'req-9' }, queryDigest(query));
    expect(decodeContinuation(token, queryDigest(query))).toEqual({ ok: true, position: { pk: 'l3f', id: 'req-9' } });
    expect(decodeContinuation(token, queryDigest({ ...query, filter: { identity: 'b' } }))).toMatchObject({ ok: false, reason: expect.stringMatching(/another period or filter/) });
    expect(decodeContinuation('not a token!', queryDigest(query))).toMatchObject({ ok: false });
    const forged = Buffer.from(JSON.stringify({ v: 1, pk: 'x', id: 'req-9', q: queryDigest(query) })).toString('base64url');
    expect(decodeContinuation(forged, queryDigest(query))).toMatchObject({ ok: false, reason: expect.stringMatching(/not a continuation/) });
  });

  it('are bound to the filters given, not to their order in the query string', () => {
    const now = new Date('2026-10-20T00:00:00Z');
    const a = requestsQuerySchemaAt(now).parse({ month: '2026-10', team: 't', model: 'm' });
    const b = requestsQuerySchemaAt(now).parse({ model: 'm', month: '2026-10', team: 't' });
    expect(queryDigest(a)).toBe(queryDigest(b));
  });
});

describe('request list parameters', () => {
  const now = new Date('2026-10-20T08:30:00Z');
  const parse = (input: Record<string, string>) => requestsQuerySchemaAt(now).safeParse(input);

  it('take the period of a chargeback report, the filters of one cell and a bounded page size', () => {
    expect(parse({ month: '2026-09', identity: 'a', region: 'eastus' })).toMatchObject({
      success: true,
      data: { from: new Date('2026-09-01T00:00:00Z'), to: new Date('2026-10-01T00:00:00Z'), filter: { identity: 'a', region: 'eastus' }, pageSize: 100 },
    });
    expect(parse({})).toMatchObject({ success: true, data: { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-10-20T09:00:00Z'), filter: {} } });
    expect(parse({ pageSize: '1000' }).success).toBe(true);
    expect(parse({ pageSize: '1001' }).success).toBe(false);
    expect(parse({ pageSize: '0' }).success).toBe(false);
  });

  it('refuse a misspelt filter instead of listing everything, and a half-hour period', () => {
    expect(parse({ identiy: 'a' }).success).toBe(false);
    expect(parse({ from: '2026-10-15T10:30:00Z', to: '2026-10-15T12:00:00Z' }).success).toBe(false);
    expect(parse({ month: '2026-10', from: '2026-10-01' }).success).toBe(false);
  });
});

describe('request list and trace over a ledger', () => {
  async function portsWith(list: readonly LedgerEntry[], records: StoredDiagnostic[] = []): Promise<RequestDrilldownPorts> {
    const ledger = new MemoryLedgerStore();
    await ledger.createEntries(list);
    const diagnostics = new MemoryDiagnosticsStore();
    await diagnostics.writeRecords(records.map((record) => ({ record, etag: null })));
    return { ledger, diagnostics, directory: new Map(), pricing: pricingOf(table), currency: 'USD' };
  }
  const day = { from: new Date('2026-10-15T00:00:00Z'), to: new Date('2026-10-16T00:00:00Z') };
  const many = Array.from({ length: 57 }, (_, n) =>
    entryOf({ n, oid: n % 3 === 0 ? 'a' : 'b', day: '2026-10-15', model: 'gpt-4o-mini-2024-07-18', deployment: 'chat', operation: 'ChatCompletions_Create', prompt: 100 + n, completion: 7, cachedShare: 0, audioOut: false }),
  );

  it('walks every visible request once, in bounded pages, whatever the page size', async () => {
    const ports = await portsWith(many);
    for (const pageSize of [1, 4, 19, 57, 100]) {
      const seen: string[] = [];
      let after = null;
      for (let pages = 0; ; pages++) {
        expect(pages).toBeLessThan(100);
        const page: Awaited<ReturnType<typeof listRequests>> = await listRequests(ports, { ...day, filter: {}, pageSize, after, scope: 'all' });
        expect(page.items.length).toBeLessThanOrEqual(pageSize);
        seen.push(...page.items.map((i) => i.id));
        if (page.next === null) break;
        after = page.next;
      }
      expect(seen.sort()).toEqual(many.map((e) => e.id).sort());
    }
  });

  it('stops a page after examining a bounded number of entries, with a continuation, when the filter matches nothing', async () => {
    const crowd = Array.from({ length: MAX_SCANNED_PER_PAGE + 50 }, (_, n) => ({ ...many[0]!, id: `crowd-${n}`, caller: { ...noCaller, oid: 'b' } }));
    const ports = await portsWith(crowd);
    const first = await listRequests(ports, { ...day, filter: { identity: 'a' }, pageSize: 10, after: null, scope: 'all' });
    expect(first.items).toEqual([]);
    expect(first.next).not.toBeNull();
    const second = await listRequests(ports, { ...day, filter: { identity: 'a' }, pageSize: 10, after: first.next, scope: 'all' });
    expect(second).toEqual({ items: [], next: null });
  });

  it("shows a caller only their own identity's requests unless they may read all", async () => {
    const ports = await portsWith(many);
    const page = await listRequests(ports, { ...day, filter: {}, pageSize: 1000, after: null, scope: { identities: ['a'] } });
    expect(page.items.map((i) => i.identity.key)).toEqual(Array(19).fill('a'));
    expect((await listRequests(ports, { ...day, filter: { identity: 'b' }, pageSize: 1000, after: null, scope: { identities: ['a'] } })).items).toEqual([]);
  });

  it('traces a request by its gateway request id or its apim-request-id, with the diagnostic record and the evidence that decided its identity', async () => {
    const record: StoredDiagnostic = {
      correlationId: 'apim-5',
      time: '2026-10-15T05:00:01.000Z',
      resourceId: '/subscriptions/x/resourceGroups/y/providers/Microsoft.CognitiveServices/accounts/aoai',
      account: 'aoai',
      regionCode: 'eastus',
      operationName: 'ChatCompletions_Create',
      durationMs: 800,
      status: 200,
      objectId: null,
      streamType: 'Non-Streaming',
      modelDeploymentName: 'chat',
      modelName: 'gpt-4o-mini',
      modelVersion: '2024-07-18',
      gateway: 'matched',
    };
    const ports = await portsWith(many, [record]);
    const byGateway = await traceRequest(ports, 'GW-5', 'all');
    const byApim = await traceRequest(ports, 'apim-5', 'all');
    expect(byGateway?.request).toMatchObject({ id: 'req-5', pk: ledgerPartition('req-5') });
    expect(byApim).toEqual(byGateway);
    expect(byGateway).toMatchObject({ diagnostics: record, identity: { key: 'b', via: 'oid' }, priceTable: pricingOf(table).version, cost: { basis: 'per-token' } });
    expect(byGateway!.cost.costPicodollars).toBe(requestCost(many[5]!, matcher).costPico.toString());
    expect(await traceRequest(ports, 'gw-5', { identities: ['a'] })).toBeNull();
    expect(await traceRequest(ports, 'gw-404', 'all')).toBeNull();
  });
});
