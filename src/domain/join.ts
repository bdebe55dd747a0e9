import type { DiagnosticRecord } from '../contracts/diagnostic-record.js';
import type { JoinOutcome, LedgerEntry } from '../contracts/ledger-entry.js';

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

/** The entry with the join's verdict, or null when the entry already carries exactly that verdict. */
export function withOutcome(entry: LedgerEntry, outcome: JoinOutcome): LedgerEntry | null {
  if (entry.diagnostics && JSON.stringify(entry.diagnostics) === JSON.stringify(outcome)) return null;
  // A late record upgrades `none`; a match is never downgraded.
  if (entry.diagnostics?.status === 'matched' && outcome.status === 'none') return null;
  return { ...entry, diagnostics: outcome };
}

export interface JoinCounts {
  /** Distinct gateway requests with a diagnostic record. */
  readonly matched: number;
  /** Distinct gateway requests without one (the backend never answered, or its record is missing). */
  readonly noDiagnostics: number;
  /** Distinct diagnostic records with no gateway request: calls that bypassed the gateway. */
  readonly bypass: number;
}

/** Joins complete sets in memory (offline analysis, backfills); the pipeline does the same incrementally. */
export function joinAll(entries: Iterable<LedgerEntry>, records: Iterable<DiagnosticRecord>): { entries: LedgerEntry[]; bypass: DiagnosticRecord[]; counts: JoinCounts } {
  const byId = new Map<string, DiagnosticRecord>();
  for (const record of records) byId.set(record.correlationId, record);
  const joined: LedgerEntry[] = [];
  const used = new Set<string>();
  let matched = 0;
  for (const entry of entries) {
    const key = joinKey(entry);
    const record = key ? byId.get(key) : undefined;
    if (record && key) {
      used.add(key);
      matched++;
    }
    joined.push(withOutcome(entry, record ? matchedOutcome(record) : { status: 'none' }) ?? entry);
  }
  const bypass = [...byId.values()].filter((r) => !used.has(r.correlationId));
  return { entries: joined, bypass, counts: { matched, noDiagnostics: joined.length - matched, bypass: bypass.length } };
}
