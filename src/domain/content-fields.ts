/**
 * Prompt and completion text, and credentials, that APIM resource logs carry when body, header or LLM message
 * logging is on: GatewayLogs `requestBody`, `backendRequestBody`, `backendResponseBody`, `responseBody` and the
 * `*Headers` fields (Learn, "Azure API Management gateway log schema reference"; bodies up to 8,192 bytes, headers
 * as chosen in the diagnostic setting), GatewayLlmLogs `requestMessages` and `responseMessages` (Learn, table
 * ApiManagementGatewayLlmLog). TokenLedger stores none of it: a record it keeps as received (a dead letter, a
 * quarantined batch) keeps only what TokenLedger reads of these fields, so that it still reads the same.
 */

/** What a kept field holds in place of what was not kept. */
export const NOT_KEPT = '(not kept: prompt, completion or credential content)';

type Keep = (value: unknown) => unknown;

/** Only these members of a JSON body given as text (as APIM logs it); `NOT_KEPT` when it is not a JSON object. */
const membersOfJson =
  (names: readonly string[]): Keep =>
  (value) => {
    if (typeof value !== 'string') return NOT_KEPT;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return NOT_KEPT;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return NOT_KEPT;
    const kept = Object.fromEntries(names.filter((name) => name in parsed).map((name) => [name, (parsed as Record<string, unknown>)[name]]));
    return JSON.stringify(kept);
  };

/** Only these headers (names compared without regard to case), of an object or a JSON text of one. */
const headers =
  (names: readonly string[]): Keep =>
  (value) => {
    let object: unknown = value;
    if (typeof value === 'string') {
      try {
        object = JSON.parse(value);
      } catch {
        return NOT_KEPT;
      }
    }
    if (object === null || typeof object !== 'object' || Array.isArray(object)) return NOT_KEPT;
    const kept = Object.fromEntries(Object.entries(object).filter(([name]) => names.includes(name.toLowerCase())));
    return typeof value === 'string' ? JSON.stringify(kept) : kept;
  };

const nothing: Keep = () => NOT_KEPT;

/** Content fields by lower-case name, with what is kept of each (what `apim-diagnostics.ts` reads). */
const CONTENT_FIELDS = new Map<string, Keep>([
  ['requestbody', membersOfJson(['stream'])],
  ['backendresponsebody', membersOfJson(['model', 'usage'])],
  ['backendrequestbody', nothing],
  ['responsebody', nothing],
  ['backendresponseheaders', headers(['apim-request-id', 'x-ms-region'])],
  ['backendrequestheaders', nothing],
  ['requestheaders', nothing],
  ['responseheaders', nothing],
  ['requestmessages', nothing],
  ['responsemessages', nothing],
]);

/** A quick test of a record's text for a content field's name, before it is parsed. */
const CONTENT_KEY = /(?:body|headers|messages)"\s*:/i;

/** The object with its content fields replaced by what is kept of them, and the paths of those that changed. */
function objectWithoutContent(object: Record<string, unknown>, path: string, removed: string[]): Record<string, unknown> {
  let copy: Record<string, unknown> | null = null;
  for (const [name, value] of Object.entries(object)) {
    const keep = CONTENT_FIELDS.get(name.toLowerCase());
    let kept = value;
    if (keep && value !== null && value !== undefined) kept = keep(value);
    else if (name.toLowerCase() === 'properties' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      kept = objectWithoutContent(value as Record<string, unknown>, `${path}${name}.`, removed);
    }
    if (kept === value) continue;
    if (keep) removed.push(`${path}${name}`);
    copy ??= { ...object };
    copy[name] = kept;
  }
  return copy ?? object;
}

/** An item of a body (an event or a resource-log record) without its content fields, and which it had. */
export function recordWithoutContent(value: unknown): { value: unknown; removed: string[] } {
  const removed: string[] = [];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { value, removed };
  return { value: objectWithoutContent(value as Record<string, unknown>, '', removed), removed };
}

/**
 * A JSON text (one record, an array of them, or an Azure Monitor `{"records":[…]}` envelope) without content fields,
 * or null when it has none to remove (or is not JSON): then it is kept as it is.
 */
export function textWithoutContent(text: string): string | null {
  if (!CONTENT_KEY.test(text)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    return null;
  }
  const removed: string[] = [];
  const items = (list: unknown[]) => list.map((item) => recordWithoutContent(item)).map((r) => (removed.push(...r.removed), r.value));
  let result: unknown;
  if (Array.isArray(parsed)) result = items(parsed);
  else if (parsed !== null && typeof parsed === 'object' && Array.isArray((parsed as Record<string, unknown>)['records'])) {
    result = { ...(parsed as Record<string, unknown>), records: items((parsed as Record<string, unknown[]>)['records']!) };
  } else {
    const one = recordWithoutContent(parsed);
    removed.push(...one.removed);
    result = one.value;
  }
  return removed.length === 0 ? null : JSON.stringify(result);
}
