import { z } from 'zod';
import { apimServiceNameSchema } from './apim-backend-pool.js';
import { MAX_TEXT_LENGTH } from './gateway-event.js';
import { CHECKS, CHECK_STATUSES, type CheckStatus, type ResultKey } from './reconciliation-result.js';
import { daysInMonth, isoInstantMs } from './utc-instant.js';
/** How a chargeback report groups its rows. */
export const GROUP_BY = ['identity', 'team', 'costCenter', 'model', 'deployment'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

/**
 * What a chargeback report's costs are: the ledger's tokens at list prices (`list`, an estimate known as soon as the
 * requests are), or Azure's invoice (the Cost Management export) split by token share (`invoice`, once exported).
 */
export const BASES = ['list', 'invoice'] as const;
export type Basis = (typeof BASES)[number];
/** The groupings an invoice allocation has: its rows name ARM resources and meters, not deployments. */
export const INVOICE_GROUP_BY = ['identity', 'team', 'costCenter'] as const satisfies readonly GroupBy[];

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Years before this are typos (`0099-12` for `2099-12`, or `26-11` padded): no Azure OpenAI data is that old. */
const FIRST_YEAR = 2000;
const START_OF_INSTANTS = Date.UTC(FIRST_YEAR, 0, 1);
/**
 * Every instant of a period is written `YYYY-MM-DDTHH:MM:SS.sssZ` (ledger queries, CSV, FOCUS, nextLink), which
 * `toISOString` writes for years up to 9999 only: 10000-01-01 would be `+010000-01-01T00:00:00.000Z`. So a period,
 * its exclusive end included, ends before 10000-01-01.
 */
const END_OF_INSTANTS = Date.UTC(10_000, 0, 1);
const END_OF_INSTANTS_TEXT = '10000-01-01';

const DATE_OR_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3}(\d{0,6}))?)?(Z|[+-]\d{2}:\d{2}))?$/;
const EXPECTED_INSTANT = 'expected a UTC date such as 2026-11-01 or an instant with an offset such as 2026-11-01T10:00:00Z';

