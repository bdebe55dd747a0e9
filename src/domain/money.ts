/**
 * Money, exactly: integers only, never binary floats.
 *
 * Units (all USD, all `bigint`):
 * - `Micros`: 1 micro = 10^-6 USD. Prices are held as micros per 1,000,000 tokens ("2.50" per 1M tokens is
 *   2_500_000n), and fixed amounts (a provisioned deployment's monthly cost) as micros.
 * - `Picodollars`: 1 picodollar = 10^-12 USD = 10^-6 micro. The cost of `tokens` at `p` micros per 1M tokens is
 *   `tokens × p / 10^6` micros = `tokens × p` picodollars: an exact integer. Every cost and every sum of costs is
 *   kept in picodollars, so sums are exact in any order and any grouping.
 *
 * Rounding happens only for display, half-to-even ("banker's rounding") at the chosen number of decimals of a
 * dollar. When a report shows rounded lines and a rounded total, `allocateRounded` rounds the lines by the
 * largest-remainder method so the shown lines add up to the shown total exactly.
 */

import { MICROS_PER_DOLLAR, type Micros } from '../contracts/decimal-amount.js';

export { MICROS_PER_DOLLAR, parseDecimal, type Micros } from '../contracts/decimal-amount.js';

/** An amount of USD in units of 10^-12 USD; the unit every cost and every sum of costs is kept in. */
export type Picodollars = bigint;

export const PICODOLLARS_PER_MICRO = 1_000_000n;
export const PICODOLLARS_PER_DOLLAR = MICROS_PER_DOLLAR * PICODOLLARS_PER_MICRO;
/** Prices are quoted per this many tokens. */
export const TOKENS_PER_PRICE_UNIT = 1_000_000;
/** Decimals a displayed amount may carry: one picodollar is the smallest cost step. */
export const MAX_DISPLAY_DECIMALS = 12;

/**
 * The exact cost of `tokens` tokens at `pricePer1MMicros` micros per 1M tokens, in picodollars
 * (`tokens × pricePer1MMicros`; no rounding). `tokens` must be a non-negative safe integer.
 */
export function costPicodollars(tokens: number, pricePer1MMicros: Micros): Picodollars {
  if (!Number.isSafeInteger(tokens) || tokens < 0) {
    throw new RangeError(`token count must be a non-negative integer, got ${tokens}`);
  }
  if (pricePer1MMicros < 0n) throw new RangeError(`price must not be negative, got ${pricePer1MMicros} micros per 1M tokens`);
  return BigInt(tokens) * pricePer1MMicros;
}

export function microsToPicodollars(micros: Micros): Picodollars {
  return micros * PICODOLLARS_PER_MICRO;
}

/** `numerator / denominator` rounded toward negative infinity; `denominator` must be positive. */
function floorDiv(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  return numerator % denominator < 0n ? quotient - 1n : quotient;
}

/** `numerator / denominator` rounded half to even; `denominator` must be positive. Symmetric around zero. */
export function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError(`denominator must be positive, got ${denominator}`);
  const quotient = floorDiv(numerator, denominator);
  const twiceRemainder = 2n * (numerator - quotient * denominator);
  if (twiceRemainder > denominator) return quotient + 1n;
  if (twiceRemainder < denominator) return quotient;
  return quotient % 2n === 0n ? quotient : quotient + 1n;
}

/** Picodollars in one display step of `decimals` decimals of a dollar (10^(12 − decimals)). */
function displayStep(decimals: number): bigint {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > MAX_DISPLAY_DECIMALS) {
    throw new RangeError(`decimals must be an integer from 0 to ${MAX_DISPLAY_DECIMALS}, got ${decimals}`);
  }
  return 10n ** BigInt(MAX_DISPLAY_DECIMALS - decimals);
}

/**
 * Rounds an amount half to even at `decimals` decimals of a dollar. The result stays in picodollars
 * (a multiple of 10^(12 − decimals)), so rounded amounts can be summed and formatted like any other.
 */
export function roundPicodollars(amount: Picodollars, decimals = 6): Picodollars {
  const step = displayStep(decimals);
  return divideHalfEven(amount, step) * step;
}

/**
 * Formats picodollars as a decimal number of dollars with exactly `decimals` decimals (0–12), rounding half to
 * even: `formatPicodollars(125_000_000n)` is `"0.000125"`. Negative amounts (credits) keep their sign; an amount
 * that rounds to zero prints without one.
 */
