import { createHash } from 'node:crypto';
import { normalizeIdentityKey, type DirectoryRow } from '../contracts/directory.js';
import type { LedgerEntry, TokenSource } from '../contracts/ledger-entry.js';
import { requestsContinuationSchema, type RequestsContinuation } from '../contracts/report-query.js';
import { isPerCallRequest, modelOf, pricingModelOf, UNKNOWN, UNMAPPED } from './chargeback.js';
import { resolveIdentity, type IdentityKind, type IdentityOptions, type ResolvedIdentity } from './identity.js';
import { formatPicodollars, type Picodollars } from './money.js';
import { priceEntry, pricesRequest, type PricedEntry, type PriceMatch, type PriceMatcher } from './price-matching.js';
import { regionOf } from './usage.js';

/**
 * The requests behind a report cell, one by one. Each request is priced as the report prices the usage line it
 * belongs to (`priceUsage`): per-token prices are linear, so the costs of a cell's requests add up to the cell's
 * cost to the picodollar. Provisioned (PTU) deployments are the exception: their fixed cost is split over a
 * period's usage lines by tokens, which no single request can know, so a request on one costs nothing here and
 * says so (`basis: 'provisioned'`).
 */

/** How a request's cost was arrived at. */
export type CostBasis =
  /** Per-token (and per-call) prices of the price entry `priceVersion`. */
  | 'per-token'
  /** No tokens and no per-call use: nothing to price. */
  | 'no-usage'
  /** Usage without a price in effect that covers it: reported, never priced at zero silently. */
  | 'unpriced'
  /** A provisioned deployment: the request's share of its fixed cost is not in this view (see the report). */
  | 'provisioned';

export interface RequestCost {
  readonly basis: CostBasis;
  /** Exact cost; 0 unless `basis` is `per-token`. */
  readonly costPico: Picodollars;
  /** The price entry (or provisioned entry) applied, or null. */
  readonly priceVersion: string | null;
  /** The price entry applied, for `per-token`. */
  readonly price: PriceMatch | null;
  /** The cost line by line, for `per-token`. */
  readonly priced: PricedEntry | null;
}

/** A request's cost, by the rules the chargeback report prices its usage line with. */
export function requestCost(entry: LedgerEntry, prices: PriceMatcher): RequestCost {
  const none = { costPico: 0n, price: null, priced: null };
  const ptu = prices.provisionedFor({ deployment: entry.deployment, time: entry.time });
  if (ptu) return { ...none, basis: 'provisioned', priceVersion: ptu.priceVersion };
  const pricingModel = pricingModelOf(entry);
  const perCall = isPerCallRequest(entry, pricingModel);
  const t = entry.tokens;
  if (t.promptTokens + t.completionTokens === 0 && !perCall) return { ...none, basis: 'no-usage', priceVersion: null };
  const match = prices.match({ model: pricingModel, deployment: entry.deployment, time: entry.time });
  if (!match || !pricesRequest(match, t, perCall)) return { ...none, basis: 'unpriced', priceVersion: null };
  const priced = priceEntry({ tokens: t }, match);
  return { basis: 'per-token', costPico: priced.costPico, priceVersion: match.priceVersion, price: match, priced };
}

/** The filters that name one report cell; every filter given must hold. Values compare as the report shows them. */
export interface RequestFilter {
  readonly identity?: string;
  readonly team?: string;
  readonly model?: string;
  readonly deployment?: string;
  readonly region?: string;
}

/** One request as the drill-down lists it. */
export interface RequestItem {
  readonly id: string;
  readonly gatewayRequestId: string;
  readonly apimRequestId: string | null;
  readonly time: string;
  readonly identity: { readonly key: string; readonly kind: IdentityKind; readonly via: ResolvedIdentity['via'] };
  readonly displayName: string | null;
  readonly team: string;
  readonly costCenter: string;
  readonly model: string;
  readonly deployment: string;
  readonly region: string;
  readonly tokenSource: TokenSource;
  readonly tokens: {
    readonly promptTokens: number;
    readonly cachedTokens: number;
    readonly completionTokens: number;
    readonly reasoningTokens: number;
    readonly audioPromptTokens: number;
    readonly audioCompletionTokens: number;
  };
  readonly basis: CostBasis;
  /** Exact cost in picodollars, as a decimal string. */
  readonly costPicodollars: string;
  /** The cost rounded half-even to `decimals` for display. */
  readonly cost: string;
  readonly currency: string;
  readonly priceVersion: string | null;
  /** The price table the cost comes from (`pricingOf(table).version`). */
  readonly priceTable: string;
}

