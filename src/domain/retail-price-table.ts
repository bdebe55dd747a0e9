import { PRICE_CURRENCY, type PriceFile } from '../contracts/price-table.js';
import type { RetailPriceItem } from '../contracts/retail-prices.js';
import { picodollarsPerUnit, readMeter, type AzureMeter, type DeploymentType, type MeterKind } from './retail-price-meters.js';

/**
 * Azure Retail Prices items → the entries of a price file (see `price-table.ts`). Pure.
 *
 * - Only items of one deployment type (Global by default) and one region are taken: the price file prices a model,
 *   not a deployment type, and the same meter has a price per region.
 * - Each item is in effect from its `effectiveStartDate` (its UTC day) up to its `effectiveEndDate` (the first UTC
 *   midnight at or after it), and only if it starts on or before the as-of day. A model's entries follow every
 *   change of any of its prices, so past prices are kept with their dates and requests are rated at the price of
 *   their day.
 * - A token's price is exact: picodollars per token are micros per 1M tokens, the unit of the price file.
 */

type PriceEntryInput = PriceFile['prices'][number];

export interface LocatedRetailItem {
  readonly item: RetailPriceItem;
  /** Where the item was read, for messages: `prices.json: Items[3]`. */
  readonly where: string;
}

export interface RetailConversionOptions {
  /** `YYYY-MM-DD`: items that start after this day are not in effect yet and are left out. */
  readonly asOf: string;
  readonly deploymentType: DeploymentType;
  /** An `armRegionName`; required when the items hold prices of several regions. */
  readonly region?: string | undefined;
}

export interface RetailConversion {
  readonly prices: PriceEntryInput[];
  /** Items whose price is in an entry. */
  readonly imported: number;
  /** Items left out, counted by reason. */
  readonly skipped: ReadonlyMap<string, number>;
  /** The region the prices are of (null when no item was an Azure OpenAI token or image price). */
  readonly region: string | null;
}

export const CONVERSION_SKIPS = {
  otherDeploymentType: 'another deployment type than the one imported',
  otherRegion: 'another region than the one imported',
  notYet: 'not yet in effect on the as-of day',
  tooFine: 'finer than the price file can hold (one picodollar per token, one micro-dollar per image)',
  cachedAudio: 'cached audio input (the price file prices cached tokens at cachedInputPer1M, as text)',
  noInput: 'no input or per-image price for its model on its days (a price file entry needs one)',
  duplicate: 'the same price as another item (same model, token kind and day)',
  endsBeforeStart: 'an effectiveEndDate before its effectiveStartDate',
} as const;

const FIELDS: Readonly<Record<Exclude<MeterKind, 'cachedAudioInput'>, keyof PriceEntryInput>> = {
  input: 'inputPer1M',
  cachedInput: 'cachedInputPer1M',
  output: 'outputPer1M',
  audioInput: 'audioInputPer1M',
  audioOutput: 'audioOutputPer1M',
  perImage: 'perRequest',
};
type PricedKind = keyof typeof FIELDS;

interface Interval {
  readonly kind: PricedKind;
  readonly from: string;
  readonly to: string | null;
  /** Micros per 1M tokens (= picodollars per token), or micros per image. */
  readonly micros: bigint;
  readonly source: LocatedRetailItem;
}

function utcDay(instant: string): string {
  return new Date(Date.parse(instant)).toISOString().slice(0, 10);
}

/** The first UTC midnight at or after an instant, as a day: an end at 23:59 on the 31st is the 1st. */
function ceilingDay(instant: string): string {
  const ms = Date.parse(instant);
  const midnight = Math.ceil(ms / 86_400_000) * 86_400_000;
  return new Date(midnight).toISOString().slice(0, 10);
}

