import { z } from 'zod';
import { parseDecimal, type Micros } from './decimal-amount.js';
import { isRetailPricesResponse } from './retail-prices.js';

/**
 * The price file (`prices/default-prices.json` and any replacement): per-token prices by model name prefix or by
 * deployment, and fixed monthly costs of provisioned (PTU) deployments, each with an effective date range.
 *
 * - Amounts are decimal strings in USD (`"2.50"`, at most 6 decimals), parsed exactly into micros; JSON numbers
 *   are refused because a binary float cannot hold most decimal prices exactly.
 * - Per-token prices are per 1M tokens. `cachedInputPer1M` defaults to `inputPer1M`; `outputPer1M` defaults to
 *   `"0"` (embeddings have no output tokens). Audio tokens have their own prices (`audioInputPer1M`,
 *   `audioOutputPer1M`), with no default: audio priced as text would be wrong. `perRequest` is a price per call
 *   (an image of dall-e-3, a transcription). An entry gives `inputPer1M`, `perRequest` or both.
 * - Each price entry names exactly one of `model` (a model name prefix, see `price-matching.ts`) or `deployment`.
 * - Dates are `YYYY-MM-DD` in UTC; `from` is inclusive, `to` exclusive (`null`: still in effect); `to` > `from`.
 * - Ranges of the same model, of the same deployment, and of a deployment's provisioned and per-token entries must
 *   not overlap.
 * - Unknown fields are refused, so a misspelt field cannot silently fall back to a default.
 *
 * Each entry gets a stable `priceVersion` (`gpt-4o@2024-01-01`, `deployment:gpt-4o-prod@2024-01-01`,
 * `provisioned:gpt-4o-ptu@2024-01-01`) that every cost records.
 */

export const PRICE_CURRENCY = 'USD';

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

function isCalendarDate(text: string): boolean {
  const parts = DATE_PATTERN.exec(text);
  if (!parts) return false;
  const [year, month, day] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** A calendar date `YYYY-MM-DD`, meaning its UTC midnight. */
export const isoDateSchema = z
  .string({ error: 'expected a date string YYYY-MM-DD' })
  .refine(isCalendarDate, { error: (issue) => `expected a calendar date YYYY-MM-DD, got ${JSON.stringify(issue.input)}` });

/** A non-negative decimal amount of USD as a string, parsed into micros. */
export const decimalAmountSchema = z
  .string({ error: 'expected a decimal string like "2.50" (JSON numbers are binary floats, not exact)' })
  .transform((text, ctx): Micros => {
    try {
      return parseDecimal(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

const nameSchema = z
  .string({ error: 'expected a name string' })
  .min(1, 'must not be empty')
  .max(256, 'longer than 256 characters')
  .refine((name) => !/\s/.test(name), 'must not contain whitespace');

export const priceEntrySchema = z
  .strictObject({
    model: nameSchema.nullable().default(null),
    deployment: nameSchema.nullable().default(null),
    from: isoDateSchema,
    to: isoDateSchema.nullable().default(null),
    inputPer1M: decimalAmountSchema.optional(),
    cachedInputPer1M: decimalAmountSchema.optional(),
    outputPer1M: decimalAmountSchema.optional(),
    /** Audio input tokens (part of the prompt tokens), per 1M; without it a request with audio input is unpriced. */
    audioInputPer1M: decimalAmountSchema.optional(),
    /** Audio output tokens (part of the completion tokens), per 1M; without it a request with audio output is unpriced. */
    audioOutputPer1M: decimalAmountSchema.optional(),
    /** A price per call (an image, a transcription), charged once per request this entry prices. */
    perRequest: decimalAmountSchema.optional(),
  })
  .superRefine((entry, ctx) => {
    if (entry.inputPer1M === undefined && entry.perRequest === undefined) {
      ctx.addIssue({ code: 'custom', path: ['inputPer1M'], message: 'give "inputPer1M" (prices per token), "perRequest" (a price per call or image), or both' });
    }
    if ((entry.model === null) === (entry.deployment === null)) {
      ctx.addIssue({ code: 'custom', message: 'name exactly one of "model" (a model name prefix) or "deployment"' });
    }
    if (entry.to !== null && entry.to <= entry.from) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: `"to" (${entry.to}) must be after "from" (${entry.from})` });
    }
  })
  .transform((entry) => ({
    priceVersion:
      entry.deployment !== null ? `deployment:${entry.deployment}@${entry.from}` : `${entry.model ?? ''}@${entry.from}`,
    model: entry.model,
    deployment: entry.deployment,
    from: entry.from,
    to: entry.to,
    inputPer1MMicros: entry.inputPer1M ?? 0n,
    cachedInputPer1MMicros: entry.cachedInputPer1M ?? entry.inputPer1M ?? 0n,
    outputPer1MMicros: entry.outputPer1M ?? 0n,
    /** False for an entry with only a per-call price: it prices no tokens, and a request with tokens is unpriced. */
    pricesTokens: entry.inputPer1M !== undefined,
    audioInputPer1MMicros: entry.audioInputPer1M ?? null,
    audioOutputPer1MMicros: entry.audioOutputPer1M ?? null,
    perRequestMicros: entry.perRequest ?? null,
  }));
export type PriceEntry = z.output<typeof priceEntrySchema>;

export const provisionedEntrySchema = z
  .strictObject({
    deployment: nameSchema,
    monthlyCost: decimalAmountSchema,
    from: isoDateSchema,
    to: isoDateSchema.nullable().default(null),
  })
  .superRefine((entry, ctx) => {
    if (entry.to !== null && entry.to <= entry.from) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: `"to" (${entry.to}) must be after "from" (${entry.from})` });
    }
  })
  .transform((entry) => ({
    priceVersion: `provisioned:${entry.deployment}@${entry.from}`,
    deployment: entry.deployment,
    from: entry.from,
    to: entry.to,
    monthlyCostMicros: entry.monthlyCost,
  }));
