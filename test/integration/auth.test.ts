import { createHmac, createPublicKey, type JsonWebKey } from 'node:crypto';
import functions from '@azure/functions';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { withAccess } from '../../functions/handlers/http-auth.js';
import { AuthenticationUnavailableError, createTokenValidator, entraEndpoints, type TokenValidator } from '../../src/adapters/auth/entra-token-validator.js';
import { APP_ROLES } from '../../src/contracts/access.js';
import { chargebackScope, type Principal } from '../../src/domain/access.js';
import { DEMO_PRINCIPALS, demoTokens, startTokenIssuer, type LocalTokenIssuer } from '../../src/local/token-issuer.js';

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly logs: string;
}

let issuer: LocalTokenIssuer;
let validator: TokenValidator;
let tokens: { finance: string; operator: string };
const seen: Principal[] = [];
/** Every token a test sent: no response or log line may contain any of them, or any of their segments. */
const sentTokens = new Set<string>();

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const segments = (token: string) => token.split('.');
const decodePayload = (token: string) => JSON.parse(Buffer.from(segments(token)[1]!, 'base64url').toString()) as Record<string, unknown>;

function routes(tokenValidator: () => TokenValidator) {
  const handler = async (_request: HttpRequest, _context: InvocationContext, principal: Principal): Promise<HttpResponseInit> => {
    seen.push(principal);
    return { status: 200, headers: { 'Cache-Control': 'public, max-age=600' }, jsonBody: { oid: principal.oid, scope: chargebackScope(principal) } };
  };
  return {
    chargeback: withAccess({ validator: tokenValidator }, handler),
    latency: withAccess({ validator: tokenValidator, role: APP_ROLES.operationsRead }, handler),
    financeOnly: withAccess({ validator: tokenValidator, role: APP_ROLES.chargebackReadAll }, handler),
  };
}

async function call(handler: Handler, authorization?: string): Promise<Reply> {
  const logLines: string[] = [];
  const context = new functions.InvocationContext({
    functionName: 'test',
    logHandler: (level, ...args) => logLines.push(`${level} ${args.map(String).join(' ')}`),
  });
  const request = new functions.HttpRequest({
    method: 'GET',
    url: 'http://localhost/api/chargeback',
    headers: authorization === undefined ? {} : { authorization },
  });
  const response = new functions.HttpResponse(await handler(request, context));
  const reply = { status: response.status, headers: response.headers, text: await response.text(), logs: logLines.join('\n') };
  const visible = [reply.text, reply.logs, ...[...reply.headers.entries()].flat()].join('\n');
  for (const token of sentTokens) {
    for (const part of segments(token).filter((s) => s.length >= 16)) expect(visible).not.toContain(part);
  }
  return reply;
}

function bearer(token: string): string {
  sentTokens.add(token);
  return `Bearer ${token}`;
}

/** A 401 with its reason; the challenge names no error for a request that carried no bearer token (RFC 6750 §3.1). */
function expectRejected(reply: Reply, reason: string, tokenGiven = true) {
  expect(reply.status).toBe(401);
  expect(reply.headers.get('www-authenticate')).toBe(tokenGiven ? `Bearer error="invalid_token", error_description="${reason}"` : 'Bearer');
  expect(JSON.parse(reply.text)).toEqual({ error: 'invalid_token', reason });
  expect(reply.headers.get('cache-control')).toBe('no-store');
  expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
}

async function validClaims(overrides: Record<string, unknown> = {}) {
  return { ...decodePayload(await issuer.issue({ oid: DEMO_PRINCIPALS.finance.oid, roles: [APP_ROLES.chargebackReadAll] })), ...overrides };
}

beforeAll(async () => {
  issuer = await startTokenIssuer();
  validator = createTokenValidator({ issuer: issuer.issuer, audience: issuer.audience, jwksUri: issuer.jwksUri, tenantId: issuer.tenantId });
  tokens = await demoTokens(issuer);
});

