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
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.token) headers['Authorization'] = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(url, { headers, cache: 'no-store', credentials: 'omit', redirect: 'error' });
    } catch (error) {
      return { ok: false, status: 0, error: 'network_error', reason: error instanceof Error ? error.message : 'the request failed' };
    }
    const body = await response.text();
    let json: unknown = undefined;
    try {
      json = body === '' ? undefined : JSON.parse(body);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const o = json !== null && typeof json === 'object' ? (json as Record<string, unknown>) : {};
      const reason = typeof o['reason'] === 'string' ? o['reason'] : response.statusText || body.slice(0, 200);
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
