import { z } from 'zod';
import type { AdaptedEvent } from '../contracts/adapted-event.js';
import { adaptAiHubUsage, aiHubUsageSchema, looksLikeAiHubUsage } from '../contracts/ai-hub-usage.js';
import { adaptApimRecord, apimDiagnosticRecordSchema } from '../contracts/apim-diagnostics.js';
import { GATEWAY_EVENT_SCHEMA_V1, gatewayEventV1Schema, type GatewayEventV1 } from '../contracts/gateway-event.js';
import { checkGatewayEventV1 } from '../contracts/gateway-event-check.js';
import { decodeGatewayEventV1Text } from '../contracts/gateway-event-text.js';
import { validate } from '../contracts/validation.js';
import { MAX_BODY_BYTES } from './event-decoding.js';

export interface NormalizedEvent extends Omit<AdaptedEvent, 'event'> {
  readonly event: GatewayEventV1;
}

export type Normalization = { readonly ok: true; readonly value: NormalizedEvent } | { readonly ok: false; readonly reason: string };

const APIM_CATEGORIES = new Set(['GatewayLogs', 'GatewayLlmLogs']);

/** At most this many validation issues are named in a reason: enough to fix the producer, short enough to store. */
const MAX_ISSUES = 5;

/** `failed`: a `ZodError`, or the issues of a failed `validate`. */
export function describeIssues(label: string, failed: { readonly issues: readonly z.core.$ZodIssue[] }): string {
  const issues = failed.issues.slice(0, MAX_ISSUES).map((issue) => {
    const path = issue.path.map(String).join('.') || '(root)';
    return `${path.slice(0, 100)}: ${issue.message.slice(0, 200)}`;
  });
  const more = failed.issues.length > MAX_ISSUES ? ` (+${failed.issues.length - MAX_ISSUES} more)` : '';
  return `invalid ${label}: ${issues.join('; ')}${more}`;
}

/**
 * A value from outside, in a reason: a text quoted and cut, a number or boolean as it is, anything else by its kind
 * (serialising an array nested a hundred thousand deep would overflow the stack).
 */
function shortly(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 80));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
}

function accepted(adapted: AdaptedEvent, event: GatewayEventV1): Normalization {
  return { ok: true, value: { source: adapted.source, sourceId: adapted.sourceId, event, missing: adapted.missing } };
}

/** The fast check handles the events the APIM policy writes; zod decides the rest and words every rejection. */
function validateV1(adapted: AdaptedEvent, label: string): Normalization {
  const checked = checkGatewayEventV1(adapted.event);
  if (checked !== null) return accepted(adapted, checked);
  const parsed = validate(gatewayEventV1Schema, adapted.event);
  if (!parsed.ok) return { ok: false, reason: describeIssues(label, parsed) };
  return accepted(adapted, parsed.value);
}

/** Recognises the shape of one item (v1, APIM diagnostic record, AI Hub usage), maps it onto v1 and validates it. */
export function normalizeEvent(value: unknown): Normalization {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, reason: `event is ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}, not an object` };
  }
  const item = value as Record<string, unknown>;
  if ('schema' in item) {
    if (item['schema'] !== GATEWAY_EVENT_SCHEMA_V1) return { ok: false, reason: `unsupported schema ${shortly(item['schema'])}` };
    const gatewayRequestId = typeof item['gatewayRequestId'] === 'string' ? item['gatewayRequestId'] : '';
    return validateV1({ source: 'gateway-v1', sourceId: gatewayRequestId, event: item as never, missing: [] }, GATEWAY_EVENT_SCHEMA_V1);
  }
  if (typeof item['category'] === 'string') {
    if (!APIM_CATEGORIES.has(item['category'])) return { ok: false, reason: `unsupported diagnostic category ${shortly(item['category'])}` };
    const record = validate(apimDiagnosticRecordSchema, item);
    if (!record.ok) return { ok: false, reason: describeIssues(`APIM ${item['category']} record`, record) };
    return validateV1(adaptApimRecord(record.value), `APIM ${item['category']} record`);
  }
  if (looksLikeAiHubUsage(item)) {
    const payload = validate(aiHubUsageSchema, item);
    if (!payload.ok) return { ok: false, reason: describeIssues('AI Hub Gateway usage payload', payload) };
    return validateV1(adaptAiHubUsage(payload.value), 'AI Hub Gateway usage payload');
  }
  return {
    ok: false,
    reason: 'unrecognised event: expected a tokenledger.gateway/v1 event, an APIM GatewayLogs/GatewayLlmLogs record or an AI Hub Gateway usage payload',
  };
}

const NOTHING_MISSING: readonly string[] = Object.freeze([]);

/**
 * A body that is one v1 event as the APIM policy writes it, normalised straight from its text; null for any
 * other body, which takes `decodeBody` and `normalizeEvent` (and gets the same result, or its dead letter there).
 */
export function normalizeV1Text(text: string): NormalizedEvent | null {
  // A body that could exceed the size limit is dead-lettered by decodeBody.
  if (text.length * 3 > MAX_BODY_BYTES) return null;
  const event = decodeGatewayEventV1Text(text);
  return event && { source: 'gateway-v1', sourceId: event.gatewayRequestId, event, missing: NOTHING_MISSING };
}
