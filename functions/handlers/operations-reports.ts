import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { toBackendPool, toBicepSnippet } from '../../src/contracts/apim-backend-pool.js';
import { operationsQuerySchemaAt, type OperationsQueryParams } from '../../src/contracts/report-query.js';
import { describeIssues } from '../../src/domain/event-normalization.js';
import type { AggregateStore } from '../../src/ports/aggregate-store.js';
import type { DiagnosticsStore } from '../../src/ports/diagnostics-store.js';
import type { LedgerStore } from '../../src/ports/ledger-store.js';
import type { ReconciliationStore } from '../../src/ports/reconciliation.js';
import { latencyReport, weightsReport } from '../../src/services/latency-report.js';
import { trafficReport } from '../../src/services/traffic-report.js';

type Parsed = { readonly ok: true; readonly query: OperationsQueryParams } | { readonly ok: false; readonly response: HttpResponseInit };

/** Without `from` and `to`, the last 24 whole UTC hours (the current one included). */
function parse(request: HttpRequest): Parsed {
  const parsed = operationsQuerySchemaAt(new Date()).safeParse(Object.fromEntries(request.query.entries()));
  return parsed.success
    ? { ok: true, query: parsed.data }
    : { ok: false, response: { status: 400, jsonBody: { error: 'bad_request', reason: describeIssues('report parameters', parsed.error) } } };
}

export interface OperationsPorts {
  readonly aggregates: AggregateStore;
  readonly ledger: LedgerStore;
  readonly diagnostics: DiagnosticsStore;
}

/** `GET /api/latency?from&to&deployment&groupBy=region` (role Operations.Read). */
export function createLatencyHandler(ports: () => OperationsPorts) {
  return async (request: HttpRequest): Promise<HttpResponseInit> => {
    const parsed = parse(request);
    if (!parsed.ok) return parsed.response;
    const { query } = parsed;
    return { status: 200, jsonBody: await latencyReport(ports().aggregates, query) };
  };
}

/** `GET /api/weights?from&to&deployment&format=json|apim|bicep` (role Operations.Read). */
export function createWeightsHandler(ports: () => OperationsPorts) {
  return async (request: HttpRequest): Promise<HttpResponseInit> => {
    const parsed = parse(request);
    if (!parsed.ok) return parsed.response;
    const { query } = parsed;
    const format = request.query.get('format') ?? 'json';
    if (!['json', 'apim', 'bicep'].includes(format)) return { status: 400, jsonBody: { error: 'bad_request', reason: 'format must be json, apim or bicep' } };
    const recommendations = (await weightsReport(ports().aggregates, query)).filter((r) => !query.deployment || r.deployment === query.deployment);
    if (format === 'bicep') {
      return { status: 200, body: recommendations.map((r) => toBicepSnippet(`${r.deployment}-pool`, r.weights)).join('\n'), headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
    }
    if (format === 'apim') return { status: 200, jsonBody: recommendations.map((r) => toBackendPool(`${r.deployment}-pool`, r.weights)) };
    const latestDataHour = await ports().aggregates.latestLatencyHour(query.deployment);
    return { status: 200, jsonBody: { from: query.from.toISOString(), to: query.to.toISOString(), latestDataHour, recommendations } };
  };
}

/** `GET /api/traffic?from&to`: join outcomes, bypass calls by credential and unattributed use (role Operations.Read). */
export function createTrafficHandler(ports: () => OperationsPorts) {
  return async (request: HttpRequest): Promise<HttpResponseInit> => {
    const parsed = parse(request);
    if (!parsed.ok) return parsed.response;
    const { query } = parsed;
    const { ledger, diagnostics } = ports();
    return { status: 200, jsonBody: await trafficReport(ledger, diagnostics, query) };
  };
}

/** `GET /api/reconciliation?from&to`: stored check results of the window (role Operations.Read). */
export function createReconciliationHandler(results: () => ReconciliationStore) {
  return async (request: HttpRequest): Promise<HttpResponseInit> => {
    const parsed = parse(request);
    if (!parsed.ok) return parsed.response;
    const { query } = parsed;
    const checks = (await results().listResults(query)).filter((c) => !query.deployment || c.deployment === query.deployment);
    return { status: 200, jsonBody: { from: query.from.toISOString(), to: query.to.toISOString(), checks } };
  };
}
