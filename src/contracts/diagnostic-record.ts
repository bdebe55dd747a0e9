import { z } from 'zod';

/**
 * An Azure OpenAI `RequestResponse` diagnostic record, whichever way it reached us: the storage archive
 * (`insights-logs-requestresponse/…/PT1H.json`, camelCase, `properties` as a JSON string or an object),
 * Event Hubs (`{"records":[…]}`, same fields) or Log Analytics (`AzureDiagnostics`, PascalCase columns,
 * `properties_s`). These records carry no token counts; `objectId` behind a gateway that calls with its
 * managed identity is the gateway's. Times in `properties` are .NET ticks (100 ns since 0001-01-01).
 */
export const diagnosticRecordSchema = z.object({
  /** The `apim-request-id` Azure OpenAI returned: the join key to gateway events (lower-cased). */
  correlationId: z.string(),
  time: z.string(),
  resourceId: z.string(),
  /** Azure OpenAI account name (lower-cased), from the resource id. */
  account: z.string(),
  regionCode: z.string().nullable(),
  operationName: z.string(),
  /** Null when the record's value was unusable (Azure writes negative durations now and then); see `notes`. */
  durationMs: z.number().nonnegative().nullable(),
  status: z.number().int().nullable(),
  objectId: z.string().nullable(),
  streamType: z.enum(['Streaming', 'Non-Streaming']).nullable(),
  modelDeploymentName: z.string().nullable(),
  modelName: z.string().nullable(),
  modelVersion: z.string().nullable(),
  /** Why a field is null although the record had a value for it: one bad field never costs the whole record. */
  notes: z.array(z.string()).optional(),
});
export type DiagnosticRecord = z.infer<typeof diagnosticRecordSchema>;

/** A record that could not be read, kept with where it came from and why. */
export interface RejectedDiagnostic {
  readonly source: string;
  readonly reason: string;
  readonly raw: string;
}

/** Whether a stored record has a gateway request; `bypass` (a direct call) is final after the grace period. */
export const gatewayMatchSchema = z.enum(['pending', 'matched', 'bypass']);
export type GatewayMatch = z.infer<typeof gatewayMatchSchema>;

export const storedDiagnosticSchema = diagnosticRecordSchema.extend({ gateway: gatewayMatchSchema });
export type StoredDiagnostic = z.infer<typeof storedDiagnosticSchema>;
