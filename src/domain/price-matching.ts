import type { PriceEntry, PriceTable, ProvisionedEntry } from '../contracts/price-table.js';
import { apportion, costPicodollars, microsToPicodollars, type Micros, type Picodollars } from './money.js';
import { parseInstant } from '../contracts/utc-instant.js';

/**
 * Which price applies to a request, and what the request costs. Pure and synchronous; built once per price table
 * and then asked once per ledger entry, so lookups are indexed and cached.
 *
 * Matching rules, for a request's `deployment`, `model` and `time` (the entry in effect is the one whose
 * [from, to) range, in UTC days, holds the request's time):
 * 1. A deployment entry for the request's deployment, in effect at that time, wins. Outside its range the
 *    deployment falls back to model pricing (the override has ended or not begun).
 * 2. Otherwise the model's own entry, or the entry of its name without its version (`VERSION_SUFFIX`) owns it:
 *    `gpt-4o-mini-2024-07-18` → `gpt-4o-mini`, not `gpt-4o`; `gpt-4.1-nano-2025-04-14` → `gpt-4.1-nano` or nothing,
 *    never `gpt-4.1`; `gpt-4o` never matches a `gpt-4` entry. If the owning entry has no price in effect at that
 *    time, the request is unpriced: another entry is a different model and its price would be wrong.
 * 3. A request without a model, or whose model no prefix matches, is unpriced (`null`): the caller reports it with
 *    its tokens, never as free.
 * Names compare exactly (case-sensitive).
 *
 * Provisioned (PTU) deployments are charged a fixed monthly cost, not per token: ask `provisionedFor` first and
 * split that cost over the deployment's requests with `allocateProvisioned`. The price file refuses a deployment
 * that is both provisioned and priced per token at the same time.
 */

export type PriceMatch = PriceEntry;

/**
 * A version at the end of a model name: a date (`-2024-08-06`), a four-digit version (`-0613`, `-1106`), a short
 * number (a diagnostic record's `modelVersion` `2` or `3.0`) or `-preview`. Only these are cut to find a model's
 * entry: any other part names another model (`gpt-4.1-nano` is not `gpt-4.1`, `gpt-35-turbo-instruct` not
 * `gpt-35-turbo`), priced apart.
 */
const VERSION_SUFFIX = /-(?:\d{4}-\d{2}-\d{2}|\d{4}|\d{1,3}(?:\.\d+)?|preview)$/i;

/** What matching needs from a ledger entry. */
export interface PriceQuery {
  readonly model: string | null;
  readonly deployment: string | null;
  /** ISO-8601 instant of the request. */
  readonly time: string;
}

export interface TokenCounts {
  /** All prompt tokens, cached ones included. */
  readonly promptTokens: number;
  /** The part of `promptTokens` served from the prompt cache. */
  readonly cachedTokens: number;
  /** All completion tokens, reasoning ones included. */
  readonly completionTokens: number;
  /** The part of `completionTokens` spent on reasoning; priced as output, already inside `completionTokens`. */
  readonly reasoningTokens: number;
  /** The part of `promptTokens` that is audio, priced at the audio input price but for cached audio (see `splitTokens`). */
  readonly audioPromptTokens?: number;
  /** The part of `completionTokens` that is audio, priced at the audio output price. */
  readonly audioCompletionTokens?: number;
}

/** A request's tokens by the price each takes. */
export type TokenSplit = Omit<CostLines<number>, 'perRequest'>;

/**
 * A request's tokens by the price each takes: cached tokens at the cached price, audio at the audio prices, the rest
 * of the prompt and completion as text. A response may count cached audio among its audio tokens as well as among
 * its cached ones: both counts are parts of the prompt, so what they hold together beyond it is cached audio, charged
 * once, as cached. (Sources that say how much of the cache is audio, realtime's `cached_tokens_details`, leave it
 * out of `audioPromptTokens` themselves.) Counts that break the token invariants give no negative part.
 */
