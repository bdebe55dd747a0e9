import { APP_ROLES, type AccessClaims } from '../contracts/access.js';

/** The authenticated caller of the HTTP API, taken from a validated Entra ID access token. */
export interface Principal {
  /** Object id of the calling user or service principal; null only for a token that names just a `sub`. */
  readonly oid: string | null;
  readonly tid: string | null;
  /**
   * The client application (`appid` in v1 tokens, `azp` in v2). In an app-only token it is the caller itself; in a
   * delegated token it is the application acting for the user, shared by everyone who signs in to it.
   */
  readonly appid: string | null;
  /**
   * `app` for a token that says it is app-only (client credentials, managed identity) with the `idtyp` claim; `user`
   * otherwise. Microsoft lets an API authorize by the client application only for tokens of type `app`: `scp` is
   * missing from some delegated tokens too ("Validate the actor", Entra ID claims validation).
   */
  readonly kind: 'user' | 'app';
  readonly roles: readonly string[];
  readonly name: string | null;
}

export type AccessDecision = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** What part of a chargeback report a caller may see: everything, or the rows whose identity key is their own. */
export type ChargebackScope = 'all' | { readonly identities: readonly string[] };

export function principalFromClaims(claims: AccessClaims): Principal {
  const kind = claims.idtyp === 'app' ? 'app' : 'user';
  return {
    oid: claims.oid ?? null,
    tid: claims.tid ?? null,
    appid: claims.appid ?? claims.azp ?? null,
    kind,
    roles: [...new Set(claims.roles)],
    name: claims.name ?? claims.upn ?? claims.preferred_username ?? null,
  };
}

export function hasRole(principal: Principal, role: string): boolean {
  return principal.roles.includes(role);
}

export function canReadAllChargeback(principal: Principal): boolean {
  return hasRole(principal, APP_ROLES.chargebackReadAll);
}

/** The caller must carry the role, or one of the roles when several are given. */
export function requireRole(principal: Principal, role: string | readonly string[]): AccessDecision {
  const roles = typeof role === 'string' ? [role] : role;
  if (roles.some((r) => hasRole(principal, r))) return { ok: true };
  return { ok: false, reason: roles.length === 1 ? `requires the app role ${roles[0]}` : `requires one of the app roles ${roles.join(', ')}` };
}

/**
 * Invariant 5, "a report never shows rows the caller may not see": finance (`Chargeback.ReadAll`) sees every row;
 * anyone else sees only the rows whose identity key (see `resolveIdentity`) is their own object id, or, for a token
 * of type `app`, their own application id. The client application of a delegated token is not the caller's own
 * identity (every user of, say, the Azure CLI shares its application id), so it never widens the scope.
 */
export function chargebackScope(principal: Principal): ChargebackScope {
  if (canReadAllChargeback(principal)) return 'all';
  const identities = new Set<string>();
  if (principal.oid !== null) identities.add(principal.oid);
  if (principal.kind === 'app' && principal.appid !== null) identities.add(principal.appid);
  return { identities: [...identities] };
}

export function canSeeIdentity(scope: ChargebackScope, identityKey: string): boolean {
  return scope === 'all' || scope.identities.includes(identityKey);
}

/** Keeps the rows the scope allows; a report builds its totals from these rows only. */
export function visibleRows<T>(rows: Iterable<T>, scope: ChargebackScope, identityKeyOf: (row: T) => string): T[] {
  const kept: T[] = [];
  for (const row of rows) if (canSeeIdentity(scope, identityKeyOf(row))) kept.push(row);
  return kept;
}
