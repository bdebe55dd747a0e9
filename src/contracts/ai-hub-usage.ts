import { z } from 'zod';
import { GATEWAY_EVENT_SCHEMA_V1 } from './gateway-event.js';
import type { AdaptedEvent } from './adapted-event.js';
import { daysInMonth, isoInstantMs } from './utc-instant.js';

/**
 * Usage payload of the AI Hub Gateway solution accelerator (Azure-Samples/ai-hub-gateway-solution-accelerator,
 * `frag-openai-usage.xml`), as its `log-to-eventhub` writes it or as its Stream Analytics job stores it
 * (`src/usage-reports/usage-record.json`). Facts of that producer this schema converts:
 *
 * - only responses with status 200 are logged;
 * - `timestamp` is `DateTime.UtcNow.ToString()`: .NET's current culture, en-US on APIM (`M/d/yyyy h:mm:ss tt`,
 *   "5/24/2024 2:45:56 PM"), in UTC without a zone; the invariant culture's `MM/dd/yyyy HH:mm:ss` and ISO-8601
 *   are accepted too;
 * - token counts are numbers in the event and digit strings after Stream Analytics;
 * - the `citadel-v1` branch adds `cachedTokens` and `audioTokens` (both from `usage.prompt_tokens_details`, so
 *   both are part of `promptTokens`);
 * - a response body without `usage.prompt_tokens` is logged with `promptTokens` 1 and `responseTokens` 0 (`?? 1`,
 *   `?? 0`), and `totalTokens` its `usage.total_tokens`, else 1 (`?? 1`): every Responses API call (its usage counts
 *   `input_tokens`, `output_tokens` and `total_tokens`, so it is logged 1, 0 and its real total), and any answer
 *   without usage. Those counts are no usage, except for an embeddings `list`, which may truly be one token;
 * - an unknown value is the placeholder `NA` (`NA-HEADER` for `appId`, `sessionId`, `endUserId` set from a
 *   missing request header);
 * - the body is `JObject.ToString()`: indented JSON, with CRLF line ends on Windows hosts.
 */
const text = z.string().max(512);
const optionalText = text.nullish();
/** Numbers or digit strings; anything else (null, "", "1.5", booleans) is rejected. */
const tokenNumber = z.union([z.number().int(), z.string().regex(/^\d{1,12}$/).transform(Number)]);

const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?: ([AaPp][Mm]))?$/;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

export type TimestampReading = { readonly ok: true; readonly iso: string } | { readonly ok: false; readonly reason: string };

/**
 * The accelerator's `timestamp` as an ISO-8601 instant (UTC). `M/d/yyyy h:mm:ss AM|PM` (12 AM is hour 0, 12 PM
 * is noon), `M/d/yyyy H:mm:ss` (24-hour) or ISO-8601 with an offset; an impossible date or time is refused with
 * the reason, never rolled over into the next month.
 */