export function splitTokens(tokens: Omit<TokenCounts, 'reasoningTokens'>): TokenSplit {
  const audio = tokens.audioPromptTokens ?? 0;
  const audioInput = Math.max(0, audio - Math.max(0, tokens.cachedTokens + audio - tokens.promptTokens));
  const audioOutput = tokens.audioCompletionTokens ?? 0;
  return {
    uncachedInput: Math.max(0, tokens.promptTokens - tokens.cachedTokens - audioInput),
    cachedInput: tokens.cachedTokens,
    output: Math.max(0, tokens.completionTokens - audioOutput),
    audioInput,
    audioOutput,
  };
}

export interface CostLines<T> {
  readonly uncachedInput: T;
  readonly cachedInput: T;
  readonly output: T;
  readonly audioInput: T;
  readonly audioOutput: T;
  /** The per-call price (a count of 1 in `tokens`), or 0. */
  readonly perRequest: T;
}

/**
 * Whether a price entry has a price for everything a request used: text tokens need per-token prices, audio
 * tokens the audio prices, a per-call operation (an image, a transcription) a per-call price. A request it does
 * not cover is unpriced, never charged in part or at zero.
 */
export function priceCovers(match: PriceMatch, tokens: TokenCounts, perCall: boolean): boolean {
  const split = splitTokens(tokens);
  if (split.uncachedInput + split.cachedInput + split.output > 0 && !match.pricesTokens) return false;
  if (split.audioInput > 0 && match.audioInputPer1MMicros === null) return false;
  if (split.audioOutput > 0 && match.audioOutputPer1MMicros === null) return false;
  return !perCall || match.perRequestMicros !== null;
}

/**
 * Whether a matched price entry prices a request (or a line of requests that all used the same things): text tokens
 * alone are priced by the entry matched; audio and per-call use only where the entry has prices for them
 * (`priceCovers`). A request it does not price is unpriced.
 */
export function pricesRequest(match: PriceMatch, tokens: TokenCounts, perCall: boolean): boolean {
  const special = perCall || splitTokens(tokens).audioInput > 0 || (tokens.audioCompletionTokens ?? 0) > 0;
  return !special || priceCovers(match, tokens, perCall);
}

export interface PricedEntry {
  readonly priceVersion: string;
  /** Exact cost, the sum of `lines`. */
  readonly costPico: Picodollars;
  readonly lines: CostLines<Picodollars>;
  /** The tokens each line charges: uncached = prompt − cached; output = completion (reasoning included). */
  readonly tokens: CostLines<number>;
}

export interface PriceMatcherOptions {
  /** Distinct (model, deployment, day) lookups remembered before the cache starts over; default 100,000. */
  readonly cacheSize?: number;
}

const MS_PER_DAY = 86_400_000;

interface InEffect<T> {
  readonly fromDay: number;
  /** Exclusive; `Infinity` when the entry has no end. */
  readonly toDay: number;
  readonly entry: T;
}

function dayOfDate(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / MS_PER_DAY;
}

/** The UTC day of a request time, in days since 1970-01-01: the unit price ranges are cut in. */
export function utcDayOf(time: string): number {
  const ms = parseInstant(time);
  if (Number.isNaN(ms)) throw new RangeError(`request time ${JSON.stringify(time)} is not an ISO-8601 instant`);
  return Math.floor(ms / MS_PER_DAY);
}

function addInEffect<T extends { from: string; to: string | null }>(index: Map<string, InEffect<T>[]>, key: string, entry: T): void {
  const list = index.get(key) ?? [];
  list.push({ fromDay: dayOfDate(entry.from), toDay: entry.to === null ? Infinity : dayOfDate(entry.to), entry });
  index.set(key, list);
}

function inEffect<T>(list: readonly InEffect<T>[] | undefined, day: number): T | null {
  if (!list) return null;
  for (const candidate of list) {
    if (candidate.fromDay <= day && day < candidate.toDay) return candidate.entry;
  }
  return null;
}

