import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';
import { describeIssues } from '../../src/domain/event-normalization.js';

export type ParsedQuery<T> = { readonly ok: true; readonly query: T } | { readonly ok: false; readonly response: HttpResponseInit };

function badRequest(reason: string): { readonly ok: false; readonly response: HttpResponseInit } {
  return { ok: false, response: { status: 400, jsonBody: { error: 'bad_request', reason } } };
}

/**
 * The endpoint's query parameters read by its schema as of now, or 400 with the reason (`label` names them in it).
 * They are read from the URL itself, and a parameter given twice is refused: `request.query` keeps one value per
 * name, so a filter given twice (`identity=alice&identity=bob`) would narrow the answer to one value without a word.
 */
export function parseQuery<T>(request: Pick<HttpRequest, 'url'>, schemaAt: (now: Date) => z.ZodType<T>, label: string): ParsedQuery<T> {
  const values = new Map<string, string>();
  const repeated = new Set<string>();
  for (const [name, value] of new URL(request.url).searchParams) {
    if (values.has(name)) repeated.add(name);
    values.set(name, value);
  }
  if (repeated.size > 0) {
    const names = [...repeated].map((name) => JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name)).join(', ');
    return badRequest(`invalid ${label}: ${names} given more than once; each parameter takes one value`);
  }
  const parsed = schemaAt(new Date()).safeParse(Object.fromEntries(values));
  return parsed.success ? { ok: true, query: parsed.data } : badRequest(describeIssues(label, parsed.error));
}
