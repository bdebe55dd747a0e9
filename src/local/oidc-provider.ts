import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The sign-in half of the local token issuer: OAuth 2.0 authorization code with PKCE (RFC 7636, S256 only) and
 * refresh tokens, for public clients (no client secret), at Entra ID's v2.0 paths. The sign-in page lists the demo
 * users; picking one is the whole sign-in. Codes are one-time and short-lived; refresh tokens are rotated on use,
 * as Entra ID does for single-page apps. Loopback only, never in Azure.
 */
export interface LocalSignInUser {
  /** Stable key the sign-in page submits (`finance`, `operator`, …). */
  readonly key: string;
  readonly oid: string;
  readonly name: string;
  readonly roles: readonly string[];
}

export interface LocalOidcProviderOptions {
  readonly issuer: string;
  readonly tenantId: string;
  readonly authorizePath: string;
  readonly tokenPath: string;
  readonly users: readonly LocalSignInUser[];
  /** Lifetime of access and ID tokens issued at sign-in and refresh. */
  readonly tokenLifetimeSeconds: number;
  readonly issueAccessToken: (user: LocalSignInUser, clientId: string, expiresInSeconds: number) => Promise<string>;
  readonly signIdToken: (claims: Record<string, unknown>) => Promise<string>;
}

export interface LocalOidcProvider {
  /** Registers a public client and one exact redirect URI it may use (an app registration's "SPA" platform). */
  registerClient(clientId: string, redirectUri: string): void;
  /** Answers the request when its path is the authorization or token endpoint; false otherwise. */
  handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean>;
  /** How many refresh-token grants have been served (lets tests observe silent renewal). */
  readonly refreshes: number;
}

const CODE_LIFETIME_MS = 60_000;
const MAX_BODY_BYTES = 16 * 1024;
const MAX_PARAM_LENGTH = 2048;
/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

interface Grant {
  readonly clientId: string;
  readonly user: LocalSignInUser;
  readonly scope: string;
}

interface PendingCode extends Grant {
  readonly redirectUri: string;
  readonly challenge: string;
  readonly nonce: string | undefined;
  readonly expiresAt: number;
}

interface AuthorizeRequest {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly state: string;
  readonly nonce: string | undefined;
  readonly scope: string;
  readonly challenge: string;
}

class OAuthError extends Error {
  constructor(
    readonly code: string,
    description: string,
  ) {
    super(description);
  }
}

