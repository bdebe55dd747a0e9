import { describe, it, expect } from 'vitest';
import { DDSketch } from '@datadog/sketches-js';
import fc from 'fast-check';
import type { DiagnosticRecord } from '../../src/contracts/diagnostic-record.js';
import { latencyTileDocumentSchema } from '../../src/contracts/latency-tile-document.js';
import type { LatencyMetric, TileGrain } from '../../src/contracts/latency-tile-document.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { parseRequestResponse } from '../../src/domain/diagnostic-parsing.js';
import { normalizeEvent } from '../../src/domain/event-normalization.js';
import { joinAll } from '../../src/domain/join.js';
import {
  LATENCY_METRICS,
  LatencyTileSet,
  RELATIVE_ACCURACY,
  UNKNOWN_BACKEND,
  UNKNOWN_DEPLOYMENT,
  addObservation,
  buildTiles,
  cloneTile,
  deserializeTile,
  emptyTile,
  mergeTiles,
  observationFromEntry,
  observationFromRecord,
  percentiles,
  rollUp,
  serializeTile,
  summary,
  tileId,
  tileKey,
  windowStartOf,
  type LatencyObservation,
  type LatencyTile,
  type LatencyRecordInput,
} from '../../src/domain/latency-tile.js';
import { toLedgerEntry } from '../../src/domain/ledger.js';
import { BACKENDS, DEPLOYMENTS } from '../../src/simulator/population.js';
import { Random } from '../../src/simulator/random.js';
import { simulateDay } from '../../src/simulator/traffic.js';
import { ledgerEntry } from '../support/ledger-entries.js';

const T0 = '2026-11-21T10:00:00.000Z';
const QUANTILES = [
  ['p50Ms', 0.5],
  ['p90Ms', 0.9],
  ['p95Ms', 0.95],
  ['p99Ms', 0.99],
] as const;

/**
 * What a tile tells, whatever the layout of its sketches' bins in memory (a sketch's bins grow and move with the
 * order values arrive in) and the order its sums were added in.
 */
function meaning(tile: LatencyTile) {
  const sketch = (metric: LatencyMetric) => {
    const { store, count, zeroCount, sum, min, max } = tile.sketches[metric];
    const bins = store.bins.flatMap((weight, i) => (weight > 0 ? [[i + store.offset, weight]] : []));
    return { count, zeroCount, sum: Math.round(sum * 1e6) / 1e6, min, max, bins };
  };
  return { key: tile.key, requests: tile.requests, errors: tile.errors, throttled: tile.throttled, sketches: Object.fromEntries(LATENCY_METRICS.map((m) => [m, sketch(m)])) };
}

/** The exact value the sketch approximates: rank ⌊q·(n−1)⌋ of the sorted values. */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

function expectWithinAccuracy(estimate: number, exact: number, accuracy = 0.01): void {
  expect(Math.abs(estimate - exact)).toBeLessThanOrEqual(accuracy * Math.abs(exact) + 1e-9);
}

function record(overrides: Partial<LatencyRecordInput> & { correlationId?: string } = {}): LatencyRecordInput & { correlationId?: string } {
  return { time: '2026-11-21T10:01:00.000Z', account: 'contoso-aoai-eastus', regionCode: 'eastus', modelDeploymentName: 'gpt-4o-prod', status: 200, durationMs: 1000, ...overrides };
}

function entry(overrides: Partial<LedgerEntry> = {}): LedgerEntry {
  return ledgerEntry({
    time: '2026-11-21T10:01:00.000Z',
    deployment: 'gpt-4o-prod',
    model: 'gpt-4o-2024-08-06',
    tokens: { source: 'gateway', promptTokens: 800, cachedTokens: 0, completionTokens: 100, reasoningTokens: 0 },
    timings: { totalMs: 1100, backendMs: 1050, ttftMs: null },
    ...overrides,
  });
}

function matched(durationMs: number, regionCode: string | null = 'eastus'): LedgerEntry['diagnostics'] {
  return {
    status: 'matched',
    durationMs,
    regionCode,
    account: 'contoso-aoai-eastus',
    modelName: 'gpt-4o',
    modelVersion: '2024-08-06',
    streamType: 'Non-Streaming',
    objectId: null,
    httpStatus: 200,
  };
}

