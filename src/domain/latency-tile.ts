import { DDSketch } from '@datadog/sketches-js';
import type { StoredDiagnostic } from '../contracts/diagnostic-record.js';
import {
  LATENCY_TILE_SCHEMA,
  latencyMetricSchema,
  latencyTileDocumentSchema,
  type LatencyMetric,
  type LatencyTileDocument,
  type StoredSketch,
  type TileGrain,
} from '../contracts/latency-tile-document.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import { ownedText } from './owned-text.js';
import { stableId } from './stable-id.js';
import { parseInstant } from '../contracts/utc-instant.js';

/**
 * Latency tiles: per region code, APIM backend, deployment and time window, the request counts and four
 * mergeable latency distributions (DDSketch, 1 % relative accuracy) that the latency views and the weight
 * recommendation read. Backends are the members of the gateway's pools (`gateway.backendId` of the events, e.g.
 * `aoai-eastus`); the region is their attribute, so two accounts in one region are two backends.
 *
 * Two sources feed a tile, and each number has exactly one of them, so nothing is counted twice:
 *
 * | tile field                | source                                   | why                                               |
 * |---------------------------|------------------------------------------|---------------------------------------------------|
 * | requests, errors, 429s    | `RequestResponse` diagnostic records     | region load is every call the region served, through the gateway or not |
 * | `serviceMs`               | records: `DurationMs`                    | the service's own time, also for direct calls      |
 * | `gatewayTotalMs`          | ledger entries: `timings.totalMs`        | what callers of the gateway waited                 |
 * | `ttftMs`                  | ledger entries of streams: `timings.ttftMs` | records carry no time to first token            |
 * | `msPerOutputToken`        | ledger entries: service time / completion tokens | records carry no token counts               |
 *
 * Service time for `msPerOutputToken` is the joined record's `DurationMs`, else the gateway's `backendMs` (a
 * few ms of network more) for entries whose record has not arrived (yet).
 *
 * Records name the Azure OpenAI account, not the backend: a record counts for the backend that the same build
 * saw answering its deployment from its account (the joined entries' `gateway.backendId`, deployment and record
 * account; the backend with most such entries when an account sits behind several; of the account's entries of
 * any deployment when none is of the record's). A record of an account that no joined entry names
 * (only direct calls in the window) counts for the backend `(unknown)`: still in its region's figures, never
 * a pool member.
 *
 * Latency describes answered requests: failures (4xx, 5xx, status 429) are counted but not timed, because a 429
 * answers in milliseconds and would make a throttling region look fast. Values must be finite and ≥ 0;
 * others are dropped (real logs hold negative durations).
 *
 * A tile is an accumulator: `addObservation` updates it in place. `mergeTiles`, `rollUp` and the
 * (de)serialisers return new tiles and never modify their inputs.
 */

export const RELATIVE_ACCURACY = 0.01;
/** Deployment of records and entries that name none (e.g. `Create_Thread` records lack the model fields). */
export const UNKNOWN_DEPLOYMENT = '(unknown)';
/** Backend of entries that name none and of records whose account no joined entry names. */
export const UNKNOWN_BACKEND = '(unknown)';
export const LATENCY_METRICS: readonly LatencyMetric[] = latencyMetricSchema.options;

export const GRAIN_MS: Readonly<Record<TileGrain, number>> = { '5m': 300_000, hour: 3_600_000, day: 86_400_000 };

export interface LatencyTileKey {
  readonly regionCode: string;
  /** APIM backend id (`gateway.backendId`), or `UNKNOWN_BACKEND`. */
  readonly backendId: string;
  readonly deployment: string;
  readonly grain: TileGrain;
  /** Window start, ISO 8601 UTC with milliseconds, aligned to the grain. */
  readonly windowStart: string;
}

export interface LatencyTile {
  readonly key: LatencyTileKey;
  requests: number;
  errors: number;
  throttled: number;
  readonly sketches: Readonly<Record<LatencyMetric, DDSketch>>;
}

/** From a diagnostic record: counts the request and times the service. */
export interface RecordObservation {
  readonly kind: 'record';
  readonly regionCode: string;
  readonly backendId: string;
  readonly deployment: string;
  readonly time: string;
  readonly status: number | null;
  /** Null for failures: they are counted, not timed. */
  readonly serviceMs: number | null;
}

