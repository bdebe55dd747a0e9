/**
 * Allocation of Azure's own bill to identities, to the cent: every Azure OpenAI cost row of a Cost Management export
 * (one charge period, one ARM resource, one meter) is split over the identities whose usage the row billed, by their
 * share of that usage's tokens. Pure and exact: amounts are decimal text read as integers in units of 10^-scale at
 * the row's own number of decimals, so nothing is ever rounded, and the largest-remainder rule (ties broken by the
 * part's key, never by input order) makes the parts of one row add up to its BilledCost and its EffectiveCost.
 *
 * What cannot be attributed is a part of its own, `unallocated`, with the reason; it is never spread over the
 * identities that were seen.
 */

import { apportion } from './money.js';
import type { MeterKind } from './retail-price-meters.js';

export const UNALLOCATED = 'unallocated';

/** Fixed sentences, so unallocated amounts can be summed by reason. */
export const UNALLOCATED_REASONS = {
  noUsage: 'no usage on this resource, meter and charge period',
  unattributed: 'unattributed requests (no caller identity)',
  notSeen: 'tokens Azure billed that no gateway request accounts for',
  notSeenBypass: 'tokens Azure billed that no gateway request accounts for; diagnostics show calls that bypassed the gateway',
  noProvisionedUsage: 'no usage on the provisioned deployment in this charge period',
  commitmentBought: 'a reservation or savings plan bought or refunded: billed when bought, not by requests (an amortized export spreads it over the usage it covers)',
  commitmentUnused: 'the unused part of a reservation or savings plan: no request used it',
} as const;

/** What a cost row's meter bills: tokens of one kind of one model, a provisioned (PTU) deployment, or neither. */
export type RowMeter =
  | { readonly type: 'tokens'; readonly model: string; readonly kind: MeterKind }
  | { readonly type: 'provisioned' }
  | { readonly type: 'unreadable'; readonly reason: string };

export interface AllocationCostRow {
  readonly billingAccountId: string;
  readonly invoiceId: string | null;
  readonly chargePeriodStart: string;
  readonly chargePeriodEnd: string;
  readonly resourceId: string;
  /** The meter name as the export wrote it. */
  readonly meterName: string;
  readonly meter: RowMeter;
  readonly billedCost: string;
  readonly effectiveCost: string;
  readonly currency: string;
  /** Tokens Azure billed on this row, when the row says (ConsumedQuantity in a token unit); else null. */
  readonly billedTokens: bigint | null;
  /** What else the export says of the row, for the allocation's FOCUS rows; absent in allocations stored before. */
  readonly context?: CostRowContext;
}

/** A cost row's context as the export wrote it (null where it did not): FOCUS rows of its parts repeat it. */
export interface CostRowContext {
  readonly billingAccountName: string | null;
  readonly subAccountName: string | null;
  /** Azure's region code (`eastus`). */
  readonly regionId: string | null;
  /** The region's name as the export wrote it (FOCUS `RegionName`), or null. */
  readonly regionName?: string | null;
  /** `Correction` for a row that corrects an earlier billing period, else null. */
  readonly chargeClass: string | null;
  readonly billingPeriodStart: string | null;
  readonly billingPeriodEnd: string | null;
  /** The row's tags as a JSON object of strings, or null when it has none (or none that reads as one). */
  readonly tags: string | null;
}

/** Tokens of one identity's requests on one resource and model at one time, by meter kind. */
export interface AllocationUsage {
  readonly identity: string;
  /** False for requests with no caller identity: their share is unallocated. */
  readonly attributed: boolean;
  readonly time: string;
  readonly resourceId: string;
  readonly model: string;
  readonly tokens: Readonly<Partial<Record<MeterKind, bigint>>>;
  /**
   * Whether the price file names the request's deployment as provisioned (PTU) at its time; absent when no price
   * file names provisioned deployments.
   */
  readonly provisioned?: boolean;
}

