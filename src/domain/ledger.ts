import { isDeepStrictEqual } from 'node:util';
import { isGuid } from '../contracts/directory.js';
import { LEDGER_ENTRY_SCHEMA, type LedgerEntry, type LedgerPart } from '../contracts/ledger-entry.js';
import type { EventSource } from '../contracts/adapted-event.js';
import { isCanonicalInstant } from '../contracts/utc-instant.js';
import type { NormalizedEvent } from './event-normalization.js';
import { regionCode } from './regions.js';
import { hashBucket, stableId } from './stable-id.js';

/** Cosmos DB ids may not contain `/ \ ? #`; such an id (or an over-long one) is hashed instead. */
const COSMOS_SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** APIM's `context.RequestId` is the `correlationId` of its own diagnostic records: one id family for both. */
const ID_FAMILY: Record<EventSource, string> = {
  'gateway-v1': 'apim',
  'apim-gateway-logs': 'apim',
  'apim-llm-log': 'apim',
  'ai-hub-gateway': 'ai-hub',
};

/** Any character that `toLowerCase` may change: an upper-case ASCII letter, or any character beyond ASCII. */
const MAY_CHANGE_CASE = /[^\x00-\x40\x5b-\x7f]/;

/** `value.toLowerCase()`, without a copy for a text that has no upper-case letter (ids mostly have none). */
function lowerCase(value: string): string {
  return MAY_CHANGE_CASE.test(value) ? value.toLowerCase() : value;
}

/** A request id as a document id: lower-cased, or hashed when it is not Cosmos-safe. */
function safeId(value: string, kind: string): string {
  const lower = lowerCase(value);
  return COSMOS_SAFE_ID.test(lower) ? lower : `a-${stableId(kind, lower)}`;
}

/**
 * The ledger id of a request, from the request alone (see `requestKey`): for every APIM-side source the gateway's
 * request id; for an AI Hub payload its backend `apim-request-id` when known, else a hash of its own id.
 */
export function ledgerId(source: EventSource, gatewayRequestId: string, apimRequestId: string | null = null): string {
  if (ID_FAMILY[source] === 'apim') return safeId(gatewayRequestId, 'gateway-request-id');
  if (apimRequestId) return safeId(apimRequestId, 'apim-request-id');
  return `h-${stableId(ID_FAMILY[source], gatewayRequestId.toLowerCase())}`;
}

/** The partition of a ledger id: one of 256 buckets of a stable hash, so a document never moves (the store's partition key). */
export function ledgerPartition(id: string): string {
  return hashBucket('l', 'ledger-partition', id);
}

/** An entry as the ledger stores it, and as its dead letters keep it: with its partition key, from its id. */
export type LedgerDocument = LedgerEntry & { readonly pk: string };

export function ledgerDocument(entry: LedgerEntry): LedgerDocument {
  return { ...entry, pk: ledgerPartition(entry.id) };
}