/** A 5-minute tile holding the given service durations (one record each). */
function tileOf(values: readonly number[], key = tileKey('eastus', 'gpt-4o-prod', T0, '5m', 'aoai-eastus')): LatencyTile {
  const tile = emptyTile(key);
  for (const durationMs of values) {
    addObservation(tile, observationFromRecord(record({ time: key.windowStart, regionCode: key.regionCode, modelDeploymentName: key.deployment, durationMs }), key.backendId)!);
  }
  return tile;
}

function logNormalValues(seed: number, count: number, median: number, sigma: number): number[] {
  const random = new Random(seed);
  return Array.from({ length: count }, () => random.logNormal(median, sigma));
}

describe('latency tile: percentiles', () => {
  it('are within 1 % of the exact percentiles of lognormal data', () => {
    for (const [seed, median, sigma] of [
      [1, 800, 0.5],
      [2, 2400, 1.1],
      [3, 35, 0.25],
    ] as const) {
      const values = logNormalValues(seed, 5000, median, sigma);
      const sorted = [...values].sort((a, b) => a - b);
      const p = percentiles(tileOf(values))!;
      for (const [field, q] of QUANTILES) expectWithinAccuracy(p[field], exactQuantile(sorted, q));
    }
  });

  it('are within 1 % for any positive data (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.01, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }), (values) => {
        const sorted = [...values].sort((a, b) => a - b);
        const p = percentiles(tileOf(values))!;
        for (const [field, q] of QUANTILES) expectWithinAccuracy(p[field], exactQuantile(sorted, q));
      }),
    );
  });

  it('are null for an empty distribution, and exact for zeros', () => {
    expect(percentiles(emptyTile(tileKey('eastus', 'gpt-4o-prod', T0)))).toBeNull();
    expect(percentiles(tileOf([0, 0, 0]))).toEqual({ p50Ms: 0, p90Ms: 0, p95Ms: 0, p99Ms: 0 });
  });
});

