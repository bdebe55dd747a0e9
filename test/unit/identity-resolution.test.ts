/**
 * The report key of a request from its token's claims, as the gateway policy copies them. `appid`/`azp` names the
 * client application; it is the caller only in an app-only token (learn.microsoft.com/entra/identity-platform/
 * claims-validation, "Validate the actor": "Only tokens of type app can be authorized this way"). A user's token
 * lacks `oid` when the client asked for it without the `profile` scope (access-token-claims-reference, `oid`).
 */
import { describe, expect, it } from 'vitest';
import { accessClaimsSchema } from '../../src/contracts/access.js';
import { canSeeIdentity, chargebackScope, principalFromClaims } from '../../src/domain/access.js';
import { resolveIdentity } from '../../src/domain/identity.js';
import { ledgerEntry, noCaller } from '../support/ledger-entries.js';

const CLIENT = '5a3c2b1d-7e8f-4a6b-9c0d-1e2f3a4b5c6d';
const CLIENT_SERVICE_PRINCIPAL = '0b9e8d7c-6f5a-4b3c-8d2e-1f0a9b8c7d6e';
const USER = '6e0ac2b1-86f1-4d5c-9a1a-3c4b2c1e0f11';

describe('resolveIdentity, caller by caller', () => {
  it("charges a user's call without oid to the subscription APIM checked, not to the client application acting for the user", () => {
    const delegated = { ...noCaller, appid: CLIENT, idtyp: 'user' as const, sub: 'pairwise-subject' };
    expect(resolveIdentity(ledgerEntry({ caller: delegated, subscriptionId: 'team-a' }))).toEqual({ key: 'team-a', kind: 'apimSubscription', via: 'subscription' });
    expect(resolveIdentity(ledgerEntry({ caller: { ...delegated, idtyp: null, upn: 'alice@contoso.com' }, subscriptionId: null }))).toEqual({ key: 'unattributed', kind: 'unattributed', via: 'none' });
  });

  it("never lets the client application's own token see the calls it made for its users", () => {
    const userCall = resolveIdentity(ledgerEntry({ caller: { ...noCaller, appid: CLIENT, idtyp: 'user' }, subscriptionId: 'team-a' }));
    const appOnly = accessClaimsSchema.parse({ oid: CLIENT_SERVICE_PRINCIPAL, sub: CLIENT_SERVICE_PRINCIPAL, azp: CLIENT, idtyp: 'app', roles: [] });
    expect(canSeeIdentity(chargebackScope(principalFromClaims(appOnly)), userCall.key)).toBe(false);
  });

  it('charges an app-only call to its oid, else its application id', () => {
    expect(resolveIdentity(ledgerEntry({ caller: { ...noCaller, oid: CLIENT_SERVICE_PRINCIPAL, appid: CLIENT, idtyp: 'app' } }))).toEqual({ key: CLIENT_SERVICE_PRINCIPAL, kind: 'servicePrincipal', via: 'oid' });
    expect(resolveIdentity(ledgerEntry({ caller: { ...noCaller, appid: CLIENT, idtyp: 'app' }, subscriptionId: 'team-a' }))).toEqual({ key: CLIENT, kind: 'servicePrincipal', via: 'appid' });
    expect(resolveIdentity(ledgerEntry({ caller: { ...noCaller, appid: CLIENT }, subscriptionId: 'team-a' }))).toEqual({ key: CLIENT, kind: 'servicePrincipal', via: 'appid' });
  });

  it("charges a user's call to their oid", () => {
    expect(resolveIdentity(ledgerEntry({ caller: { ...noCaller, oid: USER, appid: CLIENT, idtyp: 'user' } }))).toEqual({ key: USER, kind: 'user', via: 'oid' });
  });
});
