import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import { checkGatewayEventV1 } from '../../src/contracts/gateway-event-check.js';
import { decodeGatewayEventV1Text } from '../../src/contracts/gateway-event-text.js';
import { canonicalEvents, canonicalLines, eventText, ordered } from '../support/gateway-event-arbitraries.js';

/** The rule that makes the decoder safe: null, or exactly what the check answers for what JSON.parse reads. */
function expectNullOrCheckOfParse(text: string): void {
  const decoded = decodeGatewayEventV1Text(text);
  if (decoded === null) return;
  let parsed: unknown;
  expect(() => (parsed = JSON.parse(text)), text).not.toThrow();
  const checked = checkGatewayEventV1(parsed);
  expect(checked, text).not.toBeNull();
  expect(decoded).toStrictEqual(checked);
  // Key order too, at every level (and -0 told from 0).
  expect(ordered(decoded)).toStrictEqual(ordered(checked));
}

describe('decodeGatewayEventV1Text', () => {
  it('answers null or exactly the check of what JSON.parse reads, for event lines, re-serialised and mutated events, damaged texts and garbage', () => {
    fc.assert(
      fc.property(eventText, (text) => {
        expectNullOrCheckOfParse(text);
      }),
      { numRuns: 5000 },
    );
  });

  it('decodes every canonical line of a simulated day, as the check does', () => {
    expect(canonicalLines.length).toBeGreaterThan(300);
    for (const line of canonicalLines) {
      const decoded = decodeGatewayEventV1Text(line);
      expect(decoded, line).not.toBeNull();
      expect(ordered(decoded)).toStrictEqual(ordered(checkGatewayEventV1(JSON.parse(line))));
    }
  });

  it('leaves other key orders and whitespace to the slow path', () => {
    fc.assert(
      fc.property(fc.constantFrom(...canonicalEvents), fc.integer({ min: 1, max: 16 }), (event, rotation) => {
        const entries = Object.entries(event as Record<string, unknown>);
        const rotated = Object.fromEntries([...entries.slice(rotation), ...entries.slice(0, rotation)]);
        expect(decodeGatewayEventV1Text(JSON.stringify(rotated))).toBeNull();
        expect(decodeGatewayEventV1Text(JSON.stringify(event, null, 1))).toBeNull();
      }),
      { numRuns: 100 },
    );
  });

  it('leaves escapes, control characters, numbers it does not read exactly, a byte order mark and trailing text to the slow path', () => {
    const line = canonicalLines.find((text) => /"remainingTokens":\d+/.test(text))!;
    const withRemaining = (spelling: string) => line.replace(/"remainingTokens":\d+/, `"remainingTokens":${spelling}`);
    expect(decodeGatewayEventV1Text(withRemaining('1000'))?.rateLimit?.remainingTokens).toBe(1000);
    for (const text of [
      line.replace('"contoso-ai-gateway"', '"contoso-ai-gatew\\u0061y"'),
      line.replace('"contoso-ai-gateway"', '"contoso-ai-gateway\\n"'),
      line.replace('"contoso-ai-gateway"', '"contoso-ai-gateway\n"'),
      line.replace('"schema"', '"sch\\u0065ma"'),
      withRemaining('1e3'),
      withRemaining('1.5'),
      withRemaining('01'),
      withRemaining('-1'),
      withRemaining('+1'),
      `\ufeff${line}`,
      `${line}x`,
      `${line}{}`,
      line.slice(0, -1),
      line.replace('"schema"', '"extra":1,"schema"'),
      line.replace('"schema"', '"__proto__":{},"schema"'),
      line.replace('{"schema":"tokenledger.gateway/v1",', '{"schema":"tokenledger.gateway/v1","schema":"tokenledger.gateway/v1",'),
    ]) {
      expect(decodeGatewayEventV1Text(text), text).toBeNull();
      expectNullOrCheckOfParse(text);
    }
  });

  it('decodes a good part of the generated texts, so the property test exercises the decoder', () => {
    const decoded = fc.sample(eventText, { numRuns: 2000, seed: 42 }).filter((text) => decodeGatewayEventV1Text(text) !== null).length;
    expect(decoded).toBeGreaterThan(200);
  });
});
