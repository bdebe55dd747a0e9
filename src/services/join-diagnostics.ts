import type { DiagnosticRecord, GatewayMatch, RejectedDiagnostic, StoredDiagnostic } from '../contracts/diagnostic-record.js';
import type { DeadLetter } from '../contracts/dead-letter.js';
import type { JoinOutcome, LedgerEntry } from '../contracts/ledger-entry.js';
import { joinKey, laterGatewayMatch, matchedOutcome, mergeStoredRecords, recordsByCorrelationId, withOutcome, type JoinCounts } from '../domain/join.js';
import { mergeLedgerEntries, partOf } from '../domain/ledger.js';
import { isLaterJoinWatermark } from '../domain/join-watermark.js';
import { stableId } from '../domain/stable-id.js';
import type { DiagnosticsSource, LlmUsage, LlmUsageSource, WatermarkStore } from '../ports/diagnostics-source.js';
import type { AggregateStore } from '../ports/aggregate-store.js';
import type { DiagnosticsStore, VersionedRecord } from '../ports/diagnostics-store.js';
import type { DeadLetterStore, LedgerKey, LedgerStore, StoredEntry, StoreOptions } from '../ports/ledger-store.js';
import { lastingFailureReason } from './failure-classification.js';
import { updateDiagnostics } from './update-diagnostics.js';
import { hoursOf, updateLedger, type LedgerUpdate } from './update-ledger.js';

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
  /** Records read that changed what the store held: a record read again as it is stored is not one. */
  readonly recordsStored: number;
  readonly rejected: number;
  readonly watermark: string | null;
  readonly entriesJudged: number;
  readonly recordsJudged: number;
  /** Streams the gateway could not count that got APIM's LLM-log tokens in this run. */
  readonly streamsCounted: number;
  /**
   * Why the APIM LLM log could not be read, when it failed for good (no `ApiManagementGatewayLlmLog` table in the
   * workspace, a missing role): the run went on without its token counts.
   */
  readonly llmUsageUnavailable?: string;
}

/**
 * The LLM usage source, answering nothing when it fails for good: `ApiManagementGatewayLlmLog` exists in a
 * workspace only once APIM's GatewayLlmLogs diagnostic setting has sent a row (Azure Monitor creates tables as data
 * arrives), and a query of a missing table fails every time. Left to throw, that failure would stop every join run
 * before it settles a request. A transient failure still fails the run, which is retried.
 */
function withoutLastingFailures(source: LlmUsageSource, unavailable: (reason: string) => void): LlmUsageSource {
  return {
    async getUsage(ids, range, options) {
      try {
        return await source.getUsage(ids, range, options);
      } catch (error) {
        unavailable(lastingFailureReason(error, options?.abortSignal));
        return [];
      }
    },
  };
}

/** Position of a record the join read (from Log Analytics or the archive) and rejected; its offset names where it was read. */
export const REJECTED_RECORD_POSITION = { partitionId: 'diagnostics', sequenceNumber: null, enqueuedTimeUtc: null, itemIndex: null } as const;

function rejectedLetter(r: RejectedDiagnostic): DeadLetter {
  const id = stableId('diagnostic', r.raw);
  return {
    id,
    pk: id.slice(0, 2),
    reason: `diagnostic record rejected: ${r.reason}`,
    position: { ...REJECTED_RECORD_POSITION, offset: r.source },
    raw: { encoding: 'utf8', data: r.raw, bytes: Buffer.byteLength(r.raw) },
  };
}

/** Whether `usage` holds a token count for `entry`, a stream the gateway could not count. */
function countsStream(entry: LedgerEntry, usage: LlmUsage | undefined): usage is LlmUsage {
  return !!usage && entry.stream && entry.tokens.source === 'none' && (usage.promptTokens > 0 || usage.completionTokens > 0 || usage.totalTokens > 0);
}

/**
 * The entry with APIM's LLM-log tokens of a stream the gateway could not count, or null when they change nothing.
 * They join the document as its LLM-log part (`mergeLedgerEntries`), so its gateway part stays as it was sent.
 * Usage without a token count is no count: the message rows of a split request carry null or 0 tokens, and taken
 * while its token row is not readable yet, they would settle the stream at 0 for good.
 */
