import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import functions from '@azure/functions';
import { afterAll, describe, expect, it } from 'vitest';
import { accessNotice, accessView, parseSignInSettings } from '../../dashboards/web/src/model.js';
import { createDashboardHandler, DASHBOARD_CSP } from '../../functions/handlers/dashboard.js';
import { dashboardSignInFrom } from '../../src/config/composition-root.js';
import { loadSettings } from '../../src/config/settings.js';

const { HttpRequest } = functions;

const root = mkdtempSync(join(tmpdir(), 'tokenledger-dashboard-signin-'));
writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title>');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const token = (claims: Record<string, unknown>) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;
const get = (handler: ReturnType<typeof createDashboardHandler>, path: string) =>
  handler(new HttpRequest({ method: 'GET', url: `https://tokenledger.example/api/dashboard/${path}`, params: { path } }));
const header = (response: { headers?: unknown }, name: string) => new Headers(response.headers as ConstructorParameters<typeof Headers>[0]).get(name);

describe('dashboard sign-in settings and role-aware layout', () => {
  it('leads with cost for Chargeback.ReadAll, with operations for an operator, and with own usage otherwise', () => {
    expect(accessView(token({ roles: ['Chargeback.ReadAll', 'Operations.Read'] }))).toBe('finance');
    expect(accessView(token({ roles: ['Operations.Read'] }))).toBe('operations');
    expect(accessView(token({ roles: [] }))).toBe('own');
    expect(accessView(token({}))).toBe('own');
    expect(accessView('opaque')).toBeNull();
    expect(accessView(null)).toBeNull();
  });

  it('tells every caller without Chargeback.ReadAll, and only them, that they see only their own identity', () => {
    expect(accessNotice('finance')).toBeNull();
    expect(accessNotice(null)).toBeNull();
    for (const view of ['operations', 'own'] as const) {
      expect(accessNotice(view)).toBe("You see only your own identity's usage: your account does not have the Chargeback.ReadAll role.");
    }
  });

  it('derives the Entra ID authority and default scopes from the app settings, and none without a dashboard client id', () => {
    const base = { CosmosDB__accountEndpoint: 'https://cosmos.example:443/', AUTH_TENANT_ID: TENANT, AUTH_AUDIENCE: 'api://tokenledger' };
    expect(dashboardSignInFrom(loadSettings(base))).toBeNull();
    expect(dashboardSignInFrom(loadSettings({ ...base, DASHBOARD_CLIENT_ID: CLIENT }))).toEqual({
      authority: `https://login.microsoftonline.com/${TENANT}/v2.0`,
      clientId: CLIENT,
      scope: 'openid profile offline_access api://tokenledger/user_impersonation',
    });
    expect(dashboardSignInFrom(loadSettings({ ...base, DASHBOARD_CLIENT_ID: CLIENT, DASHBOARD_SCOPE: 'openid offline_access api://x/Read' }))?.scope).toBe('openid offline_access api://x/Read');
    expect(() => loadSettings({ ...base, DASHBOARD_CLIENT_ID: 'not-a-guid' })).toThrow();
  });

  it('serves the sign-in settings as config.json and lets the page call the authority origin and no other', async () => {
    const signIn = { authority: `https://login.microsoftonline.com/${TENANT}/v2.0`, clientId: CLIENT, scope: 'openid api://tokenledger/user_impersonation' };
    const handler = createDashboardHandler({ root: () => root, signIn: () => signIn });
    const config = await get(handler, 'config.json');
    expect(config.status).toBe(200);
    expect(config.jsonBody).toEqual({ signIn });
    expect(parseSignInSettings(config.jsonBody)).toEqual(signIn);
    const page = await get(handler, '');
    expect(header(page, 'content-security-policy')).toBe(DASHBOARD_CSP.replace("connect-src 'self'", "connect-src 'self' https://login.microsoftonline.com"));

    const unconfigured = createDashboardHandler({ root: () => root });
    const none = await get(unconfigured, 'config.json');
    expect(none.jsonBody).toEqual({ signIn: null });
    expect(parseSignInSettings(none.jsonBody)).toBeNull();
    expect(header(await get(unconfigured, ''), 'content-security-policy')).toBe(DASHBOARD_CSP);
  });

  it('refuses sign-in settings that are not an http(s) authority with a client id and scopes', async () => {
    expect(() => parseSignInSettings({ signIn: { authority: 'javascript:alert(1)', clientId: CLIENT, scope: 'openid' } })).toThrow(/authority/);
    expect(() => parseSignInSettings({ signIn: { authority: 'https://login.microsoftonline.com/x/v2.0', clientId: '', scope: 'openid' } })).toThrow(/clientId/);
    expect(() => parseSignInSettings({})).toThrow(/signIn/);
    const misconfigured = createDashboardHandler({ root: () => root, signIn: () => ({ authority: 'ftp://x', clientId: CLIENT, scope: 'openid' }) });
    await expect(get(misconfigured, '')).rejects.toThrow();
  });
});