describe('latency tile: documents', () => {
  const values = logNormalValues(11, 2000, 900, 0.7);
  const tile = tileOf(values);
  for (const v of logNormalValues(12, 500, 1200, 0.4)) {
    addObservation(tile, observationFromEntry(entry({ time: T0, stream: true, timings: { totalMs: v, backendMs: v - 20, ttftMs: v / 4 } }))!);
  }

  it('serialise to plain JSON that validates, with a deterministic id and the partition of the window day', () => {
    const doc = serializeTile(tile);
    expect(latencyTileDocumentSchema.parse(JSON.parse(JSON.stringify(doc)))).toEqual(doc);
    expect(doc.id).toBe(tileId(tile.key));
    expect(serializeTile(tileOf([1])).id).toBe(doc.id);
    expect(serializeTile(tileOf([1], tileKey('eastus', 'gpt-4o-prod', T0, 'hour', 'aoai-eastus'))).id).not.toBe(doc.id);
    expect(doc.pk).toBe('latency:2026-11-21');
    expect(doc.windowEnd).toBe('2026-11-21T10:05:00.000Z');
    expect(doc.requests).toBe(2000);
    expect(doc.sketches.ttftMs.count).toBe(500);
  });

  it('deserialise to the same percentiles and the same count, sum, min and max', () => {
    const restored = deserializeTile(JSON.parse(JSON.stringify(serializeTile(tile))));
    expect(restored.key).toEqual(tile.key);
    expect([restored.requests, restored.errors, restored.throttled]).toEqual([tile.requests, tile.errors, tile.throttled]);
    for (const metric of LATENCY_METRICS) {
      expect(percentiles(restored, metric)).toEqual(percentiles(tile, metric));
      expect(summary(restored, metric)).toEqual(summary(tile, metric));
    }
    expect(summary(restored, 'serviceMs')).toEqual({ count: 2000, sum: values.reduce((a, b) => a + b, 0), min: Math.min(...values), max: Math.max(...values) });
    expect(summary(restored, 'msPerOutputToken').count).toBe(500);
    const empty = deserializeTile(JSON.parse(JSON.stringify(serializeTile(emptyTile(tile.key)))));
    for (const metric of LATENCY_METRICS) expect(summary(empty, metric)).toEqual({ count: 0, sum: 0, min: null, max: null });
    expect(percentiles(empty)).toBeNull();
    // A restored tile keeps accumulating and merging like a fresh one.
    const more = mergeTiles(restored, tileOf([5]));
    expect(summary(more, 'serviceMs').count).toBe(2001);
    expect(summary(more, 'serviceMs').min).toBe(Math.min(5, ...values));
  });

  const latency = fc.oneof(fc.constant(0), fc.double({ min: 0.001, max: 1e6, noNaN: true }));

  it('hold the same sketch bytes whatever order the values came in (property)', () => {
    fc.assert(
      fc.property(
        fc.array(latency, { minLength: 1, maxLength: 200 }).chain((values) => fc.tuple(fc.constant(values), fc.shuffledSubarray(values, { minLength: values.length }))),
        ([values, shuffled]) => {
          const [a, b] = [serializeTile(tileOf(values)), serializeTile(tileOf(shuffled))];
          expect(b.sketches.serviceMs.base64).toBe(a.sketches.serviceMs.base64);
          expect(b.sketches.serviceMs.count).toBe(values.length);
        },
      ),
    );
  });

  it('answer the percentiles of the library’s own sketch fed the same values (property)', () => {
    fc.assert(
      fc.property(fc.array(latency, { minLength: 1, maxLength: 300 }), (values) => {
        const library = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
        for (const value of values) library.accept(value);
        const [min, max] = [Math.min(...values), Math.max(...values)];
        const expected = Object.fromEntries(QUANTILES.map(([field, q]) => [field, Math.min(max, Math.max(min, library.getValueAtQuantile(q)))]));
        expect(percentiles(tileOf(values))).toEqual(expected);
        expect(percentiles(deserializeTile(serializeTile(tileOf(values))))).toEqual(expected);
      }),
    );
  });

  it('ignore a store’s own fields but refuse inconsistent documents', () => {
    const doc = serializeTile(tile);
    expect(deserializeTile({ ...doc, _etag: '"0a"', _ts: 1 }).requests).toBe(2000);
    expect(() => deserializeTile({ ...doc, id: 'other' })).toThrow(/does not match its key/);
    expect(() => deserializeTile({ ...doc, sketches: { ...doc.sketches, serviceMs: { ...doc.sketches.serviceMs, count: 3 } } })).toThrow(/holds 2000 values/);
    expect(() => deserializeTile({ ...doc, relativeAccuracy: 0.02 })).toThrow(/relative accuracy/);
    expect(() => deserializeTile({ ...doc, windowStart: '2026-11-21T10:01:00.000Z' })).toThrow();
    expect(() => deserializeTile({ ...doc, errors: 3000 })).toThrow(/errors \+ throttled/);
  });
});