function quoted(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/**
 * The query parameters of one endpoint; any other is refused, named with the ones the endpoint reads. Names are
 * case-sensitive, and a misspelt or wrongly cased parameter would otherwise be dropped without a word.
 */
function parameters<T extends z.core.$ZodLooseShape>(shape: T) {
  const known = Object.keys(shape).join(', ') || 'none';
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown parameter ${issue.keys.map(quoted).join(', ')} (expected ${known})` : undefined),
  });
}

/** The query of an endpoint that reads no parameter (the directory, one request's trace). */
export const noParametersSchema = parameters({});

/**
 * A date (`YYYY-MM-DD`, UTC midnight) or an ISO-8601 instant with `Z` or an offset, naming a real calendar day
 * and time from 2000 on and before 10000-01-01 in UTC. `Date.parse` alone would roll `2026-02-30` over into March and read years
 * 0–99 as 1900–1999.
 */
const instant = z.string().transform((text, ctx) => {
  const match = DATE_OR_INSTANT.exec(text);
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `${EXPECTED_INSTANT}, not ${quoted(text)}` });
    return z.NEVER;
  }
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const [hour, minute, second] = [Number(match[4] ?? 0), Number(match[5] ?? 0), Number(match[6] ?? 0)];
  const problem =
    year < FIRST_YEAR ? `the year ${match[1]} is before ${FIRST_YEAR}` :
    month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) ? `${text.slice(0, 10)} is not a day of the calendar` :
    hour > 23 || minute > 59 || second > 59 ? `${quoted(text)} is not a time of day` :
    // Instants are kept to the millisecond: a finer fraction would be cut, and the period would move without a word.
    /[1-9]/.test(match[7] ?? '') ? `${quoted(text)} names a fraction of a millisecond; periods are kept to the millisecond` :
    null;
  if (problem) {
    ctx.addIssue({ code: 'custom', message: `${problem} (${EXPECTED_INSTANT})` });
    return z.NEVER;
  }
  const date = new Date(match[4] === undefined ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(date.getTime())) {
    ctx.addIssue({ code: 'custom', message: `${quoted(text)} has no valid offset (${EXPECTED_INSTANT})` });
    return z.NEVER;
  }
  if (date.getTime() < START_OF_INSTANTS) {
    ctx.addIssue({ code: 'custom', message: `${quoted(text)} is before ${FIRST_YEAR}-01-01T00:00Z in UTC: periods start in ${FIRST_YEAR} or later` });
    return z.NEVER;
  }
  if (date.getTime() >= END_OF_INSTANTS) {
    ctx.addIssue({ code: 'custom', message: `${quoted(text)} is ${END_OF_INSTANTS_TEXT}T00:00Z or later in UTC: a period must end before ${END_OF_INSTANTS_TEXT}` });
    return z.NEVER;
  }
  return date;
});

function endOfMonth(year: number, month: number): number {
  return Date.UTC(year, month, 1);
}

/** `YYYY-MM`: a calendar month (UTC), from 2000 on, ending before 10000-01-01 (9999-11 is the last). */
const month = z
  .string()
  // abort: the checks below read a year and month the text may not have.
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, { message: 'expected a month such as 2026-11 (YYYY-MM)', abort: true })
  .refine((m) => Number(m.slice(0, 4)) >= FIRST_YEAR, { message: `the year is before ${FIRST_YEAR} (expected a month such as 2026-11)` })
  .refine((m) => endOfMonth(Number(m.slice(0, 4)), Number(m.slice(5, 7))) < END_OF_INSTANTS, {
    message: `the month must end before ${END_OF_INSTANTS_TEXT}, so 9999-11 is the last (expected a month such as 2026-11)`,
  });

/** The unit a period's ends must fall on, and why. */
interface PeriodGrain {
  readonly ms: number;
  readonly inside: string;
  readonly format: (instant: Date) => string;
}

/**
 * Reports are built from tiles of whole UTC hours, so a period starts and ends on a whole hour: a half hour
 * would otherwise be silently widened or cut to the hour around it.
 */
const WHOLE_HOURS: PeriodGrain = {
  ms: HOUR_MS,
  inside: 'is inside an hour: reports count whole UTC hours',
  format: (instant) => instant.toISOString().replace(':00.000Z', 'Z'),
};

/**
 * Azure's cost rows are charged by the UTC day (ChargePeriodStart at 00:00Z): an invoice-basis period of part of a
 * day would set a whole day's bill against part of its usage.
 */
const WHOLE_DAYS: PeriodGrain = {
  ms: DAY_MS,
  inside: "is inside a day: basis=invoice sets Azure's cost rows, charged by the UTC day, against the estimate",
  format: (instant) => instant.toISOString().slice(0, 10),
};

function requireWhole(range: { from: Date; to: Date }, grain: PeriodGrain, ctx: z.RefinementCtx): void {
  for (const end of ['from', 'to'] as const) {
    const t = range[end].getTime();
    if (t % grain.ms === 0) continue;
    const before = grain.format(new Date(Math.floor(t / grain.ms) * grain.ms));
    const after = grain.format(new Date(Math.ceil(t / grain.ms) * grain.ms));
    ctx.addIssue({ code: 'custom', path: [end], message: `${range[end].toISOString()} ${grain.inside}, so use ${before} or ${after}` });
  }
}

function requireOrderedAndBounded(range: { from: Date; to: Date }, maxDays: number, ctx: z.RefinementCtx): void {
  if (range.to <= range.from) ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must be after from' });
  if (range.to.getTime() - range.from.getTime() > maxDays * DAY_MS) ctx.addIssue({ code: 'custom', path: ['to'], message: `the range may span at most ${maxDays} days` });
}

/** The end of the UTC hour `now` is in: the exclusive end of "up to now" in whole hours. */
export function endOfCurrentHour(now: Date): Date {
  return new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS);
}

/** How a report's period was chosen: given as a range, given as a month, or the default. */
export type PeriodSource = 'range' | 'month' | 'default';

/**
 * The period of a chargeback report or of the requests behind it: `from`/`to`, a calendar `month`, or neither (the
 * current month to date); on whole hours, ordered, at most 400 days. Null after adding the issue when it is not.
 */
function reportPeriod(q: { from?: Date; to?: Date; month?: string }, now: Date, ctx: z.RefinementCtx, grain: PeriodGrain = WHOLE_HOURS): { from: Date; to: Date; period: PeriodSource } | null {
  let { from, to } = q;
  let period: PeriodSource = 'range';
  if (q.month) {
    if (from || to) {
      ctx.addIssue({ code: 'custom', path: ['month'], message: 'give either month or from and to, not both' });
      return null;
    }
    const [y, m] = q.month.split('-').map(Number) as [number, number];
    from = new Date(Date.UTC(y, m - 1, 1));
    to = new Date(endOfMonth(y, m));
    period = 'month';
  } else if (!from && !to) {
    from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    to = new Date(Math.floor(now.getTime() / grain.ms) * grain.ms + grain.ms);
    period = 'default';
  }
  if (!from || !to) {
    ctx.addIssue({ code: 'custom', path: [from ? 'to' : 'from'], message: 'give both from and to, or a month, or neither (the current month to date)' });
    return null;
  }
  requireWhole({ from, to }, grain, ctx);
  requireOrderedAndBounded({ from, to }, 400, ctx);
  return { from, to, period };
}

/**
 * The hours `tokenledger rollup rebuild` marks for the rollup: `from`/`to` on whole UTC hours, or a calendar
 * `month`; at most 400 days. There is no default: a period must be named.
 */
export function rebuildPeriodSchemaAt(now: Date) {
  return parameters({ from: instant.optional(), to: instant.optional(), month: month.optional() }).transform((q, ctx) => {
    if (!q.month && (!q.from || !q.to)) {
      ctx.addIssue({ code: 'custom', path: q.from ? ['to'] : q.to ? ['from'] : [], message: 'name the hours to rebuild: from and to, or a month' });
      return z.NEVER;
    }
    return reportPeriod(q, now, ctx) ?? z.NEVER;
  });
}

/**
 * Parameters of a chargeback report, from a query string or the CLI: a range (`from`/`to`, ISO dates or
 * instants on whole UTC hours, `to` exclusive) or a calendar `month`; at most 400 days, so one request stays
 * bounded. Without any of them, the current month to date: from the 1st (UTC) to the end of the current hour.
 * `basis=invoice` takes whole UTC days, the grain of Azure's cost rows, and its month to date ends with today.
 */
export function chargebackQuerySchemaAt(now: Date) {
  return parameters({
    from: instant.optional(),
    to: instant.optional(),
    month: month.optional(),
    groupBy: z.enum(GROUP_BY).default('identity'),
    format: z.enum(['json', 'csv', 'focus']).default('json'),
    basis: z.enum(BASES).default('list'),
  }).transform((q, ctx) => {
    if (q.basis === 'invoice' && !(INVOICE_GROUP_BY as readonly string[]).includes(q.groupBy)) {
      ctx.addIssue({ code: 'custom', path: ['groupBy'], message: `basis=invoice groups by ${INVOICE_GROUP_BY.join(', ')}: the invoice's rows name resources and meters, not models or deployments` });
      return z.NEVER;
    }
    const resolved = reportPeriod(q, now, ctx, q.basis === 'invoice' ? WHOLE_DAYS : WHOLE_HOURS);
    if (!resolved) return z.NEVER;
    return { ...resolved, groupBy: q.groupBy, format: q.format, basis: q.basis };
  });
}
export type ChargebackQueryParams = z.output<ReturnType<typeof chargebackQuerySchemaAt>>;

