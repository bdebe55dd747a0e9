import { LEDGER_ENTRY_SCHEMA, type LedgerEntry } from '../contracts/ledger-entry.js';
import type { EventSource } from '../contracts/adapted-event.js';
import { isCanonicalInstant } from '../contracts/utc-instant.js';
import type { NormalizedEvent } from './event-normalization.js';
import { regionCode } from './regions.js';
import { stableId } from './stable-id.js';

/** Cosmos DB ids may not contain `/ \ ? #`; such an id (or an over-long one) is hashed instead. */
const COSMOS_SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** APIM's `context.RequestId` is the `correlationId` of its own diagnostic records: one id family for both. */
const ID_FAMILY: Record<EventSource, string> = {
  'gateway-v1': 'apim',
  'apim-gateway-logs': 'apim',
  'apim-llm-log': 'apim',
  'ai-hub-gateway': 'ai-hub',
};

export function ledgerId(apimRequestId: string | null, source: EventSource, sourceId: string): string {
  if (apimRequestId && COSMOS_SAFE_ID.test(apimRequestId)) return apimRequestId.toLowerCase();
  if (apimRequestId) return `a-${stableId('apim-request-id', apimRequestId.toLowerCase())}`;
  return `h-${stableId(ID_FAMILY[source], sourceId.toLowerCase())}`;
}

/** The `toISOString` text of an instant; a text already in that form is its own answer. */
function isoInstant(time: string | Date): string {
  return typeof time === 'string' && isCanonicalInstant(time) ? time : new Date(time).toISOString();
}

/** `YYYY-MM-DDTHH` of an instant, in UTC. */
export function hourBucket(time: string | Date): string {
  return isoInstant(time).slice(0, 13);
}

function sorted(fields: readonly string[]): string[] {
  return fields.length === 0 ? [] : [...fields].sort();
}

export function toLedgerEntry(normalized: NormalizedEvent): LedgerEntry {
  const e = normalized.event;
  const usage = e.usage ?? null;
  const caller = e.caller ?? null;
  // In toISOString form, so its hour bucket is its first 13 characters.
  const time = isoInstant(e.time);
  return {
    id: ledgerId(e.apimRequestId, normalized.source, normalized.sourceId),
    pk: time.slice(0, 13),
    schema: LEDGER_ENTRY_SCHEMA,
    source: normalized.source,
    missing: sorted(normalized.missing),
    time,
    gatewayRequestId: e.gatewayRequestId,
    apimRequestId: e.apimRequestId,
    gateway: {
      service: e.gateway.service,
      regionCode: regionCode(e.gateway.region) ?? e.gateway.region ?? null,
      backendId: e.gateway.backendId ?? null,
    },
    backendRegion: regionCode(e.backendRegion) ?? e.backendRegion ?? null,
    caller: {
      oid: caller?.oid?.toLowerCase() ?? null,
      tid: caller?.tid?.toLowerCase() ?? null,
      appid: caller?.appid?.toLowerCase() ?? null,
      idtyp: caller?.idtyp ?? null,
      upn: caller?.upn ?? null,
      sub: caller?.sub ?? null,
    },
    subscriptionId: e.subscriptionId ?? null,
    productId: e.productId ?? null,
    deployment: e.deployment ?? null,
    model: e.model ?? null,
    operation: e.operation ?? null,
    stream: e.stream,
    status: e.status,
    tokens: usage
      ? {
          source: normalized.source === 'apim-llm-log' ? 'llm-log' : 'gateway',
          promptTokens: usage.promptTokens,
          cachedTokens: usage.cachedTokens,
          completionTokens: usage.completionTokens,
          reasoningTokens: usage.reasoningTokens,
          ...(usage.audioPromptTokens ? { audioPromptTokens: usage.audioPromptTokens } : {}),
          ...(usage.audioCompletionTokens ? { audioCompletionTokens: usage.audioCompletionTokens } : {}),
        }
      : { source: 'none', promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 },
    timings: { totalMs: e.timings?.totalMs ?? null, backendMs: e.timings?.backendMs ?? null, ttftMs: e.timings?.ttftMs ?? null },
    rateLimit: {
      remainingRequests: e.rateLimit?.remainingRequests ?? null,
      remainingTokens: e.rateLimit?.remainingTokens ?? null,
    },
  };
}

/** Lower rank wins when two sources describe the same request. */
const SOURCE_RANK: Record<EventSource, number> = { 'gateway-v1': 0, 'apim-gateway-logs': 1, 'ai-hub-gateway': 2, 'apim-llm-log': 3 };

