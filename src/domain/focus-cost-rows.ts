import type { FocusCostRow } from '../contracts/focus-cost-row.js';
import { readAmount, type AllocationCostRow, type RowMeter } from './invoice-allocation.js';
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

function tokenMeter(meterName: string): RowMeter {
  const fields = { productName: 'Azure OpenAI', type: 'Consumption', unitOfMeasure: '1' };
  let reading = readMeter({ ...fields, meterName });
  // Some exports drop the unit word the Retail Prices API keeps at the end of a meter name.
  if (reading.skip === SKIP_REASONS.unit && !/(?:Tokens|Images)$/i.test(meterName)) reading = readMeter({ ...fields, meterName: `${meterName} Tokens` });
  if (reading.meter) return { type: 'tokens', model: reading.meter.model, kind: reading.meter.kind };
  return { type: 'unreadable', reason: `meter not allocated: ${reading.skip}` };
}

/** How many tokens one `ConsumedUnit` is (`Tokens` 1, `1K Tokens` 1,000, `1M Tokens` 1,000,000), or null. */
function tokensPerUnit(unit: string | undefined): bigint | null {
  const parts = /^(\d+)?\s*([KM])?\s*Tokens?$/i.exec(unit?.trim() ?? '');
  if (!parts) return null;
  return BigInt(parts[1] ?? '1') * (parts[2]?.toUpperCase() === 'K' ? 1_000n : parts[2]?.toUpperCase() === 'M' ? 1_000_000n : 1n);
}

/** The tokens a row billed (`ConsumedQuantity` × its unit), when that is a whole number of tokens. */
function billedTokens(row: FocusCostRow): bigint | null {
  const per = tokensPerUnit(row.ConsumedUnit);
  if (per === null || row.ConsumedQuantity === null || row.ConsumedQuantity === undefined) return null;
  const { units, scale } = readAmount(row.ConsumedQuantity);
  const numerator = units * per;
  const denominator = 10n ** BigInt(scale);
  return numerator % denominator === 0n && numerator >= 0n ? numerator / denominator : null;
}

/** An Azure OpenAI row as allocation reads it, or null for a row of any other service. */
export function allocationRowOf(row: FocusCostRow): AllocationCostRow | null {
  if (!COGNITIVE_SERVICES_ACCOUNT.test(row.ResourceId)) return null;
  const meterName = meterNameOf(row);
  const provisioned = isProvisioned(row, meterName);
  const meter = provisioned ? ({ type: 'provisioned' } as const) : tokenMeter(meterName);
  const namesOpenAi = [row.ServiceName, row.x_SkuMeterCategory, row.x_SkuMeterSubcategory].some((name) => /openai/i.test((name ?? '').replace(/\s+/g, '')));
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
  };
}
