/**
 * A schema-directed decoder for the text of one gateway event v1, for the hot path: it reads the fields of
 * `gatewayEventV1Schema` straight from the JSON text the APIM policy writes, without building the object tree of
 * `JSON.parse` only to copy it in `checkGatewayEventV1`.
 *
 * `decodeGatewayEventV1Text(text)` returns exactly `checkGatewayEventV1(JSON.parse(text))` (deep-equal, same key
 * order), or null when it is not sure; then the caller takes the slow path (JSON.parse, the check, zod), which
 * decides and words every rejection. It reads one layout only, the policy's: every key in the schema's order, no
 * whitespace, strings without escapes or control characters, numbers `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, and the
 * schema written literally. One regular expression, built from the key lists, reads it whole in native code; the
 * field rules (lengths, trimming, lone surrogates, counts, times, defaults, token invariants, key order) are then
 * those of gateway-event-check.ts, applied by the same functions.
 */
import { GATEWAY_EVENT_SCHEMA_V1 } from './gateway-event.js';
import { UNSURE, callerOf, eventOf, gatewayOf, rateLimitOf, timingsOf, usageOf } from './gateway-event-check.js';
import type { GatewayEventV1 } from './gateway-event.js';

const ZERO = 0x30;
/** Integers of at most this many digits are below 2^53 and read here; longer or decimal texts go to `Number`, which reads them as JSON.parse does. */
const MAX_DIGITS = 15;

// Key names, each list in the schema's order (the order the APIM policy writes them).
const EVENT_KEYS = [
  'schema',
  'gatewayRequestId',
  'apimRequestId',
  'time',
  'gateway',
  'backendRegion',
  'subscriptionId',
  'productId',
  'caller',
  'deployment',
  'model',
  'operation',
  'stream',
  'status',
  'usage',
  'timings',
  'rateLimit',
] as const;
const GATEWAY_KEYS = ['service', 'region', 'backendId', 'backendUrl'] as const;
const CALLER_KEYS = ['oid', 'tid', 'appid', 'idtyp', 'upn', 'sub'] as const;
const USAGE_KEYS = ['promptTokens', 'cachedTokens', 'completionTokens', 'reasoningTokens', 'totalTokens'] as const;
const TIMINGS_KEYS = ['totalMs', 'backendMs', 'ttftMs'] as const;
const RATE_LIMIT_KEYS = ['remainingRequests', 'remainingTokens'] as const;

/** A string token without escapes or control characters (captured without its quotes), or null (not captured). */
const STRING_OR_NULL = '(?:"([^"\\\\\\x00-\\x1f]*)"|null)';
/** A JSON number without exponent (see `numberOrNull`), or null. */
const NUMBER_OR_NULL = '(?:(-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?)|null)';
/** true (a one-character capture, which V8 takes from its table without allocating) or false (not captured). */
const BOOLEAN = '(?:(t)rue|false)';

/** `"key":` then the value pattern, for each key; joined with commas. */
function members(keys: readonly string[], patterns: readonly string[]): string {
  return keys.map((key, i) => `"${key}":${patterns[i]!}`).join(',');
}

const S = STRING_OR_NULL;
const N = NUMBER_OR_NULL;
/** An object (its `{` captured as a marker) or null (the marker not captured). */
const nullableObject = (body: string) => `(?:(\\{)${body}\\}|null)`;
const TEMPLATE = new RegExp(
  '^\\{' +
    members(EVENT_KEYS, [
      // Only the contract's own schema.
      JSON.stringify(GATEWAY_EVENT_SCHEMA_V1).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'),
      S,
      S,
      S,
      `\\{${members(GATEWAY_KEYS, [S, S, S, S])}\\}`,
      S,
      S,
      S,
      nullableObject(members(CALLER_KEYS, [S, S, S, S, S, S])),
      S,
      S,
      S,
      BOOLEAN,
      N,
      // totalTokens: the policy leaves it out when the response has none (its comma captured as a marker).
      nullableObject(`${members(USAGE_KEYS.slice(0, 4), [N, N, N, N])}(?:(,)"${USAGE_KEYS[4]}":${N})?`),
      nullableObject(members(TIMINGS_KEYS, [N, N, N])),
      nullableObject(members(RATE_LIMIT_KEYS, [N, N])),
    ]) +
    '\\}$',
);

/** A string capture: null where the token was null. */
function stringOrNull(value: string | undefined): string | null {
  return value === undefined ? null : value;
}

/** A number capture: null where the token was null. Up to 15 digits, no sign or point: read here, exactly. */
function numberOrNull(value: string | undefined): number | null {
  if (value === undefined) return null;
  const length = value.length;
  if (length > MAX_DIGITS) return Number(value);
  let result = 0;
  for (let i = 0; i < length; i++) {
    const digit = value.charCodeAt(i) - ZERO;
    if (digit < 0 || digit > 9) return Number(value);
    result = result * 10 + digit;
  }
  return result;
}

/** The event from the template's captures (index 0 is the whole match), by the check's rules. */
function fromTemplate(m: RegExpExecArray): GatewayEventV1 {
  // Capture groups, in order (the schema is matched literally): gatewayRequestId … time (1–3), gateway (4–7),
  // backendRegion … productId (8–10), caller (marker 11, 12–17), deployment … operation (18–20), stream 21,
  // status 22, usage (marker 23, 24–27, total marker 28, 29), timings (marker 30, 31–33), rateLimit (marker 34, 35–36).
  const c = m as unknown as (string | undefined)[];
  return eventOf(
    GATEWAY_EVENT_SCHEMA_V1,
    stringOrNull(c[1]),
    stringOrNull(c[2]),
    stringOrNull(c[3]),
    gatewayOf(stringOrNull(c[4]), stringOrNull(c[5]), stringOrNull(c[6]), stringOrNull(c[7])),
    stringOrNull(c[8]),
    stringOrNull(c[9]),
    stringOrNull(c[10]),
    c[11] === undefined
      ? null
      : callerOf(stringOrNull(c[12]), stringOrNull(c[13]), stringOrNull(c[14]), stringOrNull(c[15]), stringOrNull(c[16]), stringOrNull(c[17])),
    stringOrNull(c[18]),
    stringOrNull(c[19]),
    stringOrNull(c[20]),
    c[21] !== undefined,
    numberOrNull(c[22]),
    c[23] === undefined
      ? null
      : usageOf(numberOrNull(c[24]), numberOrNull(c[25]), numberOrNull(c[26]), numberOrNull(c[27]), c[28] === undefined ? undefined : numberOrNull(c[29]), c[28] !== undefined),
    c[30] === undefined ? null : timingsOf(numberOrNull(c[31]), numberOrNull(c[32]), numberOrNull(c[33])),
    c[34] === undefined ? null : rateLimitOf(numberOrNull(c[35]), numberOrNull(c[36])),
  );
}

/**
 * `checkGatewayEventV1(JSON.parse(text))`, read from the text directly; or null: not sure (the text may be
 * valid or not, the event accepted by zod or not), take the slow path.
 */
export function decodeGatewayEventV1Text(text: string): GatewayEventV1 | null {
  const match = TEMPLATE.exec(text);
  if (match === null) return null;
  try {
    return fromTemplate(match);
  } catch (error) {
    if (error === UNSURE) return null;
    throw error;
  }
}