describe('latency tile: merging', () => {
  it('equals building one tile from all observations (property: any split, any order)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0.001, max: 5e5, noNaN: true }), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 200 }),
        (items) => {
          const all = tileOf(items.map(([v]) => v));
          const parts = [0, 1, 2, 3].map((part) => tileOf(items.filter(([, p]) => p === part).map(([v]) => v)));
          const merged = mergeTiles(mergeTiles(parts[3]!, parts[1]!), mergeTiles(parts[0]!, parts[2]!));
          expect(merged.requests).toBe(all.requests);
          expect(percentiles(merged)).toEqual(percentiles(all));
          const [m, a] = [summary(merged, 'serviceMs'), summary(all, 'serviceMs')];
          expect([m.count, m.min, m.max]).toEqual([a.count, a.min, a.max]);
          expect(m.sum).toBeCloseTo(a.sum, 3);
        },
      ),
    );
  });

  it('keeps the accuracy against the exact percentiles of the union, and leaves its inputs untouched', () => {
    const a = logNormalValues(21, 3000, 700, 0.6);
    const b = logNormalValues(22, 1000, 2500, 0.3);
    const [ta, tb] = [tileOf(a), tileOf(b)];
    const before = JSON.stringify(serializeTile(ta));
    const merged = mergeTiles(ta, tb);
    expect(JSON.stringify(serializeTile(ta))).toBe(before);
    expect(summary(tb, 'serviceMs').count).toBe(1000);
    const sorted = [...a, ...b].sort((x, y) => x - y);
    const p = percentiles(merged)!;
    for (const [field, q] of QUANTILES) expectWithinAccuracy(p[field], exactQuantile(sorted, q));
    expect(merged.requests).toBe(4000);
  });

  it('merges values around 1 ms into a tile of smaller values (where the library merge writes outside its bins)', () => {
    const small = tileOf([0.1, 0.12, 0.2]);
    const nearOne = tileOf([0.5, 0.9, 1]);
    const merged = mergeTiles(small, nearOne);
    const sorted = [0.1, 0.12, 0.2, 0.5, 0.9, 1];
    const p = percentiles(merged)!;
    for (const [field, q] of QUANTILES) expectWithinAccuracy(p[field], exactQuantile(sorted, q));
  });

  it('refuses tiles of another region, deployment or window', () => {
    const a = tileOf([1]);
    expect(() => mergeTiles(a, tileOf([1], tileKey('japaneast', 'gpt-4o-prod', T0)))).toThrow(/cannot be merged/);
    expect(() => mergeTiles(a, tileOf([1], tileKey('eastus', 'o3-mini', T0)))).toThrow(/cannot be merged/);
    expect(() => mergeTiles(a, tileOf([1], tileKey('eastus', 'gpt-4o-prod', '2026-11-21T10:05:00.000Z', '5m', 'aoai-eastus')))).toThrow(/cannot be merged/);
    expect(() => mergeTiles(a, tileOf([1], tileKey('eastus', 'gpt-4o-prod', T0, '5m', 'aoai-eastus-2')))).toThrow(/cannot be merged/);
    // Into an explicit hour key, windows of the same hour merge.
    const hour = mergeTiles(a, tileOf([2], tileKey('eastus', 'gpt-4o-prod', '2026-11-21T10:55:00.000Z', '5m', 'aoai-eastus')), tileKey('eastus', 'gpt-4o-prod', T0, 'hour', 'aoai-eastus'));
    expect(hour.requests).toBe(2);
    expect(() => addObservation(a, observationFromRecord(record({ time: '2026-11-21T10:07:00.000Z' }))!)).toThrow(/does not belong/);
  });
});

describe('latency tile: roll-up', () => {
  const random = new Random(5);
  const records = Array.from({ length: 3000 }, (_, i) => ({
    correlationId: `c-${i}`,
    account: 'contoso-aoai',
    time: new Date(Date.parse('2026-11-21T00:00:00Z') + random.int(0, 2 * 86_400_000 - 1)).toISOString(),
    regionCode: random.pick(['eastus', 'japaneast']),
    modelDeploymentName: random.pick(['gpt-4o-prod', 'gpt-4o-mini']),
    status: random.chance(0.05) ? 429 : random.chance(0.02) ? 503 : 200,
    durationMs: Math.round(random.logNormal(900, 0.6)),
  }));
  const fiveMinute = buildTiles({ records });

  it('merges 5-minute tiles into hour and day tiles that equal tiles built at that grain', () => {
    for (const grain of ['hour', 'day'] as const) {
      const rolled = rollUp(fiveMinute, grain);
      const direct = buildTiles({ records }, grain);
      expect(rolled.map((t) => t.key)).toEqual(direct.map((t) => t.key));
      rolled.forEach((tile, i) => {
        const d = direct[i]!;
        expect([tile.requests, tile.errors, tile.throttled]).toEqual([d.requests, d.errors, d.throttled]);
        expect(percentiles(tile)).toEqual(percentiles(d));
        expect(summary(tile, 'serviceMs').count).toBe(summary(d, 'serviceMs').count);
      });
    }
    const days = rollUp(rollUp(fiveMinute, 'hour'), 'day');
    expect(days.map((t) => t.key.windowStart)).toEqual(expect.arrayContaining(['2026-11-21T00:00:00.000Z', '2026-11-22T00:00:00.000Z']));
    expect(days).toHaveLength(2 * 2 * 2);
    expect(days.reduce((sum, t) => sum + t.requests, 0)).toBe(3000);
    expect(days.every((t) => t.key.grain === 'day')).toBe(true);
  });

  it('refuses to roll coarser tiles down', () => {
    expect(() => rollUp(rollUp(fiveMinute, 'day'), 'hour')).toThrow(/finer hour grain/);
  });

  it('aligns windows to UTC', () => {
    expect(windowStartOf('2026-11-21T10:04:59.999Z', '5m')).toBe('2026-11-21T10:00:00.000Z');
    expect(windowStartOf('2026-11-21T10:05:00.000Z', '5m')).toBe('2026-11-21T10:05:00.000Z');
    expect(windowStartOf('2026-11-21T23:59:59.999Z', 'hour')).toBe('2026-11-21T23:00:00.000Z');
    expect(windowStartOf('2026-11-21T23:59:59.999+01:00', 'day')).toBe('2026-11-21T00:00:00.000Z');
    expect(() => emptyTile({ ...tileKey('eastus', 'x', T0), windowStart: '2026-11-21T10:01:00.000Z' })).toThrow(/aligned/);
  });
});

