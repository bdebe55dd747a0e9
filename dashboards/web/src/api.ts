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

  async get<T>(route: string, params: Record<string, string>, parse: (body: unknown) => T): Promise<ApiResult<T>> {
    const url = new URL(route, this.base);
    for (const [name, value] of Object.entries(params)) if (value !== '') url.searchParams.set(name, value);
    return this.exchange(url, 'GET', {}, undefined, parse);
  }

  /**
   * A write: `body` as JSON (none for a DELETE), `ifMatch` as the `If-Match` header so the API refuses the write
   * (412) when the resource changed since the ETag was read. A response without a body (204) parses `undefined`.
   */
  async send<T>(method: 'POST' | 'PUT' | 'DELETE', route: string, options: { readonly body?: unknown; readonly ifMatch?: string }, parse: (body: unknown) => T): Promise<ApiResult<T>> {
    const headers: Record<string, string> = {};
    if (options.ifMatch !== undefined) headers['If-Match'] = options.ifMatch;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    return this.exchange(new URL(route, this.base), method, headers, options.body === undefined ? undefined : JSON.stringify(options.body), parse);
  }

  private async exchange<T>(url: URL, method: string, extraHeaders: Record<string, string>, body: string | undefined, parse: (body: unknown) => T): Promise<ApiResult<T>> {
    const headers: Record<string, string> = { Accept: 'application/json', ...extraHeaders };
    if (this.token) headers['Authorization'] = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(url, { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error', ...(body === undefined ? {} : { body }) });
    } catch (error) {
      return { ok: false, status: 0, error: 'network_error', reason: error instanceof Error ? error.message : 'the request failed' };
    }
    const text = await response.text();
    let json: unknown = undefined;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const o = json !== null && typeof json === 'object' ? (json as Record<string, unknown>) : {};
      const reason = typeof o['reason'] === 'string' ? o['reason'] : response.statusText || text.slice(0, 200);
      return { ok: false, status: response.status, error: typeof o['error'] === 'string' ? o['error'] : 'error', reason };
    }
    try {
      return { ok: true, status: response.status, value: parse(json) };
    } catch (error) {
      return { ok: false, status: response.status, error: 'unexpected_response', reason: error instanceof Error ? error.message : 'unexpected response' };
    }
  }
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
