import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { formatAmount, sumAmounts } from '../../src/domain/invoice-allocation.js';
import { roundAmount, roundAmountsToTotal } from '../../src/domain/invoice-comparison.js';
import {
  allocateRounded,
  apportion,
  costPicodollars,
  divideHalfEven,
  formatMicros,
  formatPicodollars,
  microsToPicodollars,
  parseDecimal,
  roundPicodollars,
} from '../../src/domain/money.js';

describe('parseDecimal', () => {
  it('parses prices per 1M tokens into micros', () => {
    expect(parseDecimal('2.50')).toBe(2_500_000n);
    expect(parseDecimal('0.075')).toBe(75_000n);
    expect(parseDecimal('10')).toBe(10_000_000n);
    expect(parseDecimal('0')).toBe(0n);
    expect(parseDecimal('0.000001')).toBe(1n);
    expect(parseDecimal('123456789012345678.5')).toBe(123_456_789_012_345_678_500_000n);
  });

  it('refuses more than 6 decimals', () => {
    expect(() => parseDecimal('2.1234567')).toThrow(RangeError);
    expect(() => parseDecimal('2.1234567')).toThrow(/"2\.1234567" has 7 decimal places; at most 6/);
  });

  it('refuses negatives, exponents, NaN, Infinity and other malformed text with a clear reason', () => {
    expect(() => parseDecimal('-1.00')).toThrow(/negative amount "-1\.00"/);
    expect(() => parseDecimal('1e-6')).toThrow(/exponent notation "1e-6"/);
    expect(() => parseDecimal('2.5E3')).toThrow(/exponent notation/);
    expect(() => parseDecimal('NaN')).toThrow(/"NaN" is not a finite decimal number/);
    expect(() => parseDecimal('Infinity')).toThrow(/not a finite decimal number/);
    expect(() => parseDecimal('')).toThrow(/empty decimal/);
    expect(() => parseDecimal(' 2.50')).toThrow(/whitespace/);
    for (const text of ['+2.50', '.5', '5.', '1,000.00', '2.5.0', '0x10', 'abc', '$2.50']) {
      expect(() => parseDecimal(text), text).toThrow(/expected digits with an optional decimal point/);
    }
    expect(() => parseDecimal(2.5 as unknown as string)).toThrow(TypeError);
  });
});

describe('formatMicros and formatPicodollars', () => {
  it('formats with exactly the requested decimals', () => {
    expect(formatMicros(125n)).toBe('0.000125');
    expect(formatMicros(2_500_000n)).toBe('2.500000');
    expect(formatMicros(2_500_000n, 2)).toBe('2.50');
    expect(formatMicros(12_000_000n, 0)).toBe('12');
    expect(formatMicros(1n, 12)).toBe('0.000001000000');
    expect(formatPicodollars(125_000_000n)).toBe('0.000125');
    expect(formatPicodollars(1n, 12)).toBe('0.000000000001');
  });

  it('keeps the sign of credits and never prints a negative zero', () => {
    expect(formatMicros(-125n)).toBe('-0.000125');
    expect(formatMicros(-1_250_000n, 2)).toBe('-1.25');
    expect(formatPicodollars(-1n)).toBe('0.000000');
    expect(formatMicros(-4_000n, 2)).toBe('0.00');
  });

  it('rounds half to even at the display precision', () => {
    expect(formatMicros(5_000n, 2)).toBe('0.00'); // 0.005 → 0.00 (0 is even)
    expect(formatMicros(15_000n, 2)).toBe('0.02'); // 0.015 → 0.02
    expect(formatMicros(25_000n, 2)).toBe('0.02'); // 0.025 → 0.02
    expect(formatMicros(25_001n, 2)).toBe('0.03'); // just above the half
    expect(formatMicros(-25_000n, 2)).toBe('-0.02');
    expect(formatMicros(-35_000n, 2)).toBe('-0.04');
    expect(formatPicodollars(500_000n)).toBe('0.000000'); // half a micro
    expect(formatPicodollars(1_500_000n)).toBe('0.000002');
    expect(formatPicodollars(2_500_000n)).toBe('0.000002');
    expect(roundPicodollars(2_500_000n, 6)).toBe(2_000_000n);
    expect(roundPicodollars(3_500_000n, 6)).toBe(4_000_000n);
  });

  it('refuses an unsupported number of decimals', () => {
    expect(() => formatMicros(1n, 13)).toThrow(/decimals must be an integer from 0 to 12/);
    expect(() => formatMicros(1n, -1)).toThrow(RangeError);
    expect(() => formatMicros(1n, 1.5)).toThrow(RangeError);
  });

  it('round-trips parse → format → parse for any amount with up to 6 decimals', () => {
    const amount = fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.integer({ min: 0, max: 6 }), fc.bigInt({ min: 0n, max: 999_999n }));
    fc.assert(
      fc.property(amount, ([whole, decimals, digits]) => {
        const fraction = decimals === 0 ? '' : `.${(digits % 10n ** BigInt(decimals)).toString().padStart(decimals, '0')}`;
        const text = `${whole}${fraction}`;
        const micros = parseDecimal(text);
        const formatted = formatMicros(micros);
        expect(parseDecimal(formatted)).toBe(micros);
        expect(formatted).toBe(`${whole}.${(fraction.slice(1) || '').padEnd(6, '0')}`);
      }),
    );
  });

  it('divideHalfEven agrees with exact rational rounding, for any sign', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.bigInt({ min: 1n, max: 10n ** 9n }), (n, d) => {
        const q = divideHalfEven(n, d);
        const twiceError = 2n * (n - q * d); // 2 × (n/d − q) × d
        expect(twiceError <= d && twiceError >= -d).toBe(true);
        if (twiceError === d || twiceError === -d) expect(q % 2n).toBe(0n);
      }),
    );
  });
});