/** A diagnostic record with no gateway request: a call that bypassed the gateway. */
export interface BypassCall {
  readonly time: string;
  readonly resourceId: string;
}

export interface AllocationPart {
  /** An identity key, or `unallocated`. */
  readonly identity: string;
  readonly billedCost: string;
  readonly effectiveCost: string;
  readonly tokens: bigint;
  readonly reason: string | null;
}

export interface RowAllocation {
  readonly row: AllocationCostRow;
  readonly parts: readonly AllocationPart[];
}

/** An amount's decimal text (`-12.5`, `8e-07`) as `units × 10^-scale`, exactly. */
export function readAmount(text: string): { units: bigint; scale: number } {
  const parts = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!parts || (parts[2] === '' && (parts[3] ?? '') === '')) throw new RangeError(`not a decimal amount: ${JSON.stringify(text)}`);
  const fraction = parts[3] ?? '';
  let units = BigInt(`${parts[2] || '0'}${fraction}`);
  let scale = fraction.length - Number(parts[4] ?? '0');
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { units: parts[1] === '-' ? -units : units, scale };
}

/** `units × 10^-scale` as plain decimal text with exactly `scale` decimals. */
export function formatAmount(units: bigint, scale: number): string {
  const magnitude = units < 0n ? -units : units;
  const digits = magnitude.toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = scale === 0 ? '' : `.${digits.slice(digits.length - scale)}`;
  return `${units < 0n ? '-' : ''}${whole}${fraction}`;
}

/** ARM resource ids are case-insensitive; diagnostics write them upper-case, exports mixed. */
export const resourceKey = (resourceId: string): string => resourceId.toLowerCase().replace(/\/+$/, '');

/**
 * A date, four digits, or the GPT-4 Turbo previews' versions, which the turbo meters bill: four digits and
 * `-preview` (`gpt-4-turbo-1106-Preview`), and `preview` after `vision` (`gpt-4-turbo-vision-preview`).
 */
const VERSION = /-(\d{4}-\d{2}-\d{2}|\d{4}(?:-preview)?|(?<=-vision-)preview)$/;

/** A model name without its version, and the version: `gpt-4o-2024-08-06` → `gpt-4o`, `2024-08-06`. */
function splitModel(model: string): { base: string; version: string | null } {
  const lower = model.toLowerCase();
  const version = VERSION.exec(lower);
  return version ? { base: lower.slice(0, version.index), version: version[1]! } : { base: lower, version: null };
}

/** Embeddings models carry a small version number (`text-embedding-3-small` version `1`), which meters never name. */
const NUMBERED_VERSION = /-\d{1,3}$/;

/** Whether a request's model is the meter's: the same base model, and the same version where both name one. */
export function modelsMatch(meterModel: string, usageModel: string): boolean {
  const meter = splitModel(meterModel);
  const usage = splitModel(usageModel);
  if (meter.base === usage.base) return meter.version === null || usage.version === null || meter.version === usage.version;
  return meter.version === null && usage.version === null && usage.base.replace(NUMBERED_VERSION, '') === meter.base;
}

const sumTokens = (tokens: AllocationUsage['tokens']): bigint => Object.values(tokens).reduce((sum, n) => sum + (n ?? 0n), 0n);

interface Weight {
  readonly identity: string;
  readonly reason: string | null;
  tokens: bigint;
}

/** The key parts are ordered and tie-broken by: identity, then reason. */
const partKey = (w: Pick<Weight, 'identity' | 'reason'>) => `${w.identity}\u0000${w.reason ?? ''}`;

/**
 * Decimals an amount is split at, at least (to the cent): a row written with fewer (`24`, `1E+1`, `0.5`, a Parquet
 * DOUBLE read back as `24`) would otherwise be split in whole currency units or tenths.
 */
const MIN_SPLIT_SCALE = 2;

