import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { APP_ROLES } from '../contracts/access.js';
import { createLocalOidcProvider, type LocalSignInUser } from './oidc-provider.js';

/**
 * A local stand-in for Microsoft Entra ID's token service, for the demo and tests: an RS256 key made at start, the
 * key set and OpenID configuration served over plain http on a free loopback port at Entra's paths, and v2-style
 * access tokens signed with that key. It signs whatever it is asked to: it exists only on loopback, never in Azure.
 * It also signs people in as Entra ID does for a single-page app (authorization code with PKCE, refresh tokens;
 * see oidc-provider.ts), its sign-in page listing `DEMO_PRINCIPALS`, so the dashboard's sign-in runs locally.
 */
export interface LocalTokenIssuer {
  /** `http://127.0.0.1:{port}/{tenant}/v2.0`, the `iss` of every token issued here. */
  readonly issuer: string;
  readonly jwksUri: string;
  readonly openIdConfigurationUri: string;
  readonly audience: string;
  readonly tenantId: string;
  /** The `kid` of the signing key. */
  readonly keyId: string;
  /** How many times the key set has been downloaded (lets tests prove that validators cache it). */
  readonly jwksRequests: number;
  issue(options: IssueTokenOptions): Promise<string>;
  /** Signs exactly these claims with the issuer's key and `kid`, adding none: for tokens that are wrong on purpose. */
  signClaims(claims: JWTPayload): Promise<string>;
  /** The OAuth 2.0 authorization endpoint (sign-in page listing `DEMO_PRINCIPALS`) and token endpoint. */
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  /** Lets a public client (the dashboard) sign users in, returning to exactly this redirect URI. */
  registerSignInClient(redirectUri: string, clientId?: string): void;
  /** How many refresh-token grants the token endpoint has served. */
  readonly refreshes: number;
  stop(): Promise<void>;
}

export interface LocalTokenIssuerOptions {
  /** Directory (tenant) id in the paths and the `tid` claim. */
  readonly tenantId?: string;
  /** `aud` of issued tokens. */
  readonly audience?: string;
  /** Lifetime of the access and ID tokens the sign-in flow issues; default one hour. */
  readonly signInTokenLifetimeSeconds?: number;
}

export interface IssueTokenOptions {
  readonly oid: string;
  /** App roles (`APP_ROLES`). */
  readonly roles: readonly string[];
  /** Client application id, emitted as `azp` (v2). */
  readonly appid?: string;
  readonly name?: string;
  /** `user` (default): a delegated token with `scp`; `app`: an app-only token with `idtyp: app`. */
  readonly kind?: 'user' | 'app';
  /** Lifetime from now, default one hour; negative for a token that has already expired. */
  readonly expiresInSeconds?: number;
  /** `nbf` relative to now, default 0; positive for a token that is not yet valid. */
  readonly notBeforeInSeconds?: number;
  /** Overrides the `aud` claim. */
  readonly audience?: string;
  /** Overrides the `iss` claim. */
  readonly issuer?: string;
}

export const DEFAULT_LOCAL_TENANT_ID = '72f988bf-0000-4000-8000-00000000d3e0';
export const DEFAULT_LOCAL_AUDIENCE = 'api://tokenledger';
/** The client application the demo callers sign in with. */
export const DEMO_CLIENT_APP_ID = '1b730954-0000-4000-8000-0000000de40a';
const DELEGATED_SCOPE = 'user_impersonation';