/**
 * The request an entry describes, across sources. APIM's `context.RequestId` is the v1 event's
 * `gatewayRequestId` and the `CorrelationId` of APIM's `GatewayLogs` and `GatewayLlmLogs` records, so every
 * APIM-side source of one request shares it, whether or not it also knows the backend's `apim-request-id`
 * (which, when known, is the ledger id). An AI Hub payload's id is the response body's `id`: its own family.
 */
export function requestKey(entry: Pick<LedgerEntry, 'source' | 'gatewayRequestId' | 'id'>): string {
  return ID_FAMILY[entry.source] === 'apim' ? `apim:${entry.gatewayRequestId.toLowerCase()}` : `id:${entry.id}`;
}

function fillNulls<T extends Record<string, unknown>>(primary: T, other: T): T {
  const out: Record<string, unknown> = { ...primary };
  for (const [key, value] of Object.entries(other)) if (out[key] === null || out[key] === undefined) out[key] = value;
  return out as T;
}

const tokenTotal = (entry: LedgerEntry) => entry.tokens.promptTokens + entry.tokens.completionTokens;

/**
 * The token counts of a merge: from the better-ranked source that has any (a v1 event's usage over APIM's
 * LLM log, never their sum), and between rows of one source from the one that counted more: APIM splits a
 * large request's `GatewayLlmLogs` into several rows whose message rows carry no tokens.
 */
function tokensOf(primary: LedgerEntry, other: LedgerEntry): LedgerEntry['tokens'] {
  if (primary.tokens.source === 'none') return other.tokens;
  if (other.tokens.source === 'none') return primary.tokens;
  if (SOURCE_RANK[primary.source] !== SOURCE_RANK[other.source]) return primary.tokens;
  return tokenTotal(other) > tokenTotal(primary) ? other.tokens : primary.tokens;
}

/**
 * Combines two entries of one request (same `requestKey` or same id: a v1 event, APIM `GatewayLogs` and
 * `GatewayLlmLogs` records of it). Commutative, associative and idempotent, so any delivery order and any
 * number of replays give one result: the better-ranked source supplies each field, the other fills what it
 * lacks, tokens come from one source (see `tokensOf`), and the id is the `apim-request-id` when either knows it.
 */
export function mergeLedgerEntries(a: LedgerEntry, b: LedgerEntry): LedgerEntry {
  const order = SOURCE_RANK[a.source] - SOURCE_RANK[b.source] || (JSON.stringify(a) <= JSON.stringify(b) ? -1 : 1);
  const [primary, other] = order <= 0 ? [a, b] : [b, a];
  const otherMissing = new Set(other.missing);
  // Both halves describe one request: its earliest timestamp is the closest to the request's start.
  const time = primary.time <= other.time ? primary.time : other.time;
  const apimRequestId = primary.apimRequestId ?? other.apimRequestId;
  return {
    ...fillNulls(primary, other),
    id: apimRequestId ? ledgerId(apimRequestId, primary.source, primary.gatewayRequestId) : primary.id,
    time,
    pk: hourBucket(time),
    stream: primary.stream || other.stream,
    missing: primary.missing.filter((field) => otherMissing.has(field)),
    gateway: fillNulls(primary.gateway, other.gateway),
    caller: fillNulls(primary.caller, other.caller),
    tokens: tokensOf(primary, other),
    timings: fillNulls(primary.timings, other.timings),
    rateLimit: fillNulls(primary.rateLimit, other.rateLimit),
  };
}

/** Entries from sources that describe only part of a request, and so may need merging with a stored one. */
export function isPartial(entry: LedgerEntry): boolean {
  return entry.source === 'apim-gateway-logs' || entry.source === 'apim-llm-log';
}

/** Entries whose request other sources may describe too: every APIM-side source (see `requestKey`). */
export function mayHaveCounterparts(entry: LedgerEntry): boolean {
  return ID_FAMILY[entry.source] === 'apim';
}

/** Entries of one batch or file merged per request (`requestKey`), in first-seen order. */
export function mergeByRequest(entries: Iterable<LedgerEntry>): Map<string, LedgerEntry> {
  const byKey = new Map<string, LedgerEntry>();
  for (const entry of entries) {
    const key = requestKey(entry);
    const seen = byKey.get(key);
    byKey.set(key, seen ? mergeLedgerEntries(seen, entry) : entry);
  }
  return byKey;
}
