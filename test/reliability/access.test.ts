import { createHmac, createPublicKey, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import functions from '@azure/functions';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import fc from 'fast-check';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardHandler, DASHBOARD_CSP } from '../../functions/handlers/dashboard.js';
import { withAccess } from '../../functions/handlers/http-auth.js';
import { readQueryFile } from '../../src/adapters/log-analytics/log-analytics-diagnostics-source.js';
import { createTokenValidator, type TokenValidator } from '../../src/adapters/auth/entra-token-validator.js';
import { APP_ROLES } from '../../src/contracts/access.js';
import { csvField, toCsv } from '../../src/domain/chargeback-formats.js';
import { bindQuery, kqlDatetime, kqlString, kqlStringList } from '../../src/domain/kql.js';
import { DEMO_PRINCIPALS, startTokenIssuer, type LocalTokenIssuer } from '../../src/local/token-issuer.js';
import { analyseKql } from '../support/kusto-language.js';
import { FileCounters } from './support/counters.js';
import { parseCsv } from '../support/csv.js';

const counters = new FileCounters('access.test.ts');

const INJECTIONS = [
  "'; DROP TABLE ledger; --",
  '" | union *',
  '\\" | union AzureDiagnostics //',
  '"; let x = 1; union *',
  '")) | take 1 //',
  "' or 1 == 1 //",
  '@"verbatim""',
  '```',
  '{id} {from}',
  '<script>alert(1)</script>',
  "=cmd|' /C calc'!A0",
  'line\nbreak | union *',
  '\r\n| union *',
  '\u2028| union *',
  '\u0000\u001f\u007f\u0085',
  '\ufeff| union *',
];

// ---- JWTs against the local token issuer and withAccess ----

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const decodePayload = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as JWTPayload;

interface Reply {
  readonly status: number;
  readonly text: string;
  readonly headers: Headers;
  readonly logs: string;
}

let handlerRuns = 0;
async function call(handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>, authorization: string | undefined): Promise<Reply> {
  const logs: string[] = [];
  const context = new functions.InvocationContext({ functionName: 'reliability', logHandler: (level, ...args) => logs.push(`${level} ${args.map(String).join(' ')}`) });
  const request = new functions.HttpRequest({ method: 'GET', url: 'http://localhost/api/chargeback', headers: authorization === undefined ? {} : { authorization } });
  const response = new functions.HttpResponse(await handler(request, context));
  return { status: response.status, text: await response.text(), headers: response.headers, logs: logs.join('\n') };
}

// ---- CSV ----

/** Characters that make a spreadsheet read a cell as a formula (OWASP WSTG-INPV-21, ASVS 5.0 V1.2.10): = + - @, their full-width forms, tab, CR, LF, NUL. */
const FORMULA_START = /^[=+\-@\t\r\n\0\uff1d\uff0b\uff0d\uff20]/;