export function createLocalOidcProvider(options: LocalOidcProviderOptions): LocalOidcProvider {
  const clients = new Map<string, Set<string>>();
  const codes = new Map<string, PendingCode>();
  const refreshTokens = new Map<string, Grant>();
  let refreshes = 0;

  const allowedOrigins = () => new Set([...clients.values()].flatMap((uris) => [...uris].map((uri) => new URL(uri).origin)));

  /** client_id and redirect_uri first: when either is wrong, nothing may be sent to that redirect URI (RFC 6749 §4.1.2.1). */
  function client(params: URLSearchParams): { clientId: string; redirectUri: string } | string {
    const clientId = params.get('client_id') ?? '';
    const redirectUri = params.get('redirect_uri') ?? '';
    const registered = clients.get(clientId);
    if (registered === undefined) return 'unknown client_id';
    if (!registered.has(redirectUri)) return 'redirect_uri is not registered for this client';
    return { clientId, redirectUri };
  }

  function authorizeRequest(params: URLSearchParams, known: { clientId: string; redirectUri: string }): AuthorizeRequest {
    for (const [name, value] of params) if (value.length > MAX_PARAM_LENGTH) throw new OAuthError('invalid_request', `${name} is too long`);
    if (params.get('response_type') !== 'code') throw new OAuthError('unsupported_response_type', 'response_type must be code');
    if (params.get('code_challenge_method') !== 'S256') throw new OAuthError('invalid_request', 'code_challenge_method must be S256');
    const challenge = params.get('code_challenge') ?? '';
    if (!S256_CHALLENGE.test(challenge)) throw new OAuthError('invalid_request', 'code_challenge must be a base64url SHA-256 digest');
    const state = params.get('state') ?? '';
    if (state === '') throw new OAuthError('invalid_request', 'state is required');
    const scope = params.get('scope') ?? '';
    if (!scope.split(' ').includes('openid')) throw new OAuthError('invalid_scope', 'scope must include openid');
    const nonce = params.get('nonce') ?? undefined;
    return { ...known, state, nonce: nonce === '' ? undefined : nonce, scope, challenge };
  }

  async function tokens(grant: Grant, nonce: string | undefined): Promise<Record<string, unknown>> {
    const now = Math.floor(Date.now() / 1000);
    const lifetime = options.tokenLifetimeSeconds;
    const idToken = await options.signIdToken({
      iss: options.issuer,
      aud: grant.clientId,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      ver: '2.0',
      tid: options.tenantId,
      oid: grant.user.oid,
      // The ID token's `sub` is pairwise per client application.
      sub: createHash('sha256').update(`${grant.user.oid}\n${grant.clientId}`).digest('base64url').slice(0, 43),
      name: grant.user.name,
      preferred_username: `${grant.user.key}@tokenledger.invalid`,
      ...(nonce === undefined ? {} : { nonce }),
    });
    const body: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: grant.scope,
      expires_in: lifetime,
      access_token: await options.issueAccessToken(grant.user, grant.clientId, lifetime),
      id_token: idToken,
    };
    if (grant.scope.split(' ').includes('offline_access')) {
      const refreshToken = randomBytes(32).toString('base64url');
      refreshTokens.set(refreshToken, grant);
      body['refresh_token'] = refreshToken;
    }
    return body;
  }

  function redeemCode(form: URLSearchParams): Promise<Record<string, unknown>> {
    const code = form.get('code') ?? '';
    const pending = codes.get(code);
    // One use only, whatever the outcome (RFC 6749 §4.1.2).
    codes.delete(code);
    if (pending === undefined || pending.expiresAt < Date.now()) throw new OAuthError('invalid_grant', 'the code is unknown, used or expired');
    if (form.get('client_id') !== pending.clientId) throw new OAuthError('invalid_grant', 'the code was issued to another client');
    if (form.get('redirect_uri') !== pending.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri differs from the authorization request');
    const verifier = form.get('code_verifier') ?? '';
    if (!CODE_VERIFIER.test(verifier)) throw new OAuthError('invalid_request', 'code_verifier is missing or malformed');
    if (createHash('sha256').update(verifier).digest('base64url') !== pending.challenge) throw new OAuthError('invalid_grant', 'code_verifier does not match the code challenge');
    return tokens(pending, pending.nonce);
  }

  function redeemRefreshToken(form: URLSearchParams): Promise<Record<string, unknown>> {
    const token = form.get('refresh_token') ?? '';
    const grant = refreshTokens.get(token);
    refreshTokens.delete(token);
    if (grant === undefined) throw new OAuthError('invalid_grant', 'the refresh token is unknown or already used');
    if (form.get('client_id') !== grant.clientId) throw new OAuthError('invalid_grant', 'the refresh token was issued to another client');
    refreshes++;
    return tokens(grant, undefined);
  }

  async function authorize(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const params = request.method === 'POST' ? new URLSearchParams(await readBody(request)) : url.searchParams;
    const known = client(params);
    if (typeof known === 'string') {
      sendPage(response, 400, errorPage(known), []);
      return;
    }
    let authorizeParams: AuthorizeRequest;
    try {
      authorizeParams = authorizeRequest(params, known);
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      const back = new URL(known.redirectUri);
      back.searchParams.set('error', error.code);
      back.searchParams.set('error_description', error.message);
      const state = params.get('state');
      if (state) back.searchParams.set('state', state);
      response.writeHead(302, { Location: back.toString(), 'Cache-Control': 'no-store' }).end();
      return;
    }
    const redirectOrigin = new URL(known.redirectUri).origin;
    if (request.method !== 'POST') {
      sendPage(response, 200, signInPage(options.authorizePath, params, options.users), [redirectOrigin]);
      return;
    }
    const user = options.users.find((u) => u.key === params.get('user'));
    if (user === undefined) {
      sendPage(response, 400, errorPage('pick one of the listed users'), []);
      return;
    }
    const code = randomBytes(32).toString('base64url');
    codes.set(code, {
      clientId: authorizeParams.clientId,
      redirectUri: authorizeParams.redirectUri,
      challenge: authorizeParams.challenge,
      nonce: authorizeParams.nonce,
      scope: authorizeParams.scope,
      user,
      expiresAt: Date.now() + CODE_LIFETIME_MS,
    });
    const back = new URL(authorizeParams.redirectUri);
    back.searchParams.set('code', code);
    back.searchParams.set('state', authorizeParams.state);
    response.writeHead(302, { Location: back.toString(), 'Cache-Control': 'no-store' }).end();
  }

  async function token(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const origin = request.headers.origin;
    const cors: Record<string, string> = { Vary: 'Origin' };
    if (origin !== undefined && allowedOrigins().has(origin)) cors['Access-Control-Allow-Origin'] = origin;
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { ...cors, 'Access-Control-Allow-Methods': 'POST', 'Access-Control-Allow-Headers': 'Content-Type, Accept', 'Access-Control-Max-Age': '600' }).end();
      return;
    }
    const json = (status: number, body: unknown) =>
      response.writeHead(status, { ...cors, 'Content-Type': 'application/json', 'Cache-Control': 'no-store', Pragma: 'no-cache' }).end(JSON.stringify(body));
    if (request.method !== 'POST') {
      json(405, { error: 'invalid_request', error_description: 'POST the token request' });
      return;
    }
    try {
      const form = new URLSearchParams(await readBody(request));
      const grantType = form.get('grant_type');
      if (grantType === 'authorization_code') json(200, await redeemCode(form));
      else if (grantType === 'refresh_token') json(200, await redeemRefreshToken(form));
      else throw new OAuthError('unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      json(400, { error: error.code, error_description: error.message });
    }
  }

  return {
    registerClient(clientId, redirectUri) {
      const parsed = new URL(redirectUri);
      if (parsed.hash !== '' || !['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) throw new TypeError('a local redirect URI is a loopback URL without a fragment');
      const uris = clients.get(clientId) ?? new Set<string>();
      uris.add(redirectUri);
      clients.set(clientId, uris);
    },
    async handle(request, response, path) {
      if (path !== options.authorizePath && path !== options.tokenPath) return false;
      const url = new URL(request.url ?? '/', 'http://localhost');
      try {
        if (path === options.tokenPath) await token(request, response);
        else if (request.method === 'GET' || request.method === 'POST') await authorize(request, response, url);
        else response.writeHead(405, { Allow: 'GET, POST' }).end();
      } catch (error) {
        if (!response.headersSent) response.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end((error as Error).message);
      }
      return true;
    },
    get refreshes() {
      return refreshes;
    },
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** The parameters the sign-in form carries back to the authorization endpoint on POST. */
const FORWARDED = ['client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'response_mode'] as const;

function signInPage(action: string, params: URLSearchParams, users: readonly LocalSignInUser[]): string {
  const hidden = FORWARDED.filter((name) => params.has(name))
    .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params.get(name)!)}">`)
    .join('');
  const buttons = users
    .map(
      (user) =>
        `<li><button type="submit" name="user" value="${escapeHtml(user.key)}" data-testid="sign-in-as-${escapeHtml(user.key)}">${escapeHtml(user.name)}</button> <span>${escapeHtml(user.roles.length === 0 ? 'no app role' : user.roles.join(', '))}</span></li>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in to TokenLedger (local)</title></head><body><h1>Sign in (local demo directory)</h1><p>Pick a demo user. This page stands in for Microsoft Entra ID on this machine only.</p><form method="post" action="${escapeHtml(action)}">${hidden}<ul>${buttons}</ul></form></body></html>`;
}

function errorPage(reason: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in refused</title></head><body><h1>Sign-in refused</h1><p data-testid="sign-in-error">${escapeHtml(reason)}</p></body></html>`;
}

/** No script, no style; the form may post here and, through the redirect that follows, to the client's origin. */
function sendPage(response: ServerResponse, status: number, html: string, formTargets: readonly string[]): void {
  response
    .writeHead(status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': ["default-src 'none'", `form-action 'self'${formTargets.map((o) => ` ${o}`).join('')}`, "base-uri 'none'", "frame-ancestors 'none'"].join('; '),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    })
    .end(html);
}