/** The default window of the operations reports: the last 24 whole UTC hours, the current one included. */
export const DEFAULT_OPERATIONS_HOURS = 24;

/** As long as the ledger keeps a deployment name: any row a report shows can be asked for by name. */
const deployment = z.string().min(1).max(MAX_TEXT_LENGTH);

/**
 * The window of an operations report: `from`/`to` on whole UTC hours, at most 93 days. A missing `to` is the end of
 * the current hour; a missing `from` is 24 hours before `to`, and from 2000 on like a given one.
 */
function operationsWindow(now: Date) {
  return (q: { from?: Date; to?: Date; deployment?: string }, ctx: z.RefinementCtx) => {
    const to = q.to ?? endOfCurrentHour(now);
    const from = q.from ?? new Date(to.getTime() - DEFAULT_OPERATIONS_HOURS * HOUR_MS);
    if (from.getTime() < START_OF_INSTANTS) {
      ctx.addIssue({
        code: 'custom',
        path: ['from'],
        message: `${DEFAULT_OPERATIONS_HOURS} hours before to is ${WHOLE_HOURS.format(from)}, before ${FIRST_YEAR}-01-01T00:00Z in UTC: periods start in ${FIRST_YEAR} or later, so give a from`,
      });
    }
    requireWhole({ from, to }, WHOLE_HOURS, ctx);
    requireOrderedAndBounded({ from, to }, 93, ctx);
    return { from, to, period: (q.from || q.to ? 'range' : 'default') as PeriodSource, ...(q.deployment ? { deployment: q.deployment } : {}) };
  };
}

