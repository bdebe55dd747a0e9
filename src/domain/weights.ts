import { z } from 'zod';
import { percentiles, type LatencyTile } from './latency-tile.js';

/**
 * Recommended weights for one deployment's APIM backend pool (its members are APIM backends; a region may hold
 * several), from per-backend latency and failure rates.
 *
 * 1. **Health.** A backend with at least `minRequests` requests whose 5xx rate exceeds `unhealthyErrorRate` is
 *    unhealthy: its target is 0 (the only way to get 0). If every backend is unhealthy, none is excluded.
 * 2. **Latency basis**, the same for every backend of the pool so their figures compare: ms per output token
 *    (service time / completion tokens), or time to first token for a streaming pool, else the other of the
 *    two; when token-normalised figures are not known for every judged backend, the raw service latency
 *    (`DurationMs`) — which ignores answer length, so the explanation says so.
 * 3. **Score** of a healthy backend: `score = (1 / L) × (1 − r429)² × (1 − rErr)`, where `L` is the mean of p50
 *    and p95 on the basis divided by the fastest backend's (so the fastest has `L = 1`), `r429` the share of
 *    429 answers and `rErr` the share of 5xx answers. 429s count squared: a throttled request is retried
 *    elsewhere and costs a round trip, and throttling signals that more load makes it worse. A backend with
 *    fewer than `minRequests` requests (or without the basis metric) is scored with the pool's median figures.
 * 4. **Target shares**: scores in proportion, summing to 100, each healthy backend at least `minSharePct`
 *    (capped at 100 / number of healthy backends, and never below 1: a healthy backend always keeps traffic).
 * 5. **Step limit**: when the previous recommendation covers every backend of the pool, no weight moves more
 *    than `maxStepPct` points from it (an unhealthy backend drains by at most that much per run, too). The
 *    targets are projected onto these bounds with one common additive shift, so the sum stays 100; if the
 *    bounds and the minimum share cannot both hold, the minimum share yields.
 * 6. **Rounding** to integers by largest remainder (ties: backend id order), inside the bounds.
 *
 * Weights are percentages: integers that sum to exactly 100, priority 1 for every backend (one tier).
 */

export const weightsOptionsSchema = z
  .object({
    /** Minimum weight of every healthy backend, in percentage points. */
    minSharePct: z.number().int().min(0).max(50).default(5),
    /** Maximum change of any weight from the previous recommendation, in percentage points. */
    maxStepPct: z.number().int().min(1).max(100).default(20),
    /** A backend whose 5xx rate is above this (0–1) is unhealthy and drained. */
    unhealthyErrorRate: z.number().min(0).max(1).default(0.2),
    /** Fewer requests than this are not enough to judge a backend; it is scored at the pool median. */
    minRequests: z.number().int().min(0).default(20),
  })
  .strict();
export type WeightsOptions = z.input<typeof weightsOptionsSchema>;
export type ResolvedWeightsOptions = z.output<typeof weightsOptionsSchema>;

const quantilesSchema = z
  .object({ p50Ms: z.number().finite().nonnegative(), p95Ms: z.number().finite().nonnegative() })
  .refine((q) => q.p50Ms <= q.p95Ms, { error: 'p50 must not exceed p95' });
export type LatencyQuantiles = z.infer<typeof quantilesSchema>;

const rateSchema = z.number().min(0).max(1);

export const backendStatsSchema = z.object({
  /** APIM backend id (name), `/backends/<name>` or its full resource id. */
  backendId: z.string().min(1),
  regionCode: z.string().nullable(),
  requests: z.number().int().nonnegative(),
  /** Service time per output token (ms/token) of answered requests with completion tokens. */
  msPerOutputToken: quantilesSchema.nullable(),
  /** Time to first token of answered streamed requests. */
  ttftMs: quantilesSchema.nullable(),
  /** Raw service duration (`DurationMs`) of answered requests. */
  serviceMs: quantilesSchema.nullable(),
  /** Share of requests answered 429. */
  throttleRate: rateSchema,
  /** Share of requests answered 5xx. */
  errorRate: rateSchema,
});
export type BackendStats = z.infer<typeof backendStatsSchema>;

