import { z } from 'zod';

/**
 * What the dashboard needs to sign users in with OAuth 2.0 authorization code + PKCE: public values only (a
 * single-page app holds no secret). Served as `config.json` beside the page, so one build fits every deployment.
 */
export const dashboardSignInSchema = z.object({
  /** `https://login.microsoftonline.com/{tenant}/v2.0`: the OpenID Connect issuer. */
  authority: z.url({ protocol: /^https?$/ }),
  /** The dashboard's app registration (client) id. */
  clientId: z.string().min(1).max(256),
  /** Space-separated scopes, e.g. `openid profile offline_access api://tokenledger/user_impersonation`. */
  scope: z.string().regex(/^[\x21-\x7e]+( [\x21-\x7e]+)*$/, 'space-separated scopes'),
});

export type DashboardSignIn = z.infer<typeof dashboardSignInSchema>;
