import { z } from 'zod';
import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import { describeIssues } from './event-normalization.js';
import { regionCode } from './regions.js';

/**
 * One `RequestResponse` record in the archive / Event Hubs shape. Log Analytics rows are mapped onto this
 * shape by their adapter (`CorrelationId` → `correlationId`, `properties_s` → `properties`, …), so both paths
 * share one set of rules. The region is in `location` or `Tenant` (workbooks use either).
 */
export const rawRequestResponseSchema = z.object({
  category: z.literal('RequestResponse').optional(),
  correlationId: z.string().min(1).max(256),
  time: z.string(),
  resourceId: z.string().max(1024),
  operationName: z.string().max(256),
  durationMs: z.coerce.number(),
  resultSignature: z.union([z.string(), z.number()]).nullish(),
  location: z.string().nullish(),
  Tenant: z.string().nullish(),
  properties: z.union([z.string(), z.record(z.string(), z.unknown())]).nullish(),
});
export type RawRequestResponse = z.input<typeof rawRequestResponseSchema>;

const propertiesSchema = z.object({
  objectId: z.string().nullish(),
  streamType: z.enum(['Streaming', 'Non-Streaming']).nullish(),
  modelDeploymentName: z.string().nullish(),
  modelName: z.string().nullish(),
  modelVersion: z.string().nullish(),
});

export type DiagnosticParse = { readonly ok: true; readonly record: DiagnosticRecord } | { readonly ok: false; readonly reason: string };

function accountOf(resourceId: string): string | null {
  return /\/ACCOUNTS\/([^/]+)/i.exec(resourceId)?.[1]?.toLowerCase() ?? null;
}

/** Validates one record; dirty values (a negative duration, an unparsable time) are rejected with a reason. */
export function parseRequestResponse(value: unknown): DiagnosticParse {
  const parsed = rawRequestResponseSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: describeIssues('RequestResponse record', parsed.error) };
  const r = parsed.data;
  if (!Number.isFinite(r.durationMs) || r.durationMs < 0) return { ok: false, reason: `durationMs ${r.durationMs} is negative or not a number` };
  const time = Date.parse(r.time);
  if (Number.isNaN(time)) return { ok: false, reason: `time ${JSON.stringify(r.time).slice(0, 60)} is not a date` };
  const account = accountOf(r.resourceId);
  if (!account) return { ok: false, reason: 'resourceId names no Cognitive Services account' };
  let properties: unknown = r.properties ?? {};
  if (typeof properties === 'string') {
    try {
      properties = JSON.parse(properties);
    } catch {
      return { ok: false, reason: 'properties is a string but not JSON' };
    }
  }
  const props = propertiesSchema.safeParse(properties);
  if (!props.success) return { ok: false, reason: describeIssues('RequestResponse properties', props.error) };
  const status = r.resultSignature === null || r.resultSignature === undefined ? null : Number.parseInt(String(r.resultSignature), 10);
  return {
    ok: true,
    record: {
      correlationId: r.correlationId.toLowerCase(),
      time: new Date(time).toISOString(),
      resourceId: r.resourceId.toUpperCase(),
      account,
      regionCode: regionCode(r.location) ?? regionCode(r.Tenant) ?? null,
      operationName: r.operationName,
      durationMs: r.durationMs,
      status: Number.isNaN(status) ? null : status,
      objectId: props.data.objectId ? props.data.objectId.toLowerCase() : null,
      streamType: props.data.streamType ?? null,
      modelDeploymentName: props.data.modelDeploymentName ?? null,
      modelName: props.data.modelName ?? null,
      modelVersion: props.data.modelVersion ?? null,
    },
  };
}