export function readAiHubTimestamp(timestamp: string): TimestampReading {
  const value = timestamp.trim();
  const match = US_DATE.exec(value);
  if (!match) {
    if (ISO_WITH_OFFSET.test(value)) {
      const ms = isoInstantMs(value);
      return Number.isNaN(ms) ? { ok: false, reason: `timestamp ${JSON.stringify(value.slice(0, 64))} names no real day and time` } : { ok: true, iso: new Date(ms).toISOString() };
    }
    return { ok: false, reason: `timestamp ${JSON.stringify(value.slice(0, 64))} is neither M/d/yyyy h:mm:ss AM|PM nor ISO-8601` };
  }
  const [month, day, year, rawHour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const meridiem = match[7]?.toUpperCase();
  const quoted = JSON.stringify(value);
  if (month < 1 || month > 12) return { ok: false, reason: `timestamp ${quoted} has month ${month}` };
  if (day < 1 || day > daysInMonth(year, month)) return { ok: false, reason: `timestamp ${quoted} names day ${day} of ${MONTHS[month - 1]} ${year}, which has ${daysInMonth(year, month)} days` };
  if (minute > 59 || second > 59) return { ok: false, reason: `timestamp ${quoted} has minute or second above 59` };
  let hour = rawHour;
  if (meridiem) {
    if (hour < 1 || hour > 12) return { ok: false, reason: `timestamp ${quoted} has hour ${rawHour} on a 12-hour clock` };
    hour = (hour % 12) + (meridiem === 'PM' ? 12 : 0);
  } else if (hour > 23) {
    return { ok: false, reason: `timestamp ${quoted} has hour ${rawHour}` };
  }
  return { ok: true, iso: new Date(Date.UTC(year, month - 1, day, hour, minute, second)).toISOString() };
}

export const aiHubUsageSchema = z.object({
  id: z.string().min(1).max(256),
  timestamp: z
    .string()
    .max(64)
    .transform((value, ctx) => {
      const reading = readAiHubTimestamp(value);
      if (reading.ok) return reading.iso;
      ctx.addIssue({ code: 'custom', message: reading.reason });
      return z.NEVER;
    }),
  appId: optionalText,
  subscriptionId: optionalText,
  productName: optionalText,
  model: optionalText,
  gatewayName: optionalText,
  gatewayRegion: optionalText,
  backendId: optionalText,
  routeLocation: optionalText,
  deploymentName: optionalText,
  operationName: optionalText,
  /** The response body's `object` (`chat.completion`, `response`, `list`), `NA` without one. */
  targetService: optionalText,
  promptTokens: tokenNumber,
  responseTokens: tokenNumber,
  totalTokens: tokenNumber.nullish(),
  cachedTokens: tokenNumber.nullish(),
  audioTokens: tokenNumber.nullish(),
});
export type AiHubUsage = z.infer<typeof aiHubUsageSchema>;

/** True when a payload looks like the accelerator's (so that its validation errors are the ones reported). */
export function looksLikeAiHubUsage(value: Record<string, unknown>): boolean {
  return 'promptTokens' in value && 'responseTokens' in value;
}

/**
 * The accelerator's placeholders for "not known": `NA` and `NA-HEADER` for a missing variable or header, and
 * `Portal-Admin` for the subscription and product of a call without a subscription
 * (`context.Subscription?.Id ?? "Portal-Admin"`, e.g. from the portal's test console).
 */
const PLACEHOLDERS = new Set(['NA', 'NA-HEADER', 'PORTAL-ADMIN']);

function known(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  return trimmed === '' || PLACEHOLDERS.has(trimmed.toUpperCase()) ? null : trimmed;
}

export function adaptAiHubUsage(payload: AiHubUsage): AdaptedEvent {
  const appId = known(payload.appId);
  const cachedTokens = payload.cachedTokens ?? null;
  const audioTokens = payload.audioTokens ?? null;
  const defaultCounts = payload.promptTokens === 1 && payload.responseTokens === 0 && known(payload.targetService) !== 'list';
  const missing = [
    'apimRequestId',
    'caller.oid',
    'caller.tid',
    'caller.idtyp',
    'caller.upn',
    'stream',
    'timings',
    'rateLimit',
    'usage.reasoningTokens',
    ...(cachedTokens === null ? ['usage.cachedTokens'] : []),
    ...(appId ? [] : ['caller.appid']),
    ...(defaultCounts ? ['usage'] : []),
  ];
  return {
    source: 'ai-hub-gateway',
    sourceId: payload.id,
    event: {
      schema: GATEWAY_EVENT_SCHEMA_V1,
      gatewayRequestId: payload.id,
      apimRequestId: null,
      time: payload.timestamp,
      gateway: {
        service: known(payload.gatewayName) ?? 'unknown',
        region: known(payload.gatewayRegion),
        backendId: known(payload.backendId),
      },
      backendRegion: known(payload.routeLocation),
      subscriptionId: known(payload.subscriptionId),
      productId: known(payload.productName),
      caller: appId ? { appid: appId } : null,
      deployment: known(payload.deploymentName),
      model: known(payload.model),
      operation: known(payload.operationName),
      stream: false,
      status: 200,
      usage: defaultCounts
        ? null
        : {
            promptTokens: payload.promptTokens,
            completionTokens: payload.responseTokens,
            totalTokens: payload.totalTokens ?? undefined,
            ...(cachedTokens === null ? {} : { cachedTokens }),
            ...(audioTokens ? { audioPromptTokens: audioTokens } : {}),
          },
    },
    missing,
  };
}
