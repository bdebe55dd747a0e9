import functions from '@azure/functions';
import type { HttpResponseInit } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { createChargebackHandler } from '../../functions/handlers/chargeback-report.js';
import { createDirectoryEntryHandler, createDirectoryHandler } from '../../functions/handlers/directory.js';
import { createLatencyHandler, createReconciliationHandler, createTrafficHandler, createWeightsHandler } from '../../functions/handlers/operations-reports.js';
import { createRequestTraceHandler } from '../../functions/handlers/requests.js';
import { MemoryIdentityDirectory } from '../../src/adapters/memory/memory-identity-directory.js';
import { APP_ROLES } from '../../src/contracts/access.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import type { Principal } from '../../src/domain/access.js';
import { MemoryAggregateStore, MemoryDiagnosticsStore, MemoryInvoiceAllocationStore, MemoryLedgerStore, MemoryReconciliationStore } from '../support/memory-stores.js';
import { MIXED_PRICES } from '../support/price-tables.js';

const { HttpRequest, InvocationContext } = functions;

const finance: Principal = { oid: '11111111-1111-4111-8111-111111111111', tid: null, appid: null, kind: 'user', roles: [APP_ROLES.chargebackReadAll], name: null };
const aggregates = new MemoryAggregateStore();
const operations = () => ({ aggregates, ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore() });
const noResults = new MemoryReconciliationStore();

const endpoints: Record<string, (request: functions.HttpRequest) => Promise<HttpResponseInit>> = {
  chargeback: (request) =>
    createChargebackHandler(() => ({ aggregates, directory: new MemoryIdentityDirectory(), prices: loadPriceTable(MIXED_PRICES), invoiceAllocations: new MemoryInvoiceAllocationStore() }))(
      request,
      new InvocationContext({}),
      finance,
    ),
  latency: createLatencyHandler(operations),
  weights: createWeightsHandler(operations),
  traffic: createTrafficHandler(operations),
  reconciliation: createReconciliationHandler(() => noResults),
};

async function get(endpoint: string, query: string): Promise<{ status: number | undefined; reason: string | undefined }> {
  const response = await endpoints[endpoint]!(new HttpRequest({ method: 'GET', url: `https://tokenledger.example/api/${endpoint}?${query}` }));
  return { status: response.status, reason: (response.jsonBody as { reason?: string } | undefined)?.reason };
}

const RANGE = 'from=2026-10-15&to=2026-10-16';

