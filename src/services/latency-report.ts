import type { TileGrain } from '../contracts/latency-tile-document.js';
import type { StoredWeights } from '../contracts/stored-weights.js';
import { deserializeTile, percentiles, rollUp, UNKNOWN_BACKEND, UNKNOWN_DEPLOYMENT, type LatencyTile } from '../domain/latency-tile.js';
import { backendStatsFromTile, recommendWeights, type BackendStats, type BackendWeight, type WeightsRecommendation } from '../domain/weights.js';
import type { AggregateStore } from '../ports/aggregate-store.js';
import type { StoreOptions } from '../ports/ledger-store.js';
import { daysOfRange, HOUR_MS } from '../domain/tile-windows.js';

export interface LatencyQuery {
  readonly from: Date;
  readonly to: Date;
  readonly deployment?: string;
}

export interface LatencyRow {
  readonly region: string;
  readonly deployment: string | null;
  readonly requests: number;
  readonly errors: number;
  readonly throttled: number;
  readonly errorRate: number;
  readonly throttleRate: number;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
}

export interface LatencyReport {
  readonly from: string;
  readonly to: string;
  readonly deployment: string | null;
  readonly rows: readonly LatencyRow[];
  /** Start of the latest UTC hour with latency data (of the deployment, when one is asked for), or null when there is none: tells where to look when the period is empty. */
  readonly latestDataHour: string | null;
  /** Hourly percentiles per region, for charts over time. */
  readonly series: readonly { readonly windowStart: string; readonly region: string; readonly requests: number; readonly p50Ms: number | null; readonly p95Ms: number | null }[];
}

/** Hour tiles of [from, to) (one single-partition query per day), optionally for one deployment. */
export async function hourTiles(aggregates: Pick<AggregateStore, 'listLatencyTiles'>, query: LatencyQuery, options: StoreOptions = {}): Promise<LatencyTile[]> {
  const tiles: LatencyTile[] = [];
  for (const day of daysOfRange(query)) {
    for (const doc of await aggregates.listLatencyTiles(day, 'hour' satisfies TileGrain, query.deployment ? { ...options, deployment: query.deployment } : options)) {
      const start = Date.parse(doc.windowStart);
      if (start < query.from.getTime() || start >= query.to.getTime()) continue;
      tiles.push(deserializeTile(doc));
    }
  }
  return tiles;
}

/**
 * Merges tiles over time into one per region, per backend and deployment when `by` says so (else over every
 * backend or deployment, keyed `*`).
 */
export function mergeOverTime(tiles: readonly LatencyTile[], by: { readonly backend: boolean; readonly deployment: boolean }): LatencyTile[] {
  const relabelled = tiles.map((t) => (by.backend && by.deployment ? t : { ...t, key: { ...t.key, ...(by.backend ? {} : { backendId: '*' }), ...(by.deployment ? {} : { deployment: '*' }) } }));
  // One window spanning everything: roll up to "day" per tile, then merge across days by re-keying the window.
  const perDay = rollUp(relabelled, 'day').map((t) => ({ ...t, key: { ...t.key, windowStart: '1970-01-01T00:00:00.000Z' } }));
  return rollUp(perDay, 'day');
}

/** Milliseconds to 0.1 ms: far finer than the sketch's 1 % accuracy, and readable. */
const ms = (value: number | undefined): number | null => (value === undefined ? null : Math.round(value * 10) / 10);

function row(tile: LatencyTile, deployment: string | null): LatencyRow {
  const p = percentiles(tile, 'serviceMs');
  const rate = (n: number) => (tile.requests === 0 ? 0 : Math.round((n / tile.requests) * 1e6) / 1e6);
  return {
    region: tile.key.regionCode,
    deployment,
    requests: tile.requests,
    errors: tile.errors,
    throttled: tile.throttled,
    errorRate: rate(tile.errors),
    throttleRate: rate(tile.throttled),
    p50Ms: ms(p?.p50Ms),
    p90Ms: ms(p?.p90Ms),
    p95Ms: ms(p?.p95Ms),
    p99Ms: ms(p?.p99Ms),
  };
}

