import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestIndex, hashId } from '../../src/domain/request-index.js';

describe('RequestIndex: where each request id was first seen', () => {
  it('names the first location of every id among its candidates, through many rehashes', () => {
    const index = new RequestIndex();
    const ids = Array.from({ length: 50_000 }, (_, i) => `${i.toString(16).padStart(8, '0')}-1b3e-4c5d-8e9f-0a1b2c3d4e5f`);
    ids.forEach((id, i) => index.add(id, { offset: i * 1000, ordinal: i % 3 }));
    expect(index.size).toBe(ids.length);
    ids.forEach((id, i) => {
      expect(index.candidates(id).map((n) => index.location(n))).toContainEqual({ offset: i * 1000, ordinal: i % 3 });
      expect(index.isFirst(id, { offset: i * 1000, ordinal: i % 3 })).toBe(true);
      expect(index.isFirst(id, { offset: i * 1000, ordinal: (i % 3) + 1 })).toBe(false);
    });
  });

  it('keeps later entries of an id beside its first: they are candidates and read back, but neither first nor counted as ids', () => {
    const index = new RequestIndex();
    index.add('a', { offset: 0, ordinal: 0 });
    index.add('b', { offset: 10, ordinal: 0 });
    index.addLaterOf(hashId('a'), { offset: 20, ordinal: 1 });
    expect(index.size).toBe(2);
    expect(index.candidates('a').map((n) => index.location(n))).toEqual([{ offset: 0, ordinal: 0 }, { offset: 20, ordinal: 1 }]);
    expect(index.isFirst('a', { offset: 0, ordinal: 0 })).toBe(true);
    expect(index.isFirst('a', { offset: 20, ordinal: 1 })).toBe(false);
    expect(index.locationsOf(new Set([hashId('a')]))).toEqual([{ offset: 0, ordinal: 0 }, { offset: 20, ordinal: 1 }]);
  });

  it('answers exactly like a Map of first locations once candidates are confirmed by id', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 6 }), { maxLength: 300 }), (stream) => {
        const index = new RequestIndex();
        const truth = new Map<string, number>();
        const idAt: string[] = [];
        stream.forEach((id, offset) => {
          idAt[offset] = id;
          const confirmed = index.candidates(id).filter((n) => idAt[index.location(n).offset] === id);
          expect(confirmed.length).toBe(truth.has(id) ? 1 : 0);
          if (!truth.has(id)) {
            truth.set(id, offset);
            index.add(id, { offset, ordinal: 0 });
          }
          expect(index.isFirst(id, { offset, ordinal: 0 })).toBe(truth.get(id) === offset);
        });
        expect(index.size).toBe(truth.size);
      }),
    );
  });
});