describe('costPicodollars', () => {
  it('is tokens × micros per 1M, exactly, in picodollars', () => {
    expect(costPicodollars(1, 2_500_000n)).toBe(2_500_000n); // 2.5e-6 USD
    expect(formatPicodollars(costPicodollars(1, 2_500_000n), 12)).toBe('0.000002500000');
    expect(costPicodollars(1_000_000, 2_500_000n)).toBe(microsToPicodollars(2_500_000n)); // 1M tokens cost the price
    expect(costPicodollars(3, 75_000n)).toBe(225_000n); // 3 × 0.075 / 1M = 2.25e-7 USD, not a whole micro
    expect(costPicodollars(0, 10_000_000n)).toBe(0n);
  });

  it('refuses negative or fractional token counts and negative prices', () => {
    expect(() => costPicodollars(-1, 1n)).toThrow(/non-negative integer/);
    expect(() => costPicodollars(1.5, 1n)).toThrow(RangeError);
    expect(() => costPicodollars(Number.NaN, 1n)).toThrow(RangeError);
    expect(() => costPicodollars(1, -1n)).toThrow(/must not be negative/);
  });
});

describe('allocateRounded', () => {
  it('makes rounded lines add up to the rounded total (worked example)', () => {
    // Three lines of 0.3333334 USD: each rounds to 0.33, the total 1.0000002 rounds to 1.00.
    const line = 333_333_400_000n;
    const rounded = allocateRounded([line, line, line], 2);
    expect(rounded.map((amount) => formatPicodollars(amount, 2))).toEqual(['0.34', '0.33', '0.33']);
    expect(formatPicodollars(rounded.reduce((a, b) => a + b, 0n), 2)).toBe('1.00');
  });

  it('gives the missing step to the line with the largest remainder', () => {
    const rounded = allocateRounded([4_000_000_000n, 6_000_000_000n, 5_000_000_000n], 2); // 0.004, 0.006, 0.005
    expect(rounded.map((amount) => formatPicodollars(amount, 2))).toEqual(['0.00', '0.01', '0.01']); // total 0.015 → 0.02
  });

  it('leaves lines that are already on the display step unchanged, and handles empty input', () => {
    expect(allocateRounded([10_000_000_000n, -20_000_000_000n], 2)).toEqual([10_000_000_000n, -20_000_000_000n]);
    expect(allocateRounded([], 2)).toEqual([]);
  });

  it('property: lines sum exactly to the half-even rounded total, each within one step of its exact value', () => {
    const lines = fc.array(fc.bigInt({ min: -(10n ** 16n), max: 10n ** 16n }), { maxLength: 40 });
    fc.assert(
      fc.property(lines, fc.integer({ min: 0, max: 12 }), (input, decimals) => {
        const step = 10n ** BigInt(12 - decimals);
        const rounded = allocateRounded(input, decimals);
        const exactTotal = input.reduce((a, b) => a + b, 0n);
        expect(rounded.reduce((a, b) => a + b, 0n)).toBe(roundPicodollars(exactTotal, decimals));
        rounded.forEach((amount, index) => {
          expect(amount % step).toBe(0n);
          const error = amount - input[index]!;
          expect(error > -step && error < step).toBe(true);
        });
      }),
    );
  });
});