export const poolInputSchema = z.object({
  deployment: z.string().min(1),
  /** A streaming pool prefers time to first token over ms per output token. */
  streaming: z.boolean().default(false),
  // No upper bound: a deployment whose events name more backends than a pool takes (a policy writing a value per
  // request) is still answered, in the table and JSON; the templates refuse it (`oversizedPools`).
  backends: z
    .array(backendStatsSchema)
    .min(1)
    .refine((list) => new Set(list.map((b) => b.backendId)).size === list.length, { error: 'backend ids must be unique' }),
  /** The previous recommendation: weight by backend id (any relative integers; normalised to percent). */
  previous: z.record(z.string(), z.number().finite().nonnegative()).nullish(),
});
export type PoolInput = z.input<typeof poolInputSchema>;

export type LatencyBasis = 'ms-per-output-token' | 'ttft' | 'service-latency';

export interface BackendWeight {
  readonly backendId: string;
  readonly regionCode: string | null;
  /** Integer percentage; the pool's weights sum to 100. 0 for an unhealthy backend, or for a healthy one the step limit holds below its minimum share (rule 5). */
  readonly weight: number;
  readonly priority: 1;
  readonly healthy: boolean;
  /** The score of rule 3, or null for an unhealthy backend. */
  readonly score: number | null;
  /** The previous weight in percent, or null when the step limit did not apply. */
  readonly previousWeight: number | null;
  /** One line: why this weight. */
  readonly reason: string;
}

export interface WeightsRecommendation {
  readonly deployment: string;
  /** Null when no backend had latency figures (every backend scored alike). */
  readonly basis: LatencyBasis | null;
  readonly stepLimited: boolean;
  /** How the weights were derived, in a few sentences for the operator. */
  readonly explanation: string;
  /** Sorted by backend id. */
  readonly weights: readonly BackendWeight[];
}

const BASIS_FIELD: Readonly<Record<LatencyBasis, 'msPerOutputToken' | 'ttftMs' | 'serviceMs'>> = {
  'ms-per-output-token': 'msPerOutputToken',
  ttft: 'ttftMs',
  'service-latency': 'serviceMs',
};
const BASIS_LABEL: Readonly<Record<LatencyBasis, string>> = {
  'ms-per-output-token': 'ms/output token',
  ttft: 'TTFT ms',
  'service-latency': 'service ms',
};
/** Latency figures below this are treated as this (a zero would make the score infinite). */
const MIN_LATENCY = 1e-3;

