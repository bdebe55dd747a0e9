import type { DiagnosticRecord, RejectedDiagnostic, StoredDiagnostic } from '../contracts/diagnostic-record.js';
import type { DeadLetter } from '../contracts/dead-letter.js';
import type { JoinOutcome, LedgerEntry } from '../contracts/ledger-entry.js';
import { joinKey, matchedOutcome, preferredRecord, recordsByCorrelationId, withOutcome, type JoinCounts } from '../domain/join.js';
import { isPartial, ledgerId, mayHaveCounterparts, mergeLedgerEntries, requestKey } from '../domain/ledger.js';
import { stableId } from '../domain/stable-id.js';
import type { DiagnosticsSource, LlmUsage, LlmUsageSource, WatermarkStore } from '../ports/diagnostics-source.js';
import type { AggregateStore } from '../ports/aggregate-store.js';
import type { DiagnosticsStore } from '../ports/diagnostics-store.js';
import type { DeadLetterStore, LedgerKey, LedgerStore, StoreOptions } from '../ports/ledger-store.js';

export interface JoinPorts {
  readonly source: DiagnosticsSource;
  readonly watermarks: WatermarkStore;
  readonly ledger: LedgerStore;
  readonly diagnostics: DiagnosticsStore;
  readonly deadLetters: DeadLetterStore;
  /** Hours whose entries the join changed are marked for the rollup. */
  readonly aggregates: Pick<AggregateStore, 'markDirty'>;
  /** APIM's `ApiManagementGatewayLlmLog`: tokens of streamed requests whose gateway event had none. */
  readonly llmUsage?: LlmUsageSource;
}

export interface JoinRunOptions extends StoreOptions {
  readonly now: Date;
  /** After this long without a counterpart, a request is final as "no diagnostics" and a record as bypass. */
  readonly graceInMs: number;
  readonly watermarkName: string;
  /** Upper bound on incremental reads per run, so a timer invocation stays within its time limit. */
  readonly maxReads?: number;
}

export interface JoinRunResult {
  readonly recordsRead: number;
  readonly rejected: number;
  readonly watermark: string | null;
  readonly entriesJudged: number;
  readonly recordsJudged: number;
}

function rejectedLetter(r: RejectedDiagnostic): DeadLetter {
  const id = stableId('diagnostic', r.raw);
  return {
    id,
    pk: id.slice(0, 2),
    reason: `diagnostic record rejected: ${r.reason}`,
    position: { partitionId: 'diagnostics', sequenceNumber: null, offset: r.source, enqueuedTimeUtc: null, itemIndex: null },
    raw: { encoding: 'utf8', data: r.raw, bytes: Buffer.byteLength(r.raw) },
  };
}

/** The ledger id a record's `CorrelationId` joins to (the same rule the ingest used for `apim-request-id`). */
function ledgerIdFor(record: DiagnosticRecord): string {
  return ledgerId(record.correlationId, 'gateway-v1', '');
}

export function withLlmUsage(entry: LedgerEntry, usage: LlmUsage | undefined): LedgerEntry | null {
  if (!usage || !entry.stream || entry.tokens.source !== 'none') return null;
  return { ...entry, tokens: { source: 'llm-log', promptTokens: usage.promptTokens, cachedTokens: 0, completionTokens: usage.completionTokens, reasoningTokens: 0 } };
}

/** Writes changed entries and marks their hours for the rollup. */
async function saveEntries(ports: Pick<JoinPorts, 'ledger' | 'aggregates'>, entries: readonly LedgerEntry[], options: StoreOptions): Promise<void> {
  if (entries.length === 0) return;
  const refused = await ports.ledger.upsertEntries(entries, options);
  if (refused.length > 0) throw new Error(`ledger store refused ${refused.length} enriched entries: ${refused[0]!.reason}`);
  await ports.aggregates.markDirty([...new Set(entries.map((e) => e.pk))], options);
}

async function firstPage<T>(pages: AsyncIterable<readonly T[]>): Promise<readonly T[]> {
  for await (const page of pages) return page;
  return [];
}

/** What storing records and enriching their entries needs: the join's ports, or the ingest's. */
export type RecordPorts = Pick<JoinPorts, 'ledger' | 'diagnostics' | 'aggregates' | 'llmUsage'>;

/**
 * Stores new records and enriches the ledger entries they belong to (one query per batch of ids). The join
 * runs it on what it reads from Log Analytics or the archive; the ingest on `RequestResponse` records that a
 * diagnostic setting streams to Event Hubs.
 */
