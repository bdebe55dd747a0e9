import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accessClaimsSchema, APP_ROLES } from '../../src/contracts/access.js';
import {
  canReadAllChargeback,
  canSeeIdentity,
  chargebackScope,
  principalFromClaims,
  requireRole,
  visibleRows,
  type Principal,
} from '../../src/domain/access.js';

const USER_OID = 'a1b2c3d4-0000-4000-8000-000000000001';
const APP_OID = 'a1b2c3d4-0000-4000-8000-000000000002';
const CLIENT_APP = 'c0ffee00-0000-4000-8000-000000000003';
const TENANT = '72f988bf-0000-4000-8000-00000000d3e0';

function principal(overrides: Partial<Principal> = {}): Principal {
  return { oid: USER_OID, tid: TENANT, appid: CLIENT_APP, kind: 'user', roles: [], name: 'Ada', ...overrides };
}

function claims(input: Record<string, unknown>) {
  return accessClaimsSchema.parse(input);
}

describe('accessClaimsSchema', () => {
  it('keeps the claims we use and strips the rest', () => {
    const parsed = claims({ oid: USER_OID, tid: TENANT, azp: CLIENT_APP, roles: [APP_ROLES.operationsRead], scp: 'user_impersonation', ipaddr: '10.0.0.1', groups: ['g'] });
    expect(parsed).toEqual({ oid: USER_OID, tid: TENANT, azp: CLIENT_APP, roles: [APP_ROLES.operationsRead], scp: 'user_impersonation' });
  });

  it('defaults roles to none', () => {
    expect(claims({ oid: USER_OID }).roles).toEqual([]);
  });

  it('refuses a token that names no subject', () => {
    expect(accessClaimsSchema.safeParse({ tid: TENANT, roles: [] }).success).toBe(false);
    expect(accessClaimsSchema.safeParse({ oid: '', roles: [] }).success).toBe(false);
    expect(accessClaimsSchema.safeParse({ sub: 'pairwise-subject' }).success).toBe(true);
  });

  it('refuses malformed roles', () => {
    expect(accessClaimsSchema.safeParse({ oid: USER_OID, roles: 'Chargeback.ReadAll' }).success).toBe(false);
    expect(accessClaimsSchema.safeParse({ oid: USER_OID, roles: [42] }).success).toBe(false);
  });
});

describe('principalFromClaims', () => {
  it('reads a v1 delegated token (appid, upn)', () => {
    const p = principalFromClaims(claims({ oid: USER_OID, tid: TENANT, appid: CLIENT_APP, upn: 'ada@contoso.example', scp: 'user_impersonation', roles: [APP_ROLES.chargebackReadAll] }));
    expect(p).toEqual({ oid: USER_OID, tid: TENANT, appid: CLIENT_APP, kind: 'user', roles: [APP_ROLES.chargebackReadAll], name: 'ada@contoso.example' });
  });

  it('reads a v2 delegated token (azp, name before preferred_username)', () => {
    const p = principalFromClaims(claims({ oid: USER_OID, azp: CLIENT_APP, name: 'Ada Lovelace', preferred_username: 'ada@contoso.example', scp: 'x' }));
    expect(p.appid).toBe(CLIENT_APP);
    expect(p.name).toBe('Ada Lovelace');
    expect(p.kind).toBe('user');
  });

  it('takes a token for app-only by its idtyp claim alone, never by a missing scp', () => {
    expect(principalFromClaims(claims({ oid: APP_OID, azp: CLIENT_APP, idtyp: 'app' })).kind).toBe('app');
    expect(principalFromClaims(claims({ oid: USER_OID, idtyp: 'user' })).kind).toBe('user');
    // learn.microsoft.com/entra/identity-platform/claims-validation, "Validate the actor": scp is missing from some
    // delegated tokens (roles instead), and only tokens of type app may be authorized by their azp or appid.
    const delegatedWithRoles = principalFromClaims(claims({ oid: USER_OID, sub: 'pairwise', azp: CLIENT_APP, roles: [APP_ROLES.operationsRead] }));
    expect(delegatedWithRoles.kind).toBe('user');
    expect(chargebackScope(delegatedWithRoles)).toEqual({ identities: [USER_OID] });
  });

  it('leaves oid null for a sub-only token and removes duplicate roles', () => {
    const p = principalFromClaims(claims({ sub: 'pairwise', scp: 'x', roles: ['A', 'A', 'B'] }));
    expect(p.oid).toBeNull();
    expect(p.roles).toEqual(['A', 'B']);
  });
});

