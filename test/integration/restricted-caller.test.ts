import functions from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryIdentityDirectory } from '../../src/adapters/memory/memory-identity-directory.js';
import { createTokenValidator, type TokenValidator } from '../../src/adapters/auth/entra-token-validator.js';
import { APP_ROLES } from '../../src/contracts/access.js';
import { loadPriceTable } from '../../src/contracts/price-table.js';
import type { LedgerEntry } from '../../src/contracts/ledger-entry.js';
import { createChargebackHandler } from '../../functions/handlers/chargeback-report.js';
import { createDirectoryEntryHandler, createDirectoryHandler, directoryRoles } from '../../functions/handlers/directory.js';
import { createRequestsHandler, createRequestTraceHandler } from '../../functions/handlers/requests.js';
import { withAccess } from '../../functions/handlers/http-auth.js';
import { startTokenIssuer, type LocalTokenIssuer } from '../../src/local/token-issuer.js';
import { markRangeDirty, rollupChargeback } from '../../src/services/rollup-chargeback.js';
import { ledgerEntry, noCaller, userCaller } from '../support/ledger-entries.js';
import { MemoryAggregateStore, MemoryDiagnosticsStore, MemoryInvoiceAllocationStore, MemoryLedgerStore } from '../support/memory-stores.js';
import { MIXED_PRICES } from '../support/price-tables.js';

const { HttpRequest, InvocationContext } = functions;

const U = '9a3d5f10-2c4b-4e6d-8f70-1b2c3d4e5f60';
const V = '4c9e2b71-8d3a-4f56-b0e2-7a1b2c3d4e5f';
const APP_OID = 'a1b2c3d4-0000-4000-8000-0000000000aa';
const APP_ID = 'c0ffee00-0000-4000-8000-0000000000bb';

let issuer: LocalTokenIssuer;
let validator: TokenValidator;
const ledger = new MemoryLedgerStore();
const aggregates = new MemoryAggregateStore();
const diagnostics = new MemoryDiagnosticsStore();
const directory = new MemoryIdentityDirectory([{ identity: V, displayName: 'Victim', team: 'Secret Team', costCenter: 'CC-9' }]);
const prices = loadPriceTable(MIXED_PRICES);

const tokens = { promptTokens: 1000, cachedTokens: 0, completionTokens: 500, reasoningTokens: 0, source: 'gateway' as const };
function entry(id: string, overrides: Partial<LedgerEntry>): LedgerEntry {
  return ledgerEntry({ id, gatewayRequestId: `gw-${id}`, apimRequestId: `apim-${id}`, time: '2026-10-10T09:15:00.000Z', tokens, ...overrides });
}

const ENTRIES = [
  entry('u1', { caller: userCaller(U) }),
  entry('v1', { caller: userCaller(V) }),
  entry('app1', { caller: { ...noCaller, oid: APP_OID, appid: APP_ID, idtyp: 'app' } }),
  entry('deleg', { caller: { ...noCaller, oid: V, appid: APP_ID, idtyp: 'user' } }),
  entry('key', { subscriptionId: 'sub-team-x' }),
];

function call(handler: ReturnType<typeof withAccess>, url: string, token: string, init: { method?: string; params?: Record<string, string> } = {}) {
  return handler(new HttpRequest({ method: init.method ?? 'GET', url, headers: { authorization: `Bearer ${token}` }, params: init.params ?? {} }), new InvocationContext({}));
}

beforeAll(async () => {
  issuer = await startTokenIssuer();
  validator = createTokenValidator({ issuer: issuer.issuer, audience: issuer.audience, jwksUri: issuer.jwksUri, tenantId: issuer.tenantId });
  await ledger.createEntries(ENTRIES);
  await markRangeDirty(aggregates, { from: new Date('2026-10-10T00:00:00Z'), to: new Date('2026-10-11T00:00:00Z') });
  await rollupChargeback({ ledger, aggregates });
});
afterAll(async () => issuer?.stop());

