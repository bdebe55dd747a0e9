import { readFileSync } from 'node:fs';
import { parseCsv } from './csv.js';

/** A column as FOCUS 1.2 defines it (test/fixtures/focus-1.2/columns.json, read from the specification). */
export interface FocusSpecColumn {
  readonly id: string;
  readonly featureLevel: 'Mandatory' | 'Conditional' | 'Recommended' | 'Optional';
  readonly dataType: 'String' | 'Decimal' | 'Date/Time' | 'JSON';
  readonly allowsNulls: boolean;
  readonly allowedValues?: readonly string[];
}

export const FOCUS_SPEC: { readonly version: string; readonly columns: readonly FocusSpecColumn[] } = JSON.parse(
  readFileSync(new URL('../fixtures/focus-1.2/columns.json', import.meta.url), 'utf8'),
);

/** Conditional columns the Azure OpenAI usage behind a chargeback supports, so an export must carry them. */
export const SUPPORTED_CONDITIONAL = [
  'BillingAccountName', 'ChargeClass', 'ChargeFrequency', 'RegionId', 'RegionName', 'SubAccountId', 'SubAccountName',
  'ResourceId', 'ResourceName', 'SkuId', 'SkuPriceId', 'PricingCategory', 'ListUnitPrice', 'ContractedUnitPrice',
  'ConsumedQuantity', 'ConsumedUnit', 'Tags',
] as const;


/** An exact decimal as digits × 10^-scale. */
interface Exact {
  readonly digits: bigint;
  readonly scale: number;
}

const NUMERIC = /^-?\d+(?:\.\d+)?(?:E-?\d+)?$/;

export function exactOf(text: string): Exact {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:E(-?\d+))?$/.exec(text);
  if (!match) throw new RangeError(`${JSON.stringify(text)} is not a FOCUS numeric value`);
  const fraction = match[3] ?? '';
  const exponent = Number(match[4] ?? '0');
  let digits = BigInt(`${match[1]}${match[2]}${fraction}`);
  let scale = fraction.length - exponent;
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { digits, scale };
}

const atScale = (x: Exact, scale: number) => x.digits * 10n ** BigInt(scale - x.scale);
const equalExact = (a: Exact, b: Exact) => {
  const scale = Math.max(a.scale, b.scale);
  return atScale(a, scale) === atScale(b, scale);
};
const times = (a: Exact, b: Exact): Exact => ({ digits: a.digits * b.digits, scale: a.scale + b.scale });
const isZero = (text: string | undefined) => text === undefined || text === '' || exactOf(text).digits === 0n;

/** Sums exact decimals; the result in picodollars-free form `digits`/`scale` compares with `sameAmount`. */
export function sumExact(values: readonly string[]): Exact {
  return values.map(exactOf).reduce((sum, x) => {
    const scale = Math.max(sum.scale, x.scale);
    return { digits: atScale(sum, scale) + atScale(x, scale), scale };
  }, { digits: 0n, scale: 0 });
}

export const sameAmount = (a: string | Exact, b: string | Exact) => equalExact(typeof a === 'string' ? exactOf(a) : a, typeof b === 'string' ? exactOf(b) : b);

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const CURRENCY = /^[A-Z]{3}$/;
/** FOCUS unit format: `Tokens`, `1000 Tokens`, `GB-Hours`, `GB/Hour`. */
const UNIT = /^(?:\d+ )?[A-Z][A-Za-z]*(?:[-/](?:\d+ )?[A-Z][A-Za-z]*)?$/;

/** Columns FOCUS 1.2 requires to be non-null on a Usage or Purchase row whose ChargeClass is not Correction. */
const NOT_NULL_ON_USAGE = ['PricingQuantity', 'PricingUnit', 'ListUnitPrice', 'ContractedUnitPrice', 'PricingCategory', 'SkuId', 'SkuPriceId'] as const;

export interface FocusCheck {
  readonly header: readonly string[];
  readonly rows: readonly Record<string, string>[];
  /** Every way the export departs from FOCUS 1.2, one sentence each; empty when it conforms. */
  readonly problems: readonly string[];
}

/**
 * Checks a FOCUS CSV export against the FOCUS 1.2 column list: the header (Mandatory columns, the conditional ones
 * this data supports, nothing FOCUS does not define unless prefixed `x_`, custom columns last), each value's type
 * and nullability, allowed values, no row with neither cost nor quantity, PricingQuantity × unit price = cost, and one
 * parent SkuId for each SkuPriceId.
 */
