import { normalizeIdentityKey } from '../contracts/directory.js';
import type { LedgerEntry } from '../contracts/ledger-entry.js';
import type { IdentityKind } from '../contracts/identity-kind.js';

export type { IdentityKind } from '../contracts/identity-kind.js';

export interface ResolvedIdentity {
  /** The report key: an object id, an application id, an APIM subscription id, or `unattributed`. */
  readonly key: string;
  readonly kind: IdentityKind;
  /** Which evidence decided, in precedence order. */
  readonly via: 'oid' | 'appid' | 'subscription' | 'diagnosticsObjectId' | 'none';
}

export interface IdentityOptions {
  /**
   * Object ids of the gateway's own managed identities. Behind a gateway that calls Azure OpenAI with its
   * managed identity, the diagnostic `objectId` is the gateway's, not the caller's, so it never attributes.
   */
  readonly gatewayObjectIds?: ReadonlySet<string>;
}

export const UNATTRIBUTED = 'unattributed';

/**
 * Whether a diagnostic record's caller is one of the gateway's own identities. Such a record that no gateway request
 * names did not skip the gateway: it is an attempt the gateway's retry policy repeated (each attempt reaches Azure
 * OpenAI and is logged, while the event names the last one only), or a request whose event was lost.
 */
export function isGatewayIdentity(objectId: string | null | undefined, options: IdentityOptions = {}): boolean {
  return !!objectId && options.gatewayObjectIds?.has(objectId.toLowerCase()) === true;
}

/** A stored record the join found no gateway request for, of a caller that skipped the gateway (see `isGatewayIdentity`). */
export function isBypassCall(record: { readonly gateway: string; readonly objectId: string | null }, options: IdentityOptions = {}): boolean {
  return record.gateway === 'bypass' && !isGatewayIdentity(record.objectId, options);
}

/**
 * Precedence: validated caller `oid` → `appid`/`azp` → APIM subscription → diagnostic `objectId` (unless it
 * is a gateway identity) → unattributed. `appid`/`azp` names the caller only in an app-only token: in a user's
 * token it is the client application acting for the user, and a user's token lacks `oid` when asked for without the
 * `profile` scope (learn.microsoft.com/entra/identity-platform/access-token-claims-reference, `oid`; claims-validation:
 * "only tokens of type app can be authorized" by `appid`/`azp`). The kind from the token alone is user or service
 * principal; the identity directory refines service principals into managed or federated workload identities.
 *
 * An AI Hub Gateway payload's `appId` is no token claim but a request header the caller sets
 * (`context.Request.Headers.GetValueOrDefault("appId", "NA-HEADER")` in the accelerator's policies), while its
 * subscription is the one APIM checked the key of: there the subscription comes first, so a caller cannot charge
 * its calls to another team's application by naming it.
 */
export function resolveIdentity(entry: Pick<LedgerEntry, 'caller' | 'subscriptionId' | 'diagnostics'> & Partial<Pick<LedgerEntry, 'source'>>, options: IdentityOptions = {}): ResolvedIdentity {
  const { caller } = entry;
  const isUser = caller.idtyp === 'user' || (caller.idtyp === null && caller.upn !== null);
  if (caller.oid) return { key: caller.oid, kind: isUser ? 'user' : 'servicePrincipal', via: 'oid' };
  // A subscription id that is a GUID is one key in any case, as the directory and the request list take it.
  const subscription = entry.subscriptionId ? ({ key: normalizeIdentityKey(entry.subscriptionId), kind: 'apimSubscription', via: 'subscription' } as const) : null;
  if (subscription && entry.source === 'ai-hub-gateway') return subscription;
  if (caller.appid && !isUser) return { key: caller.appid, kind: 'servicePrincipal', via: 'appid' };
  if (subscription) return subscription;
  const objectId = entry.diagnostics?.status === 'matched' ? entry.diagnostics.objectId?.toLowerCase() : undefined;
  if (objectId && !isGatewayIdentity(objectId, options)) return { key: objectId, kind: 'servicePrincipal', via: 'diagnosticsObjectId' };
  return { key: UNATTRIBUTED, kind: 'unattributed', via: 'none' };
}
