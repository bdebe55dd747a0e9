import { formatAmount, readAmount, sumAmounts } from '../domain/invoice-allocation.js';
import { divideHalfEven } from '../domain/money.js';
import { AZURE_SUBSCRIPTION, BACKENDS, DEPLOYMENTS, RESOURCE_GROUP, type SimulatedBackend, type SimulatedDeployment } from './population.js';

/**
 * What Azure bills for the simulated day, as Cost Management's "Cost and usage details (FOCUS)" export writes it
 * (the 1.2-preview layout of test/fixtures/cost-exports): one row per charge period (the day), Azure OpenAI account
 * and meter, computed from every call Azure OpenAI answered, whether it went through the gateway or not. Amounts are
 * exact decimals: list price × tokens, less the negotiated discount, never rounded (the one exception is the
 * reservation's amortized cost, a fraction of a monthly price, rounded half to even at 10 decimals).
 */

/**
 * How a billed call reached Azure OpenAI, and so whether the ledger can allocate its cost: only a `gateway` call
 * (its event delivered, its RequestResponse record archived, its tokens all told) is placed on an account and meter.
 * Every simulated gateway caller has an identity, so none is unattributed.
 */
export const CALL_ORIGINS = ['gateway', 'bypass', 'aiHub', 'lostEvent', 'noDiagnostics', 'cutShort'] as const;
export type CallOrigin = (typeof CALL_ORIGINS)[number];

/** One call Azure OpenAI answered with status 200: the tokens the backend processed, which Azure bills. */
export interface AzureCall {
  readonly time: number;
  readonly backend: SimulatedBackend;
  readonly deployment: SimulatedDeployment;
  readonly promptTokens: number;
  readonly cachedTokens: number;
  readonly completionTokens: number;
  origin: CallOrigin;
}

type TokenKind = 'input' | 'cachedInput' | 'output';

interface TokenMeter {
  readonly kind: TokenKind;
  /** The meter as Azure names it (Retail Prices API `meterName`, Cost Management `SkuMeter`), and its id. */
  readonly name: string;
  readonly id: string;
  /** Global Standard list price per 1,000 tokens, USD. */
  readonly listPer1K: string;
}

/**
 * The Global Standard meters of each simulated deployment, names, ids and prices as the Azure Retail Prices API lists
 * them (test/fixtures/retail-prices): the same list prices as prices/default-prices.json.
 */
export const TOKEN_METERS: Readonly<Record<string, readonly TokenMeter[]>> = {
  'gpt-4o-prod': [
    { kind: 'input', name: 'gpt-4o-0806-Inp-glbl Tokens', id: 'babc1534-2115-5f32-98cb-29d58a11eb80', listPer1K: '0.0025' },
    { kind: 'cachedInput', name: 'gpt 4o 0806 cached Inp glbl Tokens', id: '00c1710c-0a75-5908-acd2-507d71634215', listPer1K: '0.00125' },
    { kind: 'output', name: 'gpt-4o-0806-Outp-glbl Tokens', id: 'cd976e6c-41ab-5881-a90f-eff2e0c1d9b0', listPer1K: '0.01' },
  ],
  'gpt-4o-mini': [
    { kind: 'input', name: 'gpt-4o-mini-0718-Inp-glbl Tokens', id: '932a4ba7-9944-5dd6-a3ef-f8e18f36eeae', listPer1K: '0.00015' },
    { kind: 'cachedInput', name: 'gpt 4o mini 0718 cached Inp glbl Tokens', id: '7683c9bf-0112-59d3-8667-5d4460aa47b9', listPer1K: '0.000075' },
    { kind: 'output', name: 'gpt-4o-mini-0718-Outp-glbl Tokens', id: '8a5a8abb-6dbf-530a-9f40-7b17658df0f2', listPer1K: '0.0006' },
  ],
  'o3-mini': [
    { kind: 'input', name: 'o3 mini 0131 input glbl Tokens', id: '94b5fff5-98c7-579f-9e47-b7eaada02eab', listPer1K: '0.0011' },
    { kind: 'cachedInput', name: 'o3 mini 0131 cached input glbl Tokens', id: '166374ca-80cb-59f6-a383-5a8dca1fccda', listPer1K: '0.00055' },
    { kind: 'output', name: 'o3 mini 0131 output glbl Tokens', id: '02631426-b674-553b-bd9b-06d3438e9b62', listPer1K: '0.0044' },
  ],
  'gpt-41-responses': [
    { kind: 'input', name: 'gpt 4.1 Inp glbl Tokens', id: 'b002db8d-b0c5-5ff8-b1fc-b53d3ad3cf56', listPer1K: '0.002' },
    { kind: 'cachedInput', name: 'gpt 4.1 cached Inp glbl Tokens', id: '51d8fc45-d360-530f-945a-bcf7c925df8d', listPer1K: '0.0005' },
    { kind: 'output', name: 'gpt 4.1 Outp glbl Tokens', id: 'd7167765-f397-5912-8587-7a6b8a786c14', listPer1K: '0.008' },
  ],
  embeddings: [{ kind: 'input', name: 'text-embedding-3-small-glbl Tokens', id: '2c42f4b3-1ada-5e4e-9696-6a0995ddd4c8', listPer1K: '0.00002' }],
};