/** Every ledger partition, in order (`l00` to `lff`). */
export const LEDGER_PARTITIONS: readonly string[] = Array.from({ length: 256 }, (_, i) => `l${i.toString(16).padStart(2, '0')}`);

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
  const id = ledgerId(normalized.source, e.gatewayRequestId || normalized.sourceId, e.apimRequestId);
  return {
    id,
    schema: LEDGER_ENTRY_SCHEMA,
    source: normalized.source,
    missing: sorted(normalized.missing),
    time,
    gatewayRequestId: e.gatewayRequestId,
    // Lower-cased, as the join compares it with a record's CorrelationId: the join finds entries by this field.
    apimRequestId: e.apimRequestId == null ? null : lowerCase(e.apimRequestId),
    gateway: {
      service: e.gateway.service,
      regionCode: regionCode(e.gateway.region) ?? e.gateway.region ?? null,
      backendId: e.gateway.backendId ?? null,
    },
    backendRegion: regionCode(e.backendRegion) ?? e.backendRegion ?? null,
    caller: {
      oid: caller?.oid == null ? null : lowerCase(caller.oid),
      tid: caller?.tid == null ? null : lowerCase(caller.tid),
      // An Entra application id is a GUID, one id in any case; an AI Hub payload's appId is a header its caller names,
      // kept as written, as the directory keeps such keys.
      appid: caller?.appid == null ? null : MAY_CHANGE_CASE.test(caller.appid) && isGuid(caller.appid) ? caller.appid.toLowerCase() : caller.appid,
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
 * APIM-side source of one request shares it, whether or not it also knows the backend's `apim-request-id`.
 * An AI Hub payload's id is the response body's `id`: its own family. The ledger id follows from it (`ledgerId`).
 */
export function requestKey(entry: Pick<LedgerEntry, 'source' | 'gatewayRequestId' | 'id'>): string {
  return ID_FAMILY[entry.source] === 'apim' ? `apim:${entry.gatewayRequestId.toLowerCase()}` : `id:${entry.id}`;
}

/** `a`'s fields, then `b`'s keys not in `skip`, each value `pick(a's value, b's value)`. */
function mergeFields<T extends object>(a: T, b: T, pick: (u: unknown, v: unknown) => unknown, skip?: ReadonlySet<string>): T {
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  const from = b as Record<string, unknown>;
  for (const key of Object.keys(from)) if (!skip?.has(key)) out[key] = pick(out[key], from[key]);
  return out as T;
}

/** `primary`'s fields, `other`'s where `primary` has none. */
function fillNulls<T extends object>(primary: T, other: T): T {
  return mergeFields(primary, other, (u, v) => (u === null || u === undefined ? v : u));
}

/** The token counts of a merge of two sources: from the better-ranked one that has any (a v1 event's usage over APIM's LLM log, never their sum). */
function tokensOf(primary: LedgerPart, other: LedgerPart): LedgerPart['tokens'] {
  return primary.tokens.source === 'none' ? other.tokens : primary.tokens;
}

const tokenTotal = (part: LedgerPart) => part.tokens.promptTokens + part.tokens.completionTokens;

/** A total order of set values, by type and then value; JSON text for objects. */
function precedes(u: unknown, v: unknown): boolean {
  if (typeof u !== typeof v) return typeof u < typeof v;
  if (typeof u === 'object') return JSON.stringify(u) <= JSON.stringify(v);
  return (u as string | number | boolean) <= (v as string | number | boolean);
}

/**
 * One field of two rows of one source: a set value over an unset one, null over undefined, and of two set values
 * the first in `precedes`. Each field taken by itself that way, any order and grouping of rows gives one result.
 */
function joinValue(u: unknown, v: unknown): unknown {
  if (u === v || v === undefined) return u;
  if (u === undefined) return v;
  if (u === null) return v;
  if (v === null) return u;
  return precedes(u, v) ? u : v;
}

/** `joinValue` for every key of two objects (`a`'s keys first), those in `skip` taken from `a` as they are. */
function joinFields<T extends object>(a: T, b: T, skip?: ReadonlySet<string>): T {
  return mergeFields(a, b, joinValue, skip);
}

/** The counts of two rows: whole from the row that counted more; of two equal totals, the first in `precedes`. */
function rowTokens(a: LedgerPart, b: LedgerPart): LedgerPart['tokens'] {
  if (b.tokens.source === 'none') return a.tokens;
  if (a.tokens.source === 'none') return b.tokens;
  if (tokenTotal(a) !== tokenTotal(b)) return tokenTotal(a) > tokenTotal(b) ? a.tokens : b.tokens;
  return precedes(a.tokens, b.tokens) ? a.tokens : b.tokens;
}

/** The fields `mergeRows` decides by a rule of their own. */
const ROW_RULES: ReadonlySet<string> = new Set(['time', 'stream', 'missing', 'gateway', 'caller', 'tokens', 'timings', 'rateLimit']);

/**
 * Two rows of one source: APIM splits a large request's `GatewayLlmLogs` into several rows, whose message rows
 * carry no tokens and no deployment. Each field is joined by itself (`joinValue`), the counts by `rowTokens`.
 */
function mergeRows(a: LedgerPart, b: LedgerPart): LedgerPart {
  const otherMissing = new Set(b.missing);
  return {
    ...joinFields(a, b, ROW_RULES),
    time: a.time <= b.time ? a.time : b.time,
    stream: a.stream || b.stream,
    missing: a.missing.filter((field) => otherMissing.has(field)).sort(),
    gateway: joinFields(a.gateway, b.gateway),
    caller: joinFields(a.caller, b.caller),
    tokens: rowTokens(a, b),
    timings: joinFields(a.timings, b.timings),
    rateLimit: joinFields(a.rateLimit, b.rateLimit),
  };
}

/** JSON with object keys sorted at every level: equal content, equal text, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const fields = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The hash that decides between conflicting duplicates (`duplicateWinner`). */
export function partHash(part: LedgerPart): string {
  return hashOfCanonical(canonicalJson(part));
}

/** `partHash` of a part whose `canonicalJson` is `canonical`. */
function hashOfCanonical(canonical: string): string {
  return stableId('ledger-part', canonical);
}

/** Sources that send one complete record per request: two different ones for one request conflict. */
const WHOLE_REQUEST_SOURCES: ReadonlySet<EventSource> = new Set(['gateway-v1', 'apim-gateway-logs', 'ai-hub-gateway']);

/**
 * The conflict rule: of two different parts of one whole-request source for one request, the one whose canonical
 * JSON (`canonicalJson`) has the smaller hash wins, whatever the order or batching they arrived in. The other is
 * a conflicting duplicate, kept as a dead letter.
 */
export function duplicateWinner(a: LedgerPart, b: LedgerPart): { winner: LedgerPart; loser: LedgerPart | null } {
  // A redelivery, the usual case, is the same part: equal parts have equal canonical JSON, so no hash is needed.
  if (isDeepStrictEqual(a, b)) return { winner: a, loser: null };
  const [ta, tb] = [canonicalJson(a), canonicalJson(b)];
  if (ta === tb) return { winner: a, loser: null };
  const [ha, hb] = [hashOfCanonical(ta), hashOfCanonical(tb)];
  return ha < hb ? { winner: a, loser: b } : { winner: b, loser: a };
}

/** The pairwise merge of two parts (of two sources, or two `GatewayLlmLogs` rows of one). */
function mergeParts(a: LedgerPart, b: LedgerPart): LedgerPart {
  if (a.source === b.source) return mergeRows(a, b);
  const [primary, other] = SOURCE_RANK[a.source] < SOURCE_RANK[b.source] ? [a, b] : [b, a];
  const otherMissing = new Set(other.missing);
  return {
    ...fillNulls(primary, other),
    // Both halves describe one request: its earliest timestamp is the closest to the request's start.
    time: primary.time <= other.time ? primary.time : other.time,
    stream: primary.stream || other.stream,
    missing: primary.missing.filter((field) => otherMissing.has(field)),
    gateway: fillNulls(primary.gateway, other.gateway),
    caller: fillNulls(primary.caller, other.caller),
    tokens: tokensOf(primary, other),
    timings: fillNulls(primary.timings, other.timings),
    rateLimit: fillNulls(primary.rateLimit, other.rateLimit),
  };
}

/** What the entry's own source told: the entry without the document's fields. */
export function partOf(entry: LedgerEntry): LedgerPart {
  const { id: _id, schema: _schema, diagnostics: _diagnostics, parts: _parts, ...part } = entry;
  return part;
}

/** The parts a document was merged from: its `parts`, or the entry itself when one source told it. */
export function partsOf(entry: LedgerEntry): readonly LedgerPart[] {
  return entry.parts ?? [partOf(entry)];
}

const OUTCOME_RANK = { none: 1, matched: 2 } as const;

/** The join's verdict of a merge: a match over `none` over nothing; of two matches, the smaller canonical JSON. */
function outcomeOf(a: LedgerEntry['diagnostics'], b: LedgerEntry['diagnostics']): LedgerEntry['diagnostics'] {
  const rank = (o: LedgerEntry['diagnostics']) => (o ? OUTCOME_RANK[o.status] : 0);
  if (rank(a) !== rank(b)) return rank(a) > rank(b) ? a : b;
  if (!a || !b) return a ?? b;
  return canonicalJson(a) <= canonicalJson(b) ? a : b;
}

export interface MergeResult {
  readonly entry: LedgerEntry;
  /** Parts of whole-request sources that lost to a different part of the same source (`duplicateWinner`). */
  readonly losers: readonly LedgerPart[];
}

/**
 * Combines two entries of one request (same `requestKey`, so the same id and partition). The document is a
 * function of the set of its parts, one per source: two parts of a whole-request source are decided by
 * `duplicateWinner`, rows of APIM's LLM log are merged; then the parts are merged in source rank order (the
 * better-ranked source supplies each field, the other fills what it lacks, tokens come from one source). So the
 * merge is commutative, associative and idempotent: any delivery order, batching and number of replays give one
 * result, and the id and partition never change.
 */
export function mergeLedger(a: LedgerEntry, b: LedgerEntry): MergeResult {
  const bySource = new Map<EventSource, LedgerPart>();
  const losers: LedgerPart[] = [];
  for (const part of [...partsOf(a), ...partsOf(b)]) {
    const seen = bySource.get(part.source);
    if (!seen) bySource.set(part.source, part);
    else if (!WHOLE_REQUEST_SOURCES.has(part.source)) bySource.set(part.source, mergeParts(seen, part));
    else {
      const { winner, loser } = duplicateWinner(seen, part);
      bySource.set(part.source, winner);
      if (loser) losers.push(loser);
    }
  }
  const parts = [...bySource.values()].sort((x, y) => SOURCE_RANK[x.source] - SOURCE_RANK[y.source]);
  const diagnostics = outcomeOf(a.diagnostics, b.diagnostics);
  const entry: LedgerEntry = {
    id: a.id,
    schema: a.schema,
    ...parts.reduce(mergeParts),
    ...(parts.length > 1 ? { parts } : {}),
    ...(diagnostics !== undefined || 'diagnostics' in a || 'diagnostics' in b ? { diagnostics: diagnostics ?? null } : {}),
  };
  return { entry, losers };
}

/** `mergeLedger`'s document, each conflicting duplicate noted in `conflictIds` by its `partHash`. */
export function mergeNotingConflicts(conflictIds: Set<string>): (a: LedgerEntry, b: LedgerEntry) => LedgerEntry {
  return (a, b) => {
    const { entry, losers } = mergeLedger(a, b);
    for (const loser of losers) conflictIds.add(partHash(loser));
    return entry;
  };
}

/** `mergeLedger`'s document alone. */
export function mergeLedgerEntries(a: LedgerEntry, b: LedgerEntry): LedgerEntry {
  return mergeLedger(a, b).entry;
}

/** Entries from sources that describe only part of a request, and so may need merging with a stored one. */
export function isPartial(entry: LedgerEntry): boolean {
  return entry.source === 'apim-gateway-logs' || entry.source === 'apim-llm-log';
}

/** Entries whose request other sources may describe too: every APIM-side source (see `requestKey`). */
export function mayHaveCounterparts(entry: LedgerEntry): boolean {
  return ID_FAMILY[entry.source] === 'apim';
}

/**
 * Entries that another source of their request is expected to complete: the halves of `isPartial`, and a
 * successful stream whose own source counted no tokens (cut short before its usage chunk), whose tokens APIM's
 * LLM log counts. A one-pass reader holds them to the end rather than take them and have them change.
 */
export function awaitsCounterpart(entry: LedgerEntry): boolean {
  if (isPartial(entry)) return true;
  const succeeded = entry.status !== null && entry.status >= 200 && entry.status < 300;
  return succeeded && entry.stream && entry.tokens.source === 'none' && mayHaveCounterparts(entry);
}

/** Entries of one batch or file merged per request (`requestKey`), in first-seen order. */
export function mergeByRequest(entries: Iterable<LedgerEntry>): Map<string, LedgerEntry> {
  return new Map([...mergeRequests(entries)].map(([key, merged]) => [key, merged.entry]));
}

/** `mergeByRequest` with each request's conflicting duplicates. */
export function mergeRequests(entries: Iterable<LedgerEntry>): Map<string, MergeResult> {
  const byKey = new Map<string, MergeResult>();
  for (const entry of entries) {
    const key = requestKey(entry);
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, { entry, losers: [] });
    else {
      const merged = mergeLedger(seen.entry, entry);
      byKey.set(key, { entry: merged.entry, losers: [...seen.losers, ...merged.losers] });
    }
  }
  return byKey;
}

/** A conflicting duplicate as a ledger entry of the winner's document (what its dead letter keeps). */
export function loserEntry(winner: Pick<LedgerEntry, 'id' | 'schema'>, loser: LedgerPart): LedgerEntry {
  return { id: winner.id, schema: winner.schema, ...loser };
}
