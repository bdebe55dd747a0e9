/** Calls to the TokenLedger HTTP API from the page, with the caller's bearer token. */

export type ApiResult<T> =
  | { readonly ok: true; readonly status: number; readonly value: T }
  | { readonly ok: false; readonly status: number; readonly error: string; readonly reason: string };

export class Api {
  /**
   * @param base the API root, e.g. `https://…/api/` (the page lives at `…/api/dashboard/`)
   * @param token the bearer token at the time of each request (a sign-in renews it while panels stay open), or
   *   null to call without one (the API then answers 401 with its reason)
   */
  constructor(
    private readonly base: URL,
    private readonly token: () => string | null,
  ) {}

  /** `route` under the API root with the non-empty `params`. */
  url(route: string, params: Record<string, string>): URL {
    const url = new URL(route, this.base);
    for (const [name, value] of Object.entries(params)) if (value !== '') url.searchParams.set(name, value);
    return url;
  }

  get<T>(route: string, params: Record<string, string>, parse: (body: unknown) => T): Promise<ApiResult<T>> {
    return this.getUrl(this.url(route, params), parse);
  }

  /**
   * A URL the API itself gave (a `nextLink`). The bearer token goes only to the API's own origin and path: a link
   * elsewhere is refused, not followed.
   */
  getUrl<T>(url: URL, parse: (body: unknown) => T): Promise<ApiResult<T>> {
    if (url.origin !== this.base.origin || !url.pathname.startsWith(this.base.pathname)) {
      return Promise.resolve({ ok: false, status: 0, error: 'foreign_link', reason: `the API linked outside itself (${url.origin}); the link was not followed` });
    }
    return this.exchange(url, 'GET', {}, undefined, parse);
  }

  /**
   * A write: `body` as JSON (none for a DELETE), `ifMatch` as the `If-Match` header so the API refuses the write
   * (412) when the resource changed since the ETag was read. A response without a body (204) parses `undefined`.
   */
  send<T>(method: 'POST' | 'PUT' | 'DELETE', route: string, options: { readonly body?: unknown; readonly ifMatch?: string }, parse: (body: unknown) => T): Promise<ApiResult<T>> {
    const headers: Record<string, string> = {};
    if (options.ifMatch !== undefined) headers['If-Match'] = options.ifMatch;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    return this.exchange(new URL(route, this.base), method, headers, options.body === undefined ? undefined : JSON.stringify(options.body), parse);
  }

  /** A file the API serves (CSV, FOCUS): its content and the name the API gives it (`Content-Disposition`). */
  async download(route: string, params: Record<string, string>): Promise<ApiResult<{ blob: Blob; filename: string }>> {
    const sent = await this.request(this.url(route, params), 'GET', { Accept: 'text/csv, application/json' }, undefined);
    if (!sent.ok) return sent;
    const { response } = sent;
    if (!response.ok) {
      const text = await response.text();
      return failure(response, jsonOf(text), text);
    }
    const disposition = /filename="([^"\\/]{1,200})"/.exec(response.headers.get('Content-Disposition') ?? '');
    return { ok: true, status: response.status, value: { blob: await response.blob(), filename: disposition?.[1] ?? `${route}.csv` } };
  }

  private async exchange<T>(url: URL, method: string, headers: Record<string, string>, body: string | undefined, parse: (body: unknown) => T): Promise<ApiResult<T>> {
    const sent = await this.request(url, method, { Accept: 'application/json', ...headers }, body);
    if (!sent.ok) return sent;
    const { response } = sent;
    const text = await response.text();
    const json = jsonOf(text);
    if (!response.ok) return failure(response, json, text);
    try {
      return { ok: true, status: response.status, value: parse(json) };
    } catch (error) {
      return { ok: false, status: response.status, error: 'unexpected_response', reason: error instanceof Error ? error.message : 'unexpected response' };
    }
  }

  private async request(url: URL, method: string, headers: Record<string, string>, body: string | undefined): Promise<{ ok: true; response: Response } | { ok: false; status: number; error: string; reason: string }> {
    const token = this.token();
    const all = token ? { ...headers, Authorization: `Bearer ${token}` } : headers;
    try {
      return { ok: true, response: await fetch(url, { method, headers: all, cache: 'no-store', credentials: 'omit', redirect: 'error', ...(body === undefined ? {} : { body }) }) };
    } catch (error) {
      return { ok: false, status: 0, error: 'network_error', reason: error instanceof Error ? error.message : 'the request failed' };
    }
  }
}

function jsonOf(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

function failure(response: Response, json: unknown, text: string): { ok: false; status: number; error: string; reason: string } {
  const o = json !== null && typeof json === 'object' ? (json as Record<string, unknown>) : {};
  const reason = typeof o['reason'] === 'string' ? o['reason'] : response.statusText || text.slice(0, 200);
  return { ok: false, status: response.status, error: typeof o['error'] === 'string' ? o['error'] : 'error', reason };
}

/** Runs `work` over `items` with at most `limit` at a time, keeping the order of the results. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