/** p50/p90/p95/p99 of service duration, counts, 429 and error rates per region over [from, to). */
export async function latencyReport(aggregates: Pick<AggregateStore, 'listLatencyTiles' | 'latestLatencyHour'>, query: LatencyQuery, options: StoreOptions = {}): Promise<LatencyReport> {
  const tiles = await hourTiles(aggregates, query, options);
  const rows = mergeOverTime(tiles, { backend: false, deployment: false })
    .map((t) => row(t, query.deployment ?? null))
    .sort((a, b) => (a.region < b.region ? -1 : 1));
  const hourly = new Map<string, LatencyTile[]>();
  for (const t of tiles) {
    const key = `${t.key.windowStart}\u0000${t.key.regionCode}`;
    const group = hourly.get(key) ?? [];
    if (group.length === 0) hourly.set(key, group);
    group.push({ ...t, key: { ...t.key, backendId: '*', deployment: '*' } });
  }
  const series = [...hourly.values()]
    .map((group) => rollUp(group, 'hour')[0]!)
    .map((t) => {
      const p = percentiles(t, 'serviceMs');
      return { windowStart: t.key.windowStart, region: t.key.regionCode, requests: t.requests, p50Ms: ms(p?.p50Ms), p95Ms: ms(p?.p95Ms) };
    })
    .sort((a, b) => (a.windowStart < b.windowStart ? -1 : a.windowStart > b.windowStart ? 1 : a.region < b.region ? -1 : 1));
  const latestDataHour = await aggregates.latestLatencyHour(query.deployment, options);
  return { from: query.from.toISOString(), to: query.to.toISOString(), deployment: query.deployment ?? null, rows, latestDataHour, series };
}

/**
 * Tiles merged over time per backend and deployment, without the `(unknown)` backend and deployment: the pools'
 * members. A backend that answered from several regions (a pool the policy forwards to, or one backend id in front
 * of accounts in two regions) is one member, its regions named together (`eastus+swedencentral`).
 */
export function poolTiles(tiles: readonly LatencyTile[]): LatencyTile[] {
  const members = tiles.filter((t) => t.key.deployment !== UNKNOWN_DEPLOYMENT && t.key.backendId !== UNKNOWN_BACKEND);
  const regions = new Map<string, Set<string>>();
  const memberOf = (t: LatencyTile) => `${t.key.backendId}\u0000${t.key.deployment}`;
  for (const t of members) regions.set(memberOf(t), (regions.get(memberOf(t)) ?? new Set()).add(t.key.regionCode));
  const relabelled = members.map((t) => {
    const seen = regions.get(memberOf(t))!;
    return seen.size === 1 ? t : { ...t, key: { ...t.key, regionCode: [...seen].sort().join('+') } };
  });
  return mergeOverTime(relabelled, { backend: true, deployment: true });
}

export type WeightsOptions = StoreOptions & { maxStepPct?: number; minSharePct?: number };

interface DeploymentWeights {
  readonly recommendation: WeightsRecommendation;
  /** The recommendation stepped from (the one stored before this window), null for the first. */
  readonly basedOn: Readonly<Record<string, number>> | null;
  /** Whether a recommendation for exactly this window is stored already. */
  readonly stored: boolean;
}

/**
 * Recommended backend-pool weights per deployment from the latency tiles of [from, to), read only. Pool members
 * are the APIM backends the gateway events name (`gateway.backendId`); tiles of no known backend (`(unknown)`:
 * entries without a backend id, direct calls to an account no gateway request reached) are left out. Each
 * recommendation moves at most one step from the latest one stored before the window ends (the weights timer
 * stores one per window: `storeWeights`); for a window already stored, the answer is the stored one's, so asking
 * again, or after the timer ran, gives the same weights.
 */
export async function weightsReport(aggregates: Pick<AggregateStore, 'listLatencyTiles' | 'latestWeights'>, query: LatencyQuery, options: WeightsOptions = {}): Promise<WeightsRecommendation[]> {
  return (await deploymentWeights(aggregates, query, options)).map((d) => d.recommendation);
}