describe('latency tile: records and entries combined', () => {
  it('counts requests, 5xx and 429s from records only, and times only answered requests', () => {
    const [tile] = buildTiles({
      records: [
        record({ correlationId: 'a', durationMs: 1000 }),
        record({ correlationId: 'b', durationMs: 2000 }),
        record({ correlationId: 'b', durationMs: 2000 }), // delivered twice: counts once
        record({ correlationId: 'c', status: 429, durationMs: 8 }),
        record({ correlationId: 'd', status: 503, durationMs: 30 }),
        record({ correlationId: 'e', status: 400, durationMs: 15 }),
        record({ correlationId: 'f', status: null, durationMs: 1500 }),
      ],
    });
    expect(tile!.requests).toBe(6);
    expect(tile!.throttled).toBe(1);
    expect(tile!.errors).toBe(1);
    expect(summary(tile!, 'serviceMs')).toMatchObject({ count: 3, min: 1000, max: 2000 });
  });

  it('does not double-count a request that has both a record and a ledger entry', () => {
    const joined = entry({ id: 'a', apimRequestId: 'a', diagnostics: matched(1000) });
    const unjoined = entry({ id: 'x', apimRequestId: 'x', timings: { totalMs: 900, backendMs: 850, ttftMs: null } });
    const [tile] = buildTiles({ records: [record({ correlationId: 'a', durationMs: 1000 })], entries: [joined, unjoined, joined] });
    expect(tile!.requests).toBe(1);
    expect(summary(tile!, 'serviceMs').count).toBe(1);
    expect(summary(tile!, 'gatewayTotalMs')).toMatchObject({ count: 2, min: 900, max: 1100 });
    // ms per output token: the record's DurationMs when joined, else the gateway's backendMs.
    expect(summary(tile!, 'msPerOutputToken')).toMatchObject({ count: 2, min: 8.5, max: 10 });
  });

  it('counts direct calls (records without a gateway request) as region load', () => {
    const tiles = buildTiles({
      records: [record({ correlationId: 'a' }), { ...record({ correlationId: 'bypass' }), gateway: 'bypass' } as LatencyRecordInput & { correlationId: string }],
      entries: [entry({ id: 'a', apimRequestId: 'a', diagnostics: matched(1000) })],
    });
    expect(tiles).toHaveLength(1);
    expect(tiles[0]!.requests).toBe(2);
    expect(summary(tiles[0]!, 'gatewayTotalMs').count).toBe(1);
  });

  it('places an entry in the region of its joined record, else its backendRegion', () => {
    expect(observationFromEntry(entry({ backendRegion: 'eastus', diagnostics: matched(900, 'swedencentral') }))!.regionCode).toBe('swedencentral');
    expect(observationFromEntry(entry({ backendRegion: 'eastus', diagnostics: matched(900, null) }))!.regionCode).toBe('eastus');
    expect(observationFromEntry(entry({ backendRegion: 'eastus', diagnostics: { status: 'none' } }))!.regionCode).toBe('eastus');
    expect(observationFromEntry(entry({ backendRegion: null, diagnostics: null }))).toBeNull();
  });

  it('takes time to first token from streams and ms per token only with completion tokens', () => {
    const stream = observationFromEntry(entry({ stream: true, timings: { totalMs: 3000, backendMs: 2990, ttftMs: 400 } }))!;
    expect(stream.ttftMs).toBe(400);
    expect(observationFromEntry(entry({ stream: false, timings: { totalMs: 3000, backendMs: 2990, ttftMs: 400 } }))!.ttftMs).toBeNull();
    const noTokens = observationFromEntry(entry({ tokens: { source: 'none', promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } }))!;
    expect(noTokens.msPerOutputToken).toBeNull();
    expect(noTokens.gatewayTotalMs).toBe(1100);
    const embeddings = observationFromEntry(entry({ tokens: { source: 'gateway', promptTokens: 300, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 } }))!;
    expect(embeddings.msPerOutputToken).toBeNull();
  });

  it('ignores failed gateway requests and records it cannot place, counts a record without a valid duration untimed, and names a missing deployment', () => {
    expect(observationFromEntry(entry({ status: 429 }))).toBeNull();
    expect(observationFromEntry(entry({ status: 500 }))).toBeNull();
    expect(observationFromRecord(record({ regionCode: null }))).toBeNull();
    // A real archive record (test/fixtures/aoai-requestresponse.archive.jsonl, line 3) has durationMs -1021.
    expect(observationFromRecord(record({ durationMs: -1021 }))).toMatchObject({ kind: 'record', status: 200, serviceMs: null });
    const counted = tileOf([1, 2, 3]);
    addObservation(counted, observationFromRecord(record({ time: T0, durationMs: -1021 }), 'aoai-eastus')!);
    expect([counted.requests, summary(counted, 'serviceMs').count]).toEqual([4, 3]);
    expect(observationFromRecord(record({ time: 'yesterday' }))).toBeNull();
    expect(observationFromRecord(record({ modelDeploymentName: null }))!.deployment).toBe(UNKNOWN_DEPLOYMENT);
    expect(observationFromRecord(record({ status: 429 }))!.serviceMs).toBeNull();
  });

  it('leaves a clone independent of its original', () => {
    const tile = tileOf([1, 2, 3]);
    const copy = cloneTile(tile);
    addObservation(copy, observationFromRecord(record({ time: T0, durationMs: 99 }), 'aoai-eastus')!);
    expect(tile.requests).toBe(3);
    expect(summary(tile, 'serviceMs').max).toBe(3);
    expect(summary(copy, 'serviceMs').max).toBe(99);
  });
});

