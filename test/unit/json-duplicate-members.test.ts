import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstDuplicateMember } from '../../src/domain/json-duplicate-members.js';

describe('members an object of a JSON text names twice', () => {
  it('finds a name given twice at the top level, naming it and the top-level object', () => {
    expect(firstDuplicateMember('{"identity":"team-bot","identity":"finance-bot","team":"Support"}')).toEqual({ name: 'identity', pointer: '' });
  });

  it('compares names unescaped: \\u0069dentity and \\/ name the same members as identity and /', () => {
    expect(firstDuplicateMember('{"identity":"a","\\u0069dentity":"b"}')).toEqual({ name: 'identity', pointer: '' });
    expect(firstDuplicateMember('{"a/b":1,"a\\/b":2}')).toEqual({ name: 'a/b', pointer: '' });
    expect(firstDuplicateMember('{"\\ud83d\\ude00":1,"😀":2}')).toEqual({ name: '😀', pointer: '' });
  });

  it('reads escaped quotes and backslashes inside names and values without losing its place', () => {
    expect(firstDuplicateMember('{"a\\"":"x\\\\","a":"\\"a\\":1,\\"a\\":2"}')).toBeNull();
    expect(firstDuplicateMember('{"a\\"":1,"a\\u0022":2}')).toEqual({ name: 'a"', pointer: '' });
    expect(firstDuplicateMember('{"k":"{\\"k\\":1}","v":"\\\\"}')).toBeNull();
  });

  it('points at the nested object that names a member twice, through objects and arrays', () => {
    expect(firstDuplicateMember('{"a":[1,{"b":2},{"c":{"d":1,"d":2}}]}')).toEqual({ name: 'd', pointer: '/a/2/c' });
    expect(firstDuplicateMember('[[],{"x":1},{"y":1,"y":1}]')).toEqual({ name: 'y', pointer: '/2' });
    expect(firstDuplicateMember('{"a~/b":{"z":1,"z":2}}')).toEqual({ name: 'z', pointer: '/a~0~1b' });
  });

  it('takes the same name in different objects, and a name that is a value elsewhere, as distinct', () => {
    expect(firstDuplicateMember('{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}],"c":"a"}')).toBeNull();
    expect(firstDuplicateMember('{"x":{"y":1},"y":2}')).toBeNull();
    expect(firstDuplicateMember('{"x":{"y":1,"z":[]},"x":2}')).toEqual({ name: 'x', pointer: '' });
  });

  it('finds nothing in texts without objects, and walks nesting deeper than a recursive reader could', () => {
    for (const text of ['1', '"a"', 'null', '[]', '{}', ' [ 1 , "2" , true ] ']) expect(firstDuplicateMember(text)).toBeNull();
    const deep = `${'{"a":['.repeat(50_000)}0${']}'.repeat(50_000)}`;
    expect(firstDuplicateMember(deep)).toBeNull();
    expect(firstDuplicateMember(`${'['.repeat(50_000)}{"a":1,"a":2}${']'.repeat(50_000)}`)?.pointer).toBe('/0'.repeat(50_000));
  });

  it('finds a duplicate exactly when the parsed object has fewer members than the text names', () => {
    const names = fc.constantFrom('a', 'b', '\\u0061', 'a\\"', '\\"', '');
    fc.assert(
      fc.property(fc.array(fc.tuple(names, fc.jsonValue()), { maxLength: 6 }), (members) => {
        const text = `{${members.map(([name, value]) => `"${name}":${JSON.stringify(value)}`).join(',')}}`;
        const parsed = JSON.parse(text) as Record<string, unknown>;
        const topLevel = firstDuplicateMember(text);
        expect(topLevel !== null && topLevel.pointer === '').toBe(Object.keys(parsed).length < members.length);
      }),
    );
  });
});