export function withLlmUsage(entry: LedgerEntry, usage: LlmUsage | undefined): LedgerEntry | null {
  if (!countsStream(entry, usage)) return null;
  const tokens = { source: 'llm-log' as const, promptTokens: usage.promptTokens, cachedTokens: 0, completionTokens: usage.completionTokens, reasoningTokens: 0 };
  return mergeLedgerEntries(entry, { id: entry.id, schema: entry.schema, ...partOf(entry), source: 'apim-llm-log', tokens });
}

/**
 * Enriches `entries`' documents with conditional writes (`updateLedger`), and marks the hours of those that change
 * for the rollup, before each write as well as after. Once a write has landed, a run that failed before marking
 * would find nothing left to change when run again (the entry has its verdict or its tokens), and the hour would
 * never be rolled up again. The mark after the writes is for a rollup that took the first one before they landed.
 * `known` are documents already read with their version.
 */
async function saveEnriched(
  ports: Pick<JoinPorts, 'ledger' | 'aggregates'>,
  entries: readonly LedgerEntry[],
  enrichOne: (entry: LedgerEntry) => LedgerEntry | null,
  options: StoreOptions,
  known: readonly StoredEntry[] = [],
): Promise<void> {
  if (entries.length === 0) return;
  const markHours = (changes: readonly LedgerUpdate[]) => ports.aggregates.markDirty(hoursOf(changes), options);
  const { updates, refused } = await updateLedger(ports.ledger, entries.map(keyOf), (_key, current) => (current ? enrichOne(current) : null), options, known, markHours);
  if (refused.length > 0) throw new Error(`ledger store refused ${refused.length} enriched entries: ${refused[0]!.reason}`);
  const changed = updates.filter((u) => u.after !== null);
  if (changed.length > 0) await markHours(changed);
}

async function firstPage<T>(pages: AsyncIterable<readonly T[]>): Promise<readonly T[]> {
  for await (const page of pages) return page;
  return [];
}

/** What storing records and enriching their entries needs: the join's ports, or the ingest's. */
export type RecordPorts = Pick<JoinPorts, 'ledger' | 'diagnostics' | 'aggregates' | 'llmUsage'>;

const keyOf = (entry: LedgerEntry): LedgerKey => ({ id: entry.id });

/** Matches records to the entries whose `apimRequestId` is their correlation id, and enriches those entries. */
async function enrichWithRecords(records: ReadonlyMap<string, DiagnosticRecord>, ports: RecordPorts, options: StoreOptions): Promise<StoredEntry[]> {
  const found = await ports.ledger.getEntriesByApimRequestIds([...records.keys()], options);
  const entries = found.map((f) => f.entry);
  const usage = await usageOf(entries, ports, options);
  const recordOf = (entry: LedgerEntry) => {
    const key = joinKey(entry);
    return key === null ? undefined : records.get(key);
  };
  await saveEnriched(ports, entries, (entry) => {
    const record = recordOf(entry);
    return enriched(entry, record ? matchedOutcome(record) : null, usage);
  }, options, found);
  return found;
}

/**
 * Stores records with conditional writes (`updateDiagnostics`), and marks the hours of those that change for the
 * rollup, as `saveEnriched` does for entries: before each write, as a run that failed after the write landed would
 * find nothing left to change when run again; and after, for a rollup that took the first mark before the write
 * landed. A record's content and its gateway status (a traffic tile counts bypass records) are both in its hour's
 * tiles. A record that would be written as it is stored (an overlapping read) changes no hour.
 */
async function saveRecords(
  ports: Pick<RecordPorts, 'diagnostics' | 'aggregates'>,
  correlationIds: readonly string[],
  change: (correlationId: string, current: StoredDiagnostic | null) => StoredDiagnostic | null,
  options: StoreOptions,
  known: readonly VersionedRecord[] = [],
): Promise<number> {
  const markHours = (records: readonly StoredDiagnostic[]) => ports.aggregates.markDirty([...new Set(records.map((r) => r.time.slice(0, 13)))], options);
  const written = await updateDiagnostics(ports.diagnostics, correlationIds, change, options, known, markHours);
  if (written.length > 0) await markHours(written);
  return written.length;
}