/** The window and deployment of the CLI's operations commands (`GET /api/reconciliation` reads more: see below). */
export function operationsQuerySchemaAt(now: Date) {
  return parameters({ from: instant.optional(), to: instant.optional(), deployment: deployment.optional() }).transform(operationsWindow(now));
}
export type OperationsQueryParams = z.output<ReturnType<typeof operationsQuerySchemaAt>>;

/** Results per page of `GET /api/reconciliation` (`limit`): the default, and the most a caller may ask for. */
export const RECONCILIATION_PAGE_SIZE = { default: 1000, max: 1000 } as const;

/**
 * Longer than any continuation this API writes: an hour, a check, the window and two deployment names of the ledger's
 * longest, each character escaped to six (`\u0001`), in base64.
 */
const MAX_CONTINUATION_LENGTH = 16_384;

/** `status=fail,warn`: the statuses whose results are listed, in the order of `CHECK_STATUSES`. */
const statusList = z.string().transform((text, ctx) => {
  const named = text.split(',');
  const unknown = named.filter((s) => !(CHECK_STATUSES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    const what = unknown.length === 1 ? 'is not a status' : 'are not statuses';
    ctx.addIssue({ code: 'custom', message: `${unknown.map(quoted).join(', ')} ${what} (expected one or more of ${CHECK_STATUSES.join(', ')}, separated by commas)` });
    return z.NEVER;
  }
  return CHECK_STATUSES.filter((s) => named.includes(s));
});

/** The window and filters of a page of `GET /api/reconciliation`: its continuation is refused with any others. */
export interface ResultPageScope {
  readonly from: Date;
  readonly to: Date;
  readonly deployment?: string | undefined;
  readonly statuses: readonly CheckStatus[];
}

const HOUR = /^\d{4}-\d{2}-\d{2}T\d{2}$/;
const resultKeyTokenSchema = z.tuple([
  z.string().regex(HOUR),
  z.enum(CHECKS),
  z.string(),
  z.tuple([z.iso.datetime(), z.iso.datetime(), z.string().nullable(), z.array(z.enum(CHECK_STATUSES))]),
]);
type ResultKeyToken = z.infer<typeof resultKeyTokenSchema>;

function scopeOf(scope: ResultPageScope): ResultKeyToken[3] {
  return [scope.from.toISOString(), scope.to.toISOString(), scope.deployment ?? null, [...scope.statuses]];
}

/**
 * The `continuation` of a reconciliation page: the key of its last result and the scope of its page, as base64url
 * JSON `[window, check, deployment, [from, to, deployment filter, statuses]]`.
 */
export function encodeResultKey(key: ResultKey, scope: ResultPageScope): string {
  const token: ResultKeyToken = [key.window, key.check, key.deployment, scopeOf(scope)];
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64url');
}

/** The token's key and scope; null for a text this API did not write, or whose hour no UTC clock shows. */
function decodeResultKey(token: string): { key: ResultKey; scope: ResultKeyToken[3]; hourMs: number } | null {
  if (token.length > MAX_CONTINUATION_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return null;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const parsed = resultKeyTokenSchema.safeParse(value);
  if (!parsed.success) return null;
  const [window, check, deployment, scope] = parsed.data;
  const hourMs = isoInstantMs(`${window}:00:00Z`);
  return Number.isNaN(hourMs) ? null : { key: { window, check, deployment }, scope, hourMs };
}

/**
 * Parameters of `GET /api/reconciliation`: the window and `deployment` of the operations reports, the `status`es
 * listed (default all), at most `limit` results a page, and the `continuation` of the previous page: the key of
 * its last result, so the next page starts after it. A continuation names an hour of the window and the window and
 * filters of its page: with any others it would skip results unseen, so it is refused.
 */
export function reconciliationQuerySchemaAt(now: Date) {
  const { default: byDefault, max } = RECONCILIATION_PAGE_SIZE;
  return parameters({
    from: instant.optional(),
    to: instant.optional(),
    deployment: deployment.optional(),
    status: statusList.optional(),
    limit: z
      .string()
      .regex(/^[1-9][0-9]*$/, { error: (issue) => `expected a whole number written in digits, such as ${byDefault}, not ${quoted(String(issue.input))}` })
      .transform(Number)
      .pipe(z.number().max(max, { error: `at most ${max} results a page; follow continuation for more` }))
      .default(byDefault),
    continuation: z.string().optional(),
  }).transform((q, ctx) => {
    const window = operationsWindow(now)(q, ctx);
    const scope: ResultPageScope = { ...window, statuses: q.status ?? CHECK_STATUSES };
    const after = q.continuation === undefined ? undefined : decodeResultKey(q.continuation);
    if (after === null) {
      ctx.addIssue({ code: 'custom', path: ['continuation'], message: 'not a continuation this API wrote: pass the continuation of the previous page as it is' });
    } else if (after && JSON.stringify(after.scope) !== JSON.stringify(scopeOf(scope))) {
      const [from, to] = after.scope;
      ctx.addIssue({
        code: 'custom',
        path: ['continuation'],
        message: `it came with another window, deployment or status: pass it with those of the page it came with (from=${from}, to=${to})`,
      });
    } else if (after && !(after.hourMs >= window.from.getTime() && after.hourMs < window.to.getTime())) {
      ctx.addIssue({ code: 'custom', path: ['continuation'], message: `it continues after the hour ${after.key.window}, outside the window: pass it as the previous page answered it` });
    }
    return { ...scope, limit: q.limit, ...(after ? { after: after.key } : {}) };
  });
}
export type ReconciliationQueryParams = z.output<ReturnType<typeof reconciliationQuerySchemaAt>>;

/** Parameters of `GET /api/latency`: the window, `deployment`, and `groupBy`, which can only be `region`. */
export function latencyQuerySchemaAt(now: Date) {
  return parameters({ from: instant.optional(), to: instant.optional(), deployment: deployment.optional(), groupBy: z.literal('region').default('region') }).transform((q, ctx) => ({
    ...operationsWindow(now)(q, ctx),
    groupBy: q.groupBy,
  }));
}

/** Parameters of `GET /api/traffic`: the window only, as traffic tiles are not kept per deployment. */
export function trafficQuerySchemaAt(now: Date) {
  return parameters({ from: instant.optional(), to: instant.optional() }).transform(operationsWindow(now));
}

/** What `GET /api/weights` answers: the recommendations as JSON, an ARM deployment template or a Bicep file. */
export const WEIGHTS_FORMATS = ['json', 'apim', 'bicep'] as const;

/**
 * Parameters of `GET /api/weights`: the window, `deployment`, `format`, and `apimService`, the API Management
 * service the pools of `format=apim|bicep` belong to (resources are named `<service>/<pool>`).
 */
export function weightsQuerySchemaAt(now: Date) {
  return parameters({
    from: instant.optional(),
    to: instant.optional(),
    deployment: deployment.optional(),
    format: z.enum(WEIGHTS_FORMATS).default('json'),
    apimService: apimServiceNameSchema.optional(),
  }).transform((q, ctx) => {
    if (q.format !== 'json' && q.apimService === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['apimService'],
        message: 'format=apim and format=bicep need apimService, the API Management service the pools belong to (resources are named <service>/<pool>)',
      });
      return z.NEVER;
    }
    return { ...operationsWindow(now)(q, ctx), format: q.format, ...(q.apimService === undefined ? {} : { apimService: q.apimService }) };
  });
}
export type WeightsQueryParams = z.output<ReturnType<typeof weightsQuerySchemaAt>>;