export async function applyRecords(records: readonly DiagnosticRecord[], ports: RecordPorts, options: StoreOptions): Promise<void> {
  const fresh = [...recordsByCorrelationId(records).values()];
  if (fresh.length === 0) return;
  const known = new Map((await ports.diagnostics.getRecords(fresh.map((r) => r.correlationId), options)).map((r) => [r.correlationId, r]));
  // A stored complete record is not replaced by one with an unusable field.
  const unique = fresh.filter((r) => {
    const stored = known.get(r.correlationId);
    return !stored || preferredRecord(stored, r) === r;
  });
  if (unique.length === 0) return;
  const found = await ports.ledger.getEntries(unique.map((r) => ({ id: ledgerIdFor(r), pk: '' })), options);
  const entries = new Map(found.map((e) => [e.id, e]));
  const byId = new Map(unique.map((r) => [ledgerIdFor(r), r]));
  await saveEntries(ports, await enrich(found, (e) => matchedOutcome(byId.get(e.id)!), ports, options), options);
  const stored: StoredDiagnostic[] = unique.map((record) => ({
    ...record,
    gateway: entries.has(ledgerIdFor(record)) ? 'matched' : (known.get(record.correlationId)?.gateway ?? 'pending'),
  }));
  await ports.diagnostics.upsertRecords(stored, options);
  // New records change their hour's latency tiles (bypass records included).
  await ports.aggregates.markDirty([...new Set(stored.map((r) => r.time.slice(0, 13)))], options);
}

/**
 * Entries with the join's verdict and, for streams the gateway could not count, APIM's LLM-log tokens;
 * only the entries that changed are returned.
 */
async function enrich(entries: readonly LedgerEntry[], outcomeOf: (entry: LedgerEntry) => JoinOutcome, ports: Pick<JoinPorts, 'llmUsage'>, options: StoreOptions): Promise<LedgerEntry[]> {
  const streamed = entries.filter((e) => e.stream && e.tokens.source === 'none');
  const usage = ports.llmUsage && streamed.length > 0 ? await usageFor(streamed, ports.llmUsage, options) : new Map<string, LlmUsage>();
  const changed: LedgerEntry[] = [];
  for (const entry of entries) {
    const withTokens = withLlmUsage(entry, usage.get(entry.gatewayRequestId));
    const judged = withOutcome(withTokens ?? entry, outcomeOf(entry));
    if (judged ?? withTokens) changed.push((judged ?? withTokens)!);
  }
  return changed;
}

/**
 * Merges the halves of a request that two workers ingested at the same moment, each before the other's document
 * existed: APIM records stored under the gateway's request id, beside the document of the request's v1 event.
 * Returns the ids of the documents merged away.
 */
async function mergeStrayHalves(page: readonly LedgerEntry[], ports: JoinPorts, options: StoreOptions): Promise<Set<string>> {
  const strays = page.filter((e) => isPartial(e) && e.apimRequestId === null && mayHaveCounterparts(e));
  const removed = new Set<string>();
  if (strays.length === 0) return removed;
  const byRequest = new Map<string, LedgerEntry[]>();
  for (const found of await ports.ledger.getEntriesByGatewayRequestIds(strays.map((e) => e.gatewayRequestId), options)) {
    byRequest.set(requestKey(found), [...(byRequest.get(requestKey(found)) ?? []), found]);
  }
  const merged: LedgerEntry[] = [];
  const gone: LedgerKey[] = [];
  for (const documents of byRequest.values()) {
    if (documents.length < 2) continue;
    const combined = documents.reduce(mergeLedgerEntries);
    merged.push(combined);
    for (const d of documents) {
      if (d.id === combined.id && d.pk === combined.pk) continue;
      gone.push({ id: d.id, pk: d.pk });
      removed.add(d.id);
    }
  }
  await saveEntries(ports, merged, options);
  if (gone.length > 0) {
    await ports.ledger.deleteEntries(gone, options);
    await ports.aggregates.markDirty([...new Set(gone.map((k) => k.pk))], options);
  }
  return removed;
}

