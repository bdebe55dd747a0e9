import { z } from 'zod';
import { GROUP_BY } from '../domain/chargeback.js';

const instant = z.iso.datetime({ offset: true }).or(z.iso.date()).transform((v) => new Date(v.length === 10 ? `${v}T00:00:00Z` : v));
/** `YYYY-MM`: a calendar month (UTC). */
const month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'expected YYYY-MM');

/**
 * Parameters of a chargeback report, from a query string or the CLI: a range (`from`/`to`, ISO dates or
 * instants, `to` exclusive) or a calendar `month`; at most 400 days, so one request stays bounded.
 */
export const chargebackQuerySchema = z
  .object({
    from: instant.optional(),
    to: instant.optional(),
    month: month.optional(),
    groupBy: z.enum(GROUP_BY).default('identity'),
    format: z.enum(['json', 'csv', 'focus']).default('json'),
  })
  .transform((q, ctx) => {
    let from = q.from;
    let to = q.to;
    if (q.month) {
      const [y, m] = q.month.split('-').map(Number) as [number, number];
      from = new Date(Date.UTC(y, m - 1, 1));
      to = new Date(Date.UTC(y, m, 1));
    }
    if (!from || !to) {
      ctx.addIssue({ code: 'custom', message: 'give from and to, or month' });
      return z.NEVER;
    }
    if (to <= from) ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must be after from' });
    if (to.getTime() - from.getTime() > 400 * 86_400_000) ctx.addIssue({ code: 'custom', path: ['to'], message: 'the range may span at most 400 days' });
    return { from, to, groupBy: q.groupBy, format: q.format };
  });
export type ChargebackQueryParams = z.output<typeof chargebackQuerySchema>;

/** The month before the one `now` is in, as `YYYY-MM`. */
export function lastMonth(now: Date = new Date()): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
}