export function formatPicodollars(amount: Picodollars, decimals = 6): string {
  const step = displayStep(decimals);
  const units = divideHalfEven(amount, step);
  const magnitude = units < 0n ? -units : units;
  const scale = 10n ** BigInt(decimals);
  const whole = (magnitude / scale).toString();
  const fraction = decimals === 0 ? '' : `.${(magnitude % scale).toString().padStart(decimals, '0')}`;
  return `${units < 0n ? '-' : ''}${whole}${fraction}`;
}

/** Formats micros as dollars with `decimals` decimals (0–12), rounding half to even below 6 decimals. */
export function formatMicros(micros: Micros, decimals = 6): string {
  return formatPicodollars(microsToPicodollars(micros), decimals);
}

/**
 * Splits `total` into integer parts proportional to non-negative `weights` by the largest-remainder method: each
 * part is `total × weight / Σweights` rounded down, and the units left over go one each to the parts with the
 * largest remainders (ties to the earlier part). Parts sum to `total` exactly; each is within one unit of its
 * exact share. A negative total is split as its magnitude, negated.
 */
export function apportion(total: bigint, weights: readonly bigint[]): bigint[] {
  if (total < 0n) return apportion(-total, weights).map((part) => -part);
  let weightSum = 0n;
  for (const weight of weights) {
    if (weight < 0n) throw new RangeError(`weights must not be negative, got ${weight}`);
    weightSum += weight;
  }
  if (weightSum === 0n) {
    if (total === 0n) return weights.map(() => 0n);
    throw new RangeError(`cannot apportion ${total} over weights that sum to zero`);
  }
  const parts = weights.map((weight) => (total * weight) / weightSum);
  const remainders = weights.map((weight) => (total * weight) % weightSum);
  const leftover = total - parts.reduce((sum, part) => sum + part, 0n);
  giveOneEachToLargest(parts, remainders, leftover, 1n);
  return parts;
}

/** Adds `unit` to `count` of `parts`, those with the largest `remainders`, ties to the earlier index. */
function giveOneEachToLargest(parts: bigint[], remainders: readonly bigint[], count: bigint, unit: bigint): void {
  if (count === 0n) return;
  const order = remainders
    .map((remainder, index) => ({ remainder, index }))
    .sort((a, b) => (a.remainder > b.remainder ? -1 : a.remainder < b.remainder ? 1 : a.index - b.index));
  for (let i = 0; i < Number(count); i++) {
    const index = order[i]!.index;
    parts[index] = parts[index]! + unit;
  }
}

/**
 * Rounds report lines (picodollars) to `decimals` decimals of a dollar so that the rounded lines sum exactly to
 * the total rounded half to even (`roundPicodollars(Σ lines, decimals)`). Largest-remainder method: every line
 * is first rounded down to the display step, then the steps still missing go one each to the lines that lost the
 * most (ties to the earlier line). Each result is a multiple of the step within one step of its exact line, in
 * picodollars. Negative lines (credits) are allowed. To make ties independent of input order, sort the lines by
 * a stable key first.
 */
export function allocateRounded(lines: readonly Picodollars[], decimals = 6): Picodollars[] {
  return roundToTotal(lines, displayStep(decimals));
}

/**
 * Rounds each of `lines` (integers of one scale) to a multiple of `step` so that they add up to their exact total
 * rounded half to even, or to `totalSteps` steps (a total already shown rounded down or up, within one step of the
 * exact total per line): each is rounded down, and the steps left go one each to the largest remainders.
 */
export function roundToTotal(lines: readonly bigint[], step: bigint, totalSteps?: bigint): bigint[] {
  const floors = lines.map((line) => floorDiv(line, step));
  const remainders = lines.map((line, index) => line - floors[index]! * step);
  const exactTotal = lines.reduce((sum, line) => sum + line, 0n);
  const missingSteps = (totalSteps ?? divideHalfEven(exactTotal, step)) - floors.reduce((sum, units) => sum + units, 0n);
  if (missingSteps < 0n || missingSteps > BigInt(lines.length)) throw new RangeError(`lines cannot be rounded to add up to ${totalSteps} steps`);
  const rounded = floors.map((units) => units * step);
  giveOneEachToLargest(rounded, remainders, missingSteps, step);
  return rounded;
}
