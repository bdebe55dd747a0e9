import type { HttpRequest } from '@azure/functions';

export type QueryParameters = { readonly ok: true; readonly values: Record<string, string> } | { readonly ok: false; readonly reason: string };

/**
 * The parameters of the request's query string, each given once, or the reason to answer 400. They are read from
 * the URL itself: `request.query` keeps one value per name, so a filter given twice
 * (`identity=alice&identity=bob`) would narrow the answer to one value without a word.
 */
export function queryParameters(request: Pick<HttpRequest, 'url'>, label: string): QueryParameters {
  const values = new Map<string, string>();
  const repeated = new Set<string>();
  for (const [name, value] of new URL(request.url).searchParams) {
    if (values.has(name)) repeated.add(name);
    values.set(name, value);
  }
  if (repeated.size > 0) {
    const names = [...repeated].map((name) => JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name)).join(', ');
    return { ok: false, reason: `invalid ${label}: ${names} given more than once; each parameter takes one value` };
  }
  return { ok: true, values: Object.fromEntries(values) };
}
