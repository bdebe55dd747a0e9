import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
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

  it('leaves ids that need trimming, lone surrogates and non-canonical times to zod', () => {
    const base = canonicalEvents.find((value) => (value as { caller: unknown }).caller !== null)!;
    for (const [path, value] of [
      [['gatewayRequestId'], ' g-1 '],
      [['caller', 'upn'], 'ana\ud800@contoso.example'],
      [['time'], '2026-06-01T10:00:00Z'],
      [['time'], '2026-06-01T12:00:00.000+02:00'],
    ] as const) {
      const event = mutate(base, [{ path, op: 'set', value }]);
      expect(checkGatewayEventV1(event)).toBeNull();
    }
  });
});