/** Per-backend statistics from the backend's latency tile (typically an hour or day tile of its region). */
export function backendStatsFromTile(backendId: string, tile: LatencyTile): BackendStats {
  const pick = (metric: 'serviceMs' | 'ttftMs' | 'msPerOutputToken'): LatencyQuantiles | null => {
    const p = percentiles(tile, metric);
    return p ? { p50Ms: p.p50Ms, p95Ms: Math.max(p.p50Ms, p.p95Ms) } : null;
  };
  return {
    backendId,
    regionCode: tile.key.regionCode,
    requests: tile.requests,
    msPerOutputToken: pick('msPerOutputToken'),
    ttftMs: pick('ttftMs'),
    serviceMs: pick('serviceMs'),
    throttleRate: tile.requests > 0 ? tile.throttled / tile.requests : 0,
    errorRate: tile.requests > 0 ? tile.errors / tile.requests : 0,
  };
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function pct(rate: number): string {
  return `${(rate * 100).toFixed(1)} %`;
}

function figure(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/**
 * Rounds non-negative values that sum to `total` (an integer) to integers that sum to `total` exactly: floors
 * first, then one more to the largest remainders; ties go to the lower index. Exported for tests.
 */
export function largestRemainder(values: readonly number[], total: number): number[] {
  // Snap float noise (29.9999999999 → 30) so an exact integer is never treated as having a remainder.
  const snapped = values.map((v) => Math.round(v * 1e9) / 1e9);
  const floors = snapped.map(Math.floor);
  let missing = total - floors.reduce((sum, v) => sum + v, 0);
  const order = snapped
    .map((v, index) => ({ index, remainder: v - floors[index]! }))
    .sort((a, b) => b.remainder - a.remainder || a.index - b.index);
  for (const { index, remainder } of order) {
    if (missing <= 0 || remainder <= 0) break;
    floors[index]! += 1;
    missing--;
  }
  if (missing !== 0) throw new RangeError(`cannot round ${JSON.stringify(values)} to integers summing to ${total}`);
  return floors;
}

/** Shares in proportion to `scores`, summing to `total`, none below `floor` (water-filling). */
function sharesWithFloor(scores: readonly number[], total: number, floor: number): number[] {
  const shares = scores.map(() => 0);
  const fixed = new Set<number>();
  for (;;) {
    const free = scores.map((_, i) => i).filter((i) => !fixed.has(i));
    const budget = total - fixed.size * floor;
    const scoreSum = free.reduce((sum, i) => sum + scores[i]!, 0);
    for (const i of free) shares[i] = scoreSum > 0 ? (budget * scores[i]!) / scoreSum : budget / free.length;
    const below = free.filter((i) => shares[i]! < floor);
    if (below.length === 0) return shares;
    for (const i of below) {
      fixed.add(i);
      shares[i] = floor;
    }
  }
}

/** The common shift λ with Σ clamp(t_i + λ, lo_i, hi_i) = total (requires Σlo ≤ total ≤ Σhi), applied. */
function projectOntoBounds(targets: readonly number[], lo: readonly number[], hi: readonly number[], total: number): number[] {
  const at = (lambda: number) => targets.map((t, i) => Math.min(hi[i]!, Math.max(lo[i]!, t + lambda)));
  const sumAt = (lambda: number) => at(lambda).reduce((sum, v) => sum + v, 0);
  const breakpoints = [...new Set(targets.flatMap((t, i) => [lo[i]! - t, hi[i]! - t]))].sort((a, b) => a - b);
  const first = breakpoints[0]!;
  if (sumAt(first) >= total) return at(first);
  for (let k = 1; k < breakpoints.length; k++) {
    const [a, b] = [breakpoints[k - 1]!, breakpoints[k]!];
    const [fa, fb] = [sumAt(a), sumAt(b)];
    if (fb >= total) return at(fb === fa ? a : a + ((total - fa) * (b - a)) / (fb - fa));
  }
  return at(breakpoints[breakpoints.length - 1]!);
}

interface Judged {
  readonly stats: BackendStats;
  readonly healthy: boolean;
  readonly sampled: boolean;
}

function chooseBasis(judged: readonly Judged[], streaming: boolean): LatencyBasis | null {
  // A backend timed on no basis at all (every answer a 429) compares on none: it is scored at the pool median.
  const candidates = judged.filter((j) => j.healthy && j.sampled && (j.stats.msPerOutputToken !== null || j.stats.ttftMs !== null || j.stats.serviceMs !== null));
  const order: LatencyBasis[] = streaming ? ['ttft', 'ms-per-output-token', 'service-latency'] : ['ms-per-output-token', 'ttft', 'service-latency'];
  if (candidates.length === 0) return null;
  for (const basis of order) {
    if (candidates.every((j) => j.stats[BASIS_FIELD[basis]] !== null)) return basis;
  }
  return candidates.some((j) => j.stats.serviceMs !== null) ? 'service-latency' : null;
}

/** The previous weights in percent over the pool's backends, or the reason why the step limit cannot apply. */
function previousPercent(ids: readonly string[], previous: Readonly<Record<string, number>> | null | undefined): { ok: true; pct: number[] } | { ok: false; why: string } {
  if (!previous) return { ok: false, why: 'no previous recommendation' };
  const missing = ids.filter((id) => !(id in previous));
  if (missing.length > 0) return { ok: false, why: `the previous recommendation lacks ${missing.join(', ')}` };
  const raw = ids.map((id) => previous[id]!);
  const sum = raw.reduce((a, b) => a + b, 0);
  if (sum <= 0) return { ok: false, why: 'the previous weights sum to 0' };
  return { ok: true, pct: largestRemainder(raw.map((w) => (w * 100) / sum), 100) };
}

/** Recommended weights for one deployment's backend pool; see the rules at the top of this module. */
export function recommendWeights(poolInput: PoolInput, options: WeightsOptions = {}): WeightsRecommendation {
  const opts = weightsOptionsSchema.parse(options);
  const pool = poolInputSchema.parse(poolInput);
  const backends = [...pool.backends].sort((a, b) => (a.backendId < b.backendId ? -1 : a.backendId > b.backendId ? 1 : 0));

  // 1. Health.
  let judged: Judged[] = backends.map((stats) => {
    const sampled = stats.requests >= opts.minRequests && stats.requests > 0;
    return { stats, sampled, healthy: !(sampled && stats.errorRate > opts.unhealthyErrorRate) };
  });
  const allUnhealthy = judged.every((j) => !j.healthy);
  if (allUnhealthy) judged = judged.map((j) => ({ ...j, healthy: true }));

  // 2. Basis and normalised latency.
  const basis = chooseBasis(judged, pool.streaming);
  const rawLatency = judged.map((j) => {
    if (!basis || !j.sampled) return null;
    const q = j.stats[BASIS_FIELD[basis]];
    return q ? Math.max(MIN_LATENCY, (q.p50Ms + q.p95Ms) / 2) : null;
  });
  const scoredLatencies = rawLatency.filter((l, i): l is number => l !== null && judged[i]!.healthy);
  const fastest = scoredLatencies.length > 0 ? Math.min(...scoredLatencies) : null;
  const medianLatency = fastest === null ? 1 : median(scoredLatencies.map((l) => l / fastest))!;
  const sampledHealthy = judged.filter((j) => j.healthy && j.sampled).map((j) => j.stats);
  const medianThrottle = median(sampledHealthy.map((s) => s.throttleRate)) ?? 0;
  const medianError = median(sampledHealthy.map((s) => s.errorRate)) ?? 0;

  // 3. Scores.
  const neutral = judged.map((j, i) => !j.sampled || rawLatency[i] === null);
  const normalised = judged.map((_, i) => (fastest !== null && rawLatency[i] !== null ? rawLatency[i]! / fastest : medianLatency));
  const scores = judged.map((j, i) => {
    if (!j.healthy) return null;
    const throttle = j.sampled ? j.stats.throttleRate : medianThrottle;
    const error = j.sampled ? j.stats.errorRate : medianError;
    return (1 / normalised[i]!) * (1 - throttle) ** 2 * (1 - error);
  });

  // 4. Targets with the minimum share.
  const healthyIdx = judged.map((j, i) => (j.healthy ? i : -1)).filter((i) => i >= 0);
  const floorPct = Math.max(1, Math.min(opts.minSharePct, Math.floor(100 / healthyIdx.length)));
  const healthyShares = sharesWithFloor(
    healthyIdx.map((i) => scores[i]!),
    100,
    floorPct,
  );
  const targets = judged.map(() => 0);
  healthyIdx.forEach((i, k) => (targets[i] = healthyShares[k]!));

  // 5. Bounds: the step limit around the previous weights, and the minimum share.
  const ids = backends.map((b) => b.backendId);
  const prev = previousPercent(ids, pool.previous);
  const step = opts.maxStepPct;
  const boundsFor = (floor: number) =>
    judged.map((j, i) => {
      if (!prev.ok) return j.healthy ? { lo: floor, hi: 100 } : { lo: 0, hi: 0 };
      const p = prev.pct[i]!;
      return j.healthy ? { lo: Math.max(p - step, Math.min(floor, p + step)), hi: Math.min(100, p + step) } : { lo: Math.max(0, p - step), hi: p };
    });
  let floor = floorPct;
  let bounds = boundsFor(floor);
  while (floor > 0 && bounds.reduce((sum, b) => sum + b.lo, 0) > 100) bounds = boundsFor(--floor);

  // 6. Project, round, check.
  const lo = bounds.map((b) => b.lo);
  const hi = bounds.map((b) => b.hi);
  const continuous = projectOntoBounds(targets, lo, hi, 100);
  const weights = largestRemainder(continuous, 100);
  weights.forEach((w, i) => {
    if (w < lo[i]! || w > hi[i]!) throw new RangeError(`internal: weight ${w} of ${ids[i]} outside [${lo[i]}, ${hi[i]}]`);
  });

  const label = basis ? BASIS_LABEL[basis] : null;
  const scoreSum = healthyIdx.reduce((sum, k) => sum + scores[k]!, 0);
  const result: BackendWeight[] = judged.map((j, i) => {
    const s = j.stats;
    const w = weights[i]!;
    const p = prev.ok ? prev.pct[i]! : null;
    let reason: string;
    if (!j.healthy) {
      reason = `unhealthy: 5xx rate ${pct(s.errorRate)} > ${pct(opts.unhealthyErrorRate)} over ${s.requests} requests, target 0`;
    } else {
      const q = basis ? s[BASIS_FIELD[basis]] : null;
      const measured = !neutral[i] && q && label ? `${label} p50 ${figure(q.p50Ms)} / p95 ${figure(q.p95Ms)}` : null;
      const head = measured
        ? `${measured}, 429s ${pct(s.throttleRate)}, 5xx ${pct(s.errorRate)}`
        : !j.sampled
          ? `${s.requests} requests (< ${opts.minRequests}): scored at the pool median`
          : `no ${label ?? 'latency'} figures: scored at the pool median latency, 429s ${pct(s.throttleRate)}, 5xx ${pct(s.errorRate)}`;
      const raisedToFloor = healthyIdx.length > 1 && Math.abs(targets[i]! - floorPct) < 1e-9 && scores[i]! * 100 < floorPct * scoreSum;
      reason = `${head}; score ${scores[i]!.toFixed(3)} → target ${targets[i]!.toFixed(1)} %${raisedToFloor ? ` (the ${floorPct} % minimum share)` : ''}`;
    }
    if (p !== null && Math.abs(continuous[i]! - targets[i]!) > 1e-6) {
      const atLow = continuous[i]! <= lo[i]! + 1e-9 && lo[i]! === p - step;
      const atHigh = continuous[i]! >= hi[i]! - 1e-9 && hi[i]! === p + step;
      reason += atLow
        ? `; held to −${step} points from the previous ${p}`
        : atHigh
          ? `; held to +${step} points from the previous ${p}`
          : `; shifted so the pool sums to 100 within ±${step} points of the previous weights (previous ${p})`;
    }
    reason += `; weight ${w}`;
    return { backendId: s.backendId, regionCode: s.regionCode, weight: w, priority: 1, healthy: j.healthy, score: scores[i] ?? null, previousWeight: p, reason };
  });

  const sentences: string[] = [];
  if (basis === 'ms-per-output-token') sentences.push('Latency basis: service time per output token (ms/token), mean of p50 and p95, relative to the fastest backend.');
  else if (basis === 'ttft') sentences.push('Latency basis: time to first token of streamed requests, mean of p50 and p95, relative to the fastest backend.');
  else if (basis === 'service-latency') {
    sentences.push(
      'No token counts known for every backend: scored on raw service latency (DurationMs, mean of p50 and p95), which ignores answer length, so a backend that served longer answers looks slower than it is.',
    );
  } else sentences.push('No backend has enough latency figures: every backend is scored alike.');
  sentences.push('score = (1 / normalised latency) × (1 − 429 rate)² × (1 − 5xx rate); weights in proportion to score.');
  sentences.push(
    floor === opts.minSharePct || opts.minSharePct === 0
      ? `Minimum share per healthy backend: ${floor} %.`
      : `Minimum share per healthy backend: ${floor} % (${opts.minSharePct} % requested; lowered so that ${floor === floorPct ? `${healthyIdx.length} healthy backends fit in 100 %` : 'the step limit can be kept'}).`,
  );
  if (allUnhealthy) sentences.push(`Every backend's 5xx rate is above ${pct(opts.unhealthyErrorRate)}: none is excluded.`);
  sentences.push(prev.ok ? `No weight moves more than ${step} points from the previous recommendation.` : `Step limit not applied: ${prev.why}.`);

  return { deployment: pool.deployment, basis, stepLimited: prev.ok, explanation: sentences.join(' '), weights: result };
}
