import { createHash } from 'node:crypto';
import type { PriceTable } from '../contracts/price-table.js';
import type { UsageLine } from '../contracts/usage-tile.js';
import { ChargebackLines, UNKNOWN, type ChargebackLine } from './chargeback.js';
import { costPicodollars, microsToPicodollars, type Picodollars } from './money.js';
import { PriceMatcher, type PriceMatch } from './price-matching.js';

/**
 * Prices usage when a report is read. Per-token prices are linear, so pricing a line's summed counts gives to the
 * picodollar what pricing each of its requests would (`priceEntry`): every request of a line shares its model,
 * deployment, day and uses, hence its price and whether that price covers it.
 */

/** Whether a price entry prices everything the line's requests used (see `priceCovers`). */
function covers(match: PriceMatch, uses: readonly string[]): boolean {
  if (uses.includes('text') && !match.pricesTokens) return false;
  if (uses.includes('audio-input') && match.audioInputPer1MMicros === null) return false;
  if (uses.includes('audio-output') && match.audioOutputPer1MMicros === null) return false;
  return !uses.includes('per-call') || match.perRequestMicros !== null;
}

function lineCost(line: UsageLine, match: PriceMatch): Picodollars {
  return (
    costPicodollars(line.uncachedInputTokens, match.inputPer1MMicros) +
    costPicodollars(line.cachedTokens, match.cachedInputPer1MMicros) +
    costPicodollars(line.completionTokens - line.audioCompletionTokens, match.outputPer1MMicros) +
    costPicodollars(line.audioPromptTokens, match.audioInputPer1MMicros ?? 0n) +
    costPicodollars(line.audioCompletionTokens, match.audioOutputPer1MMicros ?? 0n) +
    (match.perRequestMicros === null ? 0n : BigInt(line.requests) * microsToPicodollars(match.perRequestMicros))
  );
}

/** Usage of one UTC day (`YYYY-MM-DD`): the unit prices take effect in. */
export interface DayUsage {
  readonly day: string;
  readonly lines: Iterable<UsageLine>;
}

/**
 * Chargeback lines of usage at the prices in effect on each day: a price entry's version on every priced line, and
 * lines whose price is missing or lacks what they used reported as unpriced, never as free.
 */
export function priceUsage(days: Iterable<DayUsage>, prices: PriceMatcher): ChargebackLine[] {
  const out = new ChargebackLines(prices);
  for (const { day, lines } of days) {
    const time = `${day}T00:00:00.000Z`;
    for (const line of lines) {
      const priced = line.uses.length > 0;
      const found = priced ? prices.match({ model: line.pricingModel, deployment: line.deployment, time }) : null;
      const match = found && (!line.uses.some((u) => u !== 'text') || covers(found, line.uses)) ? found : null;
      out.addLine({
        identity: line.identity,
        identityKind: line.identityKind,
        model: line.model,
        deployment: line.deployment ?? UNKNOWN,
        priceVersion: match?.priceVersion ?? null,
        unpriced: priced && match === null,
        requests: line.requests,
        promptTokens: line.promptTokens,
        cachedTokens: line.cachedTokens,
        completionTokens: line.completionTokens,
        reasoningTokens: line.reasoningTokens,
        costPico: match ? lineCost(line, match) : 0n,
        tokenSources: { gateway: 0, 'llm-log': 0, none: 0, [line.tokenSource]: line.requests },
      });
    }
  }
  return out.list();
}

/** A price table's version: the hash of its content, so a report names exactly the prices it was computed with. */
export function priceTableVersion(table: PriceTable): string {
  const text = JSON.stringify(table, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  return `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

/** The prices reports are read at, and their version. */
export interface Pricing {
  readonly matcher: PriceMatcher;
  readonly version: string;
}

export function pricingOf(table: PriceTable): Pricing {
  return { matcher: new PriceMatcher(table), version: priceTableVersion(table) };
}