describe('report endpoints and their parameters', () => {
  it('refuse a wrongly cased or misspelt parameter with 400, naming it and the parameters the endpoint reads', async () => {
    expect(await get('chargeback', 'Month=2026-10')).toEqual({
      status: 400,
      reason: 'invalid report parameters: (root): unknown parameter "Month" (expected from, to, month, groupBy, format, basis)',
    });
    expect(await get('chargeback', 'month=2026-10&groupby=team')).toMatchObject({ status: 400, reason: expect.stringContaining('unknown parameter "groupby"') });
    expect(await get('latency', `${RANGE}&Deployment=chat`)).toMatchObject({ status: 400, reason: expect.stringContaining('unknown parameter "Deployment" (expected from, to, deployment, groupBy)') });
    expect(await get('weights', `${RANGE}&format=apim&apimservice=contoso-ai-gateway`)).toMatchObject({ status: 400, reason: expect.stringContaining('unknown parameter "apimservice"') });
    expect(await get('traffic', 'From=2026-10-15')).toMatchObject({ status: 400, reason: expect.stringContaining('unknown parameter "From" (expected from, to)') });
    expect(await get('reconciliation', `${RANGE}&deploymnet=chat`)).toMatchObject({ status: 400, reason: expect.stringContaining('unknown parameter "deploymnet"') });
  });

  it('refuse a parameter the endpoint does not read rather than answer as if it had been applied', async () => {
    expect(await get('traffic', `${RANGE}&deployment=chat`)).toMatchObject({ status: 400, reason: expect.stringContaining('unknown parameter "deployment" (expected from, to)') });
    expect(await get('weights', `${RANGE}&groupBy=region`)).toMatchObject({ status: 400, reason: expect.stringContaining('unknown parameter "groupBy"') });
    expect(await get('chargeback', 'month=2026-10&deployment=chat')).toMatchObject({ status: 400, reason: expect.stringContaining('unknown parameter "deployment"') });
  });

  it('refuse a parameter given twice instead of reading one of its values, naming it', async () => {
    expect(await get('chargeback', 'month=2026-01&month=2026-02')).toEqual({
      status: 400,
      reason: 'invalid report parameters: "month" given more than once; each parameter takes one value',
    });
    expect(await get('chargeback', 'month=2026-10&groupBy=team&groupBy=identity')).toMatchObject({ status: 400, reason: expect.stringContaining('"groupBy" given more than once') });
    expect(await get('latency', `${RANGE}&deployment=chat&deployment=batch`)).toMatchObject({ status: 400, reason: expect.stringContaining('"deployment" given more than once') });
    expect(await get('weights', `${RANGE}&${RANGE}`)).toMatchObject({ status: 400, reason: expect.stringContaining('"from", "to" given more than once') });
    expect(await get('reconciliation', `${RANGE}&deployment=&deployment=chat`)).toMatchObject({ status: 400 });
  });

  it('refuse a to whose default from, 24 hours earlier, is before 2000, rather than answer a window that starts in 1999', async () => {
    for (const endpoint of ['latency', 'traffic', 'weights', 'reconciliation']) {
      expect(await get(endpoint, 'to=2000-01-01T01:00Z')).toMatchObject({ status: 400, reason: expect.stringContaining('from: 24 hours before to is 1999-12-31T01:00Z') });
    }
  });

  it('refuse any parameter on the endpoints that read none (the directory, one request), and one given twice', async () => {
    const unused = () => {
      throw new Error('a refused request reaches no store');
    };
    const call = async (handler: (request: functions.HttpRequest) => Promise<HttpResponseInit>, method: string, path: string, params: Record<string, string>) => {
      const response = await handler(new HttpRequest({ method, url: `https://tokenledger.example/api/${path}`, params }));
      return { status: response.status, reason: (response.jsonBody as { reason?: string } | undefined)?.reason };
    };
    const directory = (request: functions.HttpRequest) => createDirectoryHandler(unused)(request, new InvocationContext({}), finance);
    const entry = createDirectoryEntryHandler(unused);
    const trace = (request: functions.HttpRequest) => createRequestTraceHandler(unused)(request, new InvocationContext({}), finance);
    expect(await call(directory, 'GET', 'directory?Month=2026-10', {})).toEqual({ status: 400, reason: 'invalid directory parameters: (root): unknown parameter "Month" (expected none)' });
    expect(await call(directory, 'POST', 'directory?format=csv', {})).toMatchObject({ status: 400, reason: expect.stringContaining('unknown parameter "format"') });
    expect(await call(entry, 'GET', 'directory/alice?format=csv', { identity: 'alice' })).toMatchObject({ status: 400, reason: expect.stringContaining('unknown parameter "format"') });
    expect(await call(entry, 'DELETE', 'directory/alice?force=true', { identity: 'alice' })).toMatchObject({ status: 400, reason: expect.stringContaining('unknown parameter "force"') });
    expect(await call(trace, 'GET', 'requests/req-1?foo=1', { id: 'req-1' })).toMatchObject({ status: 400, reason: expect.stringContaining('invalid request trace parameters: (root): unknown parameter "foo"') });
    expect(await call(trace, 'GET', 'requests/req-1?identity=a&identity=b', { id: 'req-1' })).toMatchObject({ status: 400, reason: expect.stringContaining('"identity" given more than once') });
  });

  it('answer every parameter the dashboard and the CLI send', async () => {
    const sent = [
      ['chargeback', 'month=2026-10&groupBy=team&format=csv'],
      ['chargeback', `${RANGE}&groupBy=costCenter&format=focus&basis=invoice`],
      ['latency', `${RANGE}&deployment=chat&groupBy=region`],
      ['weights', `${RANGE}&deployment=chat&format=json`],
      ['weights', `${RANGE}&format=bicep&apimService=contoso-ai-gateway`],
      ['traffic', RANGE],
      ['reconciliation', `${RANGE}&deployment=chat`],
      ['reconciliation', `${RANGE}&deployment=chat&status=fail&limit=50`],
    ] as const;
    for (const [endpoint, query] of sent) expect(await get(endpoint, query), `${endpoint}?${query}`).toMatchObject({ status: 200 });
  });
});