/** Micros as a decimal string of dollars, without trailing zeros (`2500000n` → `"2.5"`). */
function decimalText(micros: bigint): string {
  const whole = micros / 1_000_000n;
  const fraction = (micros % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return fraction === '' ? whole.toString() : `${whole}.${fraction}`;
}

function count(skipped: Map<string, number>, reason: string): void {
  skipped.set(reason, (skipped.get(reason) ?? 0) + 1);
}

/** One model's entries: a new entry wherever any of its prices changes, equal neighbours merged. */
function entriesOf(model: string, intervals: readonly Interval[], used: Set<Interval>): PriceEntryInput[] {
  const bounds = [...new Set(intervals.flatMap((i) => (i.to === null ? [i.from] : [i.from, i.to])))].sort();
  const entries: PriceEntryInput[] = [];
  for (let b = 0; b < bounds.length; b++) {
    const from = bounds[b]!;
    const to = bounds[b + 1] ?? null;
    const chosen = new Map<PricedKind, Interval>();
    for (const interval of intervals) {
      if (interval.from > from || (interval.to !== null && interval.to <= from)) continue;
      const current = chosen.get(interval.kind);
      if (!current || interval.from > current.from) chosen.set(interval.kind, interval);
    }
    if (!chosen.has('input') && !chosen.has('perImage')) continue;
    const entry: Record<string, string | null> = { model, deployment: null, from, to };
    for (const kind of Object.keys(FIELDS) as PricedKind[]) {
      const interval = chosen.get(kind);
      if (interval === undefined) continue;
      entry[FIELDS[kind]] = decimalText(interval.micros);
      used.add(interval);
    }
    const previous = entries.at(-1);
    const same = previous && previous.to === from && Object.keys(FIELDS).every((kind) => previous[FIELDS[kind as PricedKind]] === entry[FIELDS[kind as PricedKind]]);
    if (same) previous.to = to;
    else entries.push(entry as unknown as PriceEntryInput);
  }
  return entries;
}

/**
 * Converts Retail Prices items into price file entries. Throws an `Error` naming the item for a price in another
 * currency than USD, for two meters that give one model's token kind different prices from the same day, and (with
 * no region given) for items of several regions.
 */
export function retailPricesToEntries(items: readonly LocatedRetailItem[], options: RetailConversionOptions): RetailConversion {
  const skipped = new Map<string, number>();
  const readable: { located: LocatedRetailItem; meter: AzureMeter }[] = [];
  for (const located of items) {
    const { item, where } = located;
    if (item.currencyCode !== PRICE_CURRENCY) {
      throw new Error(`${where}: a price in ${JSON.stringify(item.currencyCode)}, not ${PRICE_CURRENCY}: TokenLedger prices in ${PRICE_CURRENCY}; save the response without a currencyCode parameter (or with currencyCode='${PRICE_CURRENCY}')`);
    }
    const reading = readMeter(item);
    if (reading.skip !== undefined) count(skipped, reading.skip);
    else readable.push({ located, meter: reading.meter });
  }

  const regions = [...new Set(readable.map((r) => r.located.item.armRegionName))].sort();
  if (options.region === undefined && regions.length > 1) {
    throw new Error(`the prices are of ${regions.length} regions (${regions.join(', ')}): choose one with --region`);
  }
  const region = options.region ?? regions[0] ?? null;

  const byModel = new Map<string, Interval[]>();
  for (const { located, meter } of readable) {
    const { item } = located;
    if (item.armRegionName !== region) count(skipped, CONVERSION_SKIPS.otherRegion);
    else if (meter.deploymentType !== options.deploymentType) count(skipped, CONVERSION_SKIPS.otherDeploymentType);
    else if (utcDay(item.effectiveStartDate) > options.asOf) count(skipped, CONVERSION_SKIPS.notYet);
    else if (meter.kind === 'cachedAudioInput') count(skipped, CONVERSION_SKIPS.cachedAudio);
    else {
      const picodollars = picodollarsPerUnit(item.retailPrice, meter.unitsPerPrice);
      // A token price in picodollars is micros per 1M tokens; an image price must be whole micros.
      const micros = picodollars === null ? null : meter.kind === 'perImage' ? (picodollars % 1_000_000n === 0n ? picodollars / 1_000_000n : null) : picodollars;
      const from = utcDay(item.effectiveStartDate);
      const to = item.effectiveEndDate === undefined ? null : ceilingDay(item.effectiveEndDate);
      if (micros === null) count(skipped, CONVERSION_SKIPS.tooFine);
      else if (to !== null && to <= from) count(skipped, CONVERSION_SKIPS.endsBeforeStart);
      else {
        const list = byModel.get(meter.model) ?? [];
        const twin = list.find((other) => other.kind === meter.kind && other.from === from);
        if (twin && (twin.micros !== micros || twin.to !== to)) {
          throw new Error(
            `${located.where} (${JSON.stringify(item.meterName)}) and ${twin.source.where} (${JSON.stringify(twin.source.item.meterName)}) both price ${meter.kind} tokens of ${meter.model}, ${options.deploymentType}, from ${from}, differently (${item.retailPrice} per ${item.unitOfMeasure} and ${twin.source.item.retailPrice} per ${twin.source.item.unitOfMeasure})`,
          );
        }
        if (twin) count(skipped, CONVERSION_SKIPS.duplicate);
        else list.push({ kind: meter.kind, from, to, micros, source: located });
        byModel.set(meter.model, list);
      }
    }
  }

  const used = new Set<Interval>();
  const prices = [...byModel.keys()].sort().flatMap((model) => entriesOf(model, byModel.get(model)!, used));
  for (const intervals of byModel.values()) {
    for (const interval of intervals) if (!used.has(interval)) count(skipped, CONVERSION_SKIPS.noInput);
  }
  return { prices, imported: used.size, skipped, region };
}
