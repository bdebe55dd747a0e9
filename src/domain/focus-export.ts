import { normalizeIdentityKey, type DirectoryRow } from '../contracts/directory.js';
import type { IdentityKind } from '../contracts/identity-kind.js';
import { teamOf, UNKNOWN, type ChargebackLine } from './chargeback.js';
import { csvField } from './chargeback-formats.js';
import { formatPicodollars, type Picodollars } from './money.js';
import { regionDisplayName } from './regions.js';
import { componentCharges, linePrice, type DayUsage, type PriceComponent } from './usage-pricing.js';
import type { PriceMatcher } from './price-matching.js';

/**
 * FinOps FOCUS 1.2 cost and usage rows. The FOCUS columns come first, in the specification's (alphabetical) order,
 * then TokenLedger's own columns, prefixed `x_` as FOCUS requires of custom columns.
 */
export const FOCUS_COLUMNS = [
  'BilledCost', 'BillingAccountId', 'BillingAccountName', 'BillingCurrency', 'BillingPeriodEnd', 'BillingPeriodStart',
  'ChargeCategory', 'ChargeClass', 'ChargeDescription', 'ChargeFrequency', 'ChargePeriodEnd', 'ChargePeriodStart',
  'ConsumedQuantity', 'ConsumedUnit', 'ContractedCost', 'ContractedUnitPrice', 'EffectiveCost', 'InvoiceId',
  'InvoiceIssuerName', 'ListCost', 'ListUnitPrice', 'PricingCategory', 'PricingQuantity', 'PricingUnit',
  'ProviderName', 'PublisherName', 'RegionId', 'RegionName', 'ResourceId', 'ResourceName', 'ResourceType',
  'ServiceCategory', 'ServiceName', 'ServiceSubcategory', 'SkuId', 'SkuMeter', 'SkuPriceId', 'SubAccountId',
  'SubAccountName', 'Tags',
  'x_Identity', 'x_IdentityKind', 'x_DisplayName', 'x_Team', 'x_CostCenter', 'x_Model', 'x_Deployment',
  'x_PriceComponent', 'x_PriceVersion', 'x_Requests', 'x_UnallocatedReason',
] as const;
export type FocusColumn = (typeof FOCUS_COLUMNS)[number];
export type FocusRow = Record<FocusColumn, string | null>;

/** An Azure OpenAI account's ARM id: `/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.CognitiveServices/accounts/<name>`. */
const ACCOUNT_ID = /^\/subscriptions\/([0-9a-fA-F-]{36})\/resourceGroups\/[^/]+\/providers\/Microsoft\.CognitiveServices\/accounts\/([^/]+)$/i;

/** The subscription and account name of an Azure OpenAI account's ARM id, or null for anything else. */
export function accountOf(resourceId: string): { subscriptionId: string; name: string } | null {
  const match = ACCOUNT_ID.exec(resourceId);
  return match ? { subscriptionId: match[1]!.toLowerCase(), name: match[2]! } : null;
}

/** FOCUS date/time format: extended ISO 8601 in UTC to the second (`YYYY-MM-DDTHH:mm:ssZ`). */
export function focusDateTime(time: Date): string {
  return `${time.toISOString().slice(0, 19)}Z`;
}

export function monthOf(time: Date): { start: Date; end: Date } {
  return { start: new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), 1)), end: new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth() + 1, 1)) };
}

