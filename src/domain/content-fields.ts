/**
 * Prompt and completion text, and credentials, that APIM resource logs carry when body, header or LLM message
 * logging is on: GatewayLogs `requestBody`, `backendRequestBody`, `backendResponseBody`, `responseBody` and the
 * `*Headers` fields (Learn, "Azure API Management gateway log schema reference"; bodies up to 8,192 bytes, headers
 * as chosen in the diagnostic setting), GatewayLlmLogs `requestMessages` and `responseMessages` (Learn, table
 * ApiManagementGatewayLlmLog). TokenLedger stores none of it: a record it keeps as received (a dead letter, a
 * quarantined batch) keeps only what TokenLedger reads of these fields, in the same JSON types, so that ingest reads
 * and judges it the same; every other item of a body stays as written, byte for byte.
 */
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

function parsedObject(text: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** Only these members of a JSON body given as text (as APIM logs it); the marker for anything else. */
const membersOfJson =
  (names: readonly string[]): Keep =>
  (value) => {
    const object = typeof value === 'string' ? parsedObject(value) : null;
    if (!object) return notKept(value);
    return JSON.stringify(Object.fromEntries(names.filter((name) => name in object).map((name) => [name, object[name]])));
  };

/** Only these headers (names compared without regard to case), of an object or of a JSON text of one. */
const headers =
  (names: readonly string[]): Keep =>
  (value) => {
    const object = typeof value === 'string' ? parsedObject(value) : isObject(value) ? value : null;
    if (!object) return notKept(value);
    const kept = Object.fromEntries(Object.entries(object).filter(([name]) => names.includes(name.toLowerCase())));
    return typeof value === 'string' ? JSON.stringify(kept) : kept;
  };

/** Content fields by lower-case name, with what is kept of each (what `apim-diagnostics.ts` reads). */
const CONTENT_FIELDS = new Map<string, Keep>([
  ['requestbody', membersOfJson(['stream', 'model'])],
  ['backendresponsebody', membersOfJson(['model', 'usage'])],
  ['backendrequestbody', notKept],
  ['responsebody', notKept],
  ['backendresponseheaders', headers(['apim-request-id', 'x-ms-region'])],
  ['backendrequestheaders', notKept],
  ['requestheaders', notKept],
  ['responseheaders', notKept],
  ['requestmessages', notKept],
  ['responsemessages', notKept],
]);

/** A quick test of a text for a content field's name (in `properties` given as a JSON string too), before parsing. */
const CONTENT_KEY = /(?:body|headers|messages)\\?"\s*:/i;

/** The object with its content fields replaced by what is kept of them, or the object itself when it has none. */
function objectWithoutContent(object: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | null = null;
  for (const [name, value] of Object.entries(object)) {
    const keep = CONTENT_FIELDS.get(name.toLowerCase());
    let kept = value;
    if (keep) kept = value === null || value === undefined ? value : keep(value);
    else if (name.toLowerCase() === 'properties') kept = propertiesWithoutContent(value);
    if (kept === value) continue;
    copy ??= { ...object };
    copy[name] = kept;
  }
  return copy ?? object;
}

/** A record's `properties`: an object, or (in some exports) a JSON text of one. */
function propertiesWithoutContent(value: unknown): unknown {
  if (isObject(value)) return objectWithoutContent(value);
  const object = typeof value === 'string' ? parsedObject(value) : null;
  if (!object) return value;
  const kept = objectWithoutContent(object);
  return kept === object ? value : JSON.stringify(kept);
}

/** One item's text without content fields, or null when it has none (or is not a JSON object). */
function itemWithoutContent(text: string): string | null {
  if (!CONTENT_KEY.test(text)) return null;
  const object = parsedObject(text);
  if (!object) return null;
  const kept = objectWithoutContent(object);
  return kept === object ? null : JSON.stringify(kept);
}

/**
 * A body's text (one record, an array of them, or an Azure Monitor `{"records":[…]}` envelope) without content
 * fields, or null when it has none (or is not JSON). Only the items that had content are written again; the rest of
 * the text, byte-order mark and layout included, stays as it was.
 */
export function textWithoutContent(text: string): string | null {
  if (!CONTENT_KEY.test(text)) return null;
  const bom = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const json = text.slice(bom);
  let spans;
  try {
    JSON.parse(json);
    spans = listItemSpans(json) ?? [{ start: 0, end: json.length }];
  } catch {
    return null;
  }
  let out = text.slice(0, bom);
  let at = 0;
  let changed = false;
  for (const { start, end } of spans) {
    const kept = itemWithoutContent(json.slice(start, end));
    if (kept === null) continue;
    out += json.slice(at, start) + kept;
    at = end;
    changed = true;
  }
  return changed ? out + json.slice(at) : null;
}
