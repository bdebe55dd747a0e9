/**
 * Prompt, completion and credential content must never be stored (README "How it works" →
 * "Dead letters": "prompt, completion and credential content is never stored … a URL's query is dropped when it
 * holds a credential (`subscription-key=`, `sig=`, …) … A body naming one that cannot be read (not JSON, or nested
 * too deep to write) keeps only its size and SHA-256"; "Poison batches": raw bodies kept "without prompt, completion
 * and credential content, cut as in dead letters").
 *
 * Facts used:
 * - RFC 8259 §7: any character of a JSON string may be written as a `\u` escape of its code, and `/` as `\/`; the
 *   escaped text denotes the very same string. (System.Text.Json's default encoder writes `&` as `\u0026`.)
 * - OWASP Logging Cheat Sheet ("Data to exclude"): access tokens, passwords/keys, session identifiers and sensitive
 *   personal data must not be recorded directly; a SAS `sig=` is the signature that makes a URL a bearer credential
 *   (Learn, "Grant limited access to Azure Storage resources using shared access signatures": "protect a SAS as you
 *   would the account key").
 */
import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/contracts/dead-letter.js';
import { ingestBatch, sortBatch } from '../../src/services/ingest-batch.js';
import { toQuarantinedBatch } from '../../src/services/ingest-or-quarantine.js';
import { API_KEY, gatewayLogsRecord, POSITION, PROMPT } from '../support/apim-content-records.js';
import { MemoryAggregateStore, MemoryDeadLetterStore, MemoryDiagnosticsStore, MemoryLedgerStore } from '../support/memory-stores.js';

const ports = () => ({ ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore(), deadLetters: new MemoryDeadLetterStore(), aggregates: new MemoryAggregateStore() });
/** A record rejected for its time (no zone), so it becomes a dead letter (as in test/unit/content-fields.test.ts). */
const withoutZone = (record: Record<string, unknown>): Record<string, unknown> => ({ ...record, time: '2026-11-20T09:41:07.011' });

/** Everything a dead letter stores, with base64 payloads decoded, as one text. */
function storedText(letters: readonly DeadLetter[]): string {
  return letters.map((l) => (l.raw.encoding === 'base64' && 'data' in l.raw ? Buffer.from(l.raw.data, 'base64').toString('latin1') : JSON.stringify(l.raw))).join('\n');
}
function quarantinedText(body: unknown): string {
  const batch = toQuarantinedBatch([{ body, position: POSITION }], 'permanent', 'test', 1, new Date('2026-11-20T10:00:00Z'));
  return batch.events.map((e) => (e.body.encoding === 'base64' ? Buffer.from(e.body.data, 'base64').toString('latin1') : e.body.data)).join('\n');
}

/** A GatewayLogs record without body or header logging, whose URL carries an APIM subscription key in its query. */
function recordWithKeyInUrl(correlationId: string, secret: string): Record<string, unknown> {
  const record = withoutZone(gatewayLogsRecord(correlationId));
  const properties = record['properties'] as Record<string, unknown>;
  for (const field of ['requestBody', 'backendRequestBody', 'backendResponseBody', 'responseBody', 'backendRequestHeaders']) delete properties[field];
  properties['url'] = `${properties['url']}&subscription-key=${secret}`;
  return record;
}

describe('content of a body that is not valid UTF-8', () => {
  it('keeps neither the prompt nor the api-key header of a GatewayLogs body with one stray non-UTF-8 byte, in its dead letter or quarantine', async () => {
    const text = JSON.stringify({ records: [withoutZone(gatewayLogsRecord('11111111-1111-4111-8111-111111111111'))] });
    // One byte that is not UTF-8 (0xFF) between two records' worth of otherwise valid JSON.
    const body = Buffer.concat([Buffer.from(text.slice(0, -2), 'utf8'), Buffer.from([0xff]), Buffer.from(text.slice(-2), 'utf8')]);
    const p = ports();
    await ingestBatch([{ body, position: POSITION }], p);
    const stored = storedText(p.deadLetters.snapshot());
    expect(stored).not.toContain(PROMPT);
    expect(stored).not.toContain(API_KEY);
    const quarantined = quarantinedText(body);
    expect(quarantined).not.toContain(PROMPT);
    expect(quarantined).not.toContain(API_KEY);
  });
});

describe('credential in a URL query written with JSON escapes', () => {
  it.each([
    ['\\u0026 for &', (json: string) => json.replace('&subscription-key=', '\\u0026subscription-key=')],
    ['\\/ for /', (json: string) => json.replace(/https:\/\//g, 'https:\\/\\/')],
  ])('drops the subscription key of properties.url from the dead letter and quarantine when the JSON writes %s', (_name, escape) => {
    const secret = 'c0ffee0123456789abcdef0123456789';
    const json = escape(JSON.stringify({ records: [recordWithKeyInUrl('11111111-1111-4111-8111-111111111112', secret)] }));
    // The same document: JSON.parse reads the same URL with the key in it.
    expect(JSON.stringify(JSON.parse(json))).toContain(`subscription-key=${secret}`);
    const body = Buffer.from(json, 'utf8');
    const { deadLetters } = sortBatch([{ body, position: POSITION }]);
    expect(deadLetters).toHaveLength(1);
    expect(storedText(deadLetters)).not.toContain(secret);
    expect(quarantinedText(body)).not.toContain(secret);
  });
});

describe('SAS signature in a rejected gateway v1 event', () => {
  it('drops the sig= of gateway.backendUrl from the dead letter of a v1 event it rejects', () => {
    const event = {
      schema: 'tokenledger.gateway/v1',
      gatewayRequestId: 'req-1',
      apimRequestId: null,
      time: 'not a time',
      gateway: { service: 'apim-contoso-ai', backendUrl: 'https://contoso.blob.core.windows.net/c/b?sv=2022-11-02&sp=r&sig=S3CR3TSASSIGNATURE%3D' },
      status: 200,
    };
    const body = Buffer.from(JSON.stringify(event), 'utf8');
    const { deadLetters } = sortBatch([{ body, position: POSITION }]);
    expect(deadLetters).toHaveLength(1);
    expect(storedText(deadLetters)).not.toContain('S3CR3TSASSIGNATURE');
    expect(quarantinedText(body)).not.toContain('S3CR3TSASSIGNATURE');
  });
});
