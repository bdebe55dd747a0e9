import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import { adaptApimRecord, apimDiagnosticRecordSchema } from '../../src/contracts/apim-diagnostics.js';
import { gatewayEventV1Schema } from '../../src/contracts/gateway-event.js';
import { checkGatewayEventV1 } from '../../src/contracts/gateway-event-check.js';
import { anyValue, canonicalEvents, mutate, mutatedEvent, ordered, simulatedValues } from '../support/gateway-event-arbitraries.js';

/** The rule that makes the fast check safe: it answers null, or exactly what zod answers. */
function expectNullOrZodOutput(value: unknown): void {
  const fast = checkGatewayEventV1(value);
  if (fast === null) return;
  const parsed = gatewayEventV1Schema.safeParse(value);
  expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
  expect(ordered(fast)).toStrictEqual(ordered(parsed.data));
}

describe('checkGatewayEventV1', () => {
  it('answers null or exactly what zod answers, for simulated events with random mutations', () => {
    fc.assert(
      fc.property(mutatedEvent, (event) => {
        expectNullOrZodOutput(event);
      }),
      { numRuns: 3000 },
    );
  });

  it('answers null or exactly what zod answers, for the malformed events of the simulator and values that are not events', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...simulatedValues), anyValue, fc.anything()), (value) => {
        expectNullOrZodOutput(value);
      }),
      { numRuns: 500 },
    );
  });

  it('takes the fast path for every canonical event of the simulator', () => {
    expect(canonicalEvents.length).toBeGreaterThan(300);
    for (const value of canonicalEvents) expect(checkGatewayEventV1(value)).toStrictEqual(gatewayEventV1Schema.parse(value));
  });

  it('leaves the last-resort event of the APIM policy, optional keys absent, to zod', () => {
    const lastResort = { schema: 'tokenledger.gateway/v1', gatewayRequestId: 'g-1', apimRequestId: null, time: '2026-06-01T10:00:00.000Z', gateway: { service: 'apim' }, status: null };
    expect(checkGatewayEventV1(lastResort)).toBeNull();
    expect(gatewayEventV1Schema.safeParse(lastResort).success).toBe(true);
  });

  it('keeps an absent totalTokens absent and fills the zod defaults', () => {
    const base = canonicalEvents.find((value) => (value as { usage: unknown }).usage !== null)!;
    const event = mutate(base, [
      { path: ['usage'], op: 'set', value: { promptTokens: 10 } },
      { path: ['stream'], op: 'delete' },
    ]);
    const checked = checkGatewayEventV1(event);
    expect(checked?.usage).toStrictEqual({ promptTokens: 10, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 });
    expect(checked?.stream).toBe(false);
    expectNullOrZodOutput(event);
  });

  it('leaves ids that need trimming and lone surrogates to zod', () => {
    const base = canonicalEvents.find((value) => (value as { caller: unknown }).caller !== null)!;
    for (const [path, value] of [
      [['gatewayRequestId'], ' g-1 '],
      [['caller', 'upn'], 'ana\ud800@contoso.example'],
    ] as const) {
      const event = mutate(base, [{ path, op: 'set', value }]);
      expect(checkGatewayEventV1(event)).toBeNull();
    }
  });

  it("takes times in other forms (APIM's seven fractional digits, offsets) by zod's own rule for the field, as written", () => {
    const base = canonicalEvents[0]!;
    for (const time of ['2024-07-02T06:31:31.4465902Z', '2026-06-01T10:00:00Z', '2026-06-01T12:00:00.000+02:00']) {
      const event = mutate(base, [{ path: ['time'], op: 'set', value: time }]);
      expect(checkGatewayEventV1(event)?.time).toBe(time);
      expectNullOrZodOutput(event);
    }
    for (const time of ['2026-02-30T10:00:00.0000000Z', '2019-12-31T23:59:59.9999999Z', '2126-06-01T10:00:00.0000000Z', '2026-06-01 10:00:00Z', '2026-06-01T10:00:00']) {
      const event = mutate(base, [{ path: ['time'], op: 'set', value: time }]);
      expect(checkGatewayEventV1(event), time).toBeNull();
      expect(gatewayEventV1Schema.safeParse(event).success, time).toBe(false);
    }
  });

  it("vouches for the v1 events mapped from APIM's GatewayLogs and GatewayLlmLogs records (fixtures), as zod answers them", () => {
    const files = ['apim-gatewaylogs.records.json', 'apim-llm-logs/gatewaylogs-with-headers.records.json', 'apim-llm-logs/llm-log.records.json'];
    const records = files.flatMap((file) => (JSON.parse(readFileSync(new URL(`../fixtures/${file}`, import.meta.url), 'utf8')) as { records: unknown[] }).records);
    expect(records.length).toBeGreaterThan(4);
    for (const record of records) {
      const { event } = adaptApimRecord(apimDiagnosticRecordSchema.parse(record));
      const checked = checkGatewayEventV1(event);
      expect(checked, JSON.stringify(record).slice(0, 200)).not.toBeNull();
      expect(ordered(checked)).toStrictEqual(ordered(gatewayEventV1Schema.parse(event)));
    }
  });
});