/**
 * The weights timer: computes the recommendation of each deployment for [from, to) and stores it with its
 * window end, once (a concurrent run storing the same window leaves the first one). Returns how many it stored.
 */
export async function storeWeights(
  aggregates: Pick<AggregateStore, 'listLatencyTiles' | 'latestWeights' | 'createWeights'>,
  query: LatencyQuery,
  options: WeightsOptions = {},
  include: (deployment: string) => boolean | Promise<boolean> = () => true,
): Promise<number> {
  const windowEnd = query.to.toISOString();
  let stored = 0;
  for (const d of await deploymentWeights(aggregates, query, options, include)) {
    if (d.stored) continue;
    const weights = Object.fromEntries(d.recommendation.weights.map((w) => [w.backendId, w.weight]));
    if (await aggregates.createWeights({ deployment: d.recommendation.deployment, windowEnd, weights, basedOn: d.basedOn }, options)) stored++;
  }
  return stored;
}


/**
 * The weights timer's run at `to` (a whole UTC hour): stores the recommendation of the window of `hours` hours
 * ending at `to`, and first those of the hourly windows missed since the latest one stored (at most `hours` of
 * them), in order, so each steps from the one before. The host runs a schedule missed while the app was down once
 * when it is back (`useMonitor`), not once per missed occurrence. Returns the windows run and the recommendations stored.
 */
export async function storeWeightsUpTo(
  store: Pick<AggregateStore, 'listLatencyTiles' | 'latestWeights' | 'createWeights'>,
  to: Date,
  hours: number,
  options: WeightsOptions = {},
): Promise<{ windows: number; stored: number }> {
  // The span and every window read the same days: each day's tiles are read once a run.
  const days = new Map<string, ReturnType<AggregateStore['listLatencyTiles']>>();
  // Each deployment's latest recommendation up to `to` is read once a run, then followed as this run stores the next
  // ones: it is also the latest up to any later window's end. A create that finds its window stored (another run)
  // drops it, to be read again.
  const latestUpToTo = new Map<string, StoredWeights | null>();
  const aggregates: typeof store = {
    listLatencyTiles: (day, grain, o) => {
      const key = `${day} ${grain} ${o?.deployment ?? ''}`;
      let tiles = days.get(key);
      if (!tiles) days.set(key, (tiles = store.listLatencyTiles(day, grain, o)));
      return tiles;
    },
    latestWeights: async (deployment, windowEnd, o) => {
      let latest = latestUpToTo.get(deployment);
      if (latest === undefined) latestUpToTo.set(deployment, (latest = await store.latestWeights(deployment, to.toISOString(), o)));
      return latest === null || latest.windowEnd <= windowEnd ? latest : store.latestWeights(deployment, windowEnd, o);
    },
    createWeights: async (weights, o) => {
      const created = await store.createWeights(weights, o);
      if (created) latestUpToTo.set(weights.deployment, weights);
      else latestUpToTo.delete(weights.deployment);
      return created;
    },
  };
  const windowEnding = (end: number): LatencyQuery => ({ from: new Date(end - hours * HOUR_MS), to: new Date(end) });
  const last = to.getTime();
  // The latest window stored of each deployment: a missed window is stored only after it, never behind a later one.
  const latestOf = new Map<string, number>();
  const latest = async (deployment: string) => {
    let at = latestOf.get(deployment);
    if (at === undefined) {
      const stored = await aggregates.latestWeights(deployment, to.toISOString(), options);
      latestOf.set(deployment, (at = stored ? Date.parse(stored.windowEnd) : -Infinity));
    }
    return at;
  };
  // The windows missed start after the earliest latest one of the deployments with traffic in a window that may be
  // missed (a deployment drained since has windows to store too; one never stored sets no start), at most `hours` back.
  // A tile of the hour starting s is in the windows ending s + 1h to s + `hours`.
  const lastTraffic = new Map<string, number>();
  for (const tile of await hourTiles(aggregates, { from: new Date(last - 2 * hours * HOUR_MS), to }, options)) {
    if (tile.key.deployment === UNKNOWN_DEPLOYMENT || tile.key.backendId === UNKNOWN_BACKEND) continue;
    const start = Date.parse(tile.key.windowStart);
    lastTraffic.set(tile.key.deployment, Math.max(lastTraffic.get(tile.key.deployment) ?? start, start));
  }
  let first = last;
  for (const [deployment, trafficStart] of lastTraffic) {
    const at = await latest(deployment);
    if (at === -Infinity || at >= Math.min(last, trafficStart + hours * HOUR_MS)) continue;
    first = Math.min(first, Math.max(at, last - (hours + 1) * HOUR_MS) + HOUR_MS);
  }
  let stored = 0;
  for (let end = first; end < last; end += HOUR_MS) stored += await storeWeights(aggregates, windowEnding(end), options, async (deployment) => (await latest(deployment)) < end);
  stored += await storeWeights(aggregates, windowEnding(last), options);
  return { windows: (last - first) / HOUR_MS + 1, stored };
}

