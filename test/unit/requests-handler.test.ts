import functions from '@azure/functions';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryIdentityDirectory } from '../../src/adapters/memory/memory-identity-directory.js';
import { APP_ROLES } from '../../src/contracts/access.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import type { Principal } from '../../src/domain/access.js';
import type { RequestItem } from '../../src/domain/request-drilldown.js';
import { createRequestsHandler, createRequestTraceHandler } from '../../functions/handlers/requests.js';
import { ledgerEntry, userCaller } from '../support/ledger-entries.js';
import { MemoryDiagnosticsStore, MemoryLedgerStore } from '../support/memory-stores.js';
import { MIXED_PRICES } from '../support/price-tables.js';

const { HttpRequest, InvocationContext } = functions;

const OID = '11111111-1111-4111-8111-111111111111';
const finance: Principal = { oid: OID, tid: null, appid: null, kind: 'user', roles: [APP_ROLES.chargebackReadAll], name: null };
type Page = { value: RequestItem[]; nextLink?: string };

describe('request list API', () => {
  const ledger = new MemoryLedgerStore();
  const handler = createRequestsHandler(() => ({ ledger, diagnostics: new MemoryDiagnosticsStore(), directory: new MemoryIdentityDirectory(), prices: loadPriceTable(MIXED_PRICES) }));
  const get = async (url: string) => {
    const response = await handler(new HttpRequest({ method: 'GET', url }), new InvocationContext({}), finance);
    return { status: response.status, body: response.jsonBody as Page & { reason?: string } };
  };

  beforeEach(async () => {
    ledger.entries.clear();
    const days = ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04', '2026-11-05'];
    await ledger.createEntries(days.map((day, i) => ledgerEntry({ id: `req-${i}`, gatewayRequestId: `gw-${i}`, apimRequestId: `req-${i}`, time: `${day}T09:15:00.000Z`, caller: userCaller(OID) })));
    vi.useFakeTimers({ toFake: ['Date'] });
  });
  afterEach(() => vi.useRealTimers());

  it('keeps a page chain without a period on the month to date it started with when the hour turns between pages', async () => {
    vi.setSystemTime(new Date('2026-11-22T10:59:30Z'));
    const first = await get('https://tokenledger.example/api/requests?pageSize=2');
    expect(first.status).toBe(200);
    const ids = first.body.value.map((item) => item.id);
    let next = first.body.nextLink;
    vi.setSystemTime(new Date('2026-11-22T11:00:05Z'));
    for (let pages = 1; next !== undefined; pages++) {
      expect(pages).toBeLessThan(10);
      const page = await get(next);
      expect(page.status, page.body.reason).toBe(200);
      ids.push(...page.body.value.map((item) => item.id));
      next = page.body.nextLink;
    }
    expect(ids.sort()).toEqual(['req-0', 'req-1', 'req-2', 'req-3', 'req-4']);
  });

  it('refuses a filter given twice instead of listing the requests of one of its values', async () => {
    vi.setSystemTime(new Date('2026-11-22T10:59:30Z'));
    expect(await get(`https://tokenledger.example/api/requests?month=2026-11&identity=${OID}&identity=someone-else`)).toEqual({
      status: 400,
      body: { error: 'bad_request', reason: 'invalid request list parameters: "identity" given more than once; each parameter takes one value' },
    });
  });

  it('writes the period it resolved into nextLink, in place of a month or the default', async () => {
    vi.setSystemTime(new Date('2026-11-22T10:59:30Z'));
    const byDefault = new URL((await get('https://tokenledger.example/api/requests?pageSize=2')).body.nextLink!);
    expect([byDefault.searchParams.get('from'), byDefault.searchParams.get('to')]).toEqual(['2026-11-01T00:00:00.000Z', '2026-11-22T11:00:00.000Z']);
    const byMonth = new URL((await get('https://tokenledger.example/api/requests?month=2026-11&deployment=chat-prod&pageSize=2')).body.nextLink!);
    expect(byMonth.searchParams.has('month')).toBe(false);
    expect([byMonth.searchParams.get('from'), byMonth.searchParams.get('to')]).toEqual(['2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z']);
    expect([byMonth.searchParams.get('deployment'), byMonth.searchParams.get('pageSize')]).toEqual(['chat-prod', '2']);
    expect(byMonth.searchParams.get('$skipToken')).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});

describe('request trace API', () => {
  it('refuses the ids . and .. as the dashboard and the CLI do, which no URL path can name, rather than look them up', async () => {
    const handler = createRequestTraceHandler(() => ({ ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore(), directory: new MemoryIdentityDirectory(), prices: loadPriceTable(MIXED_PRICES) }));
    const trace = async (id: string) => {
      const response = await handler(new HttpRequest({ method: 'GET', url: 'https://tokenledger.example/api/requests/x', params: { id } }), new InvocationContext({}), finance);
      return { status: response.status, body: response.jsonBody as unknown };
    };
    for (const id of ['.', '..']) {
      expect(await trace(id)).toEqual({ status: 400, body: { error: 'bad_request', reason: `request id ${JSON.stringify(id)} cannot be asked for through the API: a URL path cannot name "." or ".."` } });
    }
    expect((await trace('...')).status).toBe(404);
  });
});