describe('access and injection', () => {
  let issuer: LocalTokenIssuer;
  let validator: TokenValidator;
  afterAll(async () => {
    counters.save();
    await issuer?.stop();
  });
  beforeAll(async () => {
    issuer = await startTokenIssuer();
    validator = createTokenValidator({ issuer: issuer.issuer, audience: issuer.audience, jwksUri: issuer.jwksUri, tenantId: issuer.tenantId });
  });

  it('answers 401 or 403, never running the handler or echoing the token, for every bad token', async () => {
    const probe = async () => {
      handlerRuns++;
      return { status: 200, jsonBody: { secret: 'report rows' } };
    };
    const anyCaller = withAccess({ validator: () => validator }, probe);
    const financeOnly = withAccess({ validator: () => validator, role: APP_ROLES.chargebackReadAll }, probe);
    const operationsOnly = withAccess({ validator: () => validator, role: APP_ROLES.operationsRead }, probe);

    const valid = await issuer.issue({ oid: DEMO_PRINCIPALS.finance.oid, roles: [APP_ROLES.chargebackReadAll, APP_ROLES.operationsRead] });
    const claims = decodePayload(valid);
    const [header, payload, signature] = valid.split('.') as [string, string, string];
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: JWK[] };
    const publicJwk = jwks.keys[0]!;
    const pem = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const hs256 = (secret: string, headerFields: Record<string, unknown> = {}) => {
      const input = `${b64url({ alg: 'HS256', typ: 'JWT', kid: issuer.keyId, ...headerFields })}.${b64url(claims)}`;
      return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
    };
    const attacker = await generateKeyPair('RS256', { extractable: true });
    const attackerJwk = await exportJWK(attacker.publicKey);
    const signedByAttacker = (headerFields: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...headerFields }).sign(attacker.privateKey);
    const { exp: _exp, ...withoutExp } = claims;
    const { oid: _oid, sub: _sub, ...withoutSubject } = claims;

    const unauthenticated: [string, string | undefined][] = [
      ['no Authorization header', undefined],
      ['empty header', ''],
      ['Basic scheme', `Basic ${Buffer.from('finance:secret').toString('base64')}`],
      ['two tokens', `Bearer ${valid} ${valid}`],
      ['not a JWT', 'Bearer not-a-jwt'],
      ['oversized token', `Bearer ${'a'.repeat(20_000)}`],
      ['expired', `Bearer ${await issuer.issue({ oid: 'x', roles: [APP_ROLES.chargebackReadAll], expiresInSeconds: -3_600 })}`],
      ['not yet valid', `Bearer ${await issuer.issue({ oid: 'x', roles: [APP_ROLES.chargebackReadAll], notBeforeInSeconds: 3_600 })}`],
      ['wrong audience', `Bearer ${await issuer.issue({ oid: 'x', roles: [APP_ROLES.chargebackReadAll], audience: 'api://someone-else' })}`],
      ['wrong issuer, trusted key', `Bearer ${await issuer.issue({ oid: 'x', roles: [APP_ROLES.chargebackReadAll], issuer: `https://login.microsoftonline.com/${issuer.tenantId}/v2.0` })}`],
      ['issuer with a trailing slash', `Bearer ${await issuer.signClaims({ ...claims, iss: `${issuer.issuer}/` })}`],
      ['another tenant', `Bearer ${await issuer.signClaims({ ...claims, tid: 'ffffffff-0000-4000-8000-000000000000' })}`],
      ['no exp', `Bearer ${await issuer.signClaims(withoutExp)}`],
      ['exp as a string', `Bearer ${await issuer.signClaims({ ...claims, exp: String(claims.exp) as unknown as number })}`],
      ['no subject', `Bearer ${await issuer.signClaims(withoutSubject)}`],
      ...['none', 'None', 'NONE', 'nOnE'].map((alg): [string, string] => [`alg ${alg}`, `Bearer ${b64url({ alg, typ: 'JWT', kid: issuer.keyId })}.${b64url(claims)}.`]),
      ['alg none with a signature', `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.${signature}`],
      ['HS256 keyed with the PEM public key', `Bearer ${hs256(pem)}`],
      ['HS256 keyed with the trimmed PEM', `Bearer ${hs256(pem.trim())}`],
      ['HS256 keyed with the JWK', `Bearer ${hs256(JSON.stringify(publicJwk))}`],
      ['HS256 keyed with the modulus', `Bearer ${hs256(publicJwk.n!)}`],
      ['HS256 without kid', `Bearer ${hs256(pem, { kid: undefined })}`],
      ['unknown kid', `Bearer ${await signedByAttacker({ kid: 'attacker-key' })}`],
      ['borrowed kid, attacker key', `Bearer ${await signedByAttacker({ kid: issuer.keyId })}`],
      ['embedded attacker jwk', `Bearer ${await signedByAttacker({ jwk: attackerJwk })}`],
      ['attacker jku', `Bearer ${await signedByAttacker({ kid: 'k', jku: 'http://127.0.0.1:1/keys' })}`],
      ['kid path traversal', `Bearer ${await signedByAttacker({ kid: '../../../../dev/null' })}`],
      ['tampered payload (promoted roles)', `Bearer ${header}.${b64url({ ...decodePayload(await issuer.issue({ oid: 'x', roles: [] })), roles: [APP_ROLES.chargebackReadAll] })}.${signature}`],
      ['tampered payload (other oid)', `Bearer ${header}.${b64url({ ...claims, oid: DEMO_PRINCIPALS.operator.oid })}.${signature}`],
      ['tampered header (alg RS512)', `Bearer ${b64url({ alg: 'RS512', typ: 'JWT', kid: issuer.keyId })}.${payload}.${signature}`],
      ['signature stripped', `Bearer ${header}.${payload}.`],
      ['signature of another token', `Bearer ${header}.${payload}.${(await issuer.issue({ oid: 'y', roles: [] })).split('.')[2]}`],
    ];
    const forbidden: [string, string, typeof financeOnly][] = [
      ['missing role', await issuer.issue({ oid: DEMO_PRINCIPALS.operator.oid, roles: [APP_ROLES.operationsRead] }), financeOnly],
      ['no roles at all', await issuer.issue({ oid: 'x', roles: [] }), operationsOnly],
      ['role in another case', await issuer.issue({ oid: 'x', roles: ['chargeback.readall', 'CHARGEBACK.READALL'] }), financeOnly],
      ['role as a delegated scope', await issuer.signClaims({ ...claims, roles: [], scp: APP_ROLES.chargebackReadAll }), financeOnly],
      ['role with whitespace', await issuer.issue({ oid: 'x', roles: [` ${APP_ROLES.chargebackReadAll}`, `${APP_ROLES.chargebackReadAll} `] }), financeOnly],
      ['role of another app in a look-alike claim', await issuer.signClaims({ ...claims, roles: [], wids: [APP_ROLES.chargebackReadAll], groups: [APP_ROLES.chargebackReadAll] }), financeOnly],
    ];

    const before = handlerRuns;
    const wrong: string[] = [];
    const leaks: string[] = [];
    const check = (name: string, reply: Reply, status: number, token: string | undefined) => {
      if (reply.status !== status) wrong.push(`${name}: ${reply.status}, expected ${status}`);
      if (reply.headers.get('cache-control') !== 'no-store') wrong.push(`${name}: cacheable`);
      const visible = [reply.text, reply.logs, ...[...reply.headers.entries()].flat()].join('\n');
      for (const part of (token ?? '').replace(/^\S+ /, '').split(/[ .]/).filter((s) => s.length >= 16)) if (visible.includes(part)) leaks.push(name);
    };
    for (const [name, authorization] of unauthenticated) check(name, await call(anyCaller, authorization), 401, authorization);
    // 'role as a delegated scope' and the look-alike claims are valid tokens without the role: 403, not 401.
    for (const [name, token, route] of forbidden) check(name, await call(route, `Bearer ${token}`), 403, token);
    counters.add('inputs', unauthenticated.length + forbidden.length, 'jwt');

    // Controls: the same routes let the right tokens through.
    const allowed = [await call(anyCaller, `Bearer ${valid}`), await call(financeOnly, `Bearer ${valid}`), await call(operationsOnly, `bearer ${valid}`)];
    expect(wrong).toEqual([]);
    expect([...new Set(leaks)]).toEqual([]);
    expect(handlerRuns - before).toBe(allowed.length);
    expect(allowed.map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('keeps every hostile value one KQL string literal with its exact value (Kusto language service)', () => {
    const from = kqlDatetime(new Date('2026-11-20T10:00:00Z'));
    const to = kqlDatetime(new Date('2026-11-21T10:00:00Z'));
    const template = 'AzureDiagnostics\n| where CorrelationId == {id} and TimeGenerated > {from}\n| project CorrelationId, DurationMs\n| take 10';
    const baseline = analyseKql(bindQuery(template, { id: kqlString('plain'), from }));
    const usageQuery = readQueryFile('gateway-llm-usage.kql');
    const usageBaseline = (n: number) => analyseKql(bindQuery(usageQuery, { from, to, ids: kqlStringList(Array.from({ length: n }, (_, i) => `id-${i}`)) }));
    const problems: string[] = [];
    const checkValue = (value: string) => {
      const single = analyseKql(bindQuery(template, { id: kqlString(value), from }));
      if (JSON.stringify(single.strings) !== JSON.stringify([value]) || JSON.stringify(single.kinds) !== JSON.stringify(baseline.kinds) || single.statements !== baseline.statements || single.errors.length > 0) {
        problems.push(`kqlString ${JSON.stringify(value).slice(0, 80)}: ${JSON.stringify({ strings: single.strings, errors: single.errors }).slice(0, 200)}`);
      }
    };
    for (const value of INJECTIONS) checkValue(value);
    const listed = analyseKql(bindQuery(usageQuery, { from, to, ids: kqlStringList(INJECTIONS) }));
    const listBaseline = usageBaseline(INJECTIONS.length);
    expect(listed.strings).toEqual(INJECTIONS);
    expect(listed.kinds).toEqual(listBaseline.kinds);
    expect(listed.errors).toEqual([]);

    // Generated strings, lone surrogates included: a lone surrogate is refused (RangeError), anything else stays one literal.
    let generated = 0;
    let refused = 0;
    const anyUnit = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 12 }), fc.constantFrom(...INJECTIONS));
    fc.assert(
      fc.property(anyUnit, (value) => {
        generated++;
        if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)) {
          expect(() => kqlString(value)).toThrow(RangeError);
          refused++;
          return;
        }
        checkValue(value);
      }),
      { numRuns: 1_000, seed: 606 },
    );
    counters.add('inputs', INJECTIONS.length * 2 + generated, 'kql');
    counters.note('kql.lone-surrogates-refused', refused);
    expect(problems).toEqual([]);
    expect(refused).toBeGreaterThan(0);
  });

  it('keeps CSV cells from starting a formula and round-trips their text', () => {
    const problems: string[] = [];
    let cells = 0;
    const checkRow = (values: readonly (string | number | null)[]) => {
      const text = toCsv(['a', 'b'], [values]);
      let rows: string[][];
      try {
        rows = parseCsv(text);
      } catch (error) {
        problems.push(`${JSON.stringify(values).slice(0, 80)}: ${String(error)}`);
        return;
      }
      if (rows.length !== 2 || rows[1]!.length !== values.length) problems.push(`${JSON.stringify(values).slice(0, 80)}: ${rows.length} rows, ${rows[1]?.length} cells`);
      values.forEach((value, i) => {
        cells++;
        const cell = rows[1]?.[i] ?? '';
        if (typeof value === 'string') {
          if (FORMULA_START.test(cell)) problems.push(`${JSON.stringify(value)} became a formula cell ${JSON.stringify(cell)}`);
          // A formula start behind a ; gets an apostrophe too (Excel splits a .csv at ; in many locales).
          const inside = value.replace(/;(?="*[=+\-@\t\0\uff1d\uff0b\uff0d\uff20])/g, ";'");
          const expected = FORMULA_START.test(inside) ? `'${inside}` : inside;
          if (cell !== expected) problems.push(`${JSON.stringify(value)} read back as ${JSON.stringify(cell)}`);
        }
      });
    };
    const formulas = ['=1+1', "=cmd|' /C calc'!A0", '+1', '-1', '@SUM(A1:A2)', '\t=1', '\r=1', '=HYPERLINK("http://attacker.example","x")', '=1+1,=2+2', '"=1+1"', '=1\n=2', 'a\r\n=1', 'Search;=1+1', 'a;"@x"'];
    for (const value of [...formulas, ...INJECTIONS]) checkRow([value, csvField(value) === value ? 'plain' : 'escaped']);
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom(...formulas), fc.integer(), fc.constant(null)), { minLength: 2, maxLength: 2 }), (values) => {
        checkRow(values);
      }),
      { numRuns: 1_500, seed: 707 },
    );
    counters.add('inputs', cells, 'csv');
    expect(problems).toEqual([]);
  });

  it('builds the dashboard without HTML parsing of data, and serves it with a strict Content-Security-Policy', async () => {
    const web = fileURLToPath(new URL('../../dashboards/web/', import.meta.url));
    const sources = readdirSync(join(web, 'src')).filter((f) => f.endsWith('.ts')).map((f) => ({ file: f, text: readFileSync(join(web, 'src', f), 'utf8') }));
    expect(sources.length).toBeGreaterThan(0);
    const sinks = /\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\s*\(|new Function\b|createContextualFragment|DOMParser|srcdoc|javascript:|setTimeout\(\s*['"`]|\.(href|src|action)\s*=/;
    const findings = sources.flatMap(({ file, text }) => text.split('\n').flatMap((line, i) => (sinks.test(line.replace(/^\s*(\*|\/\/).*$/, '')) ? [`${file}:${i + 1}: ${line.trim()}`] : [])));
    // setAttribute only with names chosen in code (never from data).
    const attributes = sources.flatMap(({ file, text }) => [...text.matchAll(/setAttribute\(([^,]+),/g)].map((m) => `${file}: ${m[1]!.trim()}`)).filter((arg) => !/: ('[a-z-]+'|name === 'testid' \? 'data-testid' : name)$/.test(arg));
    const html = readFileSync(join(web, 'index.html'), 'utf8');
    const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|\sstyle\s*=/gi)].map((m) => m[0]);
    counters.add('inputs', sources.length + 1, 'dashboard-sources');
    expect(findings).toEqual([]);
    expect(attributes).toEqual([]);
    expect(inline).toEqual([]);

    const root = mkdtempSync(join(tmpdir(), 'tokenledger-dashboard-'));
    try {
      writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title>');
      const handler = createDashboardHandler({ root: () => root });
      const get = async (path: string) => {
        const request = new functions.HttpRequest({ method: 'GET', url: `http://localhost/api/dashboard/${path}`, params: { path } });
        return new functions.HttpResponse(await handler(request));
      };
      const replies = [await get(''), await get('index.html'), await get('missing.js'), await get('../../package.json'), await get('%2e%2e/package.json')];
      const missing = new functions.HttpResponse(await createDashboardHandler({ root: () => null })(new functions.HttpRequest({ method: 'GET', url: 'http://localhost/api/dashboard/', params: { path: '' } })));
      counters.add('inputs', replies.length + 1, 'dashboard-requests');
      expect(replies.map((r) => r.status)).toEqual([200, 200, 404, 404, 404]);
      expect(missing.status).toBe(503);
      for (const reply of [...replies, missing]) {
        const csp = reply.headers.get('content-security-policy') ?? '';
        expect(csp).toBe(DASHBOARD_CSP);
        expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
      }
      const directives = new Map(DASHBOARD_CSP.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
      expect(directives.get('script-src')).toEqual(["'self'"]);
      expect(directives.get('object-src')).toEqual(["'none'"]);
      expect(directives.get('base-uri')).toEqual(["'none'"]);
      expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
      expect(DASHBOARD_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*|data:|http:/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