/**
 * `YYYY-MM-DD`, a real calendar day from 2000 on and not after the UTC day of `now` (`simulate --day`,
 * `demo --day`): ingestion refuses events more than a day ahead of the clock, so no reader would take a later
 * day's events.
 */
export function daySchemaAt(now: Date) {
  const today = now.toISOString().slice(0, 10);
  return z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a UTC day such as 2026-11-15 (YYYY-MM-DD)')
    .superRefine((text, ctx) => {
      const [y, m, d] = text.split('-').map(Number) as [number, number, number];
      if (y < FIRST_YEAR) ctx.addIssue({ code: 'custom', message: `the year ${text.slice(0, 4)} is before ${FIRST_YEAR}` });
      else if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) ctx.addIssue({ code: 'custom', message: `${text} is not a day of the calendar` });
      else if (text > today) ctx.addIssue({ code: 'custom', message: `${text} is after today (${today}, UTC): events more than a day ahead of the clock are refused, so a simulated day is today or earlier` });
    });
}

/** The month before the one `now` is in, as `YYYY-MM`. */
export function lastMonth(now: Date = new Date()): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
}

/** Items per page of `GET /api/requests`: the default, and the most a caller may ask for. */
export const REQUESTS_PAGE_SIZE = { default: 100, max: 1000 } as const;

