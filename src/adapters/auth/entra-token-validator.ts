import { createLocalJWKSet, createRemoteJWKSet, errors, jwksCache, jwtVerify, type ExportedJWKSCache, type JWTVerifyGetKey } from 'jose';
import { accessClaimsSchema } from '../../contracts/access.js';
import { principalFromClaims, type Principal } from '../../domain/access.js';
import { isLoopbackHttp } from '../../domain/loopback.js';

/** Checks a bearer access token and returns the caller it names. */
export interface TokenValidator {
  /** Resolves to the caller, or rejects with `AuthenticationError` (the token is not acceptable) or `AuthenticationUnavailableError`. */
  validate(token: string): Promise<Principal>;
}

export type AuthenticationFailure =
  | 'malformed'
  | 'algorithm'
  | 'unknown_key'
  | 'signature'
  | 'expired'
  | 'not_yet_valid'
  | 'issuer'
  | 'audience'
  | 'tenant'
  | 'claims';

const FAILURE_DESCRIPTIONS: Record<AuthenticationFailure, string> = {
  malformed: 'the token is not a well-formed JWS compact serialization',
  algorithm: 'the token is signed with an algorithm that is not allowed',
  unknown_key: 'the token is signed with a key that is not in the issuer key set',
  signature: 'the token signature is invalid',
  expired: 'the token has expired',
  not_yet_valid: 'the token is not yet valid',
  issuer: 'the token was issued by an issuer that is not trusted',
  audience: 'the token was issued for another audience',
  tenant: 'the token was issued for another tenant',
  claims: 'the token lacks a required claim or has a malformed one',
};

/**
 * The token was rejected. `message` is a fixed description of `reason` and never contains any part of the token:
 * it is safe to return to the caller and to log.
 */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
  constructor(readonly reason: AuthenticationFailure) {
    super(FAILURE_DESCRIPTIONS[reason]);
  }
}

/** The issuer's signing keys could not be fetched: no token can be checked now, and the caller should retry later. */
export class AuthenticationUnavailableError extends Error {
  override readonly name = 'AuthenticationUnavailableError';
}

export interface TokenValidatorOptions {
  /** Trusted `iss` values, e.g. `https://login.microsoftonline.com/{tenant}/v2.0` (v2 tokens) or `https://sts.windows.net/{tenant}/` (v1). */
  readonly issuer: string | readonly string[];
  /** Accepted `aud` values: v2 tokens carry the API's client id, v1 tokens its application id URI (`api://…`). */
  readonly audience: string | readonly string[];
  /** The issuer's JSON Web Key Set, e.g. `https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys`. */
  readonly jwksUri: string;
  /** Asymmetric JWS algorithms only; `none` and HMAC algorithms are refused. */
  readonly allowedAlgorithms?: readonly string[];
  readonly clockToleranceInSeconds?: number;
  /** When set, the token's `tid` claim must equal it. */
  readonly tenantId?: string;
  /** Time limit for one key set download. */
  readonly jwksTimeoutInMs?: number;
  /** How long downloaded keys are used before they are fetched again; an unknown `kid` refetches sooner (at most every 5 minutes). */
  readonly jwksCacheMaxAgeInMs?: number;
}

/**
 * Microsoft's practice for signing keys ("Signing key rollover in the Microsoft identity platform", best practices
 * for keys metadata caching): refresh every hour, keep keys 24 hours, fetch for an unknown key no more often than
 * every 5 minutes, and go on with the last known good keys when a refresh fails.
 */
const KEYS_REFRESH_MS = 3_600_000;
const KEYS_KEPT_MS = 24 * 3_600_000;
const UNKNOWN_KEY_REFETCH_MS = 300_000;