/**
 * On one account, one deployment is Provisioned Managed Global, covered by a monthly PTU reservation: Azure bills its
 * calls by the PTU-hour, not by the token, so no token meter of its model appears for that account. The deployment
 * and its traffic are the simulator's own (gpt-4.1 behind the Responses API); only its billing differs.
 */
export const PROVISIONED = {
  deployment: 'gpt-41-responses',
  account: 'contoso-aoai-swedencentral',
  ptus: 15,
  meter: 'Provisioned Managed Global Unit',
  meterId: '433e638d-598a-5b5f-acbc-27dbbda88216',
  /** Retail Prices: the hourly (Consumption) price of one PTU, and the monthly reservation price of one PTU. */
  hourlyListPrice: '1',
  monthlyReservationPrice: '260',
  reservationId: '/providers/Microsoft.Capacity/reservationOrders/5c1e8f2a-7b3d-4e6f-9a1c-2d4b6e8f0a3c/reservations/9e2d4c6b-1a3f-4b5d-8c7e-0f1a2b3c4d5e',
  reservationName: 'aoai-ptu-global-swedencentral',
} as const;

/** The negotiated discount on list prices (an enterprise agreement's), as a fraction. */
export const NEGOTIATED_DISCOUNT = '0.03';
const BILLING_ACCOUNT = '98765432';
/** Decimals of the reservation's amortized daily cost. */
const AMORTIZATION_DECIMALS = 10;

/** What the export holds, and what allocation can and cannot place: the ground truth allocation is checked against. */
export interface InvoiceTruth {
  readonly file: string;
  readonly currency: 'USD';
  readonly negotiatedDiscount: string;
  /** Sums over every row of the export, exact. */
  readonly listCost: string;
  readonly contractedCost: string;
  readonly billedCost: string;
  readonly effectiveCost: string;
  /** Billed calls by how they reached Azure OpenAI. */
  readonly calls: Readonly<Record<CallOrigin, number>>;
  readonly provisioned: { readonly deployment: string; readonly account: string; readonly ptus: number; readonly effectiveCost: string };
  readonly rows: readonly InvoiceRowTruth[];
}

export interface InvoiceRowTruth {
  readonly resourceId: string;
  readonly meter: string;
  readonly billedCost: string;
  readonly effectiveCost: string;
  /** Tokens the row bills (for the provisioned row: all tokens of its deployment's calls on that account). */
  readonly tokens: number;
  /**
   * ... of which calls no attributed gateway request accounts for: bypass calls (direct, or through the AI Hub
   * accelerator), lost gateway events, requests without a RequestResponse record, streams cut short.
   */
  readonly unallocatableTokens: number;
}

export interface SimulatedCostExport {
  readonly csv: string;
  /** Its data rows, as the run's manifest.json counts them. */
  readonly rows: number;
  readonly truth: InvoiceTruth;
}

export const COST_EXPORT_FILE = 'cost-export.csv';

