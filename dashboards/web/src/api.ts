/** Calls to the TokenLedger HTTP API from the page, with the caller's bearer token. */

export type ApiResult<T> =
  | { readonly ok: true; readonly status: number; readonly value: T }
  | { readonly ok: false; readonly status: number; readonly error: string; readonly reason: string };

export class Api {
  /**
   * @param base the API root, e.g. `https://…/api/` (the page lives at `…/api/dashboard/`)
   * @param token the bearer token, or null to call without one (the API then answers 401 with its reason)
   */
  constructor(
    private readonly base: URL,
    private readonly token: string | null,
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
  async getUrl<T>(url: URL, parse: (body: unknown) => T): Promise<ApiResult<T>> {
    if (url.origin !== this.base.origin || !url.pathname.startsWith(this.base.pathname)) {
      return { ok: false, status: 0, error: 'foreign_link', reason: `the API linked outside itself (${url.origin}); the link was not followed` };
    }
    const sent = await this.send(url, 'application/json');
    if (!sent.ok) return sent;
    const body = await sent.response.text();
    const json = jsonOf(body);
    const { response } = sent;
    if (!response.ok) return failure(response, json, body);
    try {
      return { ok: true, status: response.status, value: parse(json) };
    } catch (error) {
      return { ok: false, status: response.status, error: 'unexpected_response', reason: error instanceof Error ? error.message : 'unexpected response' };
    }
  }

  /** A file the API serves (CSV, FOCUS): its content and the name the API gives it (`Content-Disposition`). */
  async download(route: string, params: Record<string, string>): Promise<ApiResult<{ blob: Blob; filename: string }>> {
    const sent = await this.send(this.url(route, params), 'text/csv, application/json');
    if (!sent.ok) return sent;
    const { response } = sent;
    if (!response.ok) {
      const body = await response.text();
      return failure(response, jsonOf(body), body);
    }
    const disposition = /filename="([^"\\/]{1,200})"/.exec(response.headers.get('Content-Disposition') ?? '');
    return { ok: true, status: response.status, value: { blob: await response.blob(), filename: disposition?.[1] ?? `${route}.csv` } };
  }

  private async send(url: URL, accept: string): Promise<{ ok: true; response: Response } | { ok: false; status: number; error: string; reason: string }> {
    const headers: Record<string, string> = { Accept: accept };
    if (this.token) headers['Authorization'] = `Bearer ${this.token}`;
    try {
      return { ok: true, response: await fetch(url, { headers, cache: 'no-store', credentials: 'omit', redirect: 'error' }) };
    } catch (error) {
      return { ok: false, status: 0, error: 'network_error', reason: error instanceof Error ? error.message : 'the request failed' };
    }
  }
}

function jsonOf(body: string): unknown {
  try {
    return body === '' ? undefined : JSON.parse(body);
  } catch {
    return undefined;
  }
}

function failure(response: Response, json: unknown, body: string): { ok: false; status: number; error: string; reason: string } {
  const o = json !== null && typeof json === 'object' ? (json as Record<string, unknown>) : {};
  const reason = typeof o['reason'] === 'string' ? o['reason'] : response.statusText || body.slice(0, 200);
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
