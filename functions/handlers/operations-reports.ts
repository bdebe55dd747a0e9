import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { MAX_POOL_MEMBERS, oversizedPools, poolMemberProblems, poolNameClashes, poolNameFor, toArmTemplate, toBicepFile } from '../../src/contracts/apim-backend-pool.js';
import { encodeResultKey, latencyQuerySchemaAt, reconciliationQuerySchemaAt, trafficQuerySchemaAt, weightsQuerySchemaAt } from '../../src/contracts/report-query.js';
import { thresholdsReport } from '../../src/domain/reconciliation.js';
import type { AggregateStore } from '../../src/ports/aggregate-store.js';
import type { DiagnosticsStore } from '../../src/ports/diagnostics-store.js';
import type { LedgerStore } from '../../src/ports/ledger-store.js';
import type { ReconciliationStore } from '../../src/ports/reconciliation.js';
import { latencyReport, weightsReport } from '../../src/services/latency-report.js';
import { reconciliationPage } from '../../src/services/reconciliation-report.js';
import { trafficReport } from '../../src/services/traffic-report.js';
import { parseQuery } from './query-parameters.js';

export interface OperationsPorts {
  readonly aggregates: AggregateStore;
  readonly ledger: LedgerStore;
  readonly diagnostics: DiagnosticsStore;
}

/** `GET /api/latency?from&to&deployment&groupBy=region` (role Operations.Read). */
export function createLatencyHandler(ports: () => OperationsPorts) {
  return async (request: HttpRequest): Promise<HttpResponseInit> => {
    const parsed = parseQuery(request, latencyQuerySchemaAt, 'report parameters');
    if (!parsed.ok) return parsed.response;
    const { query } = parsed;
    return { status: 200, jsonBody: await latencyReport(ports().aggregates, query) };
  };
}

/**
 * `GET /api/weights?from&to&deployment&format=json|apim|bicep&apimService` (role Operations.Read). `apim` is an
 * ARM deployment template and `bicep` a Bicep file, each with one backend pool per deployment named
 * `<apimService>/<deployment>-pool`: both deploy as written. 422 when a backend id in the data cannot be a pool member,
 * or when two deployments would make one pool name.
 */
export function createWeightsHandler(ports: () => OperationsPorts) {
  return async (request: HttpRequest): Promise<HttpResponseInit> => {
    const parsed = parseQuery(request, weightsQuerySchemaAt, 'report parameters');
    if (!parsed.ok) return parsed.response;
    const { query } = parsed;
    const { format, apimService } = query;
    const recommendations = (await weightsReport(ports().aggregates, query)).filter((r) => !query.deployment || r.deployment === query.deployment);
    const pools = recommendations.map((r) => ({ name: poolNameFor(r.deployment), weights: r.weights, description: r.explanation }));
    const problems = format === 'json' ? [] : poolMemberProblems(pools);
    if (problems.length > 0) return { status: 422, jsonBody: { error: 'unprocessable', reason: unusableMembers(format, problems) } };
    const oversized = format === 'json' ? [] : oversizedPools(pools);
    if (oversized.length > 0) {
      const reason = `format=${format} makes one APIM backend pool per deployment, and APIM takes at most ${MAX_POOL_MEMBERS} backends in a pool: ${oversized.join('; ')}. format=json answers their weights.`;
      return { status: 422, jsonBody: { error: 'unprocessable', reason } };
    }
    const clashes = format === 'json' ? [] : poolNameClashes(recommendations.map((r) => r.deployment));
    if (clashes.length > 0) return { status: 422, jsonBody: { error: 'unprocessable', reason: clashingPools(format, clashes) } };
    if (format === 'bicep') return { status: 200, body: toBicepFile(apimService!, pools), headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
    if (format === 'apim') return { status: 200, jsonBody: toArmTemplate(apimService!, pools) };
    const latestDataHour = await ports().aggregates.latestLatencyHour(query.deployment);
    return { status: 200, jsonBody: { from: query.from.toISOString(), to: query.to.toISOString(), latestDataHour, recommendations } };
  };
}

function unusableMembers(format: string, problems: readonly string[]): string {
  return (
    `format=${format} makes the backends of each deployment members of an APIM backend pool, and ${problems.length === 1 ? 'this one cannot be' : `${problems.length} cannot be`}: ` +
    `${problems.join('; ')}. A backend id is the gateway events' gateway.backendId (the policy's tokenledger-backend-id variable): ` +
    'it must be the name of the APIM backend. format=json answers the weights of these backends as they are.'
  );
}

function clashingPools(format: string, clashes: readonly string[]): string {
  return (
    `format=${format} names each deployment's pool <deployment>-pool, with every run of characters an APIM name cannot hold made one hyphen ` +
    `(APIM names ignore case, and a name is cut at 80 characters), and ${clashes.join('; ')}: ` +
    'two pools of one name do not deploy side by side. format=json answers their weights, for pools you name yourself.'
  );
}

/** `GET /api/traffic?from&to`: join outcomes, bypass calls by credential and unattributed use (role Operations.Read). */
export function createTrafficHandler(ports: () => OperationsPorts) {
  return async (request: HttpRequest): Promise<HttpResponseInit> => {
    const parsed = parseQuery(request, trafficQuerySchemaAt, 'report parameters');
    if (!parsed.ok) return parsed.response;
    const { query } = parsed;
    return { status: 200, jsonBody: await trafficReport(ports().aggregates, query) };
  };
}

/**
 * `GET /api/reconciliation?from&to&deployment&status&limit&continuation` (role Operations.Read): the `summary` of
 * the window's stored check results (per check and status), the `total` with a listed status and at most `limit` of
 * them as `checks`, ordered by hour, check and deployment; `continuation` (null on the last page) asks for the next
 * page. The thresholds that graded them come along.
 */
export function createReconciliationHandler(results: () => ReconciliationStore) {
  return async (request: HttpRequest): Promise<HttpResponseInit> => {
    const parsed = parseQuery(request, reconciliationQuerySchemaAt, 'report parameters');
    if (!parsed.ok) return parsed.response;
    const { query } = parsed;
    const page = await reconciliationPage(results(), query);
    return {
      status: 200,
      jsonBody: {
        from: query.from.toISOString(),
        to: query.to.toISOString(),
        thresholds: thresholdsReport(),
        summary: page.summary,
        total: page.total,
        checks: page.checks,
        continuation: page.next === null ? null : encodeResultKey(page.next, query),
      },
    };
  };
}