/** As long as the ledger's texts, so every cell a report shows can be opened. */
const filterText = z.string().min(1).max(MAX_TEXT_LENGTH);

/**
 * Parameters of `GET /api/requests`: the period of a chargeback report (`from`/`to` on whole UTC hours or a
 * `month`; without either, the current month to date), the filters that name one report cell (`identity`, `team`,
 * `model`, `deployment`, `region`), the page size and the continuation of a `nextLink` (`$skipToken`). Unknown
 * parameters are refused: a misspelt filter would otherwise widen the list silently.
 */
export function requestsQuerySchemaAt(now: Date) {
  return parameters({
    from: instant.optional(),
    to: instant.optional(),
    month: month.optional(),
    identity: filterText.optional(),
    team: filterText.optional(),
    model: filterText.optional(),
    deployment: filterText.optional(),
    region: filterText.optional(),
    pageSize: z
      .string()
      .regex(/^[1-9][0-9]*$/, { error: (issue) => `expected a whole number written in digits, such as ${REQUESTS_PAGE_SIZE.default}, not ${quoted(String(issue.input))}` })
      .transform(Number)
      .pipe(z.number().max(REQUESTS_PAGE_SIZE.max))
      .default(REQUESTS_PAGE_SIZE.default),
    $skipToken: z.string().min(1).max(4096).optional(),
  }).transform((q, ctx) => {
    const resolved = reportPeriod(q, now, ctx);
    if (!resolved) return z.NEVER;
    const { from, to } = resolved;
    const filter = { identity: q.identity, team: q.team, model: q.model, deployment: q.deployment, region: q.region };
    const given = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as { [K in keyof typeof filter]?: string };
    return { from, to, filter: given, pageSize: q.pageSize, ...(q.$skipToken ? { skipToken: q.$skipToken } : {}) };
  });
}
export type RequestsQueryParams = z.output<ReturnType<typeof requestsQuerySchemaAt>>;

/** What a `nextLink`'s `$skipToken` carries (base64url JSON): where the walk resumes, and the query it belongs to. */
export const requestsContinuationSchema = z
  .object({
    v: z.literal(1),
    /** Ledger partition and id of the last entry read. */
    pk: z.string().regex(/^l[0-9a-f]{2}$/),
    id: z.string().min(1).max(1024),
    /** Digest of the period and filters: a token is refused for any other query. */
    q: z.string().regex(/^[0-9a-f]{16}$/),
  })
  .strict();
export type RequestsContinuation = z.infer<typeof requestsContinuationSchema>;