/** The columns of a FOCUS 1.2-preview export, in Microsoft's order. */
export const FOCUS_COLUMNS = [
  'BilledCost', 'BillingAccountId', 'BillingAccountName', 'BillingAccountType', 'BillingCurrency',
  'BillingPeriodEnd', 'BillingPeriodStart', 'CapacityReservationId', 'CapacityReservationStatus', 'ChargeCategory',
  'ChargeClass', 'ChargeDescription', 'ChargeFrequency', 'ChargePeriodEnd', 'ChargePeriodStart',
  'CommitmentDiscountCategory', 'CommitmentDiscountId', 'CommitmentDiscountName', 'CommitmentDiscountQuantity',
  'CommitmentDiscountStatus', 'CommitmentDiscountType', 'CommitmentDiscountUnit', 'ConsumedQuantity', 'ConsumedUnit',
  'ContractedCost', 'ContractedUnitPrice', 'EffectiveCost', 'InvoiceId', 'InvoiceIssuerName', 'ListCost',
  'ListUnitPrice', 'PricingCategory', 'PricingCurrency', 'PricingQuantity', 'PricingUnit', 'ProviderName',
  'PublisherName', 'RegionId', 'RegionName', 'ResourceId', 'ResourceName', 'ResourceType', 'ServiceCategory',
  'ServiceName', 'ServiceSubcategory', 'SkuId', 'SkuMeter', 'SkuPriceDetails', 'SkuPriceId', 'SubAccountId',
  'SubAccountName', 'SubAccountType', 'Tags', 'x_AccountId', 'x_AccountName', 'x_AccountOwnerId',
  'x_AmortizationClass', 'x_BilledCostInUsd', 'x_BilledUnitPrice', 'x_BillingAccountId', 'x_BillingAccountName',
  'x_BillingExchangeRate', 'x_BillingExchangeRateDate', 'x_BillingProfileId', 'x_BillingProfileName',
  'x_ContractedCostInUsd', 'x_CostAllocationRuleName', 'x_CostCenter', 'x_CustomerId', 'x_CustomerName',
  'x_EffectiveCostInUsd', 'x_EffectiveUnitPrice', 'x_InvoiceSectionId', 'x_InvoiceSectionName', 'x_ListCostInUsd',
  'x_PartnerCreditApplied', 'x_PartnerCreditRate', 'x_PricingBlockSize', 'x_PricingCurrency', 'x_PricingSubcategory',
  'x_PricingUnitDescription', 'x_PublisherCategory', 'x_PublisherId', 'x_ResellerId', 'x_ResellerName',
  'x_ResourceGroupName', 'x_ResourceType', 'x_ServiceModel', 'x_ServicePeriodEnd', 'x_ServicePeriodStart',
  'x_SkuDescription', 'x_SkuDetails', 'x_SkuIsCreditEligible', 'x_SkuMeterCategory', 'x_SkuMeterId',
  'x_SkuMeterName', 'x_SkuMeterSubcategory', 'x_SkuOfferId', 'x_SkuOrderId', 'x_SkuOrderName', 'x_SkuPlanName',
  'x_SkuPartNumber', 'x_SkuRegion', 'x_SkuServiceFamily', 'x_SkuTier',
] as const;
type Column = (typeof FOCUS_COLUMNS)[number];

