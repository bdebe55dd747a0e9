import { describe, expect, it } from 'vitest';
import { TextPool } from '../../src/domain/text-pool.js';

describe('a pool of texts that records repeat', () => {
  it('gives back an equal text for every text, null for null, filled past its capacity again and again', () => {
    const pool = new TextPool(3);
    const texts = Array.from({ length: 20 }, (_, i) => `/SUBSCRIPTIONS/S/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/A-${i % 7}`);
    for (const text of [...texts, ...texts.reverse()]) expect(pool.shared(text.slice(0))).toBe(text);
    expect(pool.shared(null)).toBeNull();
    expect(pool.shared('\ud800 lone surrogate')).toBe('\ud800 lone surrogate');
  });
});