export function checkFocusExport(csv: string): FocusCheck {
  const problems: string[] = [];
  const [header = [], ...records] = parseCsv(csv);
  const spec = new Map(FOCUS_SPEC.columns.map((c) => [c.id, c]));
  for (const c of FOCUS_SPEC.columns) if (c.featureLevel === 'Mandatory' && !header.includes(c.id)) problems.push(`mandatory column ${c.id} is missing`);
  for (const id of SUPPORTED_CONDITIONAL) if (!header.includes(id)) problems.push(`column ${id} is missing`);
  if (new Set(header).size !== header.length) problems.push('a column appears twice');
  let custom = false;
  for (const id of header) {
    if (id.startsWith('x_')) custom = true;
    else if (!spec.has(id)) problems.push(`column ${id} is not a FOCUS 1.2 column and not prefixed x_`);
    else if (custom) problems.push(`FOCUS column ${id} comes after a custom column`);
  }
  const rows = records.map((record, r) => {
    if (record.length !== header.length) problems.push(`row ${r + 1} has ${record.length} fields, the header ${header.length}`);
    return Object.fromEntries(header.map((id, i) => [id, record[i] ?? '']));
  });
  rows.forEach((row, r) => {
    const at = `row ${r + 1}`;
    for (const [id, value] of Object.entries(row)) {
      const column = spec.get(id);
      if (!column) continue;
      if (value === '') {
        if (!column.allowsNulls) problems.push(`${at}: ${id} is null, which FOCUS does not allow`);
        continue;
      }
      if (column.dataType === 'Decimal' && !NUMERIC.test(value)) problems.push(`${at}: ${id} ${JSON.stringify(value)} is not a decimal`);
      if (column.dataType === 'Date/Time' && (!DATE_TIME.test(value) || Number.isNaN(Date.parse(value)))) problems.push(`${at}: ${id} ${JSON.stringify(value)} is not YYYY-MM-DDTHH:mm:ssZ`);
      if (column.dataType === 'JSON') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(value);
        } catch {
          parsed = undefined;
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) problems.push(`${at}: ${id} is not a JSON object`);
      }
      if (column.allowedValues && !column.allowedValues.includes(value)) problems.push(`${at}: ${id} ${JSON.stringify(value)} is not an allowed value`);
    }
    // subaccountname.md: "SubAccountName MUST NOT be null when SubAccountId is not null."
    if (row.SubAccountId && !row.SubAccountName) problems.push(`${at}: SubAccountName is null beside SubAccountId ${row.SubAccountId}`);
    // regionname.md: "RegionName MUST NOT be null when RegionId is not null."
    if (row.RegionId && !row.RegionName) problems.push(`${at}: RegionName is null beside RegionId ${row.RegionId}`);
    for (const id of ['BillingCurrency']) if (row[id] !== undefined && !CURRENCY.test(row[id]!)) problems.push(`${at}: ${id} ${JSON.stringify(row[id])} is not a currency code`);
    for (const id of ['PricingUnit', 'ConsumedUnit']) if (row[id] && !UNIT.test(row[id]!)) problems.push(`${at}: ${id} ${JSON.stringify(row[id])} is not in the FOCUS unit format`);
    const usage = (row.ChargeCategory === 'Usage' || row.ChargeCategory === 'Purchase') && row.ChargeClass !== 'Correction';
    if (usage) for (const id of NOT_NULL_ON_USAGE) if (id in row && row[id] === '') problems.push(`${at}: ${id} is null on a ${row.ChargeCategory} row`);
    if (row.ChargeCategory === 'Usage' && row.ChargeClass !== 'Correction' && row.ConsumedQuantity === '') problems.push(`${at}: ConsumedQuantity is null on a Usage row`);
    if (row.ChargeCategory !== undefined && row.ChargeCategory !== 'Usage' && row.ConsumedQuantity) problems.push(`${at}: ConsumedQuantity is not null on a ${row.ChargeCategory} row`);
    for (const id of ['ListUnitPrice', 'ContractedUnitPrice']) if (row[id] && NUMERIC.test(row[id]!) && row[id]!.startsWith('-')) problems.push(`${at}: ${id} ${row[id]} is negative`);
    const numeric = (id: string) => row[id] !== undefined && row[id] !== '' && NUMERIC.test(row[id]!);
    if (['BilledCost', 'EffectiveCost', 'ListCost', 'ContractedCost'].every((id) => isZero(row[id])) && isZero(row.PricingQuantity) && isZero(row.ConsumedQuantity)) {
      problems.push(`${at}: neither cost nor quantity`);
    }
    if (row.ChargeClass !== 'Correction' && numeric('PricingQuantity')) {
      const quantity = exactOf(row.PricingQuantity!);
      for (const [price, cost] of [['ContractedUnitPrice', 'ContractedCost'], ['ListUnitPrice', 'ListCost']] as const) {
        if (numeric(price) && numeric(cost) && !equalExact(times(quantity, exactOf(row[price]!)), exactOf(row[cost]!))) {
          problems.push(`${at}: PricingQuantity ${row.PricingQuantity} × ${price} ${row[price]} is not ${cost} ${row[cost]}`);
        }
      }
    }
  });
  // skupriceid.md: "SkuPriceId MUST have one and only one parent SkuId."
  const parents = new Map<string, Set<string>>();
  for (const row of rows) if (row.SkuPriceId) parents.set(row.SkuPriceId, (parents.get(row.SkuPriceId) ?? new Set()).add(row.SkuId ?? ''));
  for (const [price, skus] of parents) if (skus.size > 1) problems.push(`SkuPriceId ${JSON.stringify(price)} has ${skus.size} parent SkuIds: ${[...skus].join(', ')}`);
  return { header, rows, problems };
}