export type ProvisionedEntry = z.output<typeof provisionedEntrySchema>;

interface Ranged {
  readonly from: string;
  readonly to: string | null;
  readonly priceVersion: string;
}

interface Problem {
  readonly path: (string | number)[];
  readonly message: string;
}

function overlaps(a: Ranged, b: Ranged): boolean {
  return (b.to === null || a.from < b.to) && (a.to === null || b.from < a.to);
}

function describeRange(list: string, index: number, entry: Ranged): string {
  return `${list}[${index}] (${entry.priceVersion}, ${entry.from} to ${entry.to ?? 'open end'})`;
}

/** Overlapping ranges that would make a price ambiguous, each naming both entries; pure, used by the schema. */
function findRangeConflicts(
  prices: readonly { index: number; entry: PriceEntry }[],
  provisioned: readonly { index: number; entry: ProvisionedEntry }[],
): Problem[] {
  const problems: Problem[] = [];
  for (let j = 0; j < prices.length; j++) {
    const later = prices[j]!;
    for (let i = 0; i < j; i++) {
      const earlier = prices[i]!;
      const sameKey = earlier.entry.model === later.entry.model && earlier.entry.deployment === later.entry.deployment;
      if (sameKey && overlaps(earlier.entry, later.entry)) {
        const key = later.entry.deployment !== null ? `deployment ${later.entry.deployment}` : `model ${later.entry.model}`;
        problems.push({
          path: ['prices', later.index],
          message: `${describeRange('prices', later.index, later.entry)} overlaps ${describeRange('prices', earlier.index, earlier.entry)} for ${key}`,
        });
      }
    }
  }
  for (let j = 0; j < provisioned.length; j++) {
    const later = provisioned[j]!;
    for (let i = 0; i < j; i++) {
      const earlier = provisioned[i]!;
      if (earlier.entry.deployment === later.entry.deployment && overlaps(earlier.entry, later.entry)) {
        problems.push({
          path: ['provisioned', later.index],
          message: `${describeRange('provisioned', later.index, later.entry)} overlaps ${describeRange('provisioned', earlier.index, earlier.entry)} for deployment ${later.entry.deployment}`,
        });
      }
    }
    for (const perToken of prices) {
      if (perToken.entry.deployment === later.entry.deployment && overlaps(perToken.entry, later.entry)) {
        problems.push({
          path: ['provisioned', later.index],
          message: `${describeRange('provisioned', later.index, later.entry)} overlaps the per-token ${describeRange('prices', perToken.index, perToken.entry)}: a deployment is either provisioned or priced per token at any time`,
        });
      }
    }
  }
  return problems;
}

