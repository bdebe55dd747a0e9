import { deadLetterSchema, type DeadLetter } from '../../../src/contracts/dead-letter.js';
import { GATEWAY_EVENT_SCHEMA_V1, gatewayEventV1Schema } from '../../../src/contracts/gateway-event.js';
import { ledgerEntrySchema, type LedgerEntry } from '../../../src/contracts/ledger-entry.js';
import { sortBatch, type ReceivedEvent } from '../../../src/services/ingest-batch.js';

/** Event Hubs' largest event (1 MiB): the ingest refuses larger bodies. */
export const ONE_MIB = 1024 * 1024;
const MAX_TOKENS = 100_000_000;
const COSMOS_SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** What a body should become, worked out without the pipeline's decoder: one dead letter, or one outcome per item. */
export type Expectation = { readonly kind: 'body' } | { readonly kind: 'items'; readonly items: number };

function byteLength(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

function parseText(text: string): { ok: true; value: unknown } | { ok: false } {
  const stripped = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (byteLength(stripped) > ONE_MIB) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(stripped) as unknown };
  } catch {
    return { ok: false };
  }
}

function stringifies(value: unknown): boolean {
  try {
    return JSON.stringify(value) !== undefined;
  } catch {
    return false;
  }
}

export function expectationFor(body: unknown): Expectation {
  let value: unknown;
  if (body instanceof Uint8Array) {
    if (body.byteLength > ONE_MIB) return { kind: 'body' };
    let text: string;
    try {
      text = strictUtf8.decode(body);
    } catch {
      return { kind: 'body' };
    }
    const parsed = parseText(text);
    if (!parsed.ok) return { kind: 'body' };
    value = parsed.value;
  } else if (typeof body === 'string') {
    const parsed = parseText(body);
    if (!parsed.ok) return { kind: 'body' };
    value = parsed.value;
  } else {
    let text: string | undefined;
    try {
      text = JSON.stringify(body);
    } catch {
      return { kind: 'body' };
    }
    if (text === undefined || byteLength(text) > ONE_MIB) return { kind: 'body' };
    value = body;
  }
  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  const list = Array.isArray(value) ? value : isObject && Array.isArray((value as Record<string, unknown>)['records']) ? ((value as Record<string, unknown>)['records'] as unknown[]) : null;
  if (list === null) return isObject ? { kind: 'items', items: 1 } : { kind: 'body' };
  if (list.length === 0 || !list.every(stringifies)) return { kind: 'body' };
  return { kind: 'items', items: list.length };
}

/**
 * The v1 event a ledger entry stands for, rebuilt from the entry alone: every entry in the ledger must pass the
 * v1 rules again (ids, time, token counts and their relations, status, timings).
 */
export function asV1Event(entry: LedgerEntry): Record<string, unknown> {
  return {
    schema: GATEWAY_EVENT_SCHEMA_V1,
    gatewayRequestId: entry.gatewayRequestId,
    apimRequestId: entry.apimRequestId,
    time: entry.time,
    gateway: { service: entry.gateway.service, region: entry.gateway.regionCode, backendId: entry.gateway.backendId },
    backendRegion: entry.backendRegion,
    subscriptionId: entry.subscriptionId,
    productId: entry.productId,
    caller: entry.caller,
    deployment: entry.deployment,
    model: entry.model,
    operation: entry.operation,
    stream: entry.stream,
    status: entry.status,
    usage:
      entry.tokens.source === 'none'
        ? null
        : { promptTokens: entry.tokens.promptTokens, cachedTokens: entry.tokens.cachedTokens, completionTokens: entry.tokens.completionTokens, reasoningTokens: entry.tokens.reasoningTokens },
    timings: entry.timings,
    rateLimit: entry.rateLimit,
  };
}

const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0 && n <= MAX_TOKENS;

