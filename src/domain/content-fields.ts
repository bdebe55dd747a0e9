/**
 * Prompt and completion text, and credentials, that APIM resource logs carry when body, header or LLM message
 * logging is on: GatewayLogs `requestBody`, `backendRequestBody`, `backendResponseBody`, `responseBody` and the
 * `*Headers` fields (Learn, "Azure API Management gateway log schema reference"; bodies up to 8,192 bytes, headers
 * as chosen in the diagnostic setting), GatewayLlmLogs `requestMessages` and `responseMessages` (Learn, table
 * ApiManagementGatewayLlmLog). TokenLedger stores none of it: a record it keeps as received (a dead letter, a
 * quarantined batch) keeps only what TokenLedger reads of these fields, in the same JSON types, so that ingest reads
 * and judges it the same; every other item of a body stays as written, byte for byte.
 */
import { hash } from 'node:crypto';
import { BACKEND_HEADERS_READ, parseJsonObject } from '../contracts/apim-diagnostics.js';
import { listItemSpans } from './event-decoding.js';

/** What a kept field holds in place of what was not kept. */
export const NOT_KEPT = '(not kept: prompt, completion or credential content)';

type Keep = (value: unknown) => unknown;

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** The marker in the value's own JSON type, so that a schema refuses or takes the field as it did the content. */
function notKept(value: unknown): unknown {
  if (typeof value === 'string') return NOT_KEPT;
  if (Array.isArray(value)) return [NOT_KEPT];
  if (isObject(value)) return { notKept: NOT_KEPT };
  return value;
}

/**
 * Only these members of a JSON body given as text (as APIM logs it), each kept only when of its type (a client
 * chooses `stream` and `model`: an object there could hold anything); the marker for anything else.
 */
const membersOfJson =
  (members: Readonly<Record<string, (value: unknown) => boolean>>): Keep =>
  (value) => {
    const object = typeof value === 'string' ? parseJsonObject(value) : null;
    if (!object) return notKept(value);
    return JSON.stringify(Object.fromEntries(Object.entries(members).filter(([name, isKept]) => name in object && isKept(object[name])).map(([name]) => [name, object[name]])));
  };

const isText = (value: unknown) => typeof value === 'string';
/** `usage` holds token counts only: numbers and objects of them, no text. */
const isUsage = (value: unknown) => isObject(value) && !/"\s*:\s*"/.test(JSON.stringify(value));

/**
 * The longest headers text the record schema reads (`apim-diagnostics.ts`); a longer one is refused, and what is kept
 * of it in its place is refused too.
 */
const MAX_HEADERS_TEXT = 65_536;

/** Only these headers (names compared without regard to case), of an object or of a JSON text of one. */
const headers =
  (names: readonly string[]): Keep =>
  (value) => {
    if (typeof value === 'string' && value.length > MAX_HEADERS_TEXT) return [NOT_KEPT];
    const object = typeof value === 'string' ? parseJsonObject(value) : isObject(value) ? value : null;
    if (!object) return notKept(value);
    const kept = Object.fromEntries(Object.entries(object).filter(([name]) => names.includes(name.toLowerCase())));
    return typeof value === 'string' ? JSON.stringify(kept) : kept;
  };

/** Content fields by lower-case name, with what is kept of each (what `apim-diagnostics.ts` reads). */
const CONTENT_FIELDS = new Map<string, Keep>([
  ['requestbody', membersOfJson({ stream: (value) => typeof value === 'boolean', model: isText })],
  ['backendresponsebody', membersOfJson({ model: isText, usage: isUsage })],
  ['backendrequestbody', notKept],
  ['responsebody', notKept],
  ['backendresponseheaders', headers(BACKEND_HEADERS_READ)],
  ['backendrequestheaders', notKept],
  ['requestheaders', notKept],
  ['responseheaders', notKept],
  ['requestmessages', notKept],
  ['responsemessages', notKept],
]);

/**
 * A resource log's URLs (`properties.url`, `properties.backendUrl`), kept without their query when it holds a
 * credential: a client may put its subscription key there (`?subscription-key=`, which APIM accepts in place of the
 * header), a backend URL a SAS signature or a function key.
 */
const URL_FIELDS = new Set(['url', 'backendurl']);
const CREDENTIAL_NAME = '(?:subscription-key|api-key|key|code|sig|token|access_token)=';
const CREDENTIAL_QUERY = new RegExp(`[?&]${CREDENTIAL_NAME}`, 'i');