describe('latency tile set', () => {
  const START = Date.parse('2026-11-21T22:00:00.000Z');
  const pad = (value: number) => String(value).padStart(2, '0');
  const instant = fc.integer({ min: START, max: START + 2 * 86_400_000 });
  const canonical = instant.map((ms) => new Date(ms).toISOString());
  /** Any form `Date.parse` reads, `T24:00` and February 30 (rolled over into the next day) included. */
  const anyTime = fc.oneof(
    canonical,
    canonical.map((iso) => `${iso.slice(0, 19)}Z`),
    canonical.map((iso) => `${iso.slice(0, 10)}T24:00:00.000Z`),
    fc.tuple(instant, fc.integer({ min: -12 * 60, max: 14 * 60 })).map(([ms, offset]) => {
      const local = new Date(ms + offset * 60_000).toISOString().slice(0, 23);
      return `${local}${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
    }),
    fc.constantFrom('2026-02-30T10:04:00.000Z', 'yesterday'),
  );
  const region = fc.constantFrom('eastus', 'japaneast', '');
  const deployment = fc.constantFrom('gpt-4o-prod', 'gpt-4o-mini', '');
  const latency = fc.oneof(fc.double({ min: 0, max: 1e5, noNaN: true }), fc.constantFrom(-3, Number.NaN, Infinity));
  // An account no entry names: its records stay with the (unknown) backend (attribution has its own test).
  const anyRecord = fc.record({
    account: fc.constant('direct-only-account'),
    time: anyTime,
    regionCode: fc.option(region),
    modelDeploymentName: fc.option(deployment),
    status: fc.option(fc.constantFrom(200, 400, 429, 503)),
    durationMs: latency,
  });
  const anyEntry = fc
    .record({
      time: anyTime.filter((time) => time !== 'yesterday'),
      backendRegion: fc.option(region),
      joinedRegion: fc.option(fc.option(region)),
      deployment: fc.option(deployment),
      status: fc.option(fc.constantFrom(200, 201, 429, 500)),
      stream: fc.boolean(),
      completionTokens: fc.nat({ max: 2_000 }),
      timings: fc.record({ totalMs: fc.option(latency), backendMs: fc.option(latency), ttftMs: fc.option(latency) }),
    })
    .map(({ joinedRegion, completionTokens, ...fields }) =>
      entry({
        ...fields,
        tokens: { source: 'gateway', promptTokens: 10, cachedTokens: 0, completionTokens, reasoningTokens: 0 },
        diagnostics: joinedRegion === null ? null : matched(700, joinedRegion),
      }),
    );
  const inputs = fc.array(fc.oneof(anyRecord.map((r) => ({ record: r })), anyEntry.map((e) => ({ entry: e }))), { maxLength: 80 });

  /** Tiles the plain way: each observation added with `addObservation` to the tile of its key. */
  function tilesOneByOne(observations: readonly LatencyObservation[], grain: TileGrain): LatencyTile[] {
    const tiles = new Map<string, LatencyTile>();
    for (const observation of observations) {
      const key = tileKey(observation.regionCode, observation.deployment, observation.time, grain, observation.backendId);
      const id = tileId(key);
      const tile = tiles.get(id) ?? emptyTile(key);
      addObservation(tile, observation);
      tiles.set(id, tile);
    }
    const order = (tile: LatencyTile) => `${tile.key.regionCode}|${tile.key.backendId}|${tile.key.deployment}|${tile.key.windowStart}`;
    return [...tiles.values()].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  }

  it('holds the tiles of adding each observation to its tile one by one, at every grain and for any ISO time', () => {
    fc.assert(
      fc.property(inputs, fc.constantFrom<TileGrain>('5m', 'hour', 'day'), (items, grain) => {
        const set = new LatencyTileSet(grain);
        const observations: LatencyObservation[] = [];
        for (const item of items) {
          const observation = 'record' in item ? observationFromRecord(item.record) : observationFromEntry(item.entry);
          if (observation) observations.push(observation);
          if ('record' in item) set.addRecord(item.record);
          else set.addEntry(item.entry);
        }
        expect(set.list()).toEqual(tilesOneByOne(observations, grain));
      }),
      { numRuns: 300 },
    );
  });

  it("holds the same tiles when another thread's entries arrive as its entryParts, cloned across the thread boundary", () => {
    fc.assert(
      fc.property(inputs, fc.nat(), fc.constantFrom<TileGrain>('5m', 'hour', 'day'), (items, cut, grain) => {
        const whole = new LatencyTileSet(grain);
        const here = new LatencyTileSet(grain);
        const there = new LatencyTileSet(grain);
        const split = items.length === 0 ? 0 : cut % items.length;
        items.forEach((item, i) => {
          if ('record' in item) {
            whole.addRecord(item.record);
            here.addRecord(item.record);
          } else {
            whole.addEntry(item.entry);
            (i < split ? here : there).addEntry(item.entry);
          }
        });
        here.absorbEntries(structuredClone(there.entryParts()));
        expect(here.list().map(meaning)).toEqual(whole.list().map(meaning));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses entry parts of another grain', () => {
    const hourly = new LatencyTileSet('hour');
    hourly.addEntry(entry());
    expect(() => new LatencyTileSet('day').absorbEntries(hourly.entryParts())).toThrow(/hour tile cannot join a set of day tiles/);
  });
});

describe('latency tile: a simulated day', () => {
  const day = simulateDay({ requests: 3000, seed: 42, day: '2026-11-21' });
  const records: DiagnosticRecord[] = [...day.archive.values()].flatMap((lines) =>
    lines.flatMap((line) => {
      const parsed = parseRequestResponse(JSON.parse(line));
      return parsed.ok ? [parsed.record] : [];
    }),
  );
  const entries: LedgerEntry[] = [...new Set(day.eventLines)].flatMap((line) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return [];
    }
    const normalized = normalizeEvent(value);
    return normalized.ok ? [toLedgerEntry(normalized.value)] : [];
  });
  const joined = joinAll(entries, records).entries;
  const dayTiles = rollUp(buildTiles({ records, entries: joined }), 'day');
  const byDeployment = (deployment: string) => new Map(dayTiles.filter((t) => t.key.deployment === deployment).map((t) => [t.key.backendId, t]));

  it('counts every record once, gateway traffic and direct calls alike', () => {
    expect(dayTiles.reduce((sum, t) => sum + t.requests, 0)).toBe(new Set(records.map((r) => r.correlationId)).size);
    expect(new Set(dayTiles.map((t) => t.key.regionCode))).toEqual(new Set(BACKENDS.map((b) => b.regionCode)));
  });

  it('keeps each backend apart, two in one region too, and counts records for the backend in front of their account', () => {
    const gatewayBackends = new Set(dayTiles.filter((t) => t.key.backendId !== UNKNOWN_BACKEND).map((t) => t.key.backendId));
    expect([...gatewayBackends].sort()).toEqual(BACKENDS.map((b) => b.backendId).sort());
    const eastus = dayTiles.filter((t) => t.key.regionCode === 'eastus' && t.key.deployment === 'gpt-4o-prod' && t.key.backendId !== UNKNOWN_BACKEND);
    expect(eastus.map((t) => t.key.backendId).sort()).toEqual(['aoai-eastus', 'aoai-eastus-2']);
    for (const backend of BACKENDS) {
      const counted = dayTiles.filter((t) => t.key.backendId === backend.backendId).reduce((sum, t) => sum + t.requests, 0);
      const ofAccount = new Set(records.filter((r) => r.account === backend.account).map((r) => r.correlationId)).size;
      expect(counted, backend.backendId).toBe(ofAccount);
    }
  });

  it('attributes records to their backend whatever the order of records and entries', () => {
    const recordsFirst = new LatencyTileSet('day');
    const entriesFirst = new LatencyTileSet('day');
    const distinct = [...new Map(records.map((r) => [r.correlationId, r])).values()];
    for (const r of distinct) recordsFirst.addRecord(r);
    for (const e of joined) recordsFirst.addEntry(e);
    for (const e of joined) entriesFirst.addEntry(e);
    for (const r of distinct) entriesFirst.addRecord(r);
    const summaryOf = (set: LatencyTileSet) => set.list().map((t) => [t.key.backendId, t.key.deployment, t.requests, t.sketches.msPerOutputToken.count]);
    expect(summaryOf(recordsFirst)).toEqual(summaryOf(entriesFirst));
    expect(recordsFirst.backendOf('contoso-aoai-eastus-2', 'gpt-4o-prod')).toBe('aoai-eastus-2');
    expect(recordsFirst.backendOf('an-account-no-gateway-request-reached', 'gpt-4o-prod')).toBe(UNKNOWN_BACKEND);
  });

  it('shows japaneast with the highest p50 service duration for every deployment', () => {
    for (const { deployment } of DEPLOYMENTS) {
      const tiles = byDeployment(deployment);
      const p50 = (backendId: string) => percentiles(tiles.get(backendId)!)!.p50Ms;
      const others = BACKENDS.filter((b) => b.regionCode !== 'japaneast').map((b) => p50(b.backendId));
      expect(p50('aoai-japaneast'), deployment).toBeGreaterThan(Math.max(...others));
    }
  });

  it('shows japaneast with the highest p50 ms per output token, and francecentral with the highest 429 share', () => {
    const tiles = byDeployment('gpt-4o-prod');
    const msPerToken = (backendId: string) => percentiles(tiles.get(backendId)!, 'msPerOutputToken')!.p50Ms;
    const others = BACKENDS.filter((b) => b.regionCode !== 'japaneast').map((b) => msPerToken(b.backendId));
    expect(msPerToken('aoai-japaneast')).toBeGreaterThan(Math.max(...others));
    const throttleShare = (t: LatencyTile) => t.throttled / t.requests;
    const worst = [...tiles.values()].filter((t) => t.requests >= 20).sort((a, b) => throttleShare(b) - throttleShare(a))[0]!;
    expect(worst.key.regionCode).toBe('francecentral');
    expect(throttleShare(worst)).toBeGreaterThan(0.2);
  });

  it('round-trips every tile of the day through its document', () => {
    for (const tile of dayTiles) {
      const restored = deserializeTile(JSON.parse(JSON.stringify(serializeTile(tile))));
      for (const metric of LATENCY_METRICS) expect(percentiles(restored, metric)).toEqual(percentiles(tile, metric));
    }
  });
});
