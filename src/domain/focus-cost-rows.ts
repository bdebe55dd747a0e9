import type { FocusCostRow } from '../contracts/focus-cost-row.js';
import { readAmount, UNALLOCATED_REASONS, type AllocationCostRow, type CostRowContext, type RowMeter } from './invoice-allocation.js';
import { regionCode } from './regions.js';
import { readMeter, SKIP_REASONS } from './retail-price-meters.js';

/**
 * Which rows of a FOCUS cost export are Azure OpenAI charges, and what their meters bill. The meter name is read
 * from `SkuMeter` (FOCUS 1.2), else `x_SkuMeterName` (FOCUS 1.0), else `ChargeDescription`, with the same rules the
 * retail price import uses (`retail-price-meters.ts`): Cost Management and the Retail Prices API name meters alike.
 */

const COGNITIVE_SERVICES_ACCOUNT = /\/providers\/microsoft\.cognitiveservices\/accounts\/[^/]+$/i;

export function meterNameOf(row: FocusCostRow): string {
  return row.SkuMeter || row.x_SkuMeterName || row.ChargeDescription || '';
}

/** Provisioned throughput (PTU) meters and the usage a PTU reservation covers. */
function isProvisioned(row: FocusCostRow, meterName: string): boolean {
  return /\bprovisioned\b|\bptu\b/i.test(meterName) || /reservation/i.test(row.CommitmentDiscountType ?? '');
}

/**
 * From GPT-5.3 on, meters of product `Azure OpenAI GPT5` name the model by its version alone (`5.4 inp Gl 1M
 * Tokens`), and a cost row need not name the product: a meter starting with a version from 5 on is read under that
 * product too, if `Azure OpenAI` does not read it.
 */
const GPT5_VERSION_FIRST = /^[5-9](?:\.\d+)?\s/;

function tokenMeter(meterName: string): RowMeter {
  let skip: string | undefined;
  for (const productName of GPT5_VERSION_FIRST.test(meterName) ? ['Azure OpenAI', 'Azure OpenAI GPT5'] : ['Azure OpenAI']) {
    const fields = { productName, type: 'Consumption', unitOfMeasure: '1' };
    let reading = readMeter({ ...fields, meterName });
    // Some exports drop the unit word the Retail Prices API keeps at the end of a meter name.
    if (reading.skip === SKIP_REASONS.unit && !/(?:Tokens|Images)$/i.test(meterName)) reading = readMeter({ ...fields, meterName: `${meterName} Tokens` });
    if (reading.meter) return { type: 'tokens', model: reading.meter.model, kind: reading.meter.kind };
    skip ??= reading.skip;
  }
  return { type: 'unreadable', reason: `meter not allocated: ${skip}` };
}

/** How many tokens one unit is (`Tokens` 1, `1K Tokens` 1,000, `1M Tokens` 1,000,000), or null. */
function tokensPerUnit(unit: string | undefined): bigint | null {
  const parts = /^(\d+)?\s*([KM])?\s*Tokens?$/i.exec(unit?.trim() ?? '');
  if (!parts) return null;
  return BigInt(parts[1] ?? '1') * (parts[2]?.toUpperCase() === 'K' ? 1_000n : parts[2]?.toUpperCase() === 'M' ? 1_000_000n : 1n);
}

/** `quantity × per`, when that is a whole, non-negative number. */
function wholeProduct(quantity: string | null | undefined, per: bigint | null): bigint | null {
  if (per === null || quantity === null || quantity === undefined) return null;
  const { units, scale } = readAmount(quantity);
  const numerator = units * per;
  const denominator = 10n ** BigInt(scale);
  return numerator % denominator === 0n && numerator >= 0n ? numerator / denominator : null;
}

/** `x_PricingBlockSize` as a whole number, else the block `x_PricingUnitDescription` names (`1K`, `1M`, `1K Tokens`). */
function tokensPerBlock(row: FocusCostRow): bigint | null {
  const size = wholeProduct(row.x_PricingBlockSize, 1n);
  if (size !== null && size > 0n) return size;
  const description = row.x_PricingUnitDescription?.trim() ?? '';
  return tokensPerUnit(/tokens?$/i.test(description) ? description : `${description} Tokens`);
}