describe('roles', () => {
  it('grants all chargeback rows only with Chargeback.ReadAll', () => {
    expect(canReadAllChargeback(principal({ roles: [APP_ROLES.chargebackReadAll] }))).toBe(true);
    expect(canReadAllChargeback(principal({ roles: [APP_ROLES.operationsRead] }))).toBe(false);
    expect(canReadAllChargeback(principal({ roles: ['chargeback.readall'] }))).toBe(false);
  });

  it('requireRole allows a caller with the role and names the missing role otherwise', () => {
    expect(requireRole(principal({ roles: [APP_ROLES.operationsRead] }), APP_ROLES.operationsRead)).toEqual({ ok: true });
    expect(requireRole(principal({ roles: [APP_ROLES.chargebackReadAll] }), APP_ROLES.operationsRead)).toEqual({
      ok: false,
      reason: 'requires the app role Operations.Read',
    });
    expect(requireRole(principal({ roles: [] }), APP_ROLES.chargebackReadAll).ok).toBe(false);
  });
});

describe('chargebackScope', () => {
  it('is everything for finance', () => {
    expect(chargebackScope(principal({ roles: [APP_ROLES.chargebackReadAll] }))).toBe('all');
  });

  it('is the own object id for a user, never the shared client application', () => {
    expect(chargebackScope(principal({ roles: [APP_ROLES.operationsRead] }))).toEqual({ identities: [USER_OID] });
  });

  it('adds the application id for an app-only caller', () => {
    expect(chargebackScope(principal({ oid: APP_OID, kind: 'app' }))).toEqual({ identities: [APP_OID, CLIENT_APP] });
  });

  it('is empty for a caller with neither an object id nor an own application id', () => {
    expect(chargebackScope(principal({ oid: null }))).toEqual({ identities: [] });
    expect(canSeeIdentity(chargebackScope(principal({ oid: null })), 'unattributed')).toBe(false);
  });

  it('filters report rows to the scope', () => {
    const rows = [{ identity: USER_OID }, { identity: APP_OID }, { identity: CLIENT_APP }, { identity: 'unattributed' }];
    expect(visibleRows(rows, chargebackScope(principal()), (r) => r.identity)).toEqual([{ identity: USER_OID }]);
    expect(visibleRows(rows, 'all', (r) => r.identity)).toEqual(rows);
  });

  it('never shows a caller without Chargeback.ReadAll a row keyed by anyone else (invariant 5)', () => {
    const key = fc.constantFrom(USER_OID, APP_OID, CLIENT_APP, 'sub-1', 'unattributed', 'other-oid');
    fc.assert(
      fc.property(
        fc.record({
          oid: fc.option(key, { nil: null }),
          appid: fc.option(key, { nil: null }),
          kind: fc.constantFrom('user' as const, 'app' as const),
          roles: fc.subarray([APP_ROLES.operationsRead, 'Other.Role', 'Chargeback.Read']),
        }),
        fc.array(key),
        (caller, keys) => {
          const p = principal(caller);
          const own = new Set([p.oid, p.kind === 'app' ? p.appid : null].filter((k): k is string => k !== null));
          const shown = visibleRows(keys, chargebackScope(p), (k) => k);
          expect(shown.every((k) => own.has(k))).toBe(true);
          expect(shown).toEqual(keys.filter((k) => own.has(k)));
        },
      ),
    );
  });
});