describe('a caller without Chargeback.ReadAll, across the chargeback, request and directory APIs', () => {
  const ports = () => ({ ledger, diagnostics, directory, prices });
  const requests = withAccess({ validator: () => validator }, createRequestsHandler(ports));
  const trace = withAccess({ validator: () => validator }, createRequestTraceHandler(ports));
  const chargeback = withAccess(
    { validator: () => validator },
    createChargebackHandler(() => ({ aggregates, directory, prices, invoiceAllocations: new MemoryInvoiceAllocationStore() })),
  );
  const dir = withAccess({ validator: () => validator, role: directoryRoles }, createDirectoryHandler(() => ({ directory })));
  const dirEntry = withAccess({ validator: () => validator, role: directoryRoles }, createDirectoryEntryHandler(() => ({ directory })));

  it('sees only its own requests, rows and FOCUS rows, whatever the filter or grouping', async () => {
    const user = await issuer.issue({ oid: U, roles: [APP_ROLES.operationsRead], appid: APP_ID });
    for (const q of ['', `&identity=${V}`, `&identity=${V.toUpperCase()}`, '&team=Secret%20Team', '&team=(unmapped)']) {
      const r = await call(requests, `https://x/api/requests?month=2026-10${q}`, user);
      expect((r.jsonBody as { value: { id: string }[] }).value.map((i) => i.id).filter((id) => id !== 'u1')).toEqual([]);
    }
    for (const groupBy of ['identity', 'team', 'costCenter', 'model', 'deployment']) {
      const c = await call(chargeback, `https://x/api/chargeback?month=2026-10&groupBy=${groupBy}`, user);
      expect((c.jsonBody as { totals: { requests: number } }).totals.requests).toBe(1);
      expect(JSON.stringify(c.jsonBody)).not.toContain('Secret Team');
    }
    const focus = await call(chargeback, 'https://x/api/chargeback?month=2026-10&format=focus', user);
    expect(String(focus.body)).not.toContain(V);
    const csv = await call(chargeback, 'https://x/api/chargeback?month=2026-10&format=csv', user);
    expect(String(csv.body)).not.toContain(V);
  });

  it('cannot trace another identity\'s request by any id or spelling', async () => {
    const user = await issuer.issue({ oid: U, roles: [] });
    for (const id of ['v1', 'V1', 'gw-v1', 'GW-V1', 'apim-v1', 'APIM-V1', 'deleg', 'key', 'app1']) {
      expect((await call(trace, `https://x/api/requests/${id}`, user, { params: { id } })).status).toBe(404);
    }
    expect((await call(trace, 'https://x/api/requests/u1', user, { params: { id: 'u1' } })).status).toBe(200);
  });

  it('an app-only token sees its object id and application id only; a delegated one of the same client app does not', async () => {
    const app = await issuer.issue({ oid: APP_OID, roles: [], appid: APP_ID, kind: 'app' });
    const r = await call(requests, 'https://x/api/requests?month=2026-10', app);
    expect((r.jsonBody as { value: { id: string }[] }).value.map((i) => i.id)).toEqual(['app1']);
    const delegated = await issuer.issue({ oid: U, roles: [], appid: APP_ID });
    const d = await call(requests, 'https://x/api/requests?month=2026-10', delegated);
    expect((d.jsonBody as { value: { id: string }[] }).value.map((i) => i.id)).toEqual(['u1']);
  });

  it('cannot read or change the directory', async () => {
    const user = await issuer.issue({ oid: U, roles: [APP_ROLES.operationsRead] });
    expect((await call(dir, 'https://x/api/directory', user)).status).toBe(403);
    expect((await call(dirEntry, `https://x/api/directory/${V}`, user, { params: { identity: V } })).status).toBe(403);
    const finance = await issuer.issue({ oid: U, roles: [APP_ROLES.chargebackReadAll] });
    for (const method of ['PUT', 'DELETE']) expect((await call(dirEntry, `https://x/api/directory/${V}`, finance, { method, params: { identity: V } })).status).toBe(403);
    expect((await call(dir, 'https://x/api/directory', finance, { method: 'POST' })).status).toBe(403);
  });

  it('rejects roles given as a string, a v1 issuer, another tenant and an expired token', async () => {
    const base = JSON.parse(Buffer.from((await issuer.issue({ oid: U, roles: [] })).split('.')[1]!, 'base64url').toString());
    const bad = [
      { ...base, roles: APP_ROLES.chargebackReadAll },
      { ...base, iss: `https://sts.windows.net/${issuer.tenantId}/`, appid: APP_ID, ver: '1.0' },
      { ...base, tid: '11111111-1111-4111-8111-111111111111' },
      { ...base, exp: Math.floor(Date.now() / 1000) - 120 },
    ];
    for (const claims of bad) expect((await call(chargeback, 'https://x/api/chargeback?month=2026-10', await issuer.signClaims(claims))).status).toBe(401);
  });
});
