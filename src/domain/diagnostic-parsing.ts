import { z } from 'zod';
import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import { eventTime } from '../contracts/gateway-event.js';
import { validate } from '../contracts/validation.js';
import { describeIssues } from './event-normalization.js';
import { regionCode } from './regions.js';
import { RESTRICTED_ID_CHARACTERS } from './stable-id.js';
import { TextPool } from './text-pool.js';

/**
 * One `RequestResponse` record in the archive / Event Hubs shape. Log Analytics rows are mapped onto this
 * shape by `fromAzureDiagnosticsRow` (`CorrelationId` → `correlationId`, `properties_s` → `properties`, …), so
 * every path shares one set of rules. The region is in `location` or `Tenant` (workbooks use either).
 */
export const rawRequestResponseSchema = z.object({
  category: z.literal('RequestResponse').optional(),
  // Azure writes a GUID. The id is also the stored record's Cosmos DB id.
  correlationId: z
    .string()
    .min(1)
    .max(256)
    .refine((id) => !RESTRICTED_ID_CHARACTERS.test(id), "must not contain '/', '\\', '?' or '#'"),
  // The gateway events' rule: a record outside it (year 10000, a negative year) names an hour no tile can have.
  time: eventTime,
  resourceId: z.string().max(1024),
  operationName: z.string().max(256),
  durationMs: z.union([z.number(), z.string().max(64)]).nullish(),
  resultSignature: z.union([z.string(), z.number()]).nullish(),
  location: z.string().nullish(),
  Tenant: z.string().nullish(),
  properties: z.unknown(),
});
export type RawRequestResponse = z.input<typeof rawRequestResponseSchema>;

export type DiagnosticParse = { readonly ok: true; readonly record: DiagnosticRecord } | { readonly ok: false; readonly reason: string };

function accountOf(resourceId: string): string | null {
  return /\/ACCOUNTS\/([^/]+)/i.exec(resourceId)?.[1]?.toLowerCase() ?? null;
}

const STREAM_TYPES = new Set(['Streaming', 'Non-Streaming']);

/** The texts records repeat, shared between them (see `TextPool`). */
const TEXTS = new TextPool();

/** Reads the optional fields of `properties`; a value of the wrong type becomes null, with a note. */
function readProperties(raw: RawRequestResponse['properties'], notes: string[]): Pick<DiagnosticRecord, 'objectId' | 'streamType' | 'modelDeploymentName' | 'modelName' | 'modelVersion'> {
  let properties: unknown = raw ?? {};
  if (typeof properties === 'string') {
    try {
      properties = JSON.parse(properties);
    } catch {
      notes.push('properties is a string but not JSON; its fields are null');
      properties = {};
    }
  }
  if (properties === null || typeof properties !== 'object' || Array.isArray(properties)) {
    notes.push('properties is not an object; its fields are null');
    properties = {};
  }
  const p = properties as Record<string, unknown>;
  const text = (name: string): string | null => {
    const value = p[name];
    if (value === undefined || value === null) return null;
    if (typeof value === 'string') return value;
    notes.push(`properties.${name} is ${typeof value}, not text; kept as null`);
    return null;
  };
  const objectId = text('objectId');
  const streamType = text('streamType');
  if (streamType !== null && !STREAM_TYPES.has(streamType)) notes.push(`properties.streamType ${JSON.stringify(streamType.slice(0, 40))} is neither Streaming nor Non-Streaming; kept as null`);
  return {
    objectId: objectId ? TEXTS.shared(objectId.toLowerCase()) : null,
    streamType: streamType !== null && STREAM_TYPES.has(streamType) ? (TEXTS.shared(streamType) as DiagnosticRecord['streamType']) : null,
    modelDeploymentName: TEXTS.shared(text('modelDeploymentName')),
    modelName: TEXTS.shared(text('modelName')),
    modelVersion: TEXTS.shared(text('modelVersion')),
  };
}

/**
 * Validates one record. Without a correlation id, a time (from 2020 to a day ahead), a Cognitive Services resource
 * id or an operation name a record cannot be placed and is rejected with the reason; any other dirty value (a
 * negative duration, a property of the wrong type) becomes null and the record keeps the rest, noting why in `notes`.
 */
export function parseRequestResponse(value: unknown): DiagnosticParse {
  const parsed = validate(rawRequestResponseSchema, value);
  if (!parsed.ok) return { ok: false, reason: describeIssues('RequestResponse record', parsed) };
  const r = parsed.value;
  const account = accountOf(r.resourceId);
  if (!account) return { ok: false, reason: 'resourceId names no Cognitive Services account' };
  const notes: string[] = [];
  const duration = typeof r.durationMs === 'string' && r.durationMs.trim() !== '' ? Number(r.durationMs) : r.durationMs;
  let durationMs: number | null = null;
  if (typeof duration === 'number' && Number.isFinite(duration) && duration >= 0) durationMs = duration;
  else if (duration !== null && duration !== undefined) notes.push(`durationMs ${JSON.stringify(duration).slice(0, 40)} is negative or not a number; kept as null`);
  const status = r.resultSignature === null || r.resultSignature === undefined ? null : Number.parseInt(String(r.resultSignature), 10);
  const properties = readProperties(r.properties, notes);
  return {
    ok: true,
    record: {
      correlationId: r.correlationId.toLowerCase(),
      time: new Date(r.time).toISOString(),
      resourceId: TEXTS.shared(r.resourceId.toUpperCase()),
      account: TEXTS.shared(account),
      regionCode: regionCode(r.location) ?? regionCode(r.Tenant) ?? null,
      operationName: TEXTS.shared(r.operationName),
      durationMs,
      status: Number.isNaN(status) ? null : status,
      ...properties,
      ...(notes.length > 0 ? { notes } : {}),
    },
  };
}

/**
 * An `AzureDiagnostics` row of a `RequestResponse` record (the columns `queries/requestresponse-window.kql`
 * projects, or every column) in the archive record shape `parseRequestResponse` reads.
 */
export function fromAzureDiagnosticsRow(row: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return {
    correlationId: row['CorrelationId'],
    time: instantText(row['TimeGenerated']),
    resourceId: emptyToNull(row['ResourceId']) ?? row['_ResourceId'],
    operationName: row['OperationName'],
    durationMs: row['DurationMs'],
    resultSignature: emptyToNull(row['ResultSignature']),
    location: emptyToNull(row['location_s']),
    Tenant: emptyToNull(row['Tenant_s']),
    properties: emptyToNull(row['properties_s']),
  };
}

/** Log Analytics has no null strings: an absent value arrives as "". */
function emptyToNull(value: unknown): unknown {
  return value === '' || value === undefined ? null : value;
}

/** A datetime column's value as text: a `Date` (the query client's) as its ISO-8601 instant. */
export function instantText(value: unknown): unknown {
  return value instanceof Date ? (Number.isNaN(value.getTime()) ? String(value) : value.toISOString()) : value;
}