export async function startTokenIssuer(options: LocalTokenIssuerOptions = {}): Promise<LocalTokenIssuer> {
  const tenantId = options.tenantId ?? DEFAULT_LOCAL_TENANT_ID;
  const audience = options.audience ?? DEFAULT_LOCAL_AUDIENCE;
  if (!/^[A-Za-z0-9.-]{1,64}$/.test(tenantId)) throw new TypeError('tenantId must be a GUID or domain-like name');

  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk: JWK = await exportJWK(publicKey);
  const keyId = await calculateJwkThumbprint(publicJwk);
  const jwks = JSON.stringify({ keys: [{ ...publicJwk, kid: keyId, use: 'sig', alg: 'RS256' }] });

  let jwksRequests = 0;
  let openIdConfiguration = '';
  let issuer = '';
  const keysPath = `/${tenantId}/discovery/v2.0/keys`;
  const configurationPath = `/${tenantId}/v2.0/.well-known/openid-configuration`;
  const authorizePath = `/${tenantId}/oauth2/v2.0/authorize`;
  const tokenPath = `/${tenantId}/oauth2/v2.0/token`;
  const signClaims = (claims: JWTPayload) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: keyId }).sign(privateKey);
  const provider = createLocalOidcProvider({
    get issuer() {
      return issuer;
    },
    tenantId,
    authorizePath,
    tokenPath,
    users: Object.entries(DEMO_PRINCIPALS).map(([key, principal]): LocalSignInUser => ({ key, ...principal })),
    tokenLifetimeSeconds: options.signInTokenLifetimeSeconds ?? 3600,
    issueAccessToken: (user, clientId, expiresInSeconds) => issueToken({ oid: user.oid, name: user.name, roles: user.roles, appid: clientId, expiresInSeconds }),
    signIdToken: signClaims,
  });
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    void provider.handle(request, response, path).then((handled) => {
      if (!handled) serveDocument(request, response, path);
    });
  });
  const serveDocument = (request: IncomingMessage, response: ServerResponse, path: string) => {
    const body = request.method !== 'GET' ? null : path === keysPath ? (jwksRequests++, jwks) : path === configurationPath ? openIdConfiguration : null;
    if (body === null) {
      response.writeHead(request.method === 'GET' ? 404 : 405, { 'Content-Type': 'application/json' }).end('{"error":"not_found"}');
      return;
    }
    // Public documents: a single-page app reads them cross-origin, as it does Entra ID's.
    response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=86400', 'Access-Control-Allow-Origin': '*' }).end(body);
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = `${origin}/${tenantId}/v2.0`;
  const jwksUri = `${origin}${keysPath}`;
  openIdConfiguration = JSON.stringify({
    issuer,
    jwks_uri: jwksUri,
    authorization_endpoint: `${origin}${authorizePath}`,
    token_endpoint: `${origin}${tokenPath}`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    scopes_supported: ['openid', 'profile', 'offline_access', `${audience}/${DELEGATED_SCOPE}`],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'nonce', 'name', 'oid', 'tid', 'preferred_username', 'ver'],
  });

  function issueToken(token: IssueTokenOptions): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const kind = token.kind ?? 'user';
    const tokenAudience = token.audience ?? audience;
    const claims: JWTPayload = {
      aud: tokenAudience,
      iss: token.issuer ?? issuer,
      iat: now,
      nbf: now + (token.notBeforeInSeconds ?? 0),
      exp: now + (token.expiresInSeconds ?? 3600),
      ver: '2.0',
      tid: tenantId,
      oid: token.oid,
      // Entra's `sub` is pairwise: stable per caller and API, and different from `oid`.
      sub: createHash('sha256').update(`${token.oid}\n${tokenAudience}`).digest('base64url').slice(0, 43),
      azp: token.appid ?? DEMO_CLIENT_APP_ID,
      azpacr: '0',
      roles: [...token.roles],
      uti: randomUUID(),
      ...(kind === 'app' ? { idtyp: 'app' } : { scp: DELEGATED_SCOPE }),
      ...(token.name === undefined ? {} : { name: token.name }),
    };
    return signClaims(claims);
  }

  return {
    issuer,
    jwksUri,
    openIdConfigurationUri: `${origin}${configurationPath}`,
    audience,
    tenantId,
    keyId,
    get jwksRequests() {
      return jwksRequests;
    },
    issue: issueToken,
    signClaims,
    authorizationEndpoint: `${origin}${authorizePath}`,
    tokenEndpoint: `${origin}${tokenPath}`,
    registerSignInClient: (redirectUri, clientId = DEMO_CLIENT_APP_ID) => provider.registerClient(clientId, redirectUri),
    get refreshes() {
      return provider.refreshes;
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/**
 * The demo's callers, with fixed object ids so reports and dashboards can name them; the local sign-in page lists
 * them all. The team member holds no app role: the API shows them their own usage only.
 */
export const DEMO_PRINCIPALS = {
  finance: { oid: '0f1a7c3e-5b2d-4e8f-9a61-3c4d5e6f7a80', name: 'Demo Finance Analyst', roles: [APP_ROLES.chargebackReadAll, APP_ROLES.operationsRead] },
  operator: { oid: '4c9e2b71-8d3a-4f56-b0e2-7a1b2c3d4e5f', name: 'Demo Operator', roles: [APP_ROLES.operationsRead] },
  member: { oid: '9a3d5f10-2c4b-4e6d-8f70-1b2c3d4e5f60', name: 'Demo Team Member', roles: [] },
  admin: { oid: '5e8b1c2d-3f4a-4b6c-9d7e-0a1b2c3d4e5f', name: 'Demo Directory Admin', roles: [APP_ROLES.directoryWrite, APP_ROLES.chargebackReadAll] },
} as const;

const DEMO_TOKEN_LIFETIME_IN_SECONDS = 12 * 3600;

/** Long-lived (12 h) tokens for the demo callers: finance sees every chargeback row, the operator sees operations only. */
export async function demoTokens(issuer: Pick<LocalTokenIssuer, 'issue'>): Promise<{ readonly finance: string; readonly operator: string }> {
  const [finance, operator] = await Promise.all(
    [DEMO_PRINCIPALS.finance, DEMO_PRINCIPALS.operator].map((principal) =>
      issuer.issue({ ...principal, roles: [...principal.roles], expiresInSeconds: DEMO_TOKEN_LIFETIME_IN_SECONDS }),
    ),
  );
  return { finance: finance!, operator: operator! };
}