/** From a ledger entry: the gateway-side distributions only; counts come from records. */
export interface EntryObservation {
  readonly kind: 'entry';
  readonly regionCode: string;
  readonly backendId: string;
  readonly deployment: string;
  readonly time: string;
  readonly gatewayTotalMs: number | null;
  readonly ttftMs: number | null;
  readonly msPerOutputToken: number | null;
}

export type LatencyObservation = RecordObservation | EntryObservation;

/** The fields of a stored diagnostic record a tile needs (`StoredDiagnostic` and `DiagnosticRecord` both fit). */
export type LatencyRecordInput = Pick<StoredDiagnostic, 'time' | 'account' | 'regionCode' | 'modelDeploymentName' | 'status' | 'durationMs'>;

export interface PercentilesMs {
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Windows and keys

const GRAIN_ORDER: Readonly<Record<TileGrain, number>> = { '5m': 0, hour: 1, day: 2 };

function epochMs(time: string | number | Date): number {
  const ms = time instanceof Date ? time.getTime() : typeof time === 'number' ? time : parseInstant(time);
  if (!Number.isFinite(ms)) throw new RangeError(`${JSON.stringify(String(time)).slice(0, 60)} is not a time`);
  return ms;
}

/** Start of the UTC window of the given grain that contains `time`, as ISO 8601 with milliseconds. */
export function windowStartOf(time: string | number | Date, grain: TileGrain): string {
  const size = GRAIN_MS[grain];
  return new Date(Math.floor(epochMs(time) / size) * size).toISOString();
}

export function windowEndOf(key: Pick<LatencyTileKey, 'grain' | 'windowStart'>): string {
  return new Date(Date.parse(key.windowStart) + GRAIN_MS[key.grain]).toISOString();
}

export function tileKey(regionCode: string, deployment: string, time: string | number | Date, grain: TileGrain = '5m', backendId: string = UNKNOWN_BACKEND): LatencyTileKey {
  return { regionCode, backendId, deployment, grain, windowStart: windowStartOf(time, grain) };
}

function assertKey(key: LatencyTileKey): void {
  if (key.regionCode === '') throw new RangeError('a latency tile needs a region code');
  if (key.backendId === '') throw new RangeError('a latency tile needs a backend id');
  if (key.deployment === '') throw new RangeError('a latency tile needs a deployment');
  if (!(key.grain in GRAIN_MS)) throw new RangeError(`unknown grain ${JSON.stringify(key.grain)}`);
  if (windowStartOf(key.windowStart, key.grain) !== key.windowStart) {
    throw new RangeError(`window start ${key.windowStart} is not an ISO instant aligned to the ${key.grain} grain`);
  }
}

export function sameKey(a: LatencyTileKey, b: LatencyTileKey): boolean {
  return a.regionCode === b.regionCode && a.backendId === b.backendId && a.deployment === b.deployment && a.grain === b.grain && a.windowStart === b.windowStart;
}

function keyText(key: LatencyTileKey): string {
  return `${key.grain}|${key.regionCode}|${key.backendId}|${key.deployment}|${key.windowStart}`;
}

function compareKeys(a: LatencyTileKey, b: LatencyTileKey): number {
  const [x, y] = [keyText(a), keyText(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Deterministic document id: recomputing a window writes the same document again. */
export function tileId(key: LatencyTileKey): string {
  return `lt-${stableId(LATENCY_TILE_SCHEMA, key.grain, key.regionCode, key.backendId, key.deployment, key.windowStart)}`;
}

/** Partition key: the UTC day of the window. */
export function tilePartitionKey(key: Pick<LatencyTileKey, 'windowStart'>): string {
  return `latency:${key.windowStart.slice(0, 10)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Sketches

function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
}

function isLatencyValue(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** A sketch's content as plain data (its bins from `offset`, and its summary): what crosses a worker thread boundary. */
interface SketchContent {
  readonly offset: number;
  readonly bins: readonly number[];
  readonly zeroCount: number;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
}

/** The sketch's content; its bins are the sketch's own, not a copy. */
function contentOf(sketch: DDSketch): SketchContent {
  if (sketch.negativeStore.count > 0) throw new RangeError('latency sketches hold no negative values');
  const { bins, offset } = sketch.store;
  return { offset, bins, zeroCount: sketch.zeroCount, count: sketch.count, sum: sketch.sum, min: sketch.min, max: sketch.max };
}

/** One value per metric, made from that metric's sketch (live, stored or as content), in the metrics' order. */
function perMetric<S, T>(sketches: Readonly<Record<LatencyMetric, S>>, value: (sketch: S, metric: LatencyMetric) => T): Record<LatencyMetric, T> {
  return {
    serviceMs: value(sketches.serviceMs, 'serviceMs'),
    gatewayTotalMs: value(sketches.gatewayTotalMs, 'gatewayTotalMs'),
    ttftMs: value(sketches.ttftMs, 'ttftMs'),
    msPerOutputToken: value(sketches.msPerOutputToken, 'msPerOutputToken'),
  };
}

function snapshotOf(sketch: DDSketch): SketchContent {
  const content = contentOf(sketch);
  return { ...content, bins: [...content.bins] };
}

/**
 * Adds `source` into `target` bin by bin. The library's own `merge` is not used: it ignores the negative store
 * and, when the source's highest key is 0 (values near 1), can write outside the target's bins.
 */
function mergeSketchInto(target: DDSketch, source: DDSketch): void {
  if (!target.mergeable(source)) throw new RangeError('cannot merge sketches of different relative accuracy');
  addContent(target, contentOf(source));
}

/** The first and the last index of the bins that hold values, or null when none does. */
function heldBins(bins: readonly number[]): { first: number; last: number } | null {
  let first = 0;
  while (first < bins.length && !(bins[first]! > 0)) first++;
  if (first === bins.length) return null;
  let last = bins.length - 1;
  while (!(bins[last]! > 0)) last--;
  return { first, last };
}

/** Adds a sketch's content (of this module's relative accuracy) into `target` bin by bin. */
function addContent(target: DDSketch, source: SketchContent): void {
  if (source.count === 0) return;
  const { bins, offset } = source;
  const held = heldBins(bins);
  if (held) {
    // The target's bins are extended to the whole range first: added one by one in key order, they would be grown
    // and shifted again and again.
    target.store.add(held.first + offset, 0);
    target.store.add(held.last + offset, 0);
    for (let i = held.first; i <= held.last; i++) {
      const weight = bins[i]!;
      if (weight > 0) target.store.add(i + offset, weight);
    }
  }
  target.zeroCount += source.zeroCount;
  target.count += source.count;
  target.sum += source.sum;
  target.min = Math.min(target.min, source.min);
  target.max = Math.max(target.max, source.max);
}

function copySketch(source: DDSketch): DDSketch {
  const copy = newSketch();
  mergeSketchInto(copy, source);
  return copy;
}

/**
 * The sketch's protobuf bytes with its bins trimmed to the keys that hold values. The store's bins grow and move
 * with the order values arrive in, and carry zero bins at both ends: the same values now give the same bytes, and
 * a document holds no zero bins around them.
 */
function sketchBytes(sketch: DDSketch): Uint8Array {
  const { bins, offset } = contentOf(sketch);
  const held = heldBins(bins);
  const trimmed = newSketch();
  trimmed.zeroCount = sketch.zeroCount;
  if (held) {
    trimmed.store.bins = bins.slice(held.first, held.last + 1);
    trimmed.store.offset = held.first + offset;
  }
  return trimmed.toProto();
}

function serializeSketch(sketch: DDSketch): StoredSketch {
  const empty = sketch.count === 0;
  return {
    base64: Buffer.from(sketchBytes(sketch)).toString('base64'),
    count: sketch.count,
    sum: sketch.sum,
    min: empty ? null : sketch.min,
    max: empty ? null : sketch.max,
  };
}

function deserializeSketch(stored: StoredSketch, metric: LatencyMetric): DDSketch {
  const decoded = DDSketch.fromProto(new Uint8Array(Buffer.from(stored.base64, 'base64')));
  if (decoded.count !== stored.count) {
    throw new RangeError(`sketch ${metric} holds ${decoded.count} values but its document says ${stored.count}`);
  }
  const sketch = newSketch();
  if (!sketch.mergeable(decoded)) throw new RangeError(`sketch ${metric} was built with another relative accuracy`);
  // The decoded mapping re-derives its accuracy from gamma and differs in the last bits: the bins move into a
  // sketch with our own mapping, so a restored tile answers exactly like the original. `fromProto` restores
  // bins and count only; sum, min and max come from beside the bytes.
  mergeSketchInto(sketch, decoded);
  sketch.sum = stored.sum;
  sketch.min = stored.min ?? Infinity;
  sketch.max = stored.max ?? -Infinity;
  return sketch;
}

// ---------------------------------------------------------------------------------------------------------------
// Observations

/**
 * Whether Azure OpenAI answered a call (2xx, 3xx): answered requests are timed, failures only counted. Unknown
 * status (a record without `ResultSignature`) counts as answered.
 */
export function isAnswered(status: number | null): boolean {
  return status === null || (status >= 200 && status < 400);
}

/**
 * A `RequestResponse` record as an observation for `backendId` (the backend in front of its account), or null
 * when it cannot be placed (no region, unparsable time). Every such record counts, whether it came through the
 * gateway or not; one without a valid duration (real archives hold `durationMs: -1021`) counts untimed.
 */
export function observationFromRecord(record: LatencyRecordInput, backendId: string = UNKNOWN_BACKEND): RecordObservation | null {
  if (!record.regionCode) return null;
  if (!Number.isFinite(parseInstant(record.time))) return null;
  return {
    kind: 'record',
    regionCode: record.regionCode,
    backendId,
    deployment: record.modelDeploymentName || UNKNOWN_DEPLOYMENT,
    time: record.time,
    status: record.status,
    serviceMs: isAnswered(record.status) && isLatencyValue(record.durationMs) ? record.durationMs : null,
  };
}

/**
 * A ledger entry as an observation of the gateway-side distributions, or null when it adds nothing: no region
 * (the gateway answered itself, e.g. its own 429), or not a successful answer. The region is the joined
 * record's region code, else the entry's `backendRegion` (`x-ms-region`); the backend is `gateway.backendId`.
 */
export function observationFromEntry(entry: LedgerEntry): EntryObservation | null {
  const matched = entry.diagnostics?.status === 'matched' ? entry.diagnostics : null;
  const regionCode = matched?.regionCode ?? entry.backendRegion;
  if (!regionCode) return null;
  if (entry.status === null || entry.status < 200 || entry.status >= 400) return null;
  const serviceMs = matched ? matched.durationMs : entry.timings.backendMs;
  const completion = entry.tokens.source === 'none' ? 0 : entry.tokens.completionTokens;
  const observation: EntryObservation = {
    kind: 'entry',
    regionCode,
    backendId: entry.gateway.backendId || UNKNOWN_BACKEND,
    deployment: entry.deployment || UNKNOWN_DEPLOYMENT,
    time: entry.time,
    gatewayTotalMs: isLatencyValue(entry.timings.totalMs) ? entry.timings.totalMs : null,
    ttftMs: entry.stream && isLatencyValue(entry.timings.ttftMs) ? entry.timings.ttftMs : null,
    msPerOutputToken: completion > 0 && isLatencyValue(serviceMs) ? serviceMs / completion : null,
  };
  if (observation.gatewayTotalMs === null && observation.ttftMs === null && observation.msPerOutputToken === null) return null;
  return observation;
}

// ---------------------------------------------------------------------------------------------------------------
// Tiles

export function emptyTile(key: LatencyTileKey): LatencyTile {
  assertKey(key);
  return {
    key: { regionCode: key.regionCode, backendId: key.backendId, deployment: key.deployment, grain: key.grain, windowStart: key.windowStart },
    requests: 0,
    errors: 0,
    throttled: 0,
    sketches: { serviceMs: newSketch(), gatewayTotalMs: newSketch(), ttftMs: newSketch(), msPerOutputToken: newSketch() },
  };
}

function windowContains(outer: Pick<LatencyTileKey, 'grain' | 'windowStart'>, startMs: number, lengthMs: number): boolean {
  const outerStart = parseInstant(outer.windowStart);
  return startMs >= outerStart && startMs + lengthMs <= outerStart + GRAIN_MS[outer.grain];
}

/** Adds one observation to the tile in place; throws when it belongs to another region, backend, deployment or window. */
export function addObservation(tile: LatencyTile, observation: LatencyObservation): void {
  const { key } = tile;
  if (
    observation.regionCode !== key.regionCode ||
    observation.backendId !== key.backendId ||
    observation.deployment !== key.deployment ||
    !windowContains(key, epochMs(observation.time), 0)
  ) {
    throw new RangeError(
      `observation (${observation.regionCode}, ${observation.backendId}, ${observation.deployment}, ${observation.time}) does not belong to tile ${keyText(key)}`,
    );
  }
  accumulate(tile, observation);
}

/** `addObservation` for an observation known to belong to the tile. */
function accumulate(tile: LatencyTile, observation: LatencyObservation): void {
  if (observation.kind === 'record') {
    tile.requests++;
    if (observation.status === 429) tile.throttled++;
    else if (observation.status !== null && observation.status >= 500 && observation.status < 600) tile.errors++;
    if (isLatencyValue(observation.serviceMs)) tile.sketches.serviceMs.accept(observation.serviceMs);
    return;
  }
  if (isLatencyValue(observation.gatewayTotalMs)) tile.sketches.gatewayTotalMs.accept(observation.gatewayTotalMs);
  if (isLatencyValue(observation.ttftMs)) tile.sketches.ttftMs.accept(observation.ttftMs);
  if (isLatencyValue(observation.msPerOutputToken)) tile.sketches.msPerOutputToken.accept(observation.msPerOutputToken);
}

function addCounts(target: LatencyTile, source: Pick<LatencyTile, 'requests' | 'errors' | 'throttled'>): void {
  target.requests += source.requests;
  target.errors += source.errors;
  target.throttled += source.throttled;
}

function mergeInto(target: LatencyTile, source: LatencyTile): void {
  addCounts(target, source);
  for (const metric of LATENCY_METRICS) mergeSketchInto(target.sketches[metric], source.sketches[metric]);
}

/**
 * The merge of two tiles into a new tile with key `into` (default: `a`'s key). Both must share its region,
 * backend and deployment and lie inside its window at a grain no coarser than its grain; merging is exact for the counts
 * and keeps the sketches' relative accuracy.
 */
export function mergeTiles(a: LatencyTile, b: LatencyTile, into: LatencyTileKey = a.key): LatencyTile {
  const merged = emptyTile(into);
  for (const tile of [a, b]) {
    const k = tile.key;
    const fits =
      k.regionCode === into.regionCode &&
      k.backendId === into.backendId &&
      k.deployment === into.deployment &&
      GRAIN_ORDER[k.grain] <= GRAIN_ORDER[into.grain] &&
      windowContains(into, parseInstant(k.windowStart), GRAIN_MS[k.grain]);
    if (!fits) throw new RangeError(`tile ${keyText(k)} cannot be merged into ${keyText(into)}`);
    mergeInto(merged, tile);
  }
  return merged;
}

/** Merges tiles of any finer (or equal) grain into tiles of `grain`, one per region, backend, deployment and window; sorted. */
export function rollUp(tiles: Iterable<LatencyTile>, grain: Exclude<TileGrain, '5m'>): LatencyTile[] {
  const byKey = new Map<string, LatencyTile>();
  for (const tile of tiles) {
    if (GRAIN_ORDER[tile.key.grain] > GRAIN_ORDER[grain]) {
      throw new RangeError(`cannot roll a ${tile.key.grain} tile up to the finer ${grain} grain`);
    }
    const key = tileKey(tile.key.regionCode, tile.key.deployment, tile.key.windowStart, grain, tile.key.backendId);
    const text = keyText(key);
    let target = byKey.get(text);
    if (!target) {
      target = emptyTile(key);
      byKey.set(text, target);
    }
    mergeInto(target, tile);
  }
  return [...byKey.values()].sort((x, y) => compareKeys(x.key, y.key));
}

export interface LatencySources {
  /** Stored `RequestResponse` records; a record seen twice (same `correlationId`) counts once. */
  readonly records?: Iterable<LatencyRecordInput & { readonly correlationId?: string }>;
  /** Ledger entries, joined or not; an entry seen twice (same `id`) counts once. */
  readonly entries?: Iterable<LedgerEntry>;
}

type Windows = Map<number, LatencyTile>;
/** By an outer label (backend id or account), region code and deployment, then window: no key text per observation. */
type TileTree = Map<string, Map<string, Map<string, Windows>>>;

function windowsOf(tree: TileTree, outer: string, regionCode: string, deployment: string): Windows {
  let byRegion = tree.get(outer);
  if (!byRegion) tree.set(ownedText(outer), (byRegion = new Map()));
  let byDeployment = byRegion.get(regionCode);
  if (!byDeployment) byRegion.set(ownedText(regionCode), (byDeployment = new Map()));
  let windows = byDeployment.get(deployment);
  if (!windows) byDeployment.set(ownedText(deployment), (windows = new Map()));
  return windows;
}

function* tilesOf(tree: TileTree): Generator<[string, LatencyTile]> {
  for (const [outer, byRegion] of tree) {
    for (const byDeployment of byRegion.values()) for (const windows of byDeployment.values()) for (const tile of windows.values()) yield [outer, tile];
  }
}

/** A tile as plain data, which a structured clone carries to another thread whole. */
interface LatencyTileContent {
  readonly key: LatencyTileKey;
  readonly requests: number;
  readonly errors: number;
  readonly throttled: number;
  readonly sketches: Readonly<Record<LatencyMetric, SketchContent>>;
}

/**
 * The entry side of a `LatencyTileSet`: its tiles as plain data and its joined (account, deployment, backend, count)
 * counts. Only for sets of one analysis in other threads: unlike a stored document, it is not validated when absorbed.
 */
export interface LatencyEntryParts {
  readonly tiles: readonly LatencyTileContent[];
  readonly accountBackends: readonly (readonly [string, string, string, number])[];
}

/** Joined entries by account, deployment and backend id. */
type BackendCounts = Map<string, Map<string, Map<string, number>>>;

function countBackend(counts: BackendCounts, account: string, deployment: string, backendId: string, count: number): void {
  let byDeployment = counts.get(account);
  if (!byDeployment) counts.set(ownedText(account), (byDeployment = new Map()));
  let byBackend = byDeployment.get(deployment);
  if (!byBackend) byDeployment.set(ownedText(deployment), (byBackend = new Map()));
  const held = byBackend.get(backendId);
  byBackend.set(held === undefined ? ownedText(backendId) : backendId, (held ?? 0) + count);
}

/** The backend with most entries (ties: lowest id), or null. */
function busiest(counts: Iterable<[string, number]>): string | null {
  let best: [string, number] | null = null;
  for (const [backendId, count] of counts) if (!best || count > best[1] || (count === best[1] && backendId < best[0])) best = [backendId, count];
  return best?.[0] ?? null;
}

/**
 * Tiles of one grain, built observation by observation from records and entries (see the table at the top for
 * which source feeds which number, and how records find their backend). Records wait under their account until
 * `list()`, so the order of `addEntry` and `addRecord` calls does not matter. Inputs that cannot be placed are
 * skipped; nothing is de-duplicated.
 */
export class LatencyTileSet {
  /** Entry observations, by backend id. */
  private readonly byBackend: TileTree = new Map();
  /** Record observations, by account (their backend is resolved in `list()`). */
  private readonly byAccount: TileTree = new Map();
  /** Which backend answers which deployment from which account. */
  private readonly accountBackends: BackendCounts = new Map();
  private readonly windowMs: number;

  constructor(readonly grain: TileGrain) {
    this.windowMs = GRAIN_MS[grain];
  }

  addEntry(entry: LedgerEntry): void {
    const matched = entry.diagnostics?.status === 'matched' ? entry.diagnostics : null;
    if (matched && entry.gateway.backendId) countBackend(this.accountBackends, matched.account, entry.deployment || UNKNOWN_DEPLOYMENT, entry.gateway.backendId, 1);
    const observation = observationFromEntry(entry);
    if (observation) accumulate(this.tileOf(this.byBackend, observation.backendId, observation), observation);
  }

  addRecord(record: LatencyRecordInput): void {
    const observation = observationFromRecord(record);
    if (observation) accumulate(this.tileOf(this.byAccount, record.account, observation), observation);
  }

  /** What this set learned from entries, in a form that crosses a worker thread boundary (see `absorbEntries`). */
  entryParts(): LatencyEntryParts {
    const accountBackends: [string, string, string, number][] = [];
    for (const [account, byDeployment] of this.accountBackends) {
      for (const [deployment, counts] of byDeployment) for (const [backendId, count] of counts) accountBackends.push([account, deployment, backendId, count]);
    }
    const tiles: LatencyTileContent[] = [];
    for (const [, { key, requests, errors, throttled, sketches }] of tilesOf(this.byBackend)) {
      tiles.push({ key, requests, errors, throttled, sketches: perMetric(sketches, snapshotOf) });
    }
    return { tiles, accountBackends };
  }

  /** Adds another set's entries (its `entryParts()`): tiles merge bin by bin and counts add, so order does not matter. */
  absorbEntries(parts: LatencyEntryParts): void {
    for (const content of parts.tiles) {
      const { key } = content;
      if (key.grain !== this.grain) throw new RangeError(`a ${key.grain} tile cannot join a set of ${this.grain} tiles`);
      const windows = windowsOf(this.byBackend, key.backendId, key.regionCode, key.deployment);
      const window = Math.floor(epochMs(key.windowStart) / this.windowMs);
      let tile = windows.get(window);
      if (!tile) windows.set(window, (tile = emptyTile(key)));
      addCounts(tile, content);
      for (const metric of LATENCY_METRICS) addContent(tile.sketches[metric], content.sketches[metric]);
    }
    for (const [account, deployment, backendId, count] of parts.accountBackends) countBackend(this.accountBackends, account, deployment, backendId, count);
  }

  /**
   * The backend in front of an account for a deployment: the one with most joined entries of the deployment (ties:
   * lowest id), else of any deployment, else `UNKNOWN_BACKEND`.
   */
  backendOf(account: string, deployment: string): string {
    const byDeployment = this.accountBackends.get(account);
    if (!byDeployment) return UNKNOWN_BACKEND;
    const ofDeployment = byDeployment.get(deployment);
    if (ofDeployment) return busiest(ofDeployment)!;
    const all = new Map<string, number>();
    for (const counts of byDeployment.values()) for (const [backendId, count] of counts) all.set(backendId, (all.get(backendId) ?? 0) + count);
    return busiest(all) ?? UNKNOWN_BACKEND;
  }

  /** The tiles, sorted by key (records merged into their backend's tiles; the set itself is not changed). */
  list(): LatencyTile[] {
    const byKey = new Map<string, LatencyTile>();
    for (const [, tile] of tilesOf(this.byBackend)) byKey.set(keyText(tile.key), tile);
    for (const [account, recordTile] of tilesOf(this.byAccount)) {
      const key: LatencyTileKey = { ...recordTile.key, backendId: this.backendOf(account, recordTile.key.deployment) };
      const relabelled: LatencyTile = { ...recordTile, key };
      const text = keyText(key);
      const existing = byKey.get(text);
      byKey.set(text, existing ? mergeTiles(existing, relabelled, key) : cloneTile(relabelled));
    }
    return [...byKey.values()].sort((x, y) => compareKeys(x.key, y.key));
  }

  private tileOf(tree: TileTree, outer: string, { regionCode, backendId, deployment, time }: LatencyObservation): LatencyTile {
    const windows = windowsOf(tree, outer, regionCode, deployment);
    const window = Math.floor(epochMs(time) / this.windowMs);
    let tile = windows.get(window);
    if (!tile) {
      tile = emptyTile({ regionCode: ownedText(regionCode), backendId: ownedText(backendId), deployment: ownedText(deployment), grain: this.grain, windowStart: new Date(window * this.windowMs).toISOString() });
      windows.set(window, tile);
    }
    return tile;
  }
}

/**
 * Builds the tiles of `grain` from records and entries (see the table at the top for which source feeds which
 * number). Inputs that cannot be placed are skipped. Tiles come out sorted by key.
 */
export function buildTiles(sources: LatencySources, grain: TileGrain = '5m'): LatencyTile[] {
  const tiles = new LatencyTileSet(grain);
  const seenRecords = new Set<string>();
  for (const record of sources.records ?? []) {
    if (record.correlationId !== undefined) {
      if (seenRecords.has(record.correlationId)) continue;
      seenRecords.add(record.correlationId);
    }
    tiles.addRecord(record);
  }
  const seenEntries = new Set<string>();
  for (const entry of sources.entries ?? []) {
    if (seenEntries.has(entry.id)) continue;
    seenEntries.add(entry.id);
    tiles.addEntry(entry);
  }
  return tiles.list();
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

function quantile(sketch: DDSketch, q: number): number {
  // The sketch answers the bucket's representative value; the exact value lies within [min, max].
  return Math.min(sketch.max, Math.max(sketch.min, sketch.getValueAtQuantile(q)));
}

/**
 * p50/p90/p95/p99 of one distribution (default: service duration), each within 1 % of the exact value at rank
 * ⌊q·(n−1)⌋; null when the distribution is empty. For `msPerOutputToken` the unit is ms per token.
 */
export function percentiles(tile: LatencyTile, metric: LatencyMetric = 'serviceMs'): PercentilesMs | null {
  const sketch = tile.sketches[metric];
  if (sketch.count === 0) return null;
  return { p50Ms: quantile(sketch, 0.5), p90Ms: quantile(sketch, 0.9), p95Ms: quantile(sketch, 0.95), p99Ms: quantile(sketch, 0.99) };
}

/** count, sum, min and max of one distribution (min/max null when empty). */
export function summary(tile: LatencyTile, metric: LatencyMetric): { count: number; sum: number; min: number | null; max: number | null } {
  const sketch = tile.sketches[metric];
  const empty = sketch.count === 0;
  return { count: sketch.count, sum: sketch.sum, min: empty ? null : sketch.min, max: empty ? null : sketch.max };
}

// ---------------------------------------------------------------------------------------------------------------
// Documents

export function serializeTile(tile: LatencyTile): LatencyTileDocument {
  const { key } = tile;
  return {
    id: tileId(key),
    pk: tilePartitionKey(key),
    schema: LATENCY_TILE_SCHEMA,
    regionCode: key.regionCode,
    backendId: key.backendId,
    deployment: key.deployment,
    grain: key.grain,
    windowStart: key.windowStart,
    windowEnd: windowEndOf(key),
    relativeAccuracy: RELATIVE_ACCURACY,
    requests: tile.requests,
    errors: tile.errors,
    throttled: tile.throttled,
    sketches: perMetric(tile.sketches, serializeSketch),
  };
}

/**
 * A tile from its document (as read from the store: unknown extra fields such as Cosmos DB's `_etag` are
 * ignored). Throws when the document does not validate, was built with another accuracy, or its id, window
 * end or sketch counts disagree with its content.
 */
export function deserializeTile(document: unknown): LatencyTile {
  const doc = latencyTileDocumentSchema.parse(document);
  if (doc.relativeAccuracy !== RELATIVE_ACCURACY) {
    throw new RangeError(`tile ${doc.id} was built with relative accuracy ${doc.relativeAccuracy}, not ${RELATIVE_ACCURACY}`);
  }
  const key: LatencyTileKey = { regionCode: doc.regionCode, backendId: doc.backendId, deployment: doc.deployment, grain: doc.grain, windowStart: doc.windowStart };
  assertKey(key);
  if (doc.id !== tileId(key)) throw new RangeError(`tile id ${doc.id} does not match its key ${keyText(key)}`);
  if (doc.windowEnd !== windowEndOf(key)) throw new RangeError(`tile ${doc.id}: window end ${doc.windowEnd} does not match its grain`);
  return {
    key,
    requests: doc.requests,
    errors: doc.errors,
    throttled: doc.throttled,
    sketches: perMetric(doc.sketches, deserializeSketch),
  };
}

/** An independent copy (for callers that want to keep accumulating without touching the original). */
export function cloneTile(tile: LatencyTile): LatencyTile {
  return {
    key: { ...tile.key },
    requests: tile.requests,
    errors: tile.errors,
    throttled: tile.throttled,
    sketches: perMetric(tile.sketches, copySketch),
  };
}
