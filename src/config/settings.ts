import { z } from 'zod';
import { parseMetricsResources } from '../domain/metrics-batches.js';

/**
 * Settings come from app settings / environment variables. Production uses identity-based connections
 * (`…__accountEndpoint`, `…__credential=managedidentity`, `…__clientId`); a key is accepted only for a
 * local emulator on a loopback address.
 */
const LOOPBACK = /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\/?$/;

const settingsShape = z.object({
  CosmosDB__accountEndpoint: z.url(),
  CosmosDB__clientId: z.string().optional(),
  /** Emulator key; refused unless the endpoint is on loopback. */
  CosmosDB__key: z.string().optional(),
  TOKENLEDGER_DATABASE: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('tokenledger'),
  /** Table storage for watermarks and the identity directory (`https://<account>.table.core.windows.net`). */
  Tables__endpoint: z.url().optional(),
  /** Blob storage holding the diagnostics archive (`https://<account>.blob.core.windows.net`). */
  Archive__blobEndpoint: z.url().optional(),
  /**
   * Blob storage (`https://<account>.blob.core.windows.net`) for payloads of dead letters too large for a Cosmos DB
   * item (container `dead-letters`) and trigger batches set aside after failing (container `quarantine`).
   */
  DeadLetters__blobEndpoint: z.url().optional(),
  /**
   * Blob storage (`https://<account>.blob.core.windows.net`) a Cost Management "Cost and usage details (FOCUS)"
   * export writes to; the allocation timer allocates each file it finds there. Unset: the timer does nothing.
   */
  CostExport__blobEndpoint: z.url().optional(),
  /** The export's container, and the folder within it (the export's directory), if any. */
  COST_EXPORT_CONTAINER: z.string().regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/, 'a Blob container name: 3 to 63 lower-case letters, digits and single hyphens').default('cost-exports'),
  COST_EXPORT_PREFIX: z.string().default(''),
  /** NCRONTAB schedule of the invoice allocation timer (%ALLOCATE_SCHEDULE%): exports arrive daily at most. */
  ALLOCATE_SCHEDULE: z.string().default('0 40 * * * *'),
  /** Log Analytics workspace (customer) id the join and reconciliation jobs query. */
  LOG_ANALYTICS_WORKSPACE_ID: z.uuid().optional(),
  /** Object ids of the gateway's managed identities: never attributed as callers. Comma-separated. */
  GATEWAY_OBJECT_IDS: z.string().optional(),
  /** Entra ID tenant and API audience that HTTP callers' tokens must be issued for. */
  AUTH_TENANT_ID: z.string().optional(),
  AUTH_AUDIENCE: z.string().optional(),
  /** Entra authority host; only the local stack overrides it (with its own token issuer on loopback). */
  AUTH_AUTHORITY_HOST: z.url().default('https://login.microsoftonline.com'),
  /**
   * The dashboard's own app registration (a single-page app, no secret): with it set, the dashboard signs users
   * in with authorization code + PKCE at `{AUTH_AUTHORITY_HOST}/{AUTH_TENANT_ID}/v2.0`.
   */
  DASHBOARD_CLIENT_ID: z.union([z.literal(''), z.uuid()]).optional(),
  /** Scopes the dashboard asks for; empty: `openid profile offline_access {AUTH_AUDIENCE}/user_impersonation`. */
  DASHBOARD_SCOPE: z.union([z.literal(''), z.string().regex(/^[\x21-\x7e]+( [\x21-\x7e]+)*$/, 'space-separated scopes')]).optional(),
  /** Price table file (see prices/README.md); the shipped default when unset. */
  PRICE_TABLE_PATH: z.string().optional(),
  /** NCRONTAB schedule of the reconciliation timer (%RECONCILE_SCHEDULE%). */
  RECONCILE_SCHEDULE: z.string().default('0 15 * * * *'),
  /**
   * Azure OpenAI accounts whose Azure Monitor metrics are reconciled: comma-separated `<region>=<resource id>`
   * (`metrics:getBatch` is called per region and subscription at `https://<region>.metrics.monitor.azure.com`).
   */
  AZURE_OPENAI_RESOURCE_IDS: z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      try {
        parseMetricsResources(value ?? '');
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
  /** NCRONTAB schedule of the chargeback rollup timer (%ROLLUP_SCHEDULE%). */
  ROLLUP_SCHEDULE: z.string().default('30 */5 * * * *'),
  /** NCRONTAB schedule of the weights timer (%WEIGHTS_SCHEDULE%): after the rollup, once an hour. */
  WEIGHTS_SCHEDULE: z.string().default('0 10 * * * *'),
  /** Minutes after which a ledger entry without diagnostics is final as "no diagnostics". */
  JOIN_GRACE_MINUTES: z.coerce.number().int().positive().default(120),
  /** NCRONTAB schedule of the join timer (the host reads it as %JOIN_SCHEDULE%). */
  JOIN_SCHEDULE: z.string().default('0 */5 * * * *'),
});

export const settingsSchema = settingsShape.refine((s) => s.CosmosDB__key === undefined || LOOPBACK.test(s.CosmosDB__accountEndpoint), {
  message: 'CosmosDB__key is only for a local emulator on loopback; use managed identity (CosmosDB__clientId) in Azure',
  path: ['CosmosDB__key'],
});

export type Settings = z.infer<typeof settingsSchema>;

/** What the identity directory alone needs (the CLI's `directory` commands): Table storage, and which identity. */
const directorySettingsSchema = settingsShape.pick({ Tables__endpoint: true, CosmosDB__clientId: true });
export type DirectorySettings = z.infer<typeof directorySettingsSchema>;

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

function parsedSettings<T>(schema: z.ZodType<T>, env: Record<string, string | undefined>): T {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problem = (issue: z.core.$ZodIssue) => {
      const name = issue.path.join('.');
      return issue.code === 'invalid_type' && env[name] === undefined ? `${name} is not set` : `${name}: ${issue.message}`;
    };
    throw new SettingsError(`invalid settings: ${parsed.error.issues.map(problem).join('; ')}`);
  }
  return parsed.data;
}

export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  return parsedSettings(settingsSchema, env);
}

export function loadDirectorySettings(env: Record<string, string | undefined> = process.env): DirectorySettings {
  return parsedSettings(directorySettingsSchema, env);
}