afterAll(async () => {
  await issuer?.stop();
});

describe('local token issuer', () => {
  it('serves the key set and OpenID configuration at Entra paths', async () => {
    const configuration = (await (await fetch(issuer.openIdConfigurationUri)).json()) as Record<string, unknown>;
    expect(configuration).toMatchObject({ issuer: issuer.issuer, jwks_uri: issuer.jwksUri });
    expect(issuer.issuer).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/${issuer.tenantId}/v2\\.0$`));
    expect(issuer.jwksUri).toBe(issuer.issuer.replace(/\/v2\.0$/, '/discovery/v2.0/keys'));
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: JWK[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', kid: issuer.keyId, alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('issues long-lived demo tokens with fixed oids and roles', () => {
    const finance = decodePayload(tokens.finance);
    const operator = decodePayload(tokens.operator);
    expect(finance).toMatchObject({ iss: issuer.issuer, aud: 'api://tokenledger', oid: DEMO_PRINCIPALS.finance.oid, roles: [APP_ROLES.chargebackReadAll, APP_ROLES.operationsRead] });
    expect(operator).toMatchObject({ oid: DEMO_PRINCIPALS.operator.oid, roles: [APP_ROLES.operationsRead] });
    expect((finance['exp'] as number) - (finance['iat'] as number)).toBe(12 * 3600);
    expect(JSON.parse(Buffer.from(segments(tokens.finance)[0]!, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: issuer.keyId });
  });
});

describe('withAccess over the local issuer', () => {
  const api = routes(() => validator);

  it('runs the handler for a valid finance token, with the caller as principal', async () => {
    const before = seen.length;
    const reply = await call(api.chargeback, bearer(tokens.finance));
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text)).toEqual({ oid: DEMO_PRINCIPALS.finance.oid, scope: 'all' });
    expect(seen.slice(before)).toEqual([
      { oid: DEMO_PRINCIPALS.finance.oid, tid: issuer.tenantId, appid: expect.any(String), kind: 'user', roles: [APP_ROLES.chargebackReadAll, APP_ROLES.operationsRead], name: DEMO_PRINCIPALS.finance.name },
    ]);
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('scopes an operator to their own rows and lets them through an Operations.Read route', async () => {
    const chargeback = await call(api.chargeback, bearer(tokens.operator));
    expect(JSON.parse(chargeback.text)).toEqual({ oid: DEMO_PRINCIPALS.operator.oid, scope: { identities: [DEMO_PRINCIPALS.operator.oid] } });
    expect((await call(api.latency, bearer(tokens.operator))).status).toBe(200);
    expect((await call(api.latency, bearer(tokens.finance))).status).toBe(200);
  });

  it('scopes an app-only caller to its object id and application id', async () => {
    const token = await issuer.issue({ oid: 'a1b2c3d4-0000-4000-8000-0000000000aa', appid: 'c0ffee00-0000-4000-8000-0000000000bb', kind: 'app', roles: [] });
    const reply = await call(api.chargeback, bearer(token));
    expect(JSON.parse(reply.text).scope).toEqual({ identities: ['a1b2c3d4-0000-4000-8000-0000000000aa', 'c0ffee00-0000-4000-8000-0000000000bb'] });
  });

  it('accepts the scheme in any case', async () => {
    expect((await call(api.chargeback, `bearer ${tokens.operator}`)).status).toBe(200);
  });

  it('answers 403 with the missing role, without running the handler', async () => {
    const before = seen.length;
    const reply = await call(api.financeOnly, bearer(tokens.operator));
    expect(reply.status).toBe(403);
    expect(JSON.parse(reply.text)).toEqual({ error: 'forbidden', reason: 'requires the app role Chargeback.ReadAll' });
    expect(reply.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope", error_description="requires the app role Chargeback.ReadAll"');
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(reply.logs).toContain(DEMO_PRINCIPALS.operator.oid);
    expect(seen.length).toBe(before);
  });

  it('answers 401 without an Authorization header', async () => {
    expectRejected(await call(api.chargeback), 'missing bearer token', false);
    expectRejected(await call(api.chargeback, '   '), 'missing bearer token', false);
  });

  it('answers 401 for another scheme or a malformed bearer credential', async () => {
    expectRejected(await call(api.chargeback, `Basic ${Buffer.from('finance:secret').toString('base64')}`), 'the Authorization scheme must be Bearer', false);
    expectRejected(await call(api.chargeback, 'Bearer'), 'malformed bearer token');
    expectRejected(await call(api.chargeback, `Bearer ${tokens.finance} ${tokens.operator}`), 'malformed bearer token');
    expectRejected(await call(api.chargeback, 'Bearer not-a-jwt'), 'the token is not a well-formed JWS compact serialization');
    expectRejected(await call(api.chargeback, `Bearer ${'a'.repeat(20_000)}`), 'the token is not a well-formed JWS compact serialization');
  });

  it('answers 401 for an expired token, but tolerates 60 s of clock skew', async () => {
    expectRejected(await call(api.chargeback, bearer(await issuer.issue({ oid: 'x', roles: [], expiresInSeconds: -3600 }))), 'the token has expired');
    expect((await call(api.chargeback, bearer(await issuer.issue({ oid: 'x', roles: [], expiresInSeconds: -30 })))).status).toBe(200);
  });

  it('answers 401 for a token that is not yet valid', async () => {
    expectRejected(await call(api.chargeback, bearer(await issuer.issue({ oid: 'x', roles: [], notBeforeInSeconds: 3600 }))), 'the token is not yet valid');
  });

  it('answers 401 for another audience', async () => {
    expectRejected(await call(api.chargeback, bearer(await issuer.issue({ oid: 'x', roles: [], audience: 'api://someone-else' }))), 'the token was issued for another audience');
  });

  it('answers 401 for another issuer, even when signed with the trusted key', async () => {
    const token = await issuer.issue({ oid: 'x', roles: [], issuer: `https://login.microsoftonline.com/${issuer.tenantId}/v2.0` });
    expectRejected(await call(api.chargeback, bearer(token)), 'the token was issued by an issuer that is not trusted');
  });

  it('answers 401 for another tenant', async () => {
    const token = await issuer.signClaims(await validClaims({ tid: 'ffffffff-0000-4000-8000-000000000000' }));
    expectRejected(await call(api.chargeback, bearer(token)), 'the token was issued for another tenant');
  });

  it('answers 401 for a token without exp, or without any subject', async () => {
    const { exp: _exp, ...withoutExpiry } = await validClaims();
    expectRejected(await call(api.chargeback, bearer(await issuer.signClaims(withoutExpiry))), 'the token lacks a required claim or has a malformed one');
    const { oid: _oid, sub: _sub, ...withoutSubject } = await validClaims();
    expectRejected(await call(api.chargeback, bearer(await issuer.signClaims(withoutSubject))), 'the token lacks a required claim or has a malformed one');
  });

  it('answers 401 for an unsigned alg:none token', async () => {
    const claims = await validClaims();
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64url({ alg, typ: 'JWT' })}.${b64url(claims)}.`;
      expectRejected(await call(api.chargeback, bearer(token)), 'the token is signed with an algorithm that is not allowed');
    }
    const withKid = `${b64url({ alg: 'none', typ: 'JWT', kid: issuer.keyId })}.${b64url(claims)}.`;
    expectRejected(await call(api.chargeback, bearer(withKid)), 'the token is signed with an algorithm that is not allowed');
  });

  it('answers 401 for HS256 tokens keyed with the issuer public key (algorithm confusion)', async () => {
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: JWK[] };
    const publicJwk = jwks.keys[0]!;
    const pem = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const secrets = [pem, pem.trim(), JSON.stringify(publicJwk), publicJwk.n!];
    const claims = await validClaims();
    for (const secret of secrets) {
      const signingInput = `${b64url({ alg: 'HS256', typ: 'JWT', kid: issuer.keyId })}.${b64url(claims)}`;
      const token = `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
      expectRejected(await call(api.chargeback, bearer(token)), 'the token is signed with an algorithm that is not allowed');
    }
  });

  it('answers 401 for a token signed by a key the issuer never published', async () => {
    const attacker = await generateKeyPair('RS256');
    const claims = await validClaims();
    const unknownKid = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'attacker-key' }).sign(attacker.privateKey);
    expectRejected(await call(api.chargeback, bearer(unknownKid)), 'the token is signed with a key that is not in the issuer key set');
    const borrowedKid = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: issuer.keyId }).sign(attacker.privateKey);
    expectRejected(await call(api.chargeback, bearer(borrowedKid)), 'the token signature is invalid');
  });

  it('answers 401 for a payload changed after signing', async () => {
    const [header, , signature] = segments(tokens.operator);
    const promoted = { ...decodePayload(tokens.operator), oid: DEMO_PRINCIPALS.finance.oid, roles: [APP_ROLES.chargebackReadAll] };
    expectRejected(await call(api.chargeback, bearer(`${header}.${b64url(promoted)}.${signature}`)), 'the token signature is invalid');
    expectRejected(await call(api.chargeback, bearer(`${header}.${segments(tokens.finance)[1]}.${signature}`)), 'the token signature is invalid');
  });

  it('never runs the handler for a rejected token', async () => {
    const before = seen.length;
    await call(api.latency, bearer(await issuer.issue({ oid: 'x', roles: [APP_ROLES.operationsRead], audience: 'api://other' })));
    await call(api.latency);
    expect(seen.length).toBe(before);
  });
});

