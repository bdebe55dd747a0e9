import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenValidator } from '../../src/adapters/auth/entra-token-validator.js';
import { APP_ROLES } from '../../src/contracts/access.js';
import { DEMO_CLIENT_APP_ID, DEMO_PRINCIPALS, startTokenIssuer, type LocalTokenIssuer } from '../../src/local/token-issuer.js';

const REDIRECT_URI = 'http://127.0.0.1:7071/api/dashboard/';
const SCOPE = 'openid profile offline_access api://tokenledger/user_impersonation';

interface TokenReply {
  status: number;
  body: { access_token?: string; id_token?: string; refresh_token?: string; expires_in?: number; error?: string; error_description?: string };
  allowOrigin: string | null;
}

function decode(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

describe('local OpenID Connect provider', () => {
  let issuer: LocalTokenIssuer;

  const authorizeParams = (challenge: string, overrides: Record<string, string> = {}) =>
    new URLSearchParams({
      client_id: DEMO_CLIENT_APP_ID,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: SCOPE,
      state: 'state-1',
      nonce: 'nonce-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...overrides,
    });

  /** Picks `user` on the sign-in page; the code from the redirect back to the dashboard, or the redirect's error. */
  async function signIn(user: string, challenge: string, overrides: Record<string, string> = {}): Promise<URL> {
    const form = authorizeParams(challenge, overrides);
    form.set('user', user);
    const response = await fetch(issuer.authorizationEndpoint, { method: 'POST', body: form, redirect: 'manual' });
    expect(response.status).toBe(302);
    return new URL(response.headers.get('location')!);
  }

  async function token(form: Record<string, string>, origin = 'http://127.0.0.1:7071'): Promise<TokenReply> {
    const response = await fetch(issuer.tokenEndpoint, { method: 'POST', body: new URLSearchParams(form), headers: { origin } });
    return { status: response.status, body: (await response.json()) as TokenReply['body'], allowOrigin: response.headers.get('access-control-allow-origin') };
  }

  const redeem = (code: string, verifier: string, overrides: Record<string, string> = {}) =>
    token({ grant_type: 'authorization_code', client_id: DEMO_CLIENT_APP_ID, redirect_uri: REDIRECT_URI, code, code_verifier: verifier, ...overrides });

  beforeAll(async () => {
    issuer = await startTokenIssuer();
    issuer.registerSignInClient(REDIRECT_URI);
  });

  afterAll(async () => {
    await issuer?.stop();
  });

  it('publishes the authorization and token endpoints and S256 in its OpenID configuration, readable cross-origin', async () => {
    const response = await fetch(issuer.openIdConfigurationUri);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const configuration = (await response.json()) as Record<string, unknown>;
    expect(configuration).toMatchObject({
      issuer: issuer.issuer,
      authorization_endpoint: issuer.authorizationEndpoint,
      token_endpoint: issuer.tokenEndpoint,
      jwks_uri: issuer.jwksUri,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
    });
  });

  it('lists every demo user on the sign-in page, with request values escaped', async () => {
    const params = authorizeParams(pkce().challenge, { state: '"><script>alert(1)</script>' });
    const response = await fetch(`${issuer.authorizationEndpoint}?${params.toString()}`);
    expect(response.status).toBe(200);
    const html = await response.text();
    for (const key of Object.keys(DEMO_PRINCIPALS)) expect(html).toContain(`data-testid="sign-in-as-${key}"`);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&quot;&gt;&lt;script&gt;');
    expect(response.headers.get('content-security-policy')).toContain("form-action 'self' http://127.0.0.1:7071");
  });

  it('signs the finance user in: an access token for the API with their roles and an ID token for the client with the nonce', async () => {
    const { verifier, challenge } = pkce();
    const back = await signIn('finance', challenge);
    expect(back.origin + back.pathname).toBe(REDIRECT_URI);
    expect(back.searchParams.get('state')).toBe('state-1');
    const reply = await redeem(back.searchParams.get('code')!, verifier);
    expect(reply.status).toBe(200);
    expect(reply.allowOrigin).toBe('http://127.0.0.1:7071');
    const validator = createTokenValidator({ issuer: issuer.issuer, jwksUri: issuer.jwksUri, tenantId: issuer.tenantId, audience: issuer.audience });
    const claims = await validator.validate(reply.body.access_token!);
    expect(claims).toMatchObject({ oid: DEMO_PRINCIPALS.finance.oid, roles: [APP_ROLES.chargebackReadAll, APP_ROLES.operationsRead], appid: DEMO_CLIENT_APP_ID, kind: 'user' });
    expect(decode(reply.body.id_token!)).toMatchObject({ iss: issuer.issuer, aud: DEMO_CLIENT_APP_ID, nonce: 'nonce-1', name: DEMO_PRINCIPALS.finance.name });
    expect(reply.body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses a code whose verifier does not match its challenge', async () => {
    const back = await signIn('operator', pkce().challenge);
    const reply = await redeem(back.searchParams.get('code')!, pkce().verifier);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: 'invalid_grant', error_description: 'code_verifier does not match the code challenge' });
    expect(reply.body.access_token).toBeUndefined();
  });

  it('refuses a code the second time it is redeemed', async () => {
    const { verifier, challenge } = pkce();
    const code = (await signIn('operator', challenge)).searchParams.get('code')!;
    expect((await redeem(code, verifier)).status).toBe(200);
    const again = await redeem(code, verifier);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
  });

  it('refuses a redirect URI that is not registered exactly, without redirecting to it', async () => {
    for (const redirect of ['http://127.0.0.1:7071/api/dashboard', 'http://127.0.0.1:7071/api/dashboard/?x=1', 'http://evil.example/api/dashboard/']) {
      const response = await fetch(`${issuer.authorizationEndpoint}?${authorizeParams(pkce().challenge, { redirect_uri: redirect }).toString()}`, { redirect: 'manual' });
      expect({ redirect, status: response.status, location: response.headers.get('location') }).toEqual({ redirect, status: 400, location: null });
    }
    const unknownClient = await fetch(`${issuer.authorizationEndpoint}?${authorizeParams(pkce().challenge, { client_id: 'someone-else' }).toString()}`, { redirect: 'manual' });
    expect(unknownClient.status).toBe(400);
  });

  it('sends a request without S256 PKCE back to the client with an error and no code', async () => {
    const plain = await signIn('finance', pkce().challenge, { code_challenge_method: 'plain' });
    expect(plain.searchParams.get('error')).toBe('invalid_request');
    expect(plain.searchParams.get('code')).toBeNull();
    expect(plain.searchParams.get('state')).toBe('state-1');
    const token = await signIn('finance', pkce().challenge, { response_type: 'token' });
    expect(token.searchParams.get('error')).toBe('unsupported_response_type');
  });

  it('refuses a code redeemed with another redirect URI than it was issued for', async () => {
    const { verifier, challenge } = pkce();
    const code = (await signIn('finance', challenge)).searchParams.get('code')!;
    const reply = await redeem(code, verifier, { redirect_uri: 'http://127.0.0.1:7071/other/' });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('invalid_grant');
  });

  it('renews tokens with the refresh token once, rotating it, and refuses the used one', async () => {
    const { verifier, challenge } = pkce();
    const first = await redeem((await signIn('operator', challenge)).searchParams.get('code')!, verifier);
    const before = issuer.refreshes;
    const renewed = await token({ grant_type: 'refresh_token', client_id: DEMO_CLIENT_APP_ID, refresh_token: first.body.refresh_token!, scope: SCOPE });
    expect(renewed.status).toBe(200);
    expect(issuer.refreshes).toBe(before + 1);
    expect(decode(renewed.body.access_token!)).toMatchObject({ oid: DEMO_PRINCIPALS.operator.oid, roles: [APP_ROLES.operationsRead] });
    expect(decode(renewed.body.id_token!)['sub']).toBe(decode(first.body.id_token!)['sub']);
    expect(renewed.body.refresh_token).not.toBe(first.body.refresh_token);
    const reused = await token({ grant_type: 'refresh_token', client_id: DEMO_CLIENT_APP_ID, refresh_token: first.body.refresh_token! });
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');
  });

  it('allows the token endpoint cross-origin only to the registered redirect URI origin', async () => {
    const reply = await token({ grant_type: 'refresh_token', client_id: DEMO_CLIENT_APP_ID, refresh_token: 'x'.repeat(43) }, 'http://evil.example');
    expect(reply.status).toBe(400);
    expect(reply.allowOrigin).toBeNull();
  });
});
