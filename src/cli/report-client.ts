/** Fetches a report from the TokenLedger HTTP API with a bearer token; errors carry the API's reason. */
export async function fetchReport(api: string, path: string, params: Record<string, string>, token: string | undefined): Promise<Response> {
  const url = new URL(path, api.endsWith('/') ? api : `${api}/`);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!response.ok) {
    let reason = response.statusText;
    try {
      const body = (await response.json()) as { reason?: string };
      reason = body.reason ?? reason;
    } catch {
      // the body was not JSON: the status text is the reason
    }
    throw new Error(`${url.pathname} answered ${response.status}: ${reason}`);
  }
  return response;
}