export interface RequestView {
  readonly directory: ReadonlyMap<string, DirectoryRow>;
  readonly prices: PriceMatcher;
  readonly priceTable: string;
  readonly currency: string;
  readonly identity?: IdentityOptions;
  readonly decimals?: number;
}

/** A request as the report sees it: its identity (kind refined by the directory), team, model, deployment and region. */
export function describeRequest(entry: LedgerEntry, view: Pick<RequestView, 'directory' | 'identity'>) {
  const resolved = resolveIdentity(entry, view.identity);
  const row = view.directory.get(normalizeIdentityKey(resolved.key));
  return {
    identity: { key: resolved.key, kind: row?.kind ?? resolved.kind, via: resolved.via },
    displayName: row?.displayName ?? null,
    team: row?.team ?? UNMAPPED,
    costCenter: row?.costCenter ?? UNMAPPED,
    model: modelOf(entry) ?? UNKNOWN,
    deployment: entry.deployment ?? UNKNOWN,
    region: regionOf(entry) ?? UNKNOWN,
  };
}

export function matchesFilter(described: ReturnType<typeof describeRequest>, filter: RequestFilter): boolean {
  return (
    (filter.identity === undefined || normalizeIdentityKey(filter.identity) === normalizeIdentityKey(described.identity.key)) &&
    (filter.team === undefined || filter.team === described.team) &&
    (filter.model === undefined || filter.model === described.model) &&
    (filter.deployment === undefined || filter.deployment === described.deployment) &&
    (filter.region === undefined || filter.region === described.region)
  );
}

export function requestItem(entry: LedgerEntry, described: ReturnType<typeof describeRequest>, view: RequestView): RequestItem {
  const cost = requestCost(entry, view.prices);
  const t = entry.tokens;
  return {
    id: entry.id,
    gatewayRequestId: entry.gatewayRequestId,
    apimRequestId: entry.apimRequestId,
    time: entry.time,
    ...described,
    tokenSource: t.source,
    tokens: {
      promptTokens: t.promptTokens,
      cachedTokens: t.cachedTokens,
      completionTokens: t.completionTokens,
      reasoningTokens: t.reasoningTokens,
      audioPromptTokens: t.audioPromptTokens ?? 0,
      audioCompletionTokens: t.audioCompletionTokens ?? 0,
    },
    basis: cost.basis,
    costPicodollars: cost.costPico.toString(),
    cost: formatPicodollars(cost.costPico, view.decimals ?? 6),
    currency: view.currency,
    priceVersion: cost.priceVersion,
    priceTable: view.priceTable,
  };
}

/** The digest a continuation is bound to: the period and the filters, whatever order they were given in. */
export function queryDigest(query: { readonly from: Date; readonly to: Date; readonly filter: RequestFilter }): string {
  const f = query.filter;
  const text = JSON.stringify([query.from.toISOString(), query.to.toISOString(), f.identity ?? null, f.team ?? null, f.model ?? null, f.deployment ?? null, f.region ?? null]);
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function encodeContinuation(position: { readonly pk: string; readonly id: string }, digest: string): string {
  const token: RequestsContinuation = { v: 1, pk: position.pk, id: position.id, q: digest };
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64url');
}

export type DecodedContinuation = { readonly ok: true; readonly position: { readonly pk: string; readonly id: string } } | { readonly ok: false; readonly reason: string };

/** A `$skipToken` back: refused when it is not one this API wrote, or was written for another period or filter. */
export function decodeContinuation(token: string, digest: string): DecodedContinuation {
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new SyntaxError('not base64url');
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: '$skipToken is not a continuation of this API: follow nextLink as given' };
  }
  const result = requestsContinuationSchema.safeParse(parsed);
  if (!result.success) return { ok: false, reason: '$skipToken is not a continuation of this API: follow nextLink as given' };
  if (result.data.q !== digest) return { ok: false, reason: '$skipToken belongs to another period or filter: follow nextLink as given' };
  return { ok: true, position: { pk: result.data.pk, id: result.data.id } };
}