/** Splits one amount over the weights (already in key order) at its own decimals or `MIN_SPLIT_SCALE`; parts sum to it exactly. */
function split(amountText: string, weights: readonly Weight[]): string[] {
  const amount = readAmount(amountText);
  const scale = Math.max(amount.scale, MIN_SPLIT_SCALE);
  const units = amount.units * 10n ** BigInt(scale - amount.scale);
  return apportion(units, weights.map((w) => w.tokens)).map((part) => formatAmount(part, scale));
}

/** Items of one resource, sorted by time, so a charge period's items are found by two binary searches. */
class ByResource<T extends { readonly resourceId: string; readonly time: string }> {
  private readonly lists = new Map<string, { at: number; item: T }[]>();

  constructor(items: readonly T[]) {
    for (const item of items) {
      const key = resourceKey(item.resourceId);
      const list = this.lists.get(key) ?? [];
      list.push({ at: Date.parse(item.time), item });
      this.lists.set(key, list);
    }
    for (const list of this.lists.values()) list.sort((a, b) => a.at - b.at);
  }

  /** The items of the row's resource in `[ChargePeriodStart, ChargePeriodEnd)`. */
  inPeriod(row: AllocationCostRow): T[] {
    const list = this.lists.get(resourceKey(row.resourceId)) ?? [];
    const first = (at: number) => {
      let [lo, hi] = [0, list.length];
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.at < at) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    return list.slice(first(Date.parse(row.chargePeriodStart)), first(Date.parse(row.chargePeriodEnd))).map((entry) => entry.item);
  }
}

/** Weights of the same identity and reason added up, sorted by them. */
function summedWeights(weights: readonly Weight[]): Weight[] {
  const byKey = new Map<string, Weight>();
  for (const { identity, reason, tokens } of weights) {
    const held = byKey.get(partKey({ identity, reason }));
    if (held) held.tokens += tokens;
    else byKey.set(partKey({ identity, reason }), { identity, reason, tokens });
  }
  return [...byKey.values()].sort((a, b) => (partKey(a) < partKey(b) ? -1 : partKey(a) > partKey(b) ? 1 : 0));
}

/** The usage a row bills, as weights per identity and per unallocated reason. */
function weightsOf(row: AllocationCostRow, usage: ByResource<AllocationUsage>, bypass: ByResource<BypassCall>, claimedModels: readonly string[]): Weight[] {
  const weights: Weight[] = [];
  const add = (identity: string, reason: string | null, tokens: bigint) => {
    if (tokens > 0n) weights.push({ identity, reason, tokens });
  };
  const meter = row.meter;
  const onRow = usage.inPeriod(row);
  // Known provisioned deployments (from the price file) say which requests a provisioned row billed, and that a
  // day none of them was called bills nobody (Azure bills PTUs by the hour, used or not); without them, the
  // requests to models that no token meter of this resource bills in the period.
  const knownProvisioned = onRow.some((use) => use.provisioned !== undefined);
  let seen = 0n;
  for (const use of onRow) {
    let tokens: bigint;
    if (meter.type === 'tokens') {
      if (use.provisioned === true || !modelsMatch(meter.model, use.model)) continue;
      tokens = use.tokens[meter.kind] ?? 0n;
    } else {
      if (knownProvisioned ? use.provisioned !== true : claimedModels.some((model) => modelsMatch(model, use.model))) continue;
      tokens = sumTokens(use.tokens);
    }
    seen += tokens;
    if (use.attributed) add(use.identity, null, tokens);
    else add(UNALLOCATED, UNALLOCATED_REASONS.unattributed, tokens);
  }
  if (meter.type === 'tokens' && row.billedTokens !== null && row.billedTokens > seen) {
    const bypassed = bypass.inPeriod(row).length > 0;
    add(UNALLOCATED, bypassed ? UNALLOCATED_REASONS.notSeenBypass : UNALLOCATED_REASONS.notSeen, row.billedTokens - seen);
  }
  return summedWeights(weights);
}