/** Answers "which price applies" for a validated price table (see `loadPriceTable`). */
export class PriceMatcher {
  private readonly byDeployment = new Map<string, InEffect<PriceEntry>[]>();
  private readonly byModel = new Map<string, InEffect<PriceEntry>[]>();
  private readonly provisionedByDeployment = new Map<string, InEffect<ProvisionedEntry>[]>();
  private readonly cache = new Map<string, PriceMatch | null>();
  private readonly cacheSize: number;

  constructor(table: PriceTable, options: PriceMatcherOptions = {}) {
    this.cacheSize = options.cacheSize ?? 100_000;
    for (const entry of table.prices) {
      if (entry.deployment !== null) addInEffect(this.byDeployment, entry.deployment, entry);
      else if (entry.model !== null) addInEffect(this.byModel, entry.model, entry);
    }
    for (const entry of table.provisioned) addInEffect(this.provisionedByDeployment, entry.deployment, entry);
  }

  /** The per-token price for a request, or `null` when it is unpriced. */
  match(query: PriceQuery): PriceMatch | null {
    const day = utcDayOf(query.time);
    const key = `${day}\u0000${query.deployment === null ? '' : `=${query.deployment}`}\u0000${query.model === null ? '' : `=${query.model}`}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const found = this.lookUp(query.model, query.deployment, day);
    if (this.cache.size >= this.cacheSize) this.cache.clear();
    this.cache.set(key, found);
    return found;
  }

  /** The provisioned (PTU) entry of a request's deployment in effect at its time, or `null`. */
  provisionedFor(query: Pick<PriceQuery, 'deployment' | 'time'>): ProvisionedEntry | null {
    if (query.deployment === null) return null;
    return inEffect(this.provisionedByDeployment.get(query.deployment), utcDayOf(query.time));
  }

  private lookUp(model: string | null, deployment: string | null, day: number): PriceMatch | null {
    if (deployment !== null) {
      const byDeployment = inEffect(this.byDeployment.get(deployment), day);
      if (byDeployment) return byDeployment;
    }
    if (model === null) return null;
    for (let name = model; ; ) {
      const owned = this.byModel.get(name);
      if (owned) return inEffect(owned, day);
      const version = VERSION_SUFFIX.exec(name);
      if (!version || version.index === 0) return null;
      name = name.slice(0, version.index);
    }
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
}

function checkTokenCounts(tokens: TokenCounts): void {
  const { promptTokens, cachedTokens, completionTokens, reasoningTokens } = tokens;
  checkCount('promptTokens', promptTokens);
  checkCount('cachedTokens', cachedTokens);
  checkCount('completionTokens', completionTokens);
  checkCount('reasoningTokens', reasoningTokens);
  if (cachedTokens > promptTokens) {
    throw new RangeError(`cachedTokens (${cachedTokens}) exceed promptTokens (${promptTokens}); cached tokens are part of prompt tokens`);
  }
  if ((tokens.audioPromptTokens ?? 0) > promptTokens) {
    throw new RangeError(`audioPromptTokens (${tokens.audioPromptTokens}) exceed promptTokens (${promptTokens}); audio tokens are part of prompt tokens`);
  }
  if ((tokens.audioCompletionTokens ?? 0) > completionTokens) {
    throw new RangeError(`audioCompletionTokens (${tokens.audioCompletionTokens}) exceed completionTokens (${completionTokens})`);
  }
  if (reasoningTokens > completionTokens) {
    throw new RangeError(
      `reasoningTokens (${reasoningTokens}) exceed completionTokens (${completionTokens}); reasoning tokens are part of completion tokens`,
    );
  }
}

/**
 * Prices one request exactly. Cached tokens are part of the prompt tokens and take the cached price; reasoning
 * tokens are part of the completion tokens and are charged once, as output.
 */
export function priceEntry(entry: { readonly tokens: TokenCounts }, match: PriceMatch): PricedEntry {
  checkTokenCounts(entry.tokens);
  const tokens = { ...splitTokens(entry.tokens), perRequest: match.perRequestMicros === null ? 0 : 1 };
  const lines = {
    uncachedInput: costPicodollars(tokens.uncachedInput, match.inputPer1MMicros),
    cachedInput: costPicodollars(tokens.cachedInput, match.cachedInputPer1MMicros),
    output: costPicodollars(tokens.output, match.outputPer1MMicros),
    audioInput: costPicodollars(tokens.audioInput, match.audioInputPer1MMicros ?? 0n),
    audioOutput: costPicodollars(tokens.audioOutput, match.audioOutputPer1MMicros ?? 0n),
    perRequest: match.perRequestMicros === null ? 0n : microsToPicodollars(match.perRequestMicros),
  };
  const costPico = lines.uncachedInput + lines.cachedInput + lines.output + lines.audioInput + lines.audioOutput + lines.perRequest;
  return { priceVersion: match.priceVersion, costPico, lines, tokens };
}

/**
 * One price entry ready to price many requests, with the checks and errors of `priceEntry`. While every product
 * and their sum stay safe integers, Number arithmetic is exact, and much cheaper than bigint.
 */
export class RequestPricer {
  private readonly input: number;
  private readonly cachedInput: number;
  private readonly output: number;

  constructor(readonly match: PriceMatch) {
    this.input = priceAsNumber(match.inputPer1MMicros);
    this.cachedInput = priceAsNumber(match.cachedInputPer1MMicros);
    this.output = priceAsNumber(match.outputPer1MMicros);
  }

  /**
   * `priceEntry({ tokens }, match).costPico`, as a Number when it is a safe integer (then exact), else as the
   * bigint.
   */
  cost(tokens: TokenCounts): number | Picodollars {
    checkTokenCounts(tokens);
    // Audio and per-call prices are rare: the checked bigint path prices them.
    if (tokens.audioPromptTokens || tokens.audioCompletionTokens || this.match.perRequestMicros !== null) return priceEntry({ tokens }, this.match).costPico;
    const cost = (tokens.promptTokens - tokens.cachedTokens) * this.input + tokens.cachedTokens * this.cachedInput + tokens.completionTokens * this.output;
    // Rounding is monotonic: a product or sum of non-negative integers that exceeds 2^53 − 1 comes out at 2^53 or
    // more (or NaN), never below, so this test lets through exact results only.
    return cost <= Number.MAX_SAFE_INTEGER ? cost : priceEntry({ tokens }, this.match).costPico;
  }
}

/** A price as a Number for `RequestPricer`; NaN for a negative one, so that its costs take the checked bigint path. */
function priceAsNumber(micros: Micros): number {
  return micros < 0n ? NaN : Number(micros);
}

export interface ProvisionedShare {
  readonly key: string;
  readonly tokens: number;
}

/**
 * Splits a provisioned deployment's monthly cost over keys (identities, teams, …) by their share of its tokens,
 * exactly: the parts, in picodollars, sum to `monthlyCostMicros` × 10^6 to the picodollar (largest remainder;
 * ties go to the smaller key, so the result does not depend on the order of `shares`). Shares with the same key
 * are added together. Throws when there are no tokens to split by: the caller reports that cost as idle capacity.
 */
export function allocateProvisioned(monthlyCostMicros: Micros, shares: readonly ProvisionedShare[]): Map<string, Picodollars> {
  const tokensByKey = new Map<string, bigint>();
  for (const share of shares) {
    checkCount(`tokens of ${JSON.stringify(share.key)}`, share.tokens);
    tokensByKey.set(share.key, (tokensByKey.get(share.key) ?? 0n) + BigInt(share.tokens));
  }
  const keys = [...tokensByKey.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const weights = keys.map((key) => tokensByKey.get(key)!);
  if (weights.every((weight) => weight === 0n)) {
    throw new RangeError('no tokens to allocate the provisioned cost by; report it as unallocated capacity');
  }
  const parts = apportion(microsToPicodollars(monthlyCostMicros), weights);
  return new Map(keys.map((key, index) => [key, parts[index]!]));
}