/** Why a ledger entry is not acceptable, or null: the stored shape, the v1 rules again, and checks of our own. */
export function ledgerProblem(entry: LedgerEntry, now: number): string | null {
  const stored = ledgerEntrySchema.safeParse(JSON.parse(JSON.stringify(entry)));
  if (!stored.success) return `stored shape: ${stored.error.issues[0]?.message}`;
  const v1 = gatewayEventV1Schema.safeParse(asV1Event(entry));
  if (!v1.success) return `v1 rules: ${v1.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
  const t = entry.tokens;
  if (![t.promptTokens, t.cachedTokens, t.completionTokens, t.reasoningTokens].every(isCount)) return 'a token count is not an integer in [0, 1e8]';
  if (t.cachedTokens > t.promptTokens || t.reasoningTokens > t.completionTokens) return 'cached or reasoning tokens exceed their total';
  const time = Date.parse(entry.time);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(entry.time) || Number.isNaN(time)) return `time ${entry.time} is not a UTC ISO instant`;
  if (time > now + 86_400_000 + 60_000) return `time ${entry.time} is more than a day in the future`;
  if (!COSMOS_SAFE_ID.test(entry.id)) return `id ${JSON.stringify(entry.id).slice(0, 60)} is not a Cosmos-safe id`;
  if (entry.status !== null && !(Number.isInteger(entry.status) && entry.status >= 100 && entry.status <= 599)) return `status ${entry.status}`;
  return null;
}

export function deadLetterProblem(letter: DeadLetter): string | null {
  const parsed = deadLetterSchema.safeParse(JSON.parse(JSON.stringify(letter)));
  if (!parsed.success) return `dead-letter shape: ${parsed.error.issues[0]?.message}`;
  if (letter.reason.trim() === '') return 'dead letter without a reason';
  if (!COSMOS_SAFE_ID.test(letter.id)) return `dead-letter id ${letter.id} is not Cosmos-safe`;
  return null;
}

export interface BodyVerdict {
  /** Items that ended as neither a ledger entry nor a dead letter. */
  readonly lost: number;
  /** Outcomes beyond one per item. */
  readonly doubled: number;
  /** The pipeline threw, or an outcome breaks an invariant (invalid ledger entry, dead letter without reason). */
  readonly problems: readonly string[];
  readonly entries: number;
  readonly deadLetters: number;
}

/** Sorts one body on its own and checks that every item ended as exactly one valid ledger entry or dead letter. */
export function checkBody(body: unknown, now: number): BodyVerdict {
  const event: ReceivedEvent = { body, position: { partitionId: '7', sequenceNumber: 42, offset: '4096', enqueuedTimeUtc: '2026-11-21T10:00:00Z' } };
  let sorted: ReturnType<typeof sortBatch>;
  try {
    sorted = sortBatch([event]);
  } catch (error) {
    return { lost: 0, doubled: 0, problems: [`sortBatch threw ${String(error).slice(0, 200)}`], entries: 0, deadLetters: 0 };
  }
  const problems: string[] = [];
  for (const entry of sorted.entries) {
    const problem = ledgerProblem(entry, now);
    if (problem) problems.push(`ledger entry: ${problem}`);
  }
  for (const letter of sorted.deadLetters) {
    const problem = deadLetterProblem(letter);
    if (problem) problems.push(problem);
    if (letter.position.partitionId !== '7' || letter.position.sequenceNumber !== 42) problems.push('dead letter lost its source position');
  }
  const outcomes = sorted.entries.length + sorted.deadLetters.length;
  const expected = expectationFor(body);
  const bodyLetter = sorted.deadLetters.length === 1 && sorted.entries.length === 0 && sorted.deadLetters[0]!.position.itemIndex === null;
  let lost = 0;
  let doubled = 0;
  if (expected.kind === 'body') {
    if (!bodyLetter) {
      lost += Math.max(0, 1 - outcomes);
      doubled += Math.max(0, outcomes - 1);
      if (outcomes === 1) problems.push('a body that cannot be read was accepted as an item');
    }
  } else if (!(expected.items === 1 && outcomes === 1)) {
    lost += Math.max(0, expected.items - outcomes);
    doubled += Math.max(0, outcomes - expected.items);
    const indexes = sorted.deadLetters.map((l) => l.position.itemIndex).filter((i): i is number => i !== null);
    if (new Set(indexes).size !== indexes.length) problems.push('two dead letters for one item');
  }
  return { lost, doubled, problems, entries: sorted.entries.length, deadLetters: sorted.deadLetters.length };
}