/** A decimal's plain text without trailing zeros: `0.002425`, `12`. */
function plain(units: bigint, scale: number): string {
  const text = formatAmount(units, scale);
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** `a × b` of two decimal texts, exactly. */
function times(a: string, b: string): string {
  const x = readAmount(a);
  const y = readAmount(b);
  return plain(x.units * y.units, x.scale + y.scale);
}

/** What is paid of a list price after the discount: `0.97`. */
const DISCOUNTED = times(sumAmounts(['1', `-${NEGOTIATED_DISCOUNT}`]), '1');

export function armResourceId(account: string): string {
  return `/subscriptions/${AZURE_SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP.toLowerCase()}/providers/Microsoft.CognitiveServices/accounts/${account}`;
}

/** A field as RFC 4180 writes it, as Azure's exports do (quoted where it holds a comma, quote or line break; no formula guard). */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * The share of a row's amount that calls no attributed gateway request accounts for, rounded up at the amount's own
 * decimals: allocation by token share (largest remainder) can leave no more than this of the row unallocated.
 */
export function unallocatableShare(amount: string, tokens: number, unallocatableTokens: number): string {
  const { units, scale } = readAmount(amount);
  if (tokens === 0) return amount;
  const numerator = units * BigInt(unallocatableTokens);
  const denominator = BigInt(tokens);
  return formatAmount(numerator / denominator + (numerator % denominator > 0n ? 1n : 0n), scale);
}

function tokensOf(call: AzureCall, kind: TokenKind): number {
  if (kind === 'cachedInput') return call.cachedTokens;
  if (kind === 'input') return call.promptTokens - call.cachedTokens;
  return call.completionTokens;
}

/** The simulated day's cost export and what it must allocate to. */
export function simulatedCostExport(day: string, calls: readonly AzureCall[]): SimulatedCostExport {
  const dayStart = new Date(`${day}T00:00:00Z`);
  const iso = (d: Date) => d.toISOString().slice(0, 19) + 'Z';
  const nextDay = new Date(dayStart.getTime() + 86_400_000);
  const monthStart = new Date(Date.UTC(dayStart.getUTCFullYear(), dayStart.getUTCMonth(), 1));
  const nextMonth = new Date(Date.UTC(dayStart.getUTCFullYear(), dayStart.getUTCMonth() + 1, 1));
  const daysInMonth = Math.round((nextMonth.getTime() - monthStart.getTime()) / 86_400_000);
  const common = {
    BillingAccountId: BILLING_ACCOUNT,
    BillingAccountName: 'Contoso',
    BillingAccountType: 'Billing Account',
    BillingCurrency: 'USD',
    BillingPeriodStart: iso(monthStart),
    BillingPeriodEnd: iso(nextMonth),
    ChargeCategory: 'Usage',
    ChargeFrequency: 'Usage-Based',
    ChargePeriodStart: iso(dayStart),
    ChargePeriodEnd: iso(nextDay),
    InvoiceId: `E0600${day.slice(0, 7).replace('-', '')}`,
    InvoiceIssuerName: 'Microsoft',
    PricingCurrency: 'USD',
    ProviderName: 'Microsoft',
    PublisherName: 'Microsoft',
    ResourceType: 'Azure AI services',
    ServiceCategory: 'AI and Machine Learning',
    ServiceName: 'Azure OpenAI',
    SubAccountId: `/subscriptions/${AZURE_SUBSCRIPTION}`,
    SubAccountName: 'AI Platform',
    SubAccountType: 'Subscription',
    Tags: '{"env":"prod","owner":"ai-platform"}',
    x_BillingAccountId: BILLING_ACCOUNT,
    x_PricingCurrency: 'USD',
    x_PublisherCategory: 'Cloud Provider',
    x_ResourceGroupName: RESOURCE_GROUP.toLowerCase(),
    x_ResourceType: 'microsoft.cognitiveservices/accounts',
    x_ServicePeriodStart: iso(dayStart),
    x_ServicePeriodEnd: iso(nextDay),
    x_SkuMeterCategory: 'Cognitive Services',
    x_SkuMeterSubcategory: 'Azure OpenAI',
  } satisfies Partial<Record<Column, string>>;

  const rows: Partial<Record<Column, string>>[] = [];
  const truthRows: InvoiceRowTruth[] = [];
  const add = (backend: SimulatedBackend, fields: Partial<Record<Column, string>>, tokens: number, unallocatableTokens: number) => {
    const resourceId = armResourceId(backend.account);
    rows.push({ ...common, RegionId: backend.regionCode, RegionName: backend.regionDisplayName, ResourceId: resourceId, ResourceName: backend.account, x_SkuRegion: backend.regionCode, ...fields });
    truthRows.push({ resourceId, meter: fields.SkuMeter!, billedCost: fields.BilledCost!, effectiveCost: fields.EffectiveCost!, tokens, unallocatableTokens });
  };

  const byDeployment = new Map<string, AzureCall[]>();
  for (const call of calls) {
    const key = `${call.backend.account}\u0000${call.deployment.deployment}`;
    const list = byDeployment.get(key) ?? [];
    list.push(call);
    byDeployment.set(key, list);
  }
  for (const backend of BACKENDS) {
    for (const deployment of DEPLOYMENTS) {
      const onIt = byDeployment.get(`${backend.account}\u0000${deployment.deployment}`) ?? [];
      if (backend.account === PROVISIONED.account && deployment.deployment === PROVISIONED.deployment) {
        const all = (c: AzureCall) => c.promptTokens + c.completionTokens;
        const hours = String(PROVISIONED.ptus * 24);
        const list = times(hours, PROVISIONED.hourlyListPrice);
        const contractedUnit = times(PROVISIONED.hourlyListPrice, DISCOUNTED);
        const month = BigInt(PROVISIONED.ptus) * readAmount(PROVISIONED.monthlyReservationPrice).units;
        const scale = readAmount(PROVISIONED.monthlyReservationPrice).scale;
        const amortized = plain(divideHalfEven(month * 10n ** BigInt(AMORTIZATION_DECIMALS), BigInt(daysInMonth) * 10n ** BigInt(scale)), AMORTIZATION_DECIMALS);
        add(
          backend,
          {
            BilledCost: '0',
            EffectiveCost: amortized,
            ListCost: list,
            ListUnitPrice: PROVISIONED.hourlyListPrice,
            ContractedCost: times(hours, contractedUnit),
            ContractedUnitPrice: contractedUnit,
            ChargeDescription: PROVISIONED.meter,
            CommitmentDiscountCategory: 'Usage',
            CommitmentDiscountId: PROVISIONED.reservationId,
            CommitmentDiscountName: PROVISIONED.reservationName,
            CommitmentDiscountQuantity: hours,
            CommitmentDiscountStatus: 'Used',
            CommitmentDiscountType: 'Reservation',
            CommitmentDiscountUnit: 'Hours',
            ConsumedQuantity: hours,
            ConsumedUnit: '1/Hour',
            PricingCategory: 'Committed',
            PricingQuantity: hours,
            PricingUnit: '1/Hour',
            SkuMeter: PROVISIONED.meter,
            x_SkuMeterName: PROVISIONED.meter,
            x_SkuMeterId: PROVISIONED.meterId,
            x_BilledCostInUsd: '0',
            x_BilledUnitPrice: '0',
            x_EffectiveCostInUsd: amortized,
            x_ContractedCostInUsd: times(hours, contractedUnit),
            x_ListCostInUsd: list,
          },
          onIt.reduce((sum, c) => sum + all(c), 0),
          onIt.filter((c) => c.origin !== 'gateway').reduce((sum, c) => sum + all(c), 0),
        );
        continue;
      }
      for (const meter of TOKEN_METERS[deployment.deployment] ?? []) {
        const tokens = onIt.reduce((sum, c) => sum + tokensOf(c, meter.kind), 0);
        if (tokens === 0) continue;
        const unallocatable = onIt.filter((c) => c.origin !== 'gateway').reduce((sum, c) => sum + tokensOf(c, meter.kind), 0);
        const quantity = plain(BigInt(tokens), 3);
        const list = times(quantity, meter.listPer1K);
        const contractedUnit = times(meter.listPer1K, DISCOUNTED);
        const contracted = times(quantity, contractedUnit);
        add(
          backend,
          {
            BilledCost: contracted,
            EffectiveCost: contracted,
            ListCost: list,
            ListUnitPrice: meter.listPer1K,
            ContractedCost: contracted,
            ContractedUnitPrice: contractedUnit,
            ChargeDescription: meter.name,
            ConsumedQuantity: quantity,
            ConsumedUnit: '1K Tokens',
            PricingCategory: 'Standard',
            PricingQuantity: quantity,
            PricingUnit: '1K Tokens',
            SkuId: meter.id,
            SkuMeter: meter.name,
            x_SkuMeterName: meter.name,
            x_SkuMeterId: meter.id,
            x_BilledCostInUsd: contracted,
            x_BilledUnitPrice: contractedUnit,
            x_EffectiveCostInUsd: contracted,
            x_EffectiveUnitPrice: contractedUnit,
            x_ContractedCostInUsd: contracted,
            x_ListCostInUsd: list,
            x_PricingBlockSize: '1000',
            x_PricingUnitDescription: '1K Tokens',
          },
          tokens,
          unallocatable,
        );
      }
    }
  }

  const csv = [FOCUS_COLUMNS.join(','), ...rows.map((row) => FOCUS_COLUMNS.map((c) => csvField(row[c] ?? '')).join(','))].join('\r\n') + '\r\n';
  const sum = (column: Column) => sumAmounts(rows.map((row) => row[column]!));
  const provisioned = truthRows.find((r) => r.meter === PROVISIONED.meter)!;
  return {
    csv,
    rows: rows.length,
    truth: {
      file: COST_EXPORT_FILE,
      currency: 'USD',
      negotiatedDiscount: NEGOTIATED_DISCOUNT,
      listCost: sum('ListCost'),
      contractedCost: sum('ContractedCost'),
      billedCost: sum('BilledCost'),
      effectiveCost: sum('EffectiveCost'),
      calls: Object.fromEntries(CALL_ORIGINS.map((origin) => [origin, calls.filter((c) => c.origin === origin).length])) as Record<CallOrigin, number>,
      provisioned: { deployment: PROVISIONED.deployment, account: PROVISIONED.account, ptus: PROVISIONED.ptus, effectiveCost: provisioned.effectiveCost },
      rows: truthRows,
    },
  };
}
