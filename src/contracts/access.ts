import { z } from 'zod';

/**
 * The Microsoft Entra ID app roles TokenLedger's HTTP API defines (app registration → App roles). They arrive in
 * the access token's `roles` claim, for users and groups assigned to the role as well as for applications
 * granted it as an application permission.
 */
export const APP_ROLES = {
  /** Finance: chargeback reports over every identity. */
  chargebackReadAll: 'Chargeback.ReadAll',
  /** Operators: latency, backend weights, reconciliation results. */
  operationsRead: 'Operations.Read',
  /** Finance admins: edit the identity directory (who is which team and cost center). */
  directoryWrite: 'Directory.Write',
} as const;

export type AppRole = (typeof APP_ROLES)[keyof typeof APP_ROLES];

const MAX_ID_LENGTH = 256;
const MAX_TEXT_LENGTH = 512;
const MAX_ROLES = 256;

const id = z.string().trim().min(1).max(MAX_ID_LENGTH);
const text = z.string().max(MAX_TEXT_LENGTH);

/**
 * The claims of a signature-, issuer-, audience- and lifetime-checked access token that TokenLedger uses.
 * v1 tokens name the client application `appid`, v2 tokens `azp`; user tokens carry `upn` (v1) or
 * `preferred_username` (v2). `idtyp` is `app` for app-only tokens when the app registration emits that optional
 * claim; otherwise a delegated (user) token is recognised by its `scp` claim. Other claims are stripped.
 */
export const accessClaimsSchema = z
  .object({
    oid: id.optional(),
    sub: id.optional(),
    tid: id.optional(),
    appid: id.optional(),
    azp: id.optional(),
    idtyp: z.string().max(16).optional(),
    scp: z.string().max(4096).optional(),
    roles: z.array(z.string().min(1).max(MAX_TEXT_LENGTH)).max(MAX_ROLES).default([]),
    name: text.optional(),
    upn: text.optional(),
    preferred_username: text.optional(),
  })
  .refine((claims) => claims.oid !== undefined || claims.sub !== undefined, 'the token names no subject (neither oid nor sub)');

export type AccessClaims = z.infer<typeof accessClaimsSchema>;
