import type { DiagnosticRecord, GatewayMatch, StoredDiagnostic } from '../contracts/diagnostic-record.js';
import type { JoinOutcome, LedgerEntry } from '../contracts/ledger-entry.js';
import { canonicalJson } from './ledger.js';

/**
 * The join of gateway requests to Azure OpenAI `RequestResponse` records: the backend's `apim-request-id`
 * response header (the ledger id when present) equals the record's `CorrelationId`. Neither the body `id`
 * (`chatcmpl-…`) nor APIM's own request id would match.
 */
export function joinKey(entry: Pick<LedgerEntry, 'apimRequestId'>): string | null {
  return entry.apimRequestId?.toLowerCase() ?? null;
}

export function matchedOutcome(record: DiagnosticRecord): JoinOutcome {
  return {
    status: 'matched',
    durationMs: record.durationMs,
    regionCode: record.regionCode,
    account: record.account,
    modelName: record.modelName,
    modelVersion: record.modelVersion,
    streamType: record.streamType,
    objectId: record.objectId,
    httpStatus: record.status,
  };
}

type Match = Extract<JoinOutcome, { status: 'matched' }>;

const nullsOf = (match: Match) => Object.values(match).filter((value) => value === null).length;

/**
 * Two matches of one request (the copy streamed to Event Hubs and the one read from Log Analytics or the archive,
 * or two records of one correlation id; applied in either order, again, or at once): the one with fewer nulls,
 * else the one whose content sorts first, with its nulls filled from the other. Which was read first never
 * decides: overlapping reads and a second worker give one verdict.
 */
function mergedMatch(current: Match, next: Match): JoinOutcome {
  const order = nullsOf(current) - nullsOf(next) || (canonicalJson(current) <= canonicalJson(next) ? -1 : 1);
  const [first, second] = order < 0 ? [current, next] : [next, current];
  const merged: Record<string, unknown> = { ...first };
  for (const [field, value] of Object.entries(second)) if (merged[field] === null) merged[field] = value;
  return merged as JoinOutcome;
}

/** The entry with the join's verdict, or null when the entry already carries exactly that verdict. */
export function withOutcome(entry: LedgerEntry, outcome: JoinOutcome): LedgerEntry | null {
  // A late record upgrades `none`; a match is never downgraded, nor a matched field set back to null.
  if (entry.diagnostics?.status === 'matched' && outcome.status === 'none') return null;
  const verdict = entry.diagnostics?.status === 'matched' && outcome.status === 'matched' ? mergedMatch(entry.diagnostics, outcome) : outcome;
  if (entry.diagnostics && JSON.stringify(entry.diagnostics) === JSON.stringify(verdict)) return null;
  return { ...entry, diagnostics: verdict };
}

/**
 * Of two records with one correlation id, the one that joins: a complete record over one with a field set to
 * null for being unusable (`notes`); of two as complete, the one whose content sorts first, so that the order
 * they are read in never decides; of two copies of one content, `later`. A stored record's join status
 * (`gateway`) is no content.
 */
export function preferredRecord<T extends Pick<DiagnosticRecord, 'notes'>>(earlier: T | undefined, later: T): T {
  if (!earlier) return later;
  const [earlierNotes, laterNotes] = [earlier.notes?.length ?? 0, later.notes?.length ?? 0];
  if (earlierNotes !== laterNotes) return earlierNotes < laterNotes ? earlier : later;
  return contentOf(earlier) < contentOf(later) ? earlier : later;
}

function contentOf(record: object): string {
  const { gateway: _status, ...content } = record as Record<string, unknown>;
  return canonicalJson(content);
}

/**
 * How far a record's gateway status has come: `pending` until judged; `bypass` once the grace period passed without
 * a gateway request; `matched` once one is found, which a late gateway request still makes of a bypass. Nothing
 * moves a status back, so of two statuses the later in this order wins, whichever writer comes last.
 */
const GATEWAY_PROGRESS: Readonly<Record<GatewayMatch, number>> = { pending: 0, bypass: 1, matched: 2 };

/** The further of two statuses (commutative, associative, idempotent: see `GATEWAY_PROGRESS`). */
export function laterGatewayMatch(a: GatewayMatch, b: GatewayMatch): GatewayMatch {
  return GATEWAY_PROGRESS[b] > GATEWAY_PROGRESS[a] ? b : a;
}

/**
 * The stored record once `incoming` is merged into `current`: the preferred content (`preferredRecord`) at the
 * further status. The record keeps the time it was first stored with, as that time places the document.
 */
export function mergeStoredRecords(current: StoredDiagnostic | null, incoming: StoredDiagnostic): StoredDiagnostic {
  if (!current) return incoming;
  return { ...preferredRecord(current, incoming), time: current.time, gateway: laterGatewayMatch(current.gateway, incoming.gateway) };
}

/** Records by correlation id, one per id (see `preferredRecord`). */
export function recordsByCorrelationId<T extends Pick<DiagnosticRecord, 'correlationId' | 'notes'>>(records: Iterable<T>): Map<string, T> {
  const byKey = new Map<string, T>();
  for (const record of records) byKey.set(record.correlationId, preferredRecord(byKey.get(record.correlationId), record));
  return byKey;
}

export interface JoinCounts {
  /** Distinct gateway requests with a diagnostic record. */
  readonly matched: number;
  /** Distinct gateway requests without one (the backend never answered, or its record is missing). */
  readonly noDiagnostics: number;
  /** Distinct diagnostic records with no gateway request: calls that bypassed the gateway. */
  readonly bypass: number;
}

/** One request against the records by correlation id (one per id, see `recordsByCorrelationId`): its verdict, and the record's key when it matched. */
export function joinOne(entry: LedgerEntry, recordsByKey: ReadonlyMap<string, DiagnosticRecord>): { entry: LedgerEntry; matchedKey: string | null } {
  const key = joinKey(entry);
  const record = key === null ? undefined : recordsByKey.get(key);
  const joined = withOutcome(entry, record ? matchedOutcome(record) : { status: 'none' }) ?? entry;
  return { entry: joined, matchedKey: record ? key : null };
}

/** Joins complete sets in memory; `analyzeFiles` does the same one request at a time, the pipeline incrementally. */
export function joinAll(entries: Iterable<LedgerEntry>, records: Iterable<DiagnosticRecord>): { entries: LedgerEntry[]; bypass: DiagnosticRecord[]; counts: JoinCounts } {
  const byKey = recordsByCorrelationId(records);
  const joined: LedgerEntry[] = [];
  const used = new Set<string>();
  let matched = 0;
  for (const entry of entries) {
    const result = joinOne(entry, byKey);
    if (result.matchedKey !== null) {
      used.add(result.matchedKey);
      matched++;
    }
    joined.push(result.entry);
  }
  const bypass = [...byKey.values()].filter((r) => !used.has(r.correlationId));
  return { entries: joined, bypass, counts: { matched, noDiagnostics: joined.length - matched, bypass: bypass.length } };
}