const ASYMMETRIC_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);
/** Far above any Entra access token (group overage keeps them to a few kilobytes); anything longer is refused unparsed. */
const MAX_TOKEN_LENGTH = 16_384;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Authority hosts whose v2 tokens name another host as issuer: Azure China's, whose OpenID configuration gives
 * `https://login.partner.microsoftonline.cn/{tenant}/v2.0` (Microsoft Q&A, "What are the token issuers for the
 * sovereign cloud"; Azure/azure-dev#5912). The other clouds' tokens name their authority host.
 */
const ISSUER_HOSTS: Readonly<Record<string, string>> = { 'https://login.chinacloudapi.cn': 'https://login.partner.microsoftonline.cn' };

/**
 * The v2 authority, issuer and key set of a single Microsoft Entra tenant. The issuer names the tenant by its id, so
 * a domain name (`contoso.onmicrosoft.com`) would never match a token and is refused here.
 */
export function entraEndpoints(
  tenantId: string,
  authorityHost = 'https://login.microsoftonline.com',
): { readonly authority: string; readonly issuer: string; readonly jwksUri: string; readonly tenantId: string } {
  if (!GUID.test(tenantId)) throw new TypeError('tenantId must be the directory (tenant) id, a GUID');
  const host = authorityHost.replace(/\/+$/, '');
  const tenant = tenantId.toLowerCase();
  const issuerHost = ISSUER_HOSTS[host.toLowerCase()] ?? host;
  return { authority: `${host}/${tenant}/v2.0`, issuer: `${issuerHost}/${tenant}/v2.0`, jwksUri: `${host}/${tenant}/discovery/v2.0/keys`, tenantId: tenant };
}

/**
 * Validates Entra ID access tokens: signature against the issuer's published keys (fetched, cached, and refetched
 * on an unknown `kid`, so key rollover needs no restart; see `KEYS_REFRESH_MS`), algorithm allow-list, issuer, audience, `exp` (required)
 * and `nbf` with clock tolerance, optional tenant, and a subject (`oid` or `sub`).
 */
export function createTokenValidator(options: TokenValidatorOptions): TokenValidator {
  const issuer = nonEmptyList(options.issuer, 'issuer');
  const audience = nonEmptyList(options.audience, 'audience');
  const algorithms = [...(options.allowedAlgorithms ?? ['RS256'])];
  if (algorithms.length === 0) throw new TypeError('allowedAlgorithms must not be empty');
  for (const algorithm of algorithms) {
    if (!ASYMMETRIC_ALGORITHMS.has(algorithm)) throw new TypeError(`allowedAlgorithms: ${algorithm} is not an asymmetric JWS algorithm`);
  }
  const clockTolerance = options.clockToleranceInSeconds ?? 60;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0) throw new RangeError('clockToleranceInSeconds must be a non-negative number');
  const jwksUrl = secureUrl(options.jwksUri, 'jwksUri');
  for (const value of issuer) secureUrl(value, 'issuer');

  // jose writes each key set it downloads, with its time, into `lastGood`.
  const lastGood: Partial<ExportedJWKSCache> = {};
  const remoteKeys = createRemoteJWKSet(jwksUrl, {
    timeoutDuration: options.jwksTimeoutInMs ?? 5_000,
    cacheMaxAge: options.jwksCacheMaxAgeInMs ?? KEYS_REFRESH_MS,
    cooldownDuration: UNKNOWN_KEY_REFETCH_MS,
    [jwksCache]: lastGood as Record<string, never>,
  });
  let refreshFailedAt = Number.NEGATIVE_INFINITY;
  let kept: { readonly uat: number; readonly keys: JWTVerifyGetKey } | undefined;
  /** The last downloaded keys while they are kept, else null; read once per download. */
  const keptKeys = (): JWTVerifyGetKey | null => {
    if (!lastGood.jwks || lastGood.uat === undefined || Date.now() - lastGood.uat >= KEYS_KEPT_MS) return null;
    if (kept?.uat !== lastGood.uat) kept = { uat: lastGood.uat, keys: createLocalJWKSet(lastGood.jwks) };
    return kept.keys;
  };
  const keys: JWTVerifyGetKey = async (header, token) => {
    // After a failed refresh, the kept keys serve until the next attempt is due (no request waits on a dead endpoint).
    const stale = Date.now() - refreshFailedAt < UNKNOWN_KEY_REFETCH_MS ? keptKeys() : null;
    if (stale) return stale(header, token);
    try {
      return await remoteKeys(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys || error instanceof errors.JOSENotSupported) {
        throw error;
      }
      refreshFailedAt = Date.now();
      const fallback = keptKeys();
      if (fallback) return fallback(header, token);
      throw new AuthenticationUnavailableError(`the signing keys could not be fetched from ${jwksUrl.origin}${jwksUrl.pathname}`, { cause: error });
    }
  };

  return {
    async validate(token: string): Promise<Principal> {
      if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new AuthenticationError('malformed');
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(token, keys, { algorithms, issuer, audience, clockTolerance, requiredClaims: ['exp'] }));
      } catch (error) {
        // jose's claim errors carry the whole payload: keep them out of our error (no `cause`).
        throw error instanceof AuthenticationUnavailableError ? error : new AuthenticationError(failureOf(error));
      }
      const claims = accessClaimsSchema.safeParse(payload);
      if (!claims.success) throw new AuthenticationError('claims');
      if (options.tenantId !== undefined && claims.data.tid?.toLowerCase() !== options.tenantId.toLowerCase()) {
        throw new AuthenticationError('tenant');
      }
      return principalFromClaims(claims.data);
    },
  };
}

function failureOf(error: unknown): AuthenticationFailure {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'not_yet_valid';
    if (error.claim === 'iss') return 'issuer';
    if (error.claim === 'aud') return 'audience';
    return 'claims';
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return 'algorithm';
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return 'unknown_key';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature';
  if (error instanceof errors.JOSEError) return 'malformed';
  // Anything else is a defect, not a bad token: let it surface.
  throw error;
}

function nonEmptyList(value: string | readonly string[], name: string): string[] {
  const list = typeof value === 'string' ? [value] : [...value];
  if (list.length === 0 || list.some((item) => item.trim() === '')) throw new TypeError(`${name} must name at least one non-empty value`);
  return list;
}

/** https, or plain http on a loopback address (the local issuer). */
function secureUrl(value: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${name} must be an absolute URL`);
  }
  if (url.protocol === 'https:' || isLoopbackHttp(url)) return url;
  throw new TypeError(`${name} must use https (plain http only on a loopback address)`);
}