describe('signing keys', () => {
  it('are fetched once and reused across requests', async () => {
    const fresh = createTokenValidator({ issuer: issuer.issuer, audience: issuer.audience, jwksUri: issuer.jwksUri });
    const api = routes(() => fresh);
    const before = issuer.jwksRequests;
    for (let i = 0; i < 5; i += 1) expect((await call(api.chargeback, bearer(tokens.operator))).status).toBe(200);
    expect(issuer.jwksRequests - before).toBe(1);
  });

  it('answer 503, not 401, when the key set cannot be fetched', async () => {
    const gone = await startTokenIssuer();
    const token = await gone.issue({ oid: 'x', roles: [] });
    await gone.stop();
    const unreachable = createTokenValidator({ issuer: gone.issuer, audience: gone.audience, jwksUri: gone.jwksUri, jwksTimeoutInMs: 2_000 });
    const reply = await call(routes(() => unreachable).chargeback, bearer(token));
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBe('30');
    expect(JSON.parse(reply.text)).toEqual({ error: 'temporarily_unavailable', reason: 'tokens cannot be validated right now' });
    expect(reply.headers.get('cache-control')).toBe('no-store');
  });

  // Microsoft identity platform, "Signing key rollover", best practices for keys metadata caching: "refreshes happening
  // every hour", keys kept "24 hours", "the system continues to operate with the last known good configuration if new
  // data cannot be fetched", and a fetch for an unknown key "no more frequently than 5mins".
  it('go on validating with the last keys downloaded when a refresh fails, for a day', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const source = await startTokenIssuer();
    let stopped = false;
    try {
      const validator = createTokenValidator({ issuer: source.issuer, audience: source.audience, jwksUri: source.jwksUri, jwksTimeoutInMs: 2_000 });
      const token = await source.issue({ oid: 'kept-keys', roles: [], expiresInSeconds: 48 * 3600 });
      await expect(validator.validate(token)).resolves.toMatchObject({ oid: 'kept-keys' });
      await source.stop();
      stopped = true;
      vi.setSystemTime(Date.now() + 2 * 3_600_000);
      await expect(validator.validate(token)).resolves.toMatchObject({ oid: 'kept-keys' });
      vi.setSystemTime(Date.now() + 23 * 3_600_000);
      await expect(validator.validate(token)).rejects.toBeInstanceOf(AuthenticationUnavailableError);
    } finally {
      vi.useRealTimers();
      if (!stopped) await source.stop();
    }
  });

  it('are fetched again for an unknown key no more often than every 5 minutes', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const validator = createTokenValidator({ issuer: issuer.issuer, audience: issuer.audience, jwksUri: issuer.jwksUri });
      await validator.validate(tokens.operator);
      const before = issuer.jwksRequests;
      const attacker = await generateKeyPair('RS256');
      const start = Date.now();
      for (let i = 1; i <= 10; i++) {
        vi.setSystemTime(start + i * 31_000);
        const forged = await new SignJWT(await validClaims()).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: `attacker-${i}` }).sign(attacker.privateKey);
        await expect(validator.validate(forged)).rejects.toMatchObject({ reason: 'unknown_key' });
      }
      expect(issuer.jwksRequests - before).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('createTokenValidator configuration', () => {
  const base = () => ({ issuer: issuer.issuer, audience: issuer.audience, jwksUri: issuer.jwksUri });

  it('refuses symmetric and unsigned algorithms', () => {
    expect(() => createTokenValidator({ ...base(), allowedAlgorithms: ['HS256'] })).toThrow(TypeError);
    expect(() => createTokenValidator({ ...base(), allowedAlgorithms: ['none'] })).toThrow(TypeError);
    expect(() => createTokenValidator({ ...base(), allowedAlgorithms: [] })).toThrow(TypeError);
  });

  it('refuses plain http key sets and issuers off loopback', () => {
    expect(() => createTokenValidator({ ...base(), jwksUri: 'http://login.example/keys' })).toThrow(TypeError);
    expect(() => createTokenValidator({ ...base(), issuer: 'http://login.example/t/v2.0' })).toThrow(TypeError);
    expect(() => createTokenValidator({ ...base(), audience: [] })).toThrow(TypeError);
  });

  it('derives Entra v2 endpoints from a tenant id, and refuses a domain name', () => {
    expect(entraEndpoints('72F988BF-0000-4000-8000-00000000D3E0')).toEqual({
      authority: 'https://login.microsoftonline.com/72f988bf-0000-4000-8000-00000000d3e0/v2.0',
      issuer: 'https://login.microsoftonline.com/72f988bf-0000-4000-8000-00000000d3e0/v2.0',
      jwksUri: 'https://login.microsoftonline.com/72f988bf-0000-4000-8000-00000000d3e0/discovery/v2.0/keys',
      tenantId: '72f988bf-0000-4000-8000-00000000d3e0',
    });
    expect(() => entraEndpoints('contoso.onmicrosoft.com')).toThrow(TypeError);
    // Azure China's tokens name login.partner.microsoftonline.cn, not its authority host, as issuer (its OpenID
    // configuration: Azure/azure-dev#5912); Azure Government's name its own.
    expect(entraEndpoints('72f988bf-0000-4000-8000-00000000d3e0', 'https://login.chinacloudapi.cn/')).toMatchObject({
      authority: 'https://login.chinacloudapi.cn/72f988bf-0000-4000-8000-00000000d3e0/v2.0',
      issuer: 'https://login.partner.microsoftonline.cn/72f988bf-0000-4000-8000-00000000d3e0/v2.0',
      jwksUri: 'https://login.chinacloudapi.cn/72f988bf-0000-4000-8000-00000000d3e0/discovery/v2.0/keys',
    });
    expect(entraEndpoints('72f988bf-0000-4000-8000-00000000d3e0', 'https://login.microsoftonline.us').issuer).toBe('https://login.microsoftonline.us/72f988bf-0000-4000-8000-00000000d3e0/v2.0');
    expect(() => createTokenValidator({ ...entraEndpoints('72f988bf-0000-4000-8000-00000000d3e0'), audience: 'api://tokenledger' })).not.toThrow();
  });
});
