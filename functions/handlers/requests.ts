import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { PriceTable } from '../../src/contracts/price-table.js';
import { noParametersSchema, requestsQuerySchemaAt } from '../../src/contracts/report-query.js';
import { chargebackScope, type Principal } from '../../src/domain/access.js';
import type { IdentityOptions } from '../../src/domain/identity.js';
import { decodeContinuation, encodeContinuation, queryDigest } from '../../src/domain/request-drilldown.js';
import { pricingOf } from '../../src/domain/usage-pricing.js';
import type { DiagnosticsStore } from '../../src/ports/diagnostics-store.js';
import type { IdentityDirectory } from '../../src/ports/identity-directory.js';
import type { LedgerStore } from '../../src/ports/ledger-store.js';
import { listRequests, traceRequest } from '../../src/services/request-drilldown.js';
import { parseQuery } from './query-parameters.js';

export interface RequestsHandlerPorts {
  readonly ledger: LedgerStore;
  readonly diagnostics: DiagnosticsStore;
  readonly directory: IdentityDirectory;
  /** Costs are computed at read from this table, as the chargeback report computes them. */
  readonly prices: PriceTable;
  /** The rollup's identity options (gateway object ids), so requests resolve to their report cell's identity. */
  readonly identity?: IdentityOptions;
}

async function drilldownPorts(ports: RequestsHandlerPorts) {
  return {
    ledger: ports.ledger,
    diagnostics: ports.diagnostics,
    directory: await ports.directory.getAll(),
    pricing: pricingOf(ports.prices),
    currency: ports.prices.currency,
    ...(ports.identity ? { identity: ports.identity } : {}),
  };
}

/**
 * `GET /api/requests?from&to|month&identity&team&model&deployment&region&pageSize`: the ledger entries behind a
 * chargeback report cell, each priced as the report prices it, as `{"value": [...], "nextLink": "..."}`. Follow
 * `nextLink` until it is absent: the costs of the whole chain add up to the cell exactly. A page may be short (or
 * empty) while `nextLink` is present. `nextLink` names the period as `from` and `to`, so the chain keeps the period
 * of its first page. Access as for the chargeback report: without `Chargeback.ReadAll`, only
 * the caller's own identity's requests.
 */
export function createRequestsHandler(ports: () => RequestsHandlerPorts) {
  return async function requests(request: HttpRequest, _context: unknown, principal: Principal): Promise<HttpResponseInit> {
    const parsed = parseQuery(request, requestsQuerySchemaAt, 'request list parameters');
    if (!parsed.ok) return parsed.response;
    const query = parsed.query;
    const digest = queryDigest(query);
    let after = null;
    if (query.skipToken !== undefined) {
      const decoded = decodeContinuation(query.skipToken, digest);
      if (!decoded.ok) return badRequest(decoded.reason);
      after = decoded.position;
    }
    const page = await listRequests(await drilldownPorts(ports()), { ...query, after, scope: chargebackScope(principal) });
    const body: { value: unknown[]; nextLink?: string } = { value: page.items };
    if (page.next !== null) {
      // The period as resolved, not as asked: a month to date ends at the current hour, and the next page may come
      // after the hour has turned.
      const next = new URL(request.url);
      next.searchParams.delete('month');
      next.searchParams.set('from', query.from.toISOString());
      next.searchParams.set('to', query.to.toISOString());
      next.searchParams.set('$skipToken', encodeContinuation(page.next, digest));
      body.nextLink = next.toString();
    }
    return { status: 200, jsonBody: body, headers: { 'TokenLedger-Period': `${query.from.toISOString()}/${query.to.toISOString()}` } };
  };
}

/**
 * `GET /api/requests/{id}`: one request end to end, by its gateway request id or its `apim-request-id`: the
 * ledger document and the parts it was merged from, the joined diagnostic record, which evidence decided its
 * identity, its price entry and cost, and the price table. 404 when there is no such request the caller may see.
 */
export function createRequestTraceHandler(ports: () => RequestsHandlerPorts) {
  return async function requestTrace(request: HttpRequest, _context: unknown, principal: Principal): Promise<HttpResponseInit> {
    const query = parseQuery(request, () => noParametersSchema, 'request trace parameters');
    if (!query.ok) return query.response;
    const id = request.params['id'] ?? '';
    if (id.length === 0 || id.length > 1024) return badRequest('give a request id: the gateway request id or the apim-request-id');
    // URLs resolve the path segments . and .. away (%2E%2E too), so no URL names these ids: refused as the page and `tokenledger trace` refuse them.
    if (id === '.' || id === '..') return badRequest(`request id ${JSON.stringify(id)} cannot be asked for through the API: a URL path cannot name "." or ".."`);
    const trace = await traceRequest(await drilldownPorts(ports()), id, chargebackScope(principal));
    if (!trace) return { status: 404, jsonBody: { error: 'not_found', reason: 'no request with this id that you may see' } };
    return { status: 200, jsonBody: trace };
  };
}

function badRequest(reason: string): HttpResponseInit {
  return { status: 400, jsonBody: { error: 'bad_request', reason } };
}
