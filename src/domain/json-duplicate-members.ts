/**
 * Objects that name a member twice in a JSON text. `JSON.parse` keeps the last of them without a word, while RFC 8259
 * §4 says a receiver's behaviour with non-unique names "is unpredictable", and I-JSON (RFC 7493 §2.3) says objects
 * "MUST NOT have members with duplicate names". So a text that does is refused, not read one way of several.
 */

import { stringEnd } from './event-decoding.js';

/** A member an object of the text names twice. */
export interface DuplicateMember {
  /** The name, unescaped: `"\u0069d"` and `"id"` are the same name. */
  readonly name: string;
  /** The JSON Pointer (RFC 6901) of the object naming it twice: `` for the top-level value, `/a/0` inside it. */
  readonly pointer: string;
}

/** An object or array the scan is inside, and where in it: the current member's name, or the current element's index. */
interface Container {
  /** The names the object has given so far; null for an array. */
  readonly names: Set<string> | null;
  at: string | number;
  /** In an object: whether the next string is a member's name (after `{` or `,`) rather than a value. */
  nameNext: boolean;
}

function pointerOf(containers: readonly Container[]): string {
  return containers
    .slice(0, -1)
    .map((container) => `/${String(container.at).replaceAll('~', '~0').replaceAll('/', '~1')}`)
    .join('');
}

/**
 * The first member, in text order, that an object of `text` names a second time; null when every object names each
 * member once. `text` must be valid JSON (`JSON.parse` read it). Nesting is walked without recursion.
 */
export function firstDuplicateMember(text: string): DuplicateMember | null {
  const containers: Container[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const inside = containers[containers.length - 1];
    if (c === '"') {
      const end = stringEnd(text, i);
      if (inside?.names && inside.nameNext) {
        const name = JSON.parse(text.slice(i, end)) as string;
        if (inside.names.has(name)) return { name, pointer: pointerOf(containers) };
        inside.names.add(name);
        inside.at = name;
        inside.nameNext = false;
      }
      i = end;
      continue;
    }
    if (c === '{') containers.push({ names: new Set(), at: '', nameNext: true });
    else if (c === '[') containers.push({ names: null, at: 0, nameNext: false });
    else if (c === '}' || c === ']') containers.pop();
    else if (c === ',' && inside) {
      if (inside.names) inside.nameNext = true;
      else inside.at = (inside.at as number) + 1;
    }
    i++;
  }
  return null;
}
