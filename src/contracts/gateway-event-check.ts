/**
 * A hand-written fast path for `gatewayEventV1Schema` over the events the APIM policy writes.
 *
 * `checkGatewayEventV1` returns exactly what `gatewayEventV1Schema.parse` would return, or null when it is not
 * sure; then zod decides, and zod alone words every rejection. It may hand back anything unusual (strings that
 * need trimming, times not in the policy's form, absent optional keys, objects that are not plain), but it never
 * accepts what zod rejects and never returns something different from zod's output.
 *
 * The field rules (the validators and the `…Of` builders below, which fix key order, defaults and the token
 * invariants) are shared with `decodeGatewayEventV1Text` (gateway-event-text.ts), which reads the same fields
 * straight from the text of an event: both answer by the same rules, written once.
 */
import {
  EARLIEST_EVENT_TIME,
  GATEWAY_EVENT_SCHEMA_V1,
  MAX_FUTURE_MS,
  MAX_ID_LENGTH,
  MAX_MILLISECONDS,
  MAX_TEXT_LENGTH,
  MAX_TOKENS,
  eventTime as eventTimeSchema,
  type Caller,
  type GatewayEventV1,
  type Usage,
} from './gateway-event.js';
import { isCanonicalInstant } from './utc-instant.js';

type Fields = Record<string, unknown>;

/** Thrown by the field checks below when they cannot vouch for a value; never escapes this module or the text decoder. */
export const UNSURE = Symbol('ask zod');

function unsure(): never {
  throw UNSURE;
}

/** JSON.parse makes plain objects; anything else (class instances, proxies, null prototypes) goes to zod. */
function plainObject(value: unknown): Fields {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype ? (value as Fields) : unsure();
}

/** Printable ASCII at both ends: nothing for `String.prototype.trim` to remove. */
function isTrimmed(value: string): boolean {
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  return first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f;
}

function text(value: unknown): string {
  return typeof value === 'string' && value.length <= MAX_TEXT_LENGTH && value.isWellFormed() ? value : unsure();
}

function id(value: unknown): string {
  return typeof value === 'string' && value.length >= 1 && value.length <= MAX_ID_LENGTH && isTrimmed(value) && value.isWellFormed()
    ? value
    : unsure();
}

function count(value: unknown, max: number): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max ? value : unsure();
}

function milliseconds(value: unknown): number {
  return typeof value === 'number' && value >= 0 && value <= MAX_MILLISECONDS ? value : unsure();
}

function status(value: unknown): number | null {
  if (value === null) return null;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 100 && value <= 599 ? value : unsure();
}

function idtyp(value: unknown): 'user' | 'app' {
  return value === 'user' || value === 'app' ? value : unsure();
}

function remaining(value: unknown): number {
  return count(value, Number.MAX_SAFE_INTEGER);
}

// Fields that may be null. undefined (an absent key) is left to zod, which leaves an absent optional key out of
// its output and rejects an absent required one.
const nullableText = (value: unknown) => (value === null ? null : text(value));
const nullableId = (value: unknown) => (value === null ? null : id(value));
const nullableMilliseconds = (value: unknown) => (value === null ? null : milliseconds(value));
const nullableRemaining = (value: unknown) => (value === null ? null : remaining(value));

const EARLIEST_INSTANT = new Date(EARLIEST_EVENT_TIME).toISOString();

let futureLimit = { clock: -Infinity, instant: '' };

/**
 * The latest event time zod allows, computed from a clock reading at most a second old and never ahead of the
 * clock: zod reads the clock later still, so it allows at least as much.
 */
function latestAllowedInstant(): string {
  const now = Date.now();
  if (now < futureLimit.clock || now >= futureLimit.clock + 1_000) futureLimit = { clock: now, instant: new Date(now + MAX_FUTURE_MS).toISOString() };
  return futureLimit.instant;
}

/**
 * A canonical instant is checked here; another text (APIM's records carry seven fractional digits,
 * `2024-07-02T06:31:31.4465902Z`) by zod's own rule for the field, which passes the text through unchanged.
 */
function eventTime(value: unknown): string {
  if (typeof value !== 'string') return unsure();
  if (isCanonicalInstant(value)) return value >= EARLIEST_INSTANT && value <= latestAllowedInstant() ? value : unsure();
  return eventTimeSchema.safeParse(value).success ? value : unsure();
}

function tokens(value: unknown): number {
  return count(value, MAX_TOKENS);
}

/** A token count with zod's `.default(0)`. */
function tokensOrZero(value: unknown): number {
  return value === undefined ? 0 : tokens(value);
}

/** zod's `.default(false)`. */
function stream(value: unknown): boolean {
  if (value === undefined) return false;
  return typeof value === 'boolean' ? value : unsure();
}

// The builders: zod's output for each object from the values of its keys (undefined: the key is absent), with
// the keys in the schema's order, the order of zod's output.

export function gatewayOf(service: unknown, region: unknown, backendId: unknown, backendUrl: unknown): GatewayEventV1['gateway'] {
  return { service: text(service), region: nullableText(region), backendId: nullableText(backendId), backendUrl: nullableText(backendUrl) };
}

export function callerOf(oid: unknown, tid: unknown, appid: unknown, idtypValue: unknown, upn: unknown, sub: unknown): Caller {
  return {
    oid: nullableId(oid),
    tid: nullableId(tid),
    appid: nullableId(appid),
    idtyp: idtypValue === null ? null : idtyp(idtypValue),
    upn: nullableText(upn),
    sub: nullableId(sub),
  };
}

