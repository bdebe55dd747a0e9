import { z } from 'zod';

/**
 * Settings come from app settings / environment variables. Production uses identity-based connections
 * (`…__accountEndpoint`, `…__credential=managedidentity`, `…__clientId`); a key is accepted only for a
 * local emulator on a loopback address.
 */
const LOOPBACK = /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\/?$/;

export const settingsSchema = z
  .object({
    CosmosDB__accountEndpoint: z.url(),
    CosmosDB__clientId: z.string().optional(),
    /** Emulator key; refused unless the endpoint is on loopback. */
    CosmosDB__key: z.string().optional(),
    TOKENLEDGER_DATABASE: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('tokenledger'),
  })
  .refine((s) => s.CosmosDB__key === undefined || LOOPBACK.test(s.CosmosDB__accountEndpoint), {
    message: 'CosmosDB__key is only for a local emulator on loopback; use managed identity (CosmosDB__clientId) in Azure',
    path: ['CosmosDB__key'],
  });

export type Settings = z.infer<typeof settingsSchema>;

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    throw new SettingsError(`invalid settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}
