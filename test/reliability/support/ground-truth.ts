import type { DeadLetter } from '../../../src/contracts/dead-letter.js';
import { GATEWAY_EVENT_SCHEMA_V1 } from '../../../src/contracts/gateway-event.js';
import type { LedgerEntry } from '../../../src/contracts/ledger-entry.js';
import type { DeadLetterStore, LedgerStore } from '../../../src/ports/ledger-store.js';
import { TokenTotalsByIdentity } from '../../../src/domain/token-totals.js';
import { withLlmUsage } from '../../../src/services/join-diagnostics.js';
import type { SimulatedDay } from '../../../src/simulator/traffic.js';

const TOKEN_FIELDS = ['requests', 'promptTokens', 'cachedTokens', 'completionTokens', 'reasoningTokens'] as const;

export interface GroundTruthCheck {
  /** Expected ledger entries, dead letters and identity totals that are missing or short. */
  readonly lost: number;
  /** Documents present more than once or without a source event, and identity totals that are too high. */
  readonly doubled: number;
  /** Distinct events the simulator sent (each must end as exactly one ledger entry or dead letter). */
  readonly distinctEvents: number;
  readonly ledgerEntries: number;
  readonly deadLetters: number;
  /** Identities whose totals differ from the ground truth, with both sides. */
  readonly identityDifferences: readonly { identity: string; expected: unknown; actual: unknown }[];
  readonly identities: number;
}

async function all<T>(pages: AsyncIterable<readonly T[]>): Promise<T[]> {
  const items: T[] = [];
  for await (const page of pages) items.push(...page);
  return items;
}

/** The payload's text; a payload kept in Blob storage is named by its hash (simulated days have none that large). */
function rawText(letter: DeadLetter): string {
  if (!('data' in letter.raw)) return `blob sha256:${letter.raw.blob.sha256}`;
  return letter.raw.encoding === 'utf8' ? letter.raw.data : Buffer.from(letter.raw.data, 'base64').toString('utf8');
}

/**
 * Proves the stores against the simulator's ground truth, without the pipeline's own id rules: every request
 * (by its `gatewayRequestId`, read from the event text) has exactly one ledger document, every malformed line
 * has exactly one dead letter holding its text, and per-identity token totals equal the simulator's sums.
 */
export async function checkGroundTruth(day: SimulatedDay, ledger: LedgerStore, deadLetters: DeadLetterStore): Promise<GroundTruthCheck> {
  const truth = day.groundTruth;
  const distinct = new Set(day.eventLines);
  // Every request's key, from the text the gateway sent (malformed variants of a line reuse its request's key).
  const expectedKeys = new Set<string>();
  for (const line of distinct) {
    try {
      const event = JSON.parse(line) as { schema?: unknown; gatewayRequestId?: unknown; id?: unknown; promptTokens?: unknown; responseTokens?: unknown };
      if (event.schema === GATEWAY_EVENT_SCHEMA_V1 && typeof event.gatewayRequestId === 'string') expectedKeys.add(event.gatewayRequestId);
      // An AI Hub Gateway payload: its request key is its own id.
      else if (event.promptTokens !== undefined && event.responseTokens !== undefined && typeof event.id === 'string') expectedKeys.add(event.id);
    } catch {
      // not JSON: a malformed line, it has no request key
    }
  }
  if (expectedKeys.size !== truth.ledgerEntries) throw new Error(`ground truth: ${expectedKeys.size} request keys in the events, ${truth.ledgerEntries} requests simulated`);

  const entries: LedgerEntry[] = await all(ledger.listEntries({ from: new Date('2000-01-01T00:00:00Z'), to: new Date('2100-01-01T00:00:00Z') }));
  const perKey = new Map<string, number>();
  for (const entry of entries) perKey.set(entry.gatewayRequestId, (perKey.get(entry.gatewayRequestId) ?? 0) + 1);
  let lost = [...expectedKeys].filter((key) => !perKey.has(key)).length;
  let doubled = [...perKey.entries()].reduce((sum, [key, n]) => sum + (expectedKeys.has(key) ? n - 1 : n), 0);

  const letters = await all(deadLetters.listDeadLetters());
  const perText = new Map<string, number>();
  for (const letter of letters) perText.set(rawText(letter), (perText.get(rawText(letter)) ?? 0) + 1);
  const lettersForEvents = [...perText.keys()].filter((text) => distinct.has(text)).length;
  doubled += [...perText.entries()].reduce((sum, [text, n]) => sum + (distinct.has(text) ? n - 1 : n), 0);
  lost += Math.max(0, truth.deadLetters - lettersForEvents);
  doubled += Math.max(0, lettersForEvents - truth.deadLetters);

  // What identityTokenReport computes for the day, from the entries already read (one pass over the ledger).
  const dayStart = Date.parse(`${truth.day}T00:00:00Z`);
  // Streams cut short are charged what APIM's LLM log counted, as the join does with its LLM-usage source (these
  // runs have none): the simulator's LLM-log export stands for it.
  const llmUsage = new Map(day.llmLog.map((row) => [row.CorrelationId, { gatewayRequestId: row.CorrelationId, promptTokens: row.PromptTokens, completionTokens: row.CompletionTokens, totalTokens: row.TotalTokens }]));
  const totals = new TokenTotalsByIdentity();
  for (const entry of entries) {
    if (Date.parse(entry.time) >= dayStart && Date.parse(entry.time) < dayStart + 86_400_000) totals.add(withLlmUsage(entry, llmUsage.get(entry.gatewayRequestId)) ?? entry);
  }
  const report = { rows: totals.rows() };
  const actual = new Map(report.rows.map((row) => [row.identity, row]));
  const identityDifferences: { identity: string; expected: unknown; actual: unknown }[] = [];
  for (const expected of truth.identities) {
    const row = actual.get(expected.identity);
    const pick = (r: Record<(typeof TOKEN_FIELDS)[number], number>) => Object.fromEntries(TOKEN_FIELDS.map((f) => [f, r[f]]));
    if (!row || TOKEN_FIELDS.some((f) => row[f] !== expected[f])) {
      identityDifferences.push({ identity: expected.identity, expected: pick(expected), actual: row ? pick(row) : null });
      if (!row || TOKEN_FIELDS.some((f) => row[f] < expected[f])) lost++;
      else doubled++;
    }
  }
  const expectedIdentities = new Set(truth.identities.map((t) => t.identity));
  for (const row of report.rows.filter((r) => !expectedIdentities.has(r.identity))) {
    identityDifferences.push({ identity: row.identity, expected: null, actual: row });
    doubled++;
  }
  return { lost, doubled, distinctEvents: distinct.size, ledgerEntries: entries.length, deadLetters: letters.length, identityDifferences, identities: report.rows.length };
}
