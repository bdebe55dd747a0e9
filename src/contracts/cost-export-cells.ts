import { z } from 'zod';

/**
 * Cells of Cost Management's exports as their readers hand them over: text, trimmed, an empty cell (and a Parquet
 * null) as ''. Amounts stay decimal text: they are read exactly later.
 */

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export const textCell = z.string().trim();
export const decimalCell = z.string().trim().regex(DECIMAL, { error: 'expected a decimal number' });

/** A cell read by `schema`, or null when it is empty: an empty cell is a value the export left out. */
export function emptyAsNull<T extends z.ZodType<string, string>>(schema: T) {
  return z.string().trim().transform((v) => (v === '' ? null : v)).pipe(schema.nullable());
}

export const optionalDecimalCell = emptyAsNull(decimalCell);
