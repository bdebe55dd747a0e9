/**
 * A hand-written fast path for `gatewayEventV1Schema` over the events the APIM policy writes.
 *
 * `checkGatewayEventV1` returns exactly what `gatewayEventV1Schema.parse` would return, or null when it is not
 * sure; then zod decides, and zod alone words every rejection. It may hand back anything unusual (strings that
 * need trimming, times not in the policy's form, absent optional keys, objects that are not plain), but it never
 * accepts what zod rejects and never returns something different from zod's output.
 */
import {
  EARLIEST_EVENT_TIME,
  GATEWAY_EVENT_SCHEMA_V1,
  MAX_FUTURE_MS,
  MAX_ID_LENGTH,
  MAX_MILLISECONDS,
  MAX_TEXT_LENGTH,
  MAX_TOKENS,
  type Caller,
  type GatewayEventV1,
  type Usage,
} from './gateway-event.js';
import { isCanonicalInstant } from '../domain/utc-instant.js';

type Fields = Record<string, unknown>;

/** Thrown by the field checks below when they cannot vouch for a value; never escapes this module. */
const UNSURE = Symbol('ask zod');

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

function eventTime(value: unknown): string {
  return typeof value === 'string' && isCanonicalInstant(value) && value >= EARLIEST_INSTANT && value <= latestAllowedInstant() ? value : unsure();
}

function gateway(value: unknown): GatewayEventV1['gateway'] {
  const input = plainObject(value);
  return {
    service: text(input.service),
    region: nullableText(input.region),
    backendId: nullableText(input.backendId),
    backendUrl: nullableText(input.backendUrl),
  };
}

function caller(value: unknown): Caller {
  const input = plainObject(value);
  return {
    oid: nullableId(input.oid),
    tid: nullableId(input.tid),
    appid: nullableId(input.appid),
    idtyp: input.idtyp === null ? null : idtyp(input.idtyp),
    upn: nullableText(input.upn),
    sub: nullableId(input.sub),
  };
}

function tokens(value: unknown): number {
  return count(value, MAX_TOKENS);
}

/** A token count with zod's `.default(0)`. */
function tokensOrZero(value: unknown): number {
  return value === undefined ? 0 : tokens(value);
}

function usage(value: unknown): Usage {
  const input = plainObject(value);
  const promptTokens = tokens(input.promptTokens);
  const cachedTokens = tokensOrZero(input.cachedTokens);
  const completionTokens = tokensOrZero(input.completionTokens);
  const reasoningTokens = tokensOrZero(input.reasoningTokens);
  if (cachedTokens > promptTokens || reasoningTokens > completionTokens) return unsure();
  // The policy leaves totalTokens out when the response has none; zod keeps an absent optional key absent.
  if (input.totalTokens === undefined && !('totalTokens' in input)) return { promptTokens, cachedTokens, completionTokens, reasoningTokens };
  const totalTokens = tokens(input.totalTokens);
  if (totalTokens !== promptTokens + completionTokens) return unsure();
  return { promptTokens, cachedTokens, completionTokens, reasoningTokens, totalTokens };
}

function timings(value: unknown): NonNullable<GatewayEventV1['timings']> {
  const input = plainObject(value);
  return { totalMs: nullableMilliseconds(input.totalMs), backendMs: nullableMilliseconds(input.backendMs), ttftMs: nullableMilliseconds(input.ttftMs) };
}

function rateLimit(value: unknown): NonNullable<GatewayEventV1['rateLimit']> {
  const input = plainObject(value);
  return { remainingRequests: nullableRemaining(input.remainingRequests), remainingTokens: nullableRemaining(input.remainingTokens) };
}

/** zod's `.default(false)`. */
function stream(value: unknown): boolean {
  if (value === undefined) return false;
  return typeof value === 'boolean' ? value : unsure();
}

/**
 * Every key is written in the schema's order, the order of zod's output. An optional key that is absent
 * (zod leaves it out of its output) makes the check unsure: the APIM policy writes them all.
 */
function event(value: unknown): GatewayEventV1 {
  const input = plainObject(value);
  if (input.schema !== GATEWAY_EVENT_SCHEMA_V1) return unsure();
  return {
    schema: GATEWAY_EVENT_SCHEMA_V1,
    gatewayRequestId: id(input.gatewayRequestId),
    apimRequestId: nullableId(input.apimRequestId),
    time: eventTime(input.time),
    gateway: gateway(input.gateway),
    backendRegion: nullableText(input.backendRegion),
    subscriptionId: nullableId(input.subscriptionId),
    productId: nullableId(input.productId),
    caller: input.caller === null ? null : caller(input.caller),
    deployment: nullableText(input.deployment),
    model: nullableText(input.model),
    operation: nullableText(input.operation),
    stream: stream(input.stream),
    status: status(input.status),
    usage: input.usage === null ? null : usage(input.usage),
    timings: input.timings === null ? null : timings(input.timings),
    rateLimit: input.rateLimit === null ? null : rateLimit(input.rateLimit),
  };
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
