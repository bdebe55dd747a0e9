import { isLoopbackHttp } from '../domain/loopback.js';

/** The base URL of the TokenLedger API, checked: a typo gets a sentence, not `Invalid URL`. */
export function apiBase(api: string): URL {
  let url: URL;
  try {
    url = new URL(api.endsWith('/') ? api : `${api}/`);
  } catch {
    throw new Error(`--api ${JSON.stringify(api)} is not a URL: expected the API's base URL, such as http://127.0.0.1:7071 (the local demo)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`--api ${JSON.stringify(api)} is not an http or https URL: expected the API's base URL, such as http://127.0.0.1:7071 (the local demo)`);
  }
  // The CLI sends a bearer token: over TLS only (RFC 6750 §5.3), save to this machine (the local demo).
  if (url.protocol === 'http:' && !isLoopbackHttp(url)) {
    throw new Error(`--api ${JSON.stringify(api)} uses plain http to another machine, which would send your token in clear text: use https (plain http only on a loopback address, as for the local demo)`);
  }
  return url;
}

/**
 * A value as one segment of an API path, encoded. `.` and `..` are refused: every URL resolves them away (`%2E%2E`
 * included), so `api/requests/..` would ask `api/` and read its 404 as an answer about the value.
 */
export function pathSegment(value: string, what: string): string {
  if (value === '.' || value === '..') throw new Error(`${what} ${JSON.stringify(value)} cannot be asked for through the API: a URL path cannot name "." or ".."`);
  return encodeURIComponent(value);
}

/** Why a connection failed, from undici's `fetch failed` and its cause (ECONNREFUSED, ENOTFOUND, a TLS error, …). */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Sends a request to the TokenLedger HTTP API with a bearer token and answers the response whatever its status;
 * only an unreachable API is an error.
 */
export async function sendToApi(api: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string; params?: Record<string, string> }, token: string | undefined): Promise<Response> {
  const url = new URL(path, apiBase(api));
  for (const [name, value] of Object.entries(init.params ?? {})) url.searchParams.set(name, value);
  const headers = { ...init.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) };
  try {
    return await fetch(url, { method: init.method ?? 'GET', headers, ...(init.body === undefined ? {} : { body: init.body }) });
  } catch (error) {
    throw new Error(
      `cannot reach the TokenLedger API at ${url.origin} (${networkReason(error)}): the API must be running there. ` +
        'Locally, start it with `npm run demo` and keep it serving; elsewhere, pass --api or set TOKENLEDGER_API.',
    );
  }
}

/** The error for an API answer that is not a success: the path, the status and the API's reason. */
export async function apiError(response: Response, token: string | undefined): Promise<Error> {
  let reason = response.statusText;
  try {
    const body = (await response.json()) as { reason?: string };
    reason = body.reason ?? reason;
  } catch {
    // the body was not JSON: the status text is the reason
  }
  const hint = response.status === 401 && !token ? ' (no token was given: pass --token or set TOKENLEDGER_TOKEN)' : '';
  const path = response.url ? new URL(response.url).pathname : 'the API';
  return new Error(`${path} answered ${response.status}: ${reason}${hint}`);
}

/**
 * The error for an answer the TokenLedger API would not give: a web page or other text where it answers JSON, as a
 * proxy's sign-in page, a default page or another service at --api does.
 */
function notTheApi(response: Response): Error {
  const where = response.url ? `${new URL(response.url).origin}${new URL(response.url).pathname}` : 'the URL asked';
  const type = response.headers.get('content-type') ?? 'no content type';
  return new Error(
    `${where} did not answer as the TokenLedger API: status ${response.status} with ${type}, not the API's JSON. ` +
      '--api must be the base URL of the TokenLedger API, such as http://127.0.0.1:7071 (the local demo) or https://<function app>.azurewebsites.net',
  );
}

/** `text`, the body of `response`, as JSON; a body that is not JSON did not come from the API. */
export function parseAnswer(response: Response, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw notTheApi(response);
  }
}

/** The JSON body of an API answer; a body that is not JSON did not come from the API. */
export async function answerJson(response: Response): Promise<unknown> {
  return parseAnswer(response, await response.text());
}

/**
 * Fetches a report from the TokenLedger HTTP API with a bearer token; errors carry the API's reason. A web page
 * is refused whatever the format asked: the API answers none, and a CSV or Bicep file would take it as text.
 */
export async function fetchReport(api: string, path: string, params: Record<string, string>, token: string | undefined): Promise<Response> {
  const response = await sendToApi(api, path, { params }, token);
  if (!response.ok) throw await apiError(response, token);
  const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/html') throw notTheApi(response);
  return response;
}