/**
 * Allocates every row over the usage on its resource in its charge period. A token meter's row goes by the tokens of
 * its kind on requests to its model (deployment type is not on the requests: rows of one model and kind under two
 * deployment types are each split by the same usage). A provisioned (PTU or reservation) row goes by all tokens of
 * requests to the provisioned deployments the price file names, else of requests to models no token meter of the
 * resource bills in that period; requests to a provisioned deployment never count on a token meter's row. Tokens Azure billed beyond what requests
 * account for (ConsumedQuantity) are unallocated. The result depends on neither row nor usage order.
 */
export function allocateInvoice(rows: readonly AllocationCostRow[], usage: readonly AllocationUsage[], bypass: readonly BypassCall[] = []): RowAllocation[] {
  const usageIndex = new ByResource(usage);
  const bypassIndex = new ByResource(bypass);
  const claimed = new Map<string, string[]>();
  for (const row of rows) {
    if (row.meter.type !== 'tokens') continue;
    const key = `${resourceKey(row.resourceId)}\u0000${row.chargePeriodStart}`;
    claimed.set(key, [...(claimed.get(key) ?? []), row.meter.model]);
  }
  const rowWeights = rows.map((row) => (row.meter.type === 'unreadable' ? [] : weightsOf(row, usageIndex, bypassIndex, claimed.get(`${resourceKey(row.resourceId)}\u0000${row.chargePeriodStart}`) ?? [])));
  // A token row that bills no tokens of its own (a credit or refund on usage: a quantity of 0, or none) corrects the
  // usage of the rows of its meter, resource and charge period that do: it is split as they are together, the tokens
  // no request accounts for included, not by the requests alone.
  const meterKey = (row: AllocationCostRow) => `${resourceKey(row.resourceId)}\u0000${row.meterName}\u0000${row.chargePeriodStart}\u0000${row.chargePeriodEnd}`;
  const billingTokens = new Map<string, Weight[]>();
  rows.forEach((row, i) => {
    if (row.meter.type !== 'tokens' || row.billedTokens === null || row.billedTokens === 0n) return;
    billingTokens.set(meterKey(row), [...(billingTokens.get(meterKey(row)) ?? []), ...rowWeights[i]!]);
  });
  return rows.map((row, i) => {
    let weights = rowWeights[i]!;
    const corrected = row.meter.type === 'tokens' && (row.billedTokens === null || row.billedTokens === 0n) ? billingTokens.get(meterKey(row)) : undefined;
    if (corrected) weights = summedWeights(corrected);
    if (row.meter.type === 'unreadable') weights = [{ identity: UNALLOCATED, reason: row.meter.reason, tokens: 1n }];
    else if (weights.length === 0) {
      const reason = row.meter.type === 'provisioned' ? UNALLOCATED_REASONS.noProvisionedUsage : UNALLOCATED_REASONS.noUsage;
      weights = [{ identity: UNALLOCATED, reason, tokens: 0n }];
    }
    // One weight: the whole amount, even when its tokens are zero.
    const shares = weights.length === 1 ? [{ ...weights[0]!, tokens: 1n }] : weights;
    const billed = split(row.billedCost, shares);
    const effective = split(row.effectiveCost, shares);
    const parts = weights.map((w, i) => ({ identity: w.identity, billedCost: billed[i]!, effectiveCost: effective[i]!, tokens: row.meter.type === 'unreadable' ? 0n : w.tokens, reason: w.reason }));
    return { row, parts };
  });
}

/** Sums decimal amounts exactly, at the largest scale among them or to the cent (as rows are split). */
export function sumAmounts(amounts: readonly string[]): string {
  const read = amounts.map(readAmount);
  const scale = read.reduce((max, a) => Math.max(max, a.scale), MIN_SPLIT_SCALE);
  return formatAmount(read.reduce((sum, a) => sum + a.units * 10n ** BigInt(scale - a.scale), 0n), scale);
}