/**
 * A quick test of a text for a content field's name, or a URL with a credential in its query, in `properties` given
 * as a JSON string too; a text without one is kept as it is. The URL may be written with escapes (`\/`, `\u0026` for
 * `&`: RFC 8259 lets a writer escape any character, and System.Text.Json escapes `&`). (An item whose keys are written
 * with `\u` escapes passes unnoticed: no producer writes them.)
 */
const CONTENT_KEY = new RegExp(
  `(?:body|headers|messages)\\\\?"\\s*:|url\\\\?"\\s*:\\s*\\\\?"(?:[^"\\\\]|\\\\.)*?(?:[?&]|\\\\{1,2}u00(?:26|3f))${CREDENTIAL_NAME}`,
  'i',
);

const withoutQuery: Keep = (value) => (typeof value !== 'string' ? notKept(value) : CREDENTIAL_QUERY.test(value) ? value.split(/[?#]/, 1)[0] : value);

/** The object with its content fields replaced by what is kept of them (a copy; the object itself is not changed). */
function objectWithoutContent(object: Record<string, unknown>, inProperties = false): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(object)) {
    const lower = name.toLowerCase();
    const keep = CONTENT_FIELDS.get(lower) ?? (inProperties && URL_FIELDS.has(lower) ? withoutQuery : undefined);
    if (keep) copy[name] = value === null || value === undefined ? value : keep(value);
    // A v1 event's `gateway` holds the backend URL as a resource log's `properties` do.
    else if (lower === 'properties' || lower === 'gateway') copy[name] = valueWithoutContent(value, true);
    else copy[name] = value;
  }
  return copy;
}

/**
 * A value without content: an item of a body or a record's `properties` (`inProperties`), as an object or as a JSON
 * text of one (a double-encoded body's item, the `properties` of some exports).
 */
function valueWithoutContent(value: unknown, inProperties = false): unknown {
  if (isObject(value)) return objectWithoutContent(value, inProperties);
  const object = typeof value === 'string' && CONTENT_KEY.test(value) ? parseJsonObject(value) : null;
  return object ? JSON.stringify(objectWithoutContent(object, inProperties)) : value;
}

/**
 * What is kept of a text or bytes that name a content field but cannot be read to cut it (not JSON, not UTF-8, or
 * nested deeper than the stack writes): the size and SHA-256, to match it with the event it came from.
 */
function unreadable(data: string | Uint8Array): string {
  const bytes = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
  return JSON.stringify({ notKept: NOT_KEPT, bytes, sha256: hash('sha256', data, 'hex') });
}

/**
 * What is kept of a body that is not UTF-8 text in place of its bytes, or null when they name no content field
 * (searched byte by byte, as Latin-1: the names are ASCII): only its size and SHA-256.
 */
export function bytesWithoutContent(bytes: Uint8Array): string | null {
  return CONTENT_KEY.test(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')) ? unreadable(bytes) : null;
}

/** One item's text without content fields, written from its parsed value; null when it names none. */
function itemWithoutContent(text: string): string | null {
  if (!CONTENT_KEY.test(text)) return null;
  try {
    return JSON.stringify(valueWithoutContent(JSON.parse(text) as unknown));
  } catch {
    return unreadable(text);
  }
}

/**
 * A body's text (one record, an array of them, or an Azure Monitor `{"records":[…]}` envelope) without content
 * fields, or null when it names none. Every item that names a content field is written again from its parsed value
 * (which also drops a key written twice); the other items, the byte-order mark and the layout stay as they were. A
 * body that names one outside its items (a second `records` array) is written again whole; one that cannot be read
 * keeps only its size and hash.
 */
export function textWithoutContent(text: string): string | null {
  if (!CONTENT_KEY.test(text)) return null;
  const bom = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const json = text.slice(bom);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return unreadable(text);
  }
  const spans = listItemSpans(json) ?? [{ start: 0, end: json.length }];
  let outside = '';
  let out = text.slice(0, bom);
  let at = 0;
  for (const { start, end } of spans) {
    outside += json.slice(at, start);
    const kept = itemWithoutContent(json.slice(start, end));
    out += json.slice(at, start) + (kept ?? json.slice(start, end));
    at = end;
  }
  outside += json.slice(at);
  if (!CONTENT_KEY.test(outside)) return out + json.slice(at);
  try {
    const items = (list: unknown[]) => list.map((item) => valueWithoutContent(item));
    if (Array.isArray(parsed)) return JSON.stringify(items(parsed));
    if (isObject(parsed)) return JSON.stringify({ ...objectWithoutContent(parsed), ...(Array.isArray(parsed['records']) ? { records: items(parsed['records']) } : {}) });
    return unreadable(text);
  } catch {
    return unreadable(text);
  }
}
