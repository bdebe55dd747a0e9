/** Who a report key is: what the caller's token (or the APIM subscription) says, refined by the identity directory. */
export const IDENTITY_KINDS = ['user', 'servicePrincipal', 'managedIdentity', 'workloadIdentity', 'apimSubscription', 'unattributed'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];