/**
 * The recommendation of a window the timer stored, with the weights it stored: records arrive after the hour, so the
 * rollup may rewrite the window's last tiles after the timer ran, and weights computed again could differ from the
 * ones operators deployed and the next window steps from. Reasons and figures are the tiles' as they are now.
 */
function asStored(computed: WeightsRecommendation, weights: Readonly<Record<string, number>>): WeightsRecommendation {
  const ids = computed.weights.map((w) => w.backendId);
  if (ids.length !== Object.keys(weights).length || ids.some((id) => weights[id] === undefined)) return computed;
  if (computed.weights.every((w) => w.weight === weights[w.backendId])) return computed;
  // Each reason ends with the weight it explains (`; weight N`): it says which one is stored beside the recomputed one.
  const stored = (w: BackendWeight) => ({ ...w, weight: weights[w.backendId]!, reason: w.reason.replace(/; weight (\d+)$/, `; recomputed now: $1; stored for this window: weight ${weights[w.backendId]!}`) });
  const explanation = `${computed.explanation} The weights are the ones stored for this window; records that arrived since changed its tiles, and the scores and reasons are the tiles' as they are now.`;
  return { ...computed, explanation, weights: computed.weights.map(stored) };
}

/** A pool member without a request in the window: no figures, so it is scored with the pool's median ones. */
function quietBackend(backendId: string): BackendStats {
  return { backendId, regionCode: null, requests: 0, msPerOutputToken: null, ttftMs: null, serviceMs: null, throttleRate: 0, errorRate: 0 };
}

async function deploymentWeights(
  aggregates: Pick<AggregateStore, 'listLatencyTiles' | 'latestWeights'>,
  query: LatencyQuery,
  options: WeightsOptions,
  include: (deployment: string) => boolean | Promise<boolean> = () => true,
): Promise<DeploymentWeights[]> {
  const tiles = poolTiles(await hourTiles(aggregates, query, options));
  const deployments = [...new Set(tiles.map((t) => t.key.deployment))].sort();
  const windowEnd = query.to.toISOString();
  const out: DeploymentWeights[] = [];
  for (const deployment of deployments) {
    if (!(await include(deployment))) continue;
    const backends = tiles.filter((t) => t.key.deployment === deployment).map((t) => backendStatsFromTile(t.key.backendId, t));
    const latest = await aggregates.latestWeights(deployment, windowEnd, options);
    const stored = latest?.windowEnd === windowEnd;
    const basedOn = !latest ? null : stored ? latest.basedOn : latest.weights;
    // A member of the previous recommendation that served nothing in the window (drained, or its circuit breaker
    // open) stays a member, scored at the pool median: a template replaces the pool's members as a whole.
    for (const backendId of Object.keys(basedOn ?? {})) {
      if (!backends.some((b) => b.backendId === backendId)) backends.push(quietBackend(backendId));
    }
    const computed = recommendWeights(
      { deployment, backends, previous: basedOn },
      { ...(options.maxStepPct !== undefined ? { maxStepPct: options.maxStepPct } : {}), ...(options.minSharePct !== undefined ? { minSharePct: options.minSharePct } : {}) },
    );
    out.push({ recommendation: stored ? asStored(computed, latest.weights) : computed, basedOn, stored });
  }
  return out;
}