/** Moves each stored record's status forward to its verdict (see `laterGatewayMatch`), with conditional writes. */
async function judgeStoredRecords(ports: Pick<RecordPorts, 'diagnostics' | 'aggregates'>, verdicts: ReadonlyMap<string, GatewayMatch>, options: StoreOptions, known: readonly VersionedRecord[] = []): Promise<void> {
  await saveRecords(ports, [...verdicts.keys()], (id, current) => current && { ...current, gateway: laterGatewayMatch(current.gateway, verdicts.get(id)!) }, options, known);
}

/**
 * Stores new records and enriches the ledger entries they belong to (one query per batch of ids). The join
 * runs it on what it reads from Log Analytics or the archive; the ingest on `RequestResponse` records that a
 * diagnostic setting streams to Event Hubs. A record's status is merged into the stored one, never written over
 * it: the join may have judged it since it was read. Answers how many records it wrote: a record read again as
 * the store holds it writes nothing.
 */
export async function applyRecords(records: readonly DiagnosticRecord[], ports: RecordPorts, options: StoreOptions): Promise<number> {
  const fresh = [...recordsByCorrelationId(records).values()];
  if (fresh.length === 0) return 0;
  const read = await ports.diagnostics.readRecords(fresh.map((r) => r.correlationId), options);
  // Every record enriches the ledger (matches merge whatever their order); the stored one is the preferred one.
  const found = await enrichWithRecords(new Map(fresh.map((r) => [r.correlationId.toLowerCase(), r])), ports, options);
  const matched = new Set(found.flatMap(({ entry }) => joinKey(entry) ?? []));
  const stored = new Map(fresh.map((record): [string, StoredDiagnostic] => [record.correlationId, { ...record, gateway: matched.has(record.correlationId.toLowerCase()) ? 'matched' : 'pending' }]));
  return saveRecords(ports, [...stored.keys()], (id, current) => mergeStoredRecords(current, stored.get(id)!), options, read);
}

async function usageOf(entries: readonly LedgerEntry[], ports: Pick<JoinPorts, 'llmUsage'>, options: StoreOptions): Promise<Map<string, LlmUsage>> {
  const streamed = entries.filter((e) => e.stream && e.tokens.source === 'none');
  return ports.llmUsage && streamed.length > 0 ? usageFor(streamed, ports.llmUsage, options) : new Map<string, LlmUsage>();
}

/**
 * The entry with the join's verdict (when there is one) and, for streams the gateway could not count, APIM's
 * LLM-log tokens; null when that changes nothing.
 */
function enriched(entry: LedgerEntry, outcome: JoinOutcome | null, usage: ReadonlyMap<string, LlmUsage>): LedgerEntry | null {
  const withTokens = withLlmUsage(entry, usage.get(entry.gatewayRequestId));
  const judged = outcome ? withOutcome(withTokens ?? entry, outcome) : null;
  return judged ?? withTokens;
}

/** Judges ledger entries older than the cutoff that have no verdict yet: matched if a record exists, else none. */
async function judgeEntries(cutoff: Date, ports: JoinPorts, options: StoreOptions): Promise<number> {
  let judged = 0;
  for (;;) {
    const page = await firstPage(ports.ledger.listUnjoined(cutoff, options));
    if (page.length === 0) return judged;
    const keys = page.map(joinKey).filter((k): k is string => k !== null);
    const read = await ports.diagnostics.readRecords(keys, options);
    const records = new Map(read.map(({ record }) => [record.correlationId, record]));
    const recordOf = (entry: LedgerEntry) => {
      const key = joinKey(entry);
      return key ? records.get(key) : undefined;
    };
    const usage = await usageOf(page, ports, options);
    // Every entry of the page gets a verdict, so the next page query no longer returns it.
    await saveEnriched(ports, page, (entry) => {
      const record = recordOf(entry);
      return enriched(entry, record ? matchedOutcome(record) : { status: 'none' }, usage);
    }, options);
    await judgeStoredRecords(ports, new Map([...records.keys()].map((id) => [id, 'matched'])), options, read);
    judged += page.length;
  }
}