describe('roundAmountsToTotal', () => {
  it('rounds decimal amounts of any scale so that the lines add up to the rounded total, where rounding each would not', () => {
    const amounts = ['0.3333335', '0.3333335', '0.333333'];
    expect(amounts.map((a) => roundAmount(a, 6))).toEqual(['0.333334', '0.333334', '0.333333']);
    expect(roundAmountsToTotal(amounts, 6)).toEqual(['0.333334', '0.333333', '0.333333']);
    expect(roundAmountsToTotal(['1.5', '-0.25', '24'], 6)).toEqual(['1.500000', '-0.250000', '24.000000']);
  });

  it('rounds amounts to add up to a total already shown rounded the other way, and refuses a total they cannot reach', () => {
    // 0.0000005 + 0.0000005 = 0.000001 exactly, shown as 0.000000 in a table whose other rows took the step.
    expect(roundAmountsToTotal(['0.0000005', '0.0000005'], 6, '0.000000')).toEqual(['0.000000', '0.000000']);
    expect(roundAmountsToTotal(['0.0000005', '0.0000005'], 6, '0.000001')).toEqual(['0.000001', '0.000000']);
    expect(() => roundAmountsToTotal(['0.0000005', '0.0000005'], 6, '0.000003')).toThrow(RangeError);
  });

  it('property: the rounded lines sum to the rounded exact sum, each within one step of its amount', () => {
    const amount = fc.tuple(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), fc.nat({ max: 12 })).map(([units, scale]) => formatAmount(units, scale));
    fc.assert(
      fc.property(fc.array(amount, { minLength: 1, maxLength: 20 }), (amounts) => {
        const rounded = roundAmountsToTotal(amounts, 6);
        expect(sumAmounts(rounded.length > 0 ? rounded : ['0'])).toBe(roundAmount(sumAmounts(amounts), 6));
        rounded.forEach((r, i) => expect(Math.abs(Number(r) - Number(amounts[i]))).toBeLessThan(1.0000001e-6));
      }),
    );
  });
});

describe('apportion', () => {
  it('splits a total by weight, exactly, remainders to the largest fractions', () => {
    expect(apportion(10n, [1n, 1n, 1n])).toEqual([4n, 3n, 3n]);
    expect(apportion(100n, [1n, 2n, 0n])).toEqual([33n, 67n, 0n]);
    expect(apportion(-10n, [1n, 1n, 1n])).toEqual([-4n, -3n, -3n]);
    expect(apportion(0n, [0n, 0n])).toEqual([0n, 0n]);
    expect(() => apportion(1n, [0n])).toThrow(/weights that sum to zero/);
    expect(() => apportion(1n, [-1n, 2n])).toThrow(/must not be negative/);
  });

  it('property: parts sum to the total and each is within one unit of its exact share', () => {
    const input = fc.tuple(fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n }), fc.array(fc.bigInt({ min: 0n, max: 10n ** 9n }), { minLength: 1, maxLength: 30 }));
    fc.assert(
      fc.property(input, ([total, weights]) => {
        const weightSum = weights.reduce((a, b) => a + b, 0n);
        fc.pre(weightSum > 0n);
        const parts = apportion(total, weights);
        expect(parts.reduce((a, b) => a + b, 0n)).toBe(total);
        parts.forEach((part, index) => {
          const scaledError = part * weightSum - total * weights[index]!; // (part − exact share) × Σweights
          expect(scaledError > -weightSum && scaledError < weightSum).toBe(true);
        });
      }),
    );
  });
});
