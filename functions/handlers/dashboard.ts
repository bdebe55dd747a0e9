import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { findPackageDir } from '../../src/config/package-dirs.js';
import { dashboardSignInSchema, type DashboardSignIn } from '../../src/contracts/dashboard-sign-in.js';
import { noneMatchNames } from './entity-tags.js';

/** Where `npm run build:dashboard` writes the bundled page, relative to the package root. */
export const DASHBOARD_DIST = join('dashboards', 'web', 'dist');

/**
 * The page's Content Security Policy: every script, style, image, font and API call from this origin only, no
 * inline script or style, no plugins, no `<base>`, no form submissions (the token form is handled in script, so
 * a token can never end up in a URL), and no framing. With sign-in configured, the page may also call the
 * identity provider's origin (its OpenID configuration and token endpoint are fetched from script).
 */
export function dashboardCsp(authorityOrigin?: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    authorityOrigin === undefined ? "connect-src 'self'" : `connect-src 'self' ${authorityOrigin}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export const DASHBOARD_CSP = dashboardCsp();


const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** esbuild's `[name]-[hash]` file names: their content never changes, so browsers may keep them for a year. */
const HASHED_NAME = /-[A-Z0-9]{8}\.[a-z0-9]+(\.map)?$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** The page itself is always revalidated, so a new build's asset names are picked up at once. */
const REVALIDATE = 'no-cache';

interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly etag: string;
}

export interface DashboardHandlerOptions {
  /** The folder holding the built page; default: `dashboards/web/dist` of the package, null when it is missing. */
  readonly root?: () => string | null;
  /** The sign-in settings, null when sign-in is not configured (the page then offers only the pasted token). */
  readonly signIn?: () => DashboardSignIn | null;
}

/**
 * `GET /api/dashboard/{*path}`: the finance and operations dashboard, a static page (no data, no secrets) that
 * signs the caller in (or takes a pasted bearer token) and calls the HTTP API with it. `config.json` holds the
 * public sign-in settings. Only the files of the build output are served, each
 * by exact name from a list made once (so no path can reach outside it), with its content type, an ETag,
 * `Cache-Control`, `nosniff`, a strict Content-Security-Policy and, over HTTPS, HSTS. `/api/dashboard` redirects to
 * `/api/dashboard/` so the page's relative asset and API URLs resolve under the Functions route prefix.
 */
export function createDashboardHandler(options: DashboardHandlerOptions = {}) {
  const root = options.root ?? (() => findPackageDir(DASHBOARD_DIST));
  let assets: ReadonlyMap<string, Asset> | undefined;
  let signIn: DashboardSignIn | null | undefined;
  let csp = DASHBOARD_CSP;

  return async function dashboard(request: HttpRequest): Promise<HttpResponseInit> {
    if (signIn === undefined) {
      const configured = options.signIn?.() ?? null;
      signIn = configured === null ? null : dashboardSignInSchema.parse(configured);
      if (signIn !== null) csp = dashboardCsp(new URL(signIn.authority).origin);
    }
    const secure = new URL(request.url).protocol === 'https:';
    const secured = (response: HttpResponseInit) => withSecurityHeaders(response, csp, secure);
    const path = request.params['path'] ?? '';
    if (path === 'config.json') {
      return secured({ status: 200, headers: { 'Cache-Control': 'no-cache' }, jsonBody: { signIn } });
    }
    if (path === '') {
      const url = new URL(request.url);
      if (!url.pathname.endsWith('/')) {
        const last = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
        return secured({ status: 308, headers: { Location: `${last}/${url.search}`, 'Cache-Control': REVALIDATE } });
      }
    }
    if (assets === undefined) {
      const folder = root();
      if (folder === null) {
        return secured({
          status: 503,
          headers: { 'Cache-Control': 'no-store' },
          jsonBody: { error: 'not_built', reason: 'the dashboard is not built: run npm run build:dashboard' },
        });
      }
      assets = loadAssets(folder);
    }
    const asset = assets.get(path === '' ? 'index.html' : path);
    if (asset === undefined) return secured({ status: 404, headers: { 'Cache-Control': 'no-store' }, jsonBody: { error: 'not_found', reason: 'no such dashboard file' } });
    const headers = { 'Content-Type': asset.contentType, 'Cache-Control': asset.cacheControl, ETag: asset.etag };
    if (noneMatchNames(request.headers.get('if-none-match'), asset.etag)) return secured({ status: 304, headers });
    return secured({ status: 200, headers, body: asset.body });
  };
}

/** Every file under `folder` with a known content type, by its `/`-separated path relative to `folder`. */
function loadAssets(folder: string): ReadonlyMap<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const entry of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    const contentType = CONTENT_TYPES[extname(entry.name).toLowerCase()];
    if (contentType === undefined) continue;
    const name = relative(folder, file).split(sep).join('/');
    const body = readFileSync(file);
    assets.set(name, {
      body,
      contentType,
      cacheControl: name !== 'index.html' && HASHED_NAME.test(name) ? IMMUTABLE : REVALIDATE,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    });
  }
  return assets;
}

/** A year: browsers then reach the app over HTTPS only, even from an `http://` link (the app is `httpsOnly`). */
const STRICT_TRANSPORT_SECURITY = 'max-age=31536000';

function withSecurityHeaders(response: HttpResponseInit, csp: string, secure: boolean): HttpResponseInit {
  const headers = new Headers(response.headers);
  // RFC 6797 7.2: sent over HTTPS only (the local stack serves plain HTTP on 127.0.0.1).
  if (secure) headers.set('Strict-Transport-Security', STRICT_TRANSPORT_SECURITY);
  headers.set('X-Content-Type-Options', 'nosniff');
  headers.set('Content-Security-Policy', csp);
  headers.set('Referrer-Policy', 'no-referrer');
  headers.set('X-Frame-Options', 'DENY');
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return { ...response, headers };
}