const indexed = <T>(entries: readonly T[]) => entries.map((entry, index) => ({ index, entry }));

export const priceFileSchema = z
  .strictObject({
    currency: z.literal(PRICE_CURRENCY, {
      error: (issue) =>
        issue.input === undefined
          ? `missing: a price file names its currency ("currency": "${PRICE_CURRENCY}")`
          : typeof issue.input === 'string' && issue.input.trim().toUpperCase() === PRICE_CURRENCY
            ? `write the currency code as "${PRICE_CURRENCY}" exactly, got ${JSON.stringify(issue.input)}`
            : `only ${PRICE_CURRENCY} prices are supported, got ${JSON.stringify(issue.input)?.slice(0, 40)}`,
    }),
    /** Where the prices come from, and when they were read: optional, kept when given. */
    source: z.string({ error: 'expected a string naming where the prices come from' }).min(1, 'must not be empty').optional(),
    retrieved: isoDateSchema.optional(),
    prices: z.array(priceEntrySchema),
    provisioned: z.array(provisionedEntrySchema).default([]),
  })
  .superRefine((file, ctx) => {
    for (const problem of findRangeConflicts(indexed(file.prices), indexed(file.provisioned))) {
      ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    }
  });

/** The validated price table: amounts in micros, each entry with its `priceVersion`. */
export type PriceTable = z.output<typeof priceFileSchema>;
export type PriceFile = z.input<typeof priceFileSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    text += typeof key === 'number' ? `[${key}]` : `${text === '' ? '' : '.'}${String(key)}`;
  }
  return text === '' ? '(root)' : text;
}

/** Range conflicts among the entries that are valid on their own, for a file that failed for other reasons. */
function conflictsAmongValidEntries(json: unknown): Problem[] {
  if (typeof json !== 'object' || json === null) return [];
  const record = json as { prices?: unknown; provisioned?: unknown };
  const valid = <T>(list: unknown, schema: z.ZodType<T>) =>
    Array.isArray(list)
      ? list.flatMap((raw, index) => {
          const parsed = schema.safeParse(raw);
          return parsed.success ? [{ index, entry: parsed.data }] : [];
        })
      : [];
  return findRangeConflicts(valid(record.prices, priceEntrySchema), valid(record.provisioned, provisionedEntrySchema));
}

/**
 * Validates a parsed price file. Throws one `Error` listing every problem with its path (`prices[2].inputPer1M:
 * decimal "2.1234567" has 7 decimal places…`), including overlapping ranges among the otherwise valid entries.
 */
export function loadPriceTable(json: unknown): PriceTable {
  if (isRetailPricesResponse(json)) {
    throw new Error(
      'invalid price table: this is an Azure Retail Prices API response ("Items"), not a price file: give it to --prices, or convert it once with `tokenledger prices import --retail FILE --out prices.json`',
    );
  }
  const parsed = priceFileSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  const seen = new Set(lines);
  for (const problem of conflictsAmongValidEntries(json)) {
    const line = `${formatPath(problem.path)}: ${problem.message}`;
    if (!seen.has(line)) {
      seen.add(line);
      lines.push(line);
    }
  }
  throw new Error(`invalid price table (${lines.length} problem${lines.length === 1 ? '' : 's'}):\n${lines.map((line) => `  - ${line}`).join('\n')}`);
}