/** Judges ledger entries older than the cutoff that have no verdict yet: matched if a record exists, else none. */
async function judgeEntries(cutoff: Date, ports: JoinPorts, options: StoreOptions): Promise<number> {
  let judged = 0;
  for (;;) {
    const listed = await firstPage(ports.ledger.listUnjoined(cutoff, options));
    if (listed.length === 0) return judged;
    // After a merge the page is stale: read it again.
    if ((await mergeStrayHalves(listed, ports, options)).size > 0) continue;
    const page = listed;
    const keys = page.map(joinKey).filter((k): k is string => k !== null);
    const records = new Map((await ports.diagnostics.getRecords(keys, options)).map((r) => [r.correlationId, r]));
    const recordOf = (entry: LedgerEntry) => {
      const key = joinKey(entry);
      return key ? records.get(key) : undefined;
    };
    const updates = await enrich(page, (entry) => {
      const record = recordOf(entry);
      return record ? matchedOutcome(record) : { status: 'none' };
    }, ports, options);
    // Every entry of the page gets a verdict, so the next page query no longer returns it.
    await saveEntries(ports, updates, options);
    const matchedRecords = [...records.values()].filter((r) => r.gateway !== 'matched').map((r) => ({ ...r, gateway: 'matched' as const }));
    await ports.diagnostics.upsertRecords(matchedRecords, options);
    judged += page.length;
  }
}

async function usageFor(entries: readonly LedgerEntry[], source: LlmUsageSource, options: StoreOptions): Promise<Map<string, LlmUsage>> {
  const times = entries.map((e) => Date.parse(e.time));
  const range = { from: new Date(Math.min(...times) - 3_600_000), to: new Date(Math.max(...times) + 3_600_000) };
  const usage = await source.getUsage(entries.map((e) => e.gatewayRequestId), range, options);
  return new Map(usage.map((u) => [u.gatewayRequestId, u]));
}

/** Judges pending records older than the cutoff: matched if a gateway request exists (it came late), else bypass. */
async function judgeRecords(cutoff: Date, ports: JoinPorts, options: StoreOptions): Promise<number> {
  let judged = 0;
  for (;;) {
    const page = await firstPage(ports.diagnostics.listPending(cutoff, options));
    if (page.length === 0) return judged;
    const found = await ports.ledger.getEntries(page.map((r) => ({ id: ledgerIdFor(r), pk: '' })), options);
    const byId = new Map(page.map((r) => [ledgerIdFor(r), r]));
    await saveEntries(ports, await enrich(found, (e) => matchedOutcome(byId.get(e.id)!), ports, options), options);
    const judgedRecords = page.map((record): StoredDiagnostic => ({ ...record, gateway: found.some((e) => e.id === ledgerIdFor(record)) ? 'matched' : 'bypass' }));
    await ports.diagnostics.upsertRecords(judgedRecords, options);
    judged += page.length;
  }
}

/**
 * One join run: read diagnostics since the durable watermark, store them and enrich the matching ledger
 * entries, advancing the watermark only after each read is stored; then settle everything older than the
 * grace period. Every write is idempotent, so re-running over the same records changes nothing.
 */
export async function joinDiagnostics(ports: JoinPorts, options: JoinRunOptions): Promise<JoinRunResult> {
  let watermark = await ports.watermarks.get(options.watermarkName, options);
  let recordsRead = 0;
  let rejected = 0;
  for (let reads = 0; reads < (options.maxReads ?? 100); reads++) {
    const read = await ports.source.readSince(watermark, options);
    await applyRecords(read.records, ports, options);
    await ports.deadLetters.upsertDeadLetters(read.rejected.map(rejectedLetter), options);
    recordsRead += read.records.length;
    rejected += read.rejected.length;
    if (read.nextWatermark !== null) {
      watermark = read.nextWatermark;
      await ports.watermarks.set(options.watermarkName, watermark, options);
    }
    if (!read.more) break;
  }
  const cutoff = new Date(options.now.getTime() - options.graceInMs);
  const entriesJudged = await judgeEntries(cutoff, ports, options);
  const recordsJudged = await judgeRecords(cutoff, ports, options);
  return { recordsRead, rejected, watermark, entriesJudged, recordsJudged };
}

/** Join counts over [from, to): distinct requests matched / without diagnostics, and bypass records. */
export async function joinCounts(ledger: LedgerStore, diagnostics: DiagnosticsStore, range: { from: Date; to: Date }, options: StoreOptions = {}): Promise<JoinCounts> {
  let matched = 0;
  let noDiagnostics = 0;
  let bypass = 0;
  for await (const page of ledger.listEntries(range, options)) {
    for (const entry of page) {
      if (entry.diagnostics?.status === 'matched') matched++;
      else if (entry.diagnostics?.status === 'none') noDiagnostics++;
    }
  }
  for await (const page of diagnostics.listRecords(range, options)) bypass += page.filter((r) => r.gateway === 'bypass').length;
  return { matched, noDiagnostics, bypass };
}
