import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import functions from '@azure/functions';
import { afterAll, describe, expect, it } from 'vitest';
import { createDashboardHandler, DASHBOARD_CSP } from '../../functions/handlers/dashboard.js';

const { HttpRequest } = functions;

const root = mkdtempSync(join(tmpdir(), 'tokenledger-dashboard-'));
mkdirSync(join(root, 'fonts'));
writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title><script src="./app-ABCDEFGH.js" defer></script>');
writeFileSync(join(root, 'app-ABCDEFGH.js'), 'console.log(1)');
writeFileSync(join(root, 'app-ABCDEFGH.js.map'), '{}');
writeFileSync(join(root, 'app-QRSTUVWX.css'), 'body{}');
writeFileSync(join(root, 'fonts', 'inter-ABCDEFGH.woff2'), 'woff2');
writeFileSync(join(root, 'notes.md'), '# not served');
writeFileSync(join(root, 'secrets.env'), 'KEY=1');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const handler = createDashboardHandler({ root: () => root });
const get = (pathname: string, path: string | undefined, headers: Record<string, string> = {}) =>
  handler(new HttpRequest({ method: 'GET', url: `https://tokenledger.example${pathname}`, headers, ...(path === undefined ? {} : { params: { path } }) }));
const header = (response: { headers?: unknown }, name: string) => new Headers(response.headers as ConstructorParameters<typeof Headers>[0]).get(name);

describe('dashboard function', () => {
  it('serves the page at the folder URL with a strict CSP, nosniff, HSTS and revalidation', async () => {
    const response = await get('/api/dashboard/', '');
    expect(header(response, 'strict-transport-security')).toBe('max-age=31536000');
    expect(response.status).toBe(200);
    expect(String(response.body)).toContain('<title>t</title>');
    expect(header(response, 'content-type')).toBe('text/html; charset=utf-8');
    expect(header(response, 'cache-control')).toBe('no-cache');
    expect(header(response, 'x-content-type-options')).toBe('nosniff');
    expect(header(response, 'content-security-policy')).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toMatch(/default-src 'self'/);
    expect(DASHBOARD_CSP).toMatch(/script-src 'self'(;|$)/);
    expect(DASHBOARD_CSP).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(header(response, 'etag')).toMatch(/^"[A-Za-z0-9_-]+"$/);
  });

  it('sends no HSTS over plain HTTP, where browsers ignore it (the local stack)', async () => {
    const response = await handler(new HttpRequest({ method: 'GET', url: 'http://127.0.0.1:7071/api/dashboard/', params: { path: '' } }));
    expect(response.status).toBe(200);
    expect(header(response, 'strict-transport-security')).toBeNull();
    expect(header(response, 'x-content-type-options')).toBe('nosniff');
  });

  it('redirects the bare route to the folder URL so relative asset and API URLs resolve under the route prefix', async () => {
    const response = await get('/api/dashboard', '', {});
    expect(response.status).toBe(308);
    expect(header(response, 'location')).toBe('dashboard/');
    const withQuery = await get('/api/dashboard?from=2026-10-01&to=2026-11-01', undefined);
    expect(header(withQuery, 'location')).toBe('dashboard/?from=2026-10-01&to=2026-11-01');
  });

  it('serves hashed assets with their content types as immutable', async () => {
    const js = await get('/api/dashboard/app-ABCDEFGH.js', 'app-ABCDEFGH.js');
    expect(js.status).toBe(200);
    expect(header(js, 'content-type')).toBe('text/javascript; charset=utf-8');
    expect(header(js, 'cache-control')).toBe('public, max-age=31536000, immutable');
    expect(header(js, 'x-content-type-options')).toBe('nosniff');
    expect(header(await get('/api/dashboard/app-QRSTUVWX.css', 'app-QRSTUVWX.css'), 'content-type')).toBe('text/css; charset=utf-8');
    expect(header(await get('/api/dashboard/app-ABCDEFGH.js.map', 'app-ABCDEFGH.js.map'), 'content-type')).toBe('application/json; charset=utf-8');
    expect(header(await get('/api/dashboard/fonts/inter-ABCDEFGH.woff2', 'fonts/inter-ABCDEFGH.woff2'), 'content-type')).toBe('font/woff2');
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await get('/api/dashboard/app-ABCDEFGH.js', 'app-ABCDEFGH.js');
    const etag = header(first, 'etag')!;
    const again = await get('/api/dashboard/app-ABCDEFGH.js', 'app-ABCDEFGH.js', { 'if-none-match': `W/${etag}` });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();
  });

  it.each([
    ['../package.json'],
    ['..\\package.json'],
    ['/etc/passwd'],
    ['fonts/../index.html'],
    ['./index.html'],
    ['notes.md'],
    ['secrets.env'],
    ['INDEX.HTML'],
    ['index.html\u0000.js'],
  ])('answers 404 with the security headers for %j, which is not a file of the build', async (path) => {
    const response = await get(`/api/dashboard/${encodeURIComponent(path)}`, path);
    expect(response.status).toBe(404);
    expect(header(response, 'x-content-type-options')).toBe('nosniff');
    expect(header(response, 'content-security-policy')).toBe(DASHBOARD_CSP);
  });

  it('answers 503 with the reason when the dashboard has not been built', async () => {
    const unbuilt = createDashboardHandler({ root: () => null });
    const response = await unbuilt(new HttpRequest({ method: 'GET', url: 'https://tokenledger.example/api/dashboard/', params: { path: '' } }));
    expect(response.status).toBe(503);
    expect(response.jsonBody).toEqual({ error: 'not_built', reason: expect.stringContaining('npm run build:dashboard') });
  });
});