/** `hasTotalTokens`: whether the key is present (a present key whose value is undefined is not JSON; zod decides). */
export function usageOf(
  promptValue: unknown,
  cachedValue: unknown,
  completionValue: unknown,
  reasoningValue: unknown,
  totalValue: unknown,
  hasTotalTokens: boolean,
): Usage {
  const promptTokens = tokens(promptValue);
  const cachedTokens = tokensOrZero(cachedValue);
  const completionTokens = tokensOrZero(completionValue);
  const reasoningTokens = tokensOrZero(reasoningValue);
  if (cachedTokens > promptTokens || reasoningTokens > completionTokens) return unsure();
  // The policy leaves totalTokens out when the response has none; zod keeps an absent optional key absent.
  if (totalValue === undefined && !hasTotalTokens) return { promptTokens, cachedTokens, completionTokens, reasoningTokens };
  const totalTokens = tokens(totalValue);
  if (totalTokens !== promptTokens + completionTokens) return unsure();
  return { promptTokens, cachedTokens, completionTokens, reasoningTokens, totalTokens };
}

export function timingsOf(totalMs: unknown, backendMs: unknown, ttftMs: unknown): NonNullable<GatewayEventV1['timings']> {
  return { totalMs: nullableMilliseconds(totalMs), backendMs: nullableMilliseconds(backendMs), ttftMs: nullableMilliseconds(ttftMs) };
}

export function rateLimitOf(remainingRequests: unknown, remainingTokens: unknown): NonNullable<GatewayEventV1['rateLimit']> {
  return { remainingRequests: nullableRemaining(remainingRequests), remainingTokens: nullableRemaining(remainingTokens) };
}

/**
 * The event from the values of its keys, the nested objects already built (null where the key's value is null).
 * An optional key that is absent (zod leaves it out of its output) makes the check unsure: the APIM policy
 * writes them all. The nested objects are required here: an absent one is undefined, and its builder was never
 * reached, so the callers answer unsure for it before.
 */
export function eventOf(
  schema: unknown,
  gatewayRequestId: unknown,
  apimRequestId: unknown,
  time: unknown,
  gatewayValue: GatewayEventV1['gateway'],
  backendRegion: unknown,
  subscriptionId: unknown,
  productId: unknown,
  callerValue: Caller | null,
  deployment: unknown,
  model: unknown,
  operation: unknown,
  streamValue: unknown,
  statusValue: unknown,
  usageValue: Usage | null,
  timingsValue: GatewayEventV1['timings'],
  rateLimitValue: GatewayEventV1['rateLimit'],
): GatewayEventV1 {
  if (schema !== GATEWAY_EVENT_SCHEMA_V1) return unsure();
  return {
    schema: GATEWAY_EVENT_SCHEMA_V1,
    gatewayRequestId: id(gatewayRequestId),
    apimRequestId: nullableId(apimRequestId),
    time: eventTime(time),
    gateway: gatewayValue,
    backendRegion: nullableText(backendRegion),
    subscriptionId: nullableId(subscriptionId),
    productId: nullableId(productId),
    caller: callerValue,
    deployment: nullableText(deployment),
    model: nullableText(model),
    operation: nullableText(operation),
    stream: stream(streamValue),
    status: status(statusValue),
    usage: usageValue,
    timings: timingsValue,
    rateLimit: rateLimitValue,
  };
}

function gateway(value: unknown): GatewayEventV1['gateway'] {
  const input = plainObject(value);
  return gatewayOf(input.service, input.region, input.backendId, input.backendUrl);
}

function caller(value: unknown): Caller {
  const input = plainObject(value);
  return callerOf(input.oid, input.tid, input.appid, input.idtyp, input.upn, input.sub);
}

function usage(value: unknown): Usage {
  const input = plainObject(value);
  // Audio token counts are rare (realtime and audio models): zod reads them.
  if ('audioPromptTokens' in input || 'audioCompletionTokens' in input) return unsure();
  const totalTokens = input.totalTokens;
  return usageOf(input.promptTokens, input.cachedTokens, input.completionTokens, input.reasoningTokens, totalTokens, totalTokens !== undefined || 'totalTokens' in input);
}

function timings(value: unknown): NonNullable<GatewayEventV1['timings']> {
  const input = plainObject(value);
  return timingsOf(input.totalMs, input.backendMs, input.ttftMs);
}

function rateLimit(value: unknown): NonNullable<GatewayEventV1['rateLimit']> {
  const input = plainObject(value);
  return rateLimitOf(input.remainingRequests, input.remainingTokens);
}

function event(value: unknown): GatewayEventV1 {
  const input = plainObject(value);
  if (input.schema !== GATEWAY_EVENT_SCHEMA_V1) return unsure();
  return eventOf(
    input.schema,
    input.gatewayRequestId,
    input.apimRequestId,
    input.time,
    gateway(input.gateway),
    input.backendRegion,
    input.subscriptionId,
    input.productId,
    input.caller === null ? null : caller(input.caller),
    input.deployment,
    input.model,
    input.operation,
    input.stream,
    input.status,
    input.usage === null ? null : usage(input.usage),
    input.timings === null ? null : timings(input.timings),
    input.rateLimit === null ? null : rateLimit(input.rateLimit),
  );
}

/** What `gatewayEventV1Schema.parse(value)` returns, or null: not sure, ask zod (which may accept or reject). */
export function checkGatewayEventV1(value: unknown): GatewayEventV1 | null {
  try {
    return event(value);
  } catch (error) {
    if (error === UNSURE) return null;
    throw error;
  }
}
