import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { gatewayEventV1Schema } from '../../src/contracts/gateway-event.js';
import { validate } from '../../src/contracts/validation.js';
import { describeIssues } from '../../src/domain/event-normalization.js';

const event = {
  schema: 'tokenledger.gateway/v1',
  gatewayRequestId: 'req-1',
  apimRequestId: null,
  time: '2026-11-20T09:41:07.123Z',
  gateway: { service: 'contoso-ai-gateway' },
  status: 200,
  usage: { promptTokens: 10, cachedTokens: 2, completionTokens: 5 },
};

/** One bad value per rule kind the schema has: type, bounds, format, refinements, nested objects, several at once. */
const rejected: readonly unknown[] = [
  { ...event, gatewayRequestId: '   ' },
  { ...event, time: 'yesterday' },
  { ...event, time: '2019-12-31T23:59:59Z' },
  { ...event, status: 700 },
  { ...event, usage: { promptTokens: -1 } },
  { ...event, usage: { promptTokens: 1, cachedTokens: 2 } },
  { ...event, usage: { promptTokens: 1, completionTokens: 1, totalTokens: 3 } },
  { ...event, caller: { idtyp: 'robot', oid: 'x'.repeat(300) } },
  { ...event, gateway: { service: 'a\ud800' } },
  { ...event, stream: 'yes', timings: { totalMs: Infinity }, rateLimit: { remainingTokens: 1.5 } },
  { ...event, schema: 'tokenledger.gateway/v2', gatewayRequestId: 7, apimRequestId: 8, time: 9, gateway: null, status: '200' },
  null,
  [event],
];

describe('validate: zod verdicts without a ZodError', () => {
  it('gives the value safeParse gives to an accepted event', () => {
    const result = validate(gatewayEventV1Schema, event);
    expect(result).toEqual({ ok: true, value: gatewayEventV1Schema.parse(event) });
  });

  it('gives the issues safeParse gives, path and message, for every kind of rejection', () => {
    for (const value of rejected) {
      const expected = gatewayEventV1Schema.safeParse(value);
      const result = validate(gatewayEventV1Schema, value);
      if (expected.success || result.ok) throw new Error(`expected ${JSON.stringify(value)} to be rejected by both`);
      expect(result.issues).toEqual(expected.error.issues);
      expect(describeIssues('event', result)).toBe(describeIssues('event', expected.error));
    }
  });

  it('throws as safeParse does for a schema that can only answer asynchronously, rather than pass its promise for a verdict', () => {
    const slow = z.string().refine(async (value) => value.length > 0);
    expect(() => validate(slow, 'x')).toThrow(/parseAsync/);
  });

  it('throws the error of a check that throws, as safeParse does, and leaves no promise rejected behind', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const broken = z.string().refine(() => {
        throw new RangeError('the check broke');
      });
      expect(() => validate(broken, 'x')).toThrow('the check broke');
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