async function usageFor(entries: readonly LedgerEntry[], source: LlmUsageSource, options: StoreOptions): Promise<Map<string, LlmUsage>> {
  const times = entries.map((e) => Date.parse(e.time));
  const range = { from: new Date(Math.min(...times) - 3_600_000), to: new Date(Math.max(...times) + 3_600_000) };
  const usage = await source.getUsage(entries.map((e) => e.gatewayRequestId), range, options);
  return new Map(usage.map((u) => [u.gatewayRequestId, u]));
}

/**
 * Streams the gateway could not count, in [cutoff, now), get APIM's LLM-log tokens as soon as the log has them.
 * The log and the `RequestResponse` record come from two resources, each minutes late and in either order: a
 * stream matched before its LLM-log rows were queryable is asked again on every run until the grace period ends.
 */
async function countStreams(range: { from: Date; to: Date }, ports: JoinPorts, options: StoreOptions): Promise<number> {
  if (!ports.llmUsage) return 0;
  let counted = 0;
  for await (const page of ports.ledger.listUncountedStreams(range, options)) {
    const usage = await usageFor(page, ports.llmUsage, options);
    const found = page.filter((entry) => countsStream(entry, usage.get(entry.gatewayRequestId)));
    await saveEnriched(ports, found, (entry) => withLlmUsage(entry, usage.get(entry.gatewayRequestId)), options);
    counted += found.length;
  }
  return counted;
}

/** Judges pending records older than the cutoff: matched if a gateway request exists (it came late), else bypass. */
async function judgeRecords(cutoff: Date, ports: JoinPorts, options: StoreOptions): Promise<number> {
  let judged = 0;
  for (;;) {
    const page = await firstPage(ports.diagnostics.listPending(cutoff, options));
    if (page.length === 0) return judged;
    const found = await enrichWithRecords(new Map(page.map((r) => [r.correlationId.toLowerCase(), r])), ports, options);
    const matched = new Set(found.flatMap(({ entry }) => joinKey(entry) ?? []));
    await judgeStoredRecords(ports, new Map(page.map((record) => [record.correlationId, matched.has(record.correlationId.toLowerCase()) ? 'matched' : 'bypass'])), options);
    judged += page.length;
  }
}

/**
 * One join run: read diagnostics since the durable watermark, store them and enrich the matching ledger
 * entries, advancing the watermark only after each read is stored; then settle everything older than the
 * grace period. Every write is idempotent, so re-running over the same records changes nothing.
 */
export async function joinDiagnostics(given: JoinPorts, options: JoinRunOptions): Promise<JoinRunResult> {
  let llmUsageUnavailable: string | undefined;
  const ports = given.llmUsage ? { ...given, llmUsage: withoutLastingFailures(given.llmUsage, (reason) => (llmUsageUnavailable ??= reason)) } : given;
  let watermark = await ports.watermarks.get(options.watermarkName, options);
  let recordsRead = 0;
  let recordsStored = 0;
  let rejected = 0;
  for (let reads = 0; reads < (options.maxReads ?? 100); reads++) {
    const read = await ports.source.readSince(watermark, options);
    recordsStored += await applyRecords(read.records, ports, options);
    await ports.deadLetters.upsertDeadLetters(read.rejected.map(rejectedLetter), options);
    recordsRead += read.records.length;
    rejected += read.rejected.length;
    if (read.nextWatermark !== null) {
      watermark = read.nextWatermark;
      await ports.watermarks.set(options.watermarkName, watermark, { ...options, isLater: isLaterJoinWatermark });
    }
    if (!read.more) break;
  }
  const cutoff = new Date(options.now.getTime() - options.graceInMs);
  const streamsCounted = await countStreams({ from: cutoff, to: options.now }, ports, options);
  const entriesJudged = await judgeEntries(cutoff, ports, options);
  const recordsJudged = await judgeRecords(cutoff, ports, options);
  return { recordsRead, recordsStored, rejected, watermark, entriesJudged, recordsJudged, streamsCounted, ...(llmUsageUnavailable === undefined ? {} : { llmUsageUnavailable }) };
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