/** A decimal with its trailing fractional zeros dropped (`0.000150000000` → `0.00015`, `12.000000` → `12`). */
function trimDecimal(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

export const dollars = (pico: Picodollars) => trimDecimal(formatPicodollars(pico, 12));

interface Who {
  readonly identity: string;
  readonly identityKind: IdentityKind | null;
  readonly team: string | null;
  readonly costCenter: string | null;
  readonly displayName: string | null;
}

export function whoOf(identity: string, identityKind: IdentityKind | null, directory: ReadonlyMap<string, DirectoryRow>, attributable: boolean): Who {
  const entry = attributable ? directory.get(normalizeIdentityKey(identity)) : undefined;
  return {
    identity,
    identityKind: entry?.kind ?? identityKind,
    ...(attributable ? teamOf(identity, entry) : { team: null, costCenter: null }),
    displayName: entry?.displayName ?? null,
  };
}

/** Team and cost center in `Tags` (a JSON object of strings) and in `x_` columns of their own. */
export function whoColumns(who: Who, extraTags: Record<string, string>, resourceTags: Record<string, string> = {}): Pick<FocusRow, 'Tags' | 'x_Identity' | 'x_IdentityKind' | 'x_DisplayName' | 'x_Team' | 'x_CostCenter'> {
  const tags: Record<string, string> = { identity: who.identity };
  if (who.identityKind !== null) tags.identityKind = who.identityKind;
  if (who.team !== null) tags.team = who.team;
  if (who.costCenter !== null) tags.costCenter = who.costCenter;
  return {
    // A resource's own tag of the same key (`identity`, `team`) never stands in for the row's own.
    Tags: JSON.stringify({ ...resourceTags, ...tags, ...extraTags }),
    x_Identity: who.identity,
    x_IdentityKind: who.identityKind,
    x_DisplayName: who.displayName,
    x_Team: who.team,
    x_CostCenter: who.costCenter,
  };
}

export const AZURE_OPENAI = {
  InvoiceIssuerName: 'Microsoft',
  ProviderName: 'Microsoft',
  PublisherName: 'Microsoft',
  ServiceCategory: 'AI and Machine Learning',
  ServiceName: 'Azure OpenAI',
  ServiceSubcategory: 'Generative AI',
} as const;

/** Names a cost export gives beside the ids (null or absent: it gives none). */
export interface PlaceNames {
  readonly billingAccountName?: string | null;
  readonly subAccountName?: string | null;
  readonly regionName?: string | null;
}

/** An ARM id's resource type (`Microsoft.Capacity/reservationOrders/reservations`), or null for an id that is not one. */
function armResourceType(resourceId: string): string | null {
  const at = resourceId.toLowerCase().lastIndexOf('/providers/');
  const names = at < 0 ? [] : resourceId.slice(at + '/providers/'.length).split('/');
  if (names.length < 3 || names.length % 2 === 0 || names.some((name) => name === '')) return null;
  return [names[0], ...names.slice(1).filter((_, i) => i % 2 === 0)].join('/');
}

/**
 * Where a charge ran: the account's ARM id gives the subscription (billing account and sub account) and its name.
 * FOCUS requires a name beside each id: the name given, else Azure's name of the region, else the id itself. A
 * charge of no resource (a reservation bought) has none of them.
 */
export function placeColumns(given: string | null, region: string | null, names: PlaceNames = {}): Pick<FocusRow, 'BillingAccountId' | 'BillingAccountName' | 'SubAccountId' | 'SubAccountName' | 'RegionId' | 'RegionName' | 'ResourceId' | 'ResourceName' | 'ResourceType'> {
  const resourceId = given?.trim() || null;
  const account = resourceId === null ? null : accountOf(resourceId);
  return {
    // BillingAccountId allows no null: a charge whose account is not known says so.
    BillingAccountId: account?.subscriptionId ?? UNKNOWN,
    BillingAccountName: names.billingAccountName ?? null,
    SubAccountId: account ? `/subscriptions/${account.subscriptionId}` : null,
    SubAccountName: account ? (names.subAccountName ?? account.subscriptionId) : null,
    RegionId: region,
    RegionName: region === null ? null : (regionDisplayName(region) ?? names.regionName ?? region),
    ResourceId: resourceId,
    ResourceName: account?.name ?? null,
    ResourceType: account ? 'Microsoft.CognitiveServices/accounts' : resourceId === null ? null : armResourceType(resourceId),
  };
}

const COMPONENT_UNITS: Record<PriceComponent, { unit: string; meter: string }> = {
  input: { unit: 'Tokens', meter: 'Input Tokens' },
  'cached input': { unit: 'Tokens', meter: 'Cached Input Tokens' },
  output: { unit: 'Tokens', meter: 'Output Tokens' },
  'audio input': { unit: 'Tokens', meter: 'Audio Input Tokens' },
  'audio output': { unit: 'Tokens', meter: 'Audio Output Tokens' },
  'per request': { unit: 'Requests', meter: 'Requests' },
};

export interface ListPriceFocusInput {
  /** The period's usage tiles, by UTC day. */
  readonly days: Iterable<DayUsage>;
  readonly prices: PriceMatcher;
  /**
   * The period's chargeback lines (`priceUsage`): lines on a provisioned deployment carry their share of its fixed
   * cost, which only the whole period's usage apportions.
   */
  readonly lines: readonly ChargebackLine[];
  /** Provisioned entries' price versions: the lines above priced by a share of a fixed cost. */
  readonly provisionedVersions: ReadonlySet<string>;
  readonly directory: ReadonlyMap<string, DirectoryRow>;
  /** The Azure OpenAI account ARM id serving each region (`<region>=<resource id>` settings); a region with more than one is left unknown. */
  readonly accounts: readonly { readonly region: string; readonly resourceId: string }[];
  readonly currency: string;
  readonly from: Date;
  readonly to: Date;
}

interface Tally {
  day: string;
  identity: string;
  identityKind: IdentityKind;
  model: string;
  deployment: string;
  region: string | null;
  priceVersion: string;
  component: PriceComponent;
  unitPico: Picodollars;
  quantity: bigint;
  requests: number;
}

type ListPriceShared = 'BilledCost' | 'BillingCurrency' | 'BillingPeriodStart' | 'BillingPeriodEnd' | 'ChargeCategory' | 'ChargeClass' | 'ContractedCost' | 'EffectiveCost' | 'InvoiceId' | 'ListCost' | 'PricingCategory' | 'x_UnallocatedReason' | keyof typeof AZURE_OPENAI;

/** A usage row at list prices: one cost in every cost column (pay as you go, no discounts), billed in the month its charge starts. */
function listPriceRow(cost: string, currency: string, chargeStart: Date, rest: Omit<FocusRow, ListPriceShared>): FocusRow {
  const billing = monthOf(chargeStart);
  return {
    ...AZURE_OPENAI,
    BilledCost: cost,
    BillingCurrency: currency,
    BillingPeriodStart: focusDateTime(billing.start),
    BillingPeriodEnd: focusDateTime(billing.end),
    ChargeCategory: 'Usage',
    ChargeClass: null,
    ContractedCost: cost,
    EffectiveCost: cost,
    InvoiceId: null,
    ListCost: cost,
    PricingCategory: 'Standard',
    x_UnallocatedReason: null,
    ...rest,
  };
}

/**
 * FOCUS rows of the period at the price table's list prices: one row per UTC day, identity, model, deployment,
 * region, price entry and price component (input, cached input, output, audio input, audio output, per request),
 * with `PricingQuantity` in tokens (or requests) and the unit price per token as an exact decimal, so
 * PricingQuantity × ContractedUnitPrice = ContractedCost exactly; costs are exact to the picodollar (12 decimals)
 * and add up to the report's total. BilledCost = EffectiveCost = ListCost = ContractedCost: pay-as-you-go list
 * prices, no discounts. A provisioned deployment's share of its fixed cost is one row per chargeback line, priced
 * as one unit at the share. Usage no price covers has no cost to state (FOCUS requires a unit price on every usage
 * row) and is left out, as are rows with neither cost nor quantity (and so the requests of a day, identity, model,
 * deployment and region that used nothing billable).
 */
export function listPriceFocusRows(input: ListPriceFocusInput): FocusRow[] {
  const byRegion = new Map<string, string | null>();
  for (const { region, resourceId } of input.accounts) {
    const known = byRegion.get(region);
    byRegion.set(region, known === undefined || known === resourceId ? resourceId : null);
  }
  const tallies = new Map<string, Tally>();
  // A line's requests are counted on the first row of its day, identity, model, deployment and region, so x_Requests
  // adds up to the report's requests; those of a line with no row (a throttled call, no tokens) once all are made.
  const firstRows = new Map<string, Tally>();
  const rowless = new Map<string, number>();
  for (const { day, lines } of input.days) {
    for (const line of lines) {
      const price = linePrice(line, day, input.prices, true);
      const deployment = line.deployment ?? UNKNOWN;
      const group = [day, line.identity, line.identityKind, line.model, deployment, line.region ?? ''].join('\u0000');
      if (price.kind === 'no usage') rowless.set(group, (rowless.get(group) ?? 0) + line.requests);
      if (price.kind !== 'priced') continue;
      let requests = line.requests;
      for (const charge of componentCharges(line, price.match)) {
        if (charge.quantity === 0) continue;
        const key = [group, price.match.priceVersion, charge.component].join('\u0000');
        let tally = tallies.get(key);
        if (!tally) {
          tally = { day, identity: line.identity, identityKind: line.identityKind, model: line.model, deployment, region: line.region, priceVersion: price.match.priceVersion, component: charge.component, unitPico: charge.unitPico, quantity: 0n, requests: 0 };
          tallies.set(key, tally);
          if (!firstRows.has(group)) firstRows.set(group, tally);
        }
        tally.quantity += BigInt(charge.quantity);
        tally.requests += requests;
        requests = 0;
      }
      if (requests > 0) rowless.set(group, (rowless.get(group) ?? 0) + requests);
    }
  }
  for (const [group, requests] of rowless) {
    const first = firstRows.get(group);
    if (first) first.requests += requests;
  }
  const from = input.from.getTime();
  const to = input.to.getTime();
  const clamp = (time: number) => new Date(Math.min(Math.max(time, from), to));
  const rows: FocusRow[] = [];
  for (const t of tallies.values()) {
    const dayStart = Date.parse(`${t.day}T00:00:00Z`);
    const start = clamp(dayStart);
    const unitPrice = dollars(t.unitPico);
    const resourceId = t.region === null ? null : (byRegion.get(t.region) ?? null);
    const { unit, meter } = COMPONENT_UNITS[t.component];
    rows.push(
      listPriceRow(dollars(t.quantity * t.unitPico), input.currency, start, {
        ...placeColumns(resourceId, t.region),
        ChargeDescription: `${t.model} ${meter.toLowerCase()} on ${t.deployment} for ${t.identity}`,
        ChargeFrequency: 'Usage-Based',
        ChargePeriodStart: focusDateTime(start),
        ChargePeriodEnd: focusDateTime(clamp(dayStart + 86_400_000)),
        ConsumedQuantity: t.quantity.toString(),
        ConsumedUnit: unit,
        ContractedUnitPrice: unitPrice,
        ListUnitPrice: unitPrice,
        PricingQuantity: t.quantity.toString(),
        PricingUnit: unit,
        // The SKU is the price entry (`gpt-4o`, `deployment:batch`), so each SkuPriceId has one parent SkuId.
        SkuId: skuOf(t.priceVersion),
        SkuMeter: `${skuOf(t.priceVersion)} ${meter}`,
        SkuPriceId: `${t.priceVersion}#${t.component}`,
        ...whoColumns(whoOf(t.identity, t.identityKind, input.directory, true), { deployment: t.deployment }),
        x_Model: t.model,
        x_Deployment: t.deployment,
        x_PriceComponent: t.component,
        x_PriceVersion: t.priceVersion,
        x_Requests: String(t.requests),
      }),
    );
  }
  const period = { start: new Date(from), end: new Date(to) };
  for (const line of input.lines) {
    if (line.priceVersion === null || !input.provisionedVersions.has(line.priceVersion)) continue;
    const tokens = line.promptTokens + line.completionTokens;
    if (line.costPico === 0n && tokens === 0) continue;
    const cost = dollars(line.costPico);
    rows.push(
      listPriceRow(cost, input.currency, period.start, {
        ...placeColumns(null, null),
        ChargeDescription: `Share of provisioned deployment ${line.deployment} for ${line.identity}`,
        ChargeFrequency: 'Recurring',
        ChargePeriodStart: focusDateTime(period.start),
        ChargePeriodEnd: focusDateTime(period.end),
        ConsumedQuantity: String(tokens),
        ConsumedUnit: 'Tokens',
        ContractedUnitPrice: cost,
        ListUnitPrice: cost,
        PricingQuantity: '1',
        PricingUnit: 'Units',
        SkuId: `provisioned:${line.deployment}`,
        SkuMeter: 'Provisioned Throughput Units',
        SkuPriceId: line.priceVersion,
        ...whoColumns(whoOf(line.identity, line.identityKind, input.directory, true), { deployment: line.deployment }),
        x_Model: line.model,
        x_Deployment: line.deployment,
        x_PriceComponent: 'provisioned',
        x_PriceVersion: line.priceVersion,
        x_Requests: String(line.requests),
      }),
    );
  }
  return rows.sort(compareRows);
}

/** The price entry a price version belongs to: `gpt-4o@2024-01-01` is an entry of `gpt-4o`. */
export function skuOf(priceVersion: string): string {
  return priceVersion.slice(0, priceVersion.lastIndexOf('@'));
}

function compareRows(a: FocusRow, b: FocusRow): number {
  for (const column of ['ChargePeriodStart', 'x_Identity', 'x_Model', 'x_Deployment', 'RegionId', 'x_PriceVersion', 'x_PriceComponent'] as const) {
    const x = a[column] ?? '';
    const y = b[column] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** FOCUS rows as CSV with the FOCUS header; a negative amount keeps its sign, any other text is safe from formula injection. */
export function focusCsv(rows: readonly FocusRow[]): string {
  const field = (value: string | null) => (value !== null && /^-\d+(?:\.\d+)?$/.test(value) ? value : csvField(value));
  return [FOCUS_COLUMNS.join(','), ...rows.map((row) => FOCUS_COLUMNS.map((c) => field(row[c])).join(','))].join('\r\n') + '\r\n';
}
