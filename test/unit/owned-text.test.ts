import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ownedText } from '../../src/domain/owned-text.js';

describe('ownedText: a copy of a text cut from an event line, for keeping', () => {
  it('is equal to the text for every string, lone surrogates and control characters included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(ownedText(text)).toBe(text);
      }),
      { numRuns: 2000 },
    );
    for (const text of ['\ud800', 'a\udfffb', '\u0000\u001f"\\', '56103bb5-95c6-4590-a1b1-bb5c81048b81']) expect(ownedText(text)).toBe(text);
  });
});