/**
 * The tokens a row billed, when that is a whole number of tokens: `ConsumedQuantity` × its unit where the unit names
 * tokens (`1K Tokens`); else `PricingQuantity` × the pricing block. Microsoft's FOCUS export states units as the FinOps
 * toolkit's pricing units, where a token meter's `1K` is `Units` with `x_PricingBlockSize` 1000
 * (microsoft/finops-toolkit src/open-data/PricingUnits.csv); its `PricingQuantity` counts blocks (Learn, FOCUS cost and
 * usage details schema: "Divide UsageQuantity by PricingBlockSize to get the PricingQuantity").
 */
function billedTokens(row: FocusCostRow): bigint | null {
  return wholeProduct(row.ConsumedQuantity, tokensPerUnit(row.ConsumedUnit)) ?? wholeProduct(row.PricingQuantity, tokensPerBlock(row));
}

/**
 * Why a commitment's row bills no request: its purchase or refund (`ChargeCategory` `Purchase`: billed when bought,
 * whatever the resource it names), or its unused part (`CommitmentDiscountStatus` `Unused`). Null for any other row.
 */
function commitmentReason(row: FocusCostRow): string | null {
  if (/^purchase$/i.test(row.ChargeCategory)) return UNALLOCATED_REASONS.commitmentBought;
  if (/^unused$/i.test(row.CommitmentDiscountStatus ?? '')) return UNALLOCATED_REASONS.commitmentUnused;
  return null;
}

/**
 * An Azure OpenAI row as allocation reads it, or null for a row of any other service. A row of a commitment (a PTU
 * reservation bought, or its unused hours) may name no account; it is kept, to stay unallocated with its reason.
 */
export function allocationRowOf(row: FocusCostRow): AllocationCostRow | null {
  const meterName = meterNameOf(row);
  const namesOpenAi = [row.ServiceName, row.x_SkuMeterCategory, row.x_SkuMeterSubcategory].some((name) => /openai/i.test((name ?? '').replace(/\s+/g, '')));
  const commitment = commitmentReason(row);
  if (!COGNITIVE_SERVICES_ACCOUNT.test(row.ResourceId) && !(commitment !== null && namesOpenAi)) return null;
  const meter: RowMeter = commitment !== null ? { type: 'unreadable', reason: commitment } : isProvisioned(row, meterName) ? { type: 'provisioned' } : tokenMeter(meterName);
  if (!namesOpenAi && meter.type === 'unreadable') return null;
  return {
    billingAccountId: row.BillingAccountId,
    invoiceId: row.InvoiceId || row.x_InvoiceId || null,
    chargePeriodStart: row.ChargePeriodStart,
    chargePeriodEnd: row.ChargePeriodEnd,
    resourceId: row.ResourceId,
    meterName,
    meter,
    billedCost: row.BilledCost,
    effectiveCost: row.EffectiveCost,
    currency: row.BillingCurrency,
    billedTokens: meter.type === 'tokens' ? billedTokens(row) : null,
    context: contextOf(row),
  };
}

/**
 * Tags as a JSON object of strings. FOCUS writes a JSON object; actual-cost exports have written the same pairs
 * without the braces (`"env": "prod","owner": "ai"`). Anything else is no tags.
 */
function tagsOf(text: string | undefined): string | null {
  if (!text) return null;
  for (const candidate of [text, `{${text}}`]) {
    let value: unknown;
    try {
      value = JSON.parse(candidate);
    } catch {
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    const tags = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== null && typeof v !== 'object');
    return tags.length === 0 ? null : JSON.stringify(Object.fromEntries(tags.map(([k, v]) => [k, String(v)])));
  }
  return null;
}

function contextOf(row: FocusCostRow): CostRowContext {
  return {
    billingAccountName: row.BillingAccountName || null,
    subAccountName: row.SubAccountName || null,
    regionId: row.RegionId ? (regionCode(row.RegionId) ?? row.RegionId) : null,
    regionName: row.RegionName || null,
    chargeClass: /^correction$/i.test(row.ChargeClass ?? '') ? 'Correction' : null,
    billingPeriodStart: row.BillingPeriodStart || null,
    billingPeriodEnd: row.BillingPeriodEnd || null,
    tags: tagsOf(row.Tags),
  };
}
