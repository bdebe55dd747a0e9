import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { MAX_BODY_BYTES, decodeBody, type BodyDecoding, type DecodedItem } from '../../src/domain/event-decoding.js';

const fixtureText = readFileSync(new URL('../fixtures/apim-gatewaylogs.records.json', import.meta.url), 'utf8');

function items(result: BodyDecoding): readonly DecodedItem[] {
  if (!result.ok) throw new Error(`expected a decoded body, got: ${result.reason}`);
  return result.items;
}

/** What a caller sees of the items of a body: values, positions and raw payloads. */
function seen(body: unknown): { value: unknown; itemIndex: number | null; raw: DecodedItem['raw'] }[] {
  return items(decodeBody(body)).map(({ value, itemIndex, raw }) => ({ value, itemIndex, raw }));
}

function failure(result: BodyDecoding): Extract<BodyDecoding, { ok: false }> {
  if (result.ok) throw new Error(`expected a rejected body, got ${result.items.length} item(s)`);
  return result;
}

const event = { schema: 'tokenledger.gateway/v1', gatewayRequestId: 'g-1', note: 'Zürich ✓ 東京' };

describe('decodeBody: single events', () => {
  it('keeps an object body as one item with no item index and its JSON text as raw payload', () => {
    const [item, ...rest] = items(decodeBody(event));
    expect(rest).toHaveLength(0);
    expect(item!.itemIndex).toBeNull();
    expect(item!.value).toEqual(event);
    expect(item!.raw).toEqual({ encoding: 'utf8', data: JSON.stringify(event), bytes: Buffer.byteLength(JSON.stringify(event)) });
  });

  it('parses a string body and keeps the exact text, whitespace included, as raw payload', () => {
    const text = '  {\n  "schema": "tokenledger.gateway/v1",\n  "gatewayRequestId": "g-1"\n}\n';
    const [item, ...rest] = items(decodeBody(text));
    expect(rest).toHaveLength(0);
    expect(item!.itemIndex).toBeNull();
    expect(item!.value).toEqual({ schema: 'tokenledger.gateway/v1', gatewayRequestId: 'g-1' });
    expect(item!.raw).toEqual({ encoding: 'utf8', data: text, bytes: Buffer.byteLength(text) });
  });

  it('counts raw bytes as UTF-8 bytes, not characters', () => {
    const text = JSON.stringify(event);
    const [item] = items(decodeBody(text));
    expect(item!.raw.bytes).toBe(Buffer.from(text, 'utf8').byteLength);
    expect(item!.raw.bytes).toBeGreaterThan(text.length);
  });

  it('decodes a Buffer body as UTF-8 text', () => {
    const text = JSON.stringify(event);
    const [item] = items(decodeBody(Buffer.from(text, 'utf8')));
    expect(item!.value).toEqual(event);
    expect(item!.raw).toEqual({ encoding: 'utf8', data: text, bytes: Buffer.byteLength(text) });
  });

  it('decodes a plain Uint8Array and an ArrayBuffer body as UTF-8 text', () => {
    const text = JSON.stringify(event);
    const bytes = new TextEncoder().encode(text);
    expect(items(decodeBody(bytes))[0]!.value).toEqual(event);
    const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    expect(items(decodeBody(arrayBuffer))[0]!.raw.data).toBe(text);
  });

  it('reads only the viewed bytes of a Uint8Array that is a window on a larger buffer', () => {
    const text = JSON.stringify(event);
    const backing = Buffer.from(`GARBAGE${text}TRAILING`, 'utf8');
    const view = backing.subarray(7, 7 + Buffer.byteLength(text));
    const [item] = items(decodeBody(view));
    expect(item!.raw.data).toBe(text);
    expect(item!.value).toEqual(event);
  });

  it('gives identical raw payloads for the same valid UTF-8 payload delivered as a string and as bytes', () => {
    const text = JSON.stringify(event);
    const fromString = items(decodeBody(text))[0]!;
    const fromBuffer = items(decodeBody(Buffer.from(text, 'utf8')))[0]!;
    const fromUint8 = items(decodeBody(new TextEncoder().encode(text)))[0]!;
    expect(fromBuffer.raw).toEqual(fromString.raw);
    expect(fromUint8.raw).toEqual(fromString.raw);
    expect(fromBuffer.raw.encoding).toBe('utf8');
  });

  it('gives identical rejections for the same malformed payload delivered as a string and as bytes', () => {
    const text = '{"schema": "tokenledger.gateway/v1", "gatewayRequestId": ';
    const fromString = failure(decodeBody(text));
    const fromBytes = failure(decodeBody(Buffer.from(text, 'utf8')));
    expect(fromBytes.raw).toEqual(fromString.raw);
    expect(fromBytes.reason).toBe(fromString.reason);
  });
});

describe('decodeBody: bodies holding several events', () => {
  it('splits an array body into items numbered by their position', () => {
    const list = [{ a: 1 }, { b: 'two' }, 'three', null];
    const decoded = items(decodeBody(JSON.stringify(list)));
    expect(decoded.map((i) => i.itemIndex)).toEqual([0, 1, 2, 3]);
    expect(decoded.map((i) => i.value)).toEqual(list);
    expect(decoded.map((i) => i.raw.data)).toEqual(list.map((v) => JSON.stringify(v)));
    expect(decoded.every((i) => i.raw.encoding === 'utf8')).toBe(true);
  });

  it('gives every item of a body the raw payload of its own JSON text, bytes counted in UTF-8', () => {
    const list = [{ note: 'Zürich ✓ 東京' }, { n: 2 }, '😀'];
    const decoded = items(decodeBody(JSON.stringify(list)));
    expect(decoded.map((i) => i.raw)).toEqual(
      list.map((v) => ({ encoding: 'utf8', data: JSON.stringify(v), bytes: Buffer.byteLength(JSON.stringify(v)) })),
    );
  });

  it('splits an already parsed array body the same way as its JSON text', () => {
    const list = [{ a: 1 }, { b: 2 }];
    expect(seen(list)).toEqual(seen(JSON.stringify(list)));
  });

  it('splits an Azure Monitor {"records":[…]} envelope into its records', () => {
    const decoded = items(decodeBody(fixtureText));
    const parsed = JSON.parse(fixtureText) as { records: unknown[] };
    expect(decoded).toHaveLength(2);
    expect(decoded.map((i) => i.itemIndex)).toEqual([0, 1]);
    expect(decoded.map((i) => i.value)).toEqual(parsed.records);
    // Each record's text is kept as the body wrote it (indented here), for its dead letter.
    for (const [i, item] of decoded.entries()) {
      expect(fixtureText).toContain(item.raw.data);
      expect(item.raw.data).toMatch(/^\{[\s\S]*\}$/);
      expect(JSON.parse(item.raw.data)).toEqual(parsed.records[i]);
    }
  });

  it('splits a records envelope delivered as bytes like its text, and one the host parsed into the same items', () => {
    const fromText = seen(fixtureText);
    expect(seen(Buffer.from(fixtureText, 'utf8'))).toEqual(fromText);
    expect(seen(JSON.parse(fixtureText)).map(({ value, itemIndex }) => ({ value, itemIndex }))).toEqual(fromText.map(({ value, itemIndex }) => ({ value, itemIndex })));
  });

  it('keeps an item of a list body as it was sent: numbers JSON.parse cannot hold, long integers, repeated keys, escapes', () => {
    const items_ = ['{"a":1e400}', '{"n":12345678901234567891,"n":2}', '{"s":"q\\"uote ] } ,","t":[1,{"u":"]"}]}', ' {"x" : [ ] } '];
    for (const body of [`[${items_.join(',')}]`, `{"other":[0],"records":[${items_.join(' , ')}]}`, `{"records":[{"old":1}],"records":[${items_.join(',')}]}`]) {
      expect(items(decodeBody(body)).map((item) => item.raw.data), body).toEqual(items_.map((text) => text.trim()));
    }
  });

  it('keeps the byte-order mark of a body in its dead letter, read as text or as bytes', () => {
    const text = '\ufeff{"schema":"tokenledger.gateway/v1", truncated';
    for (const body of [text, Buffer.from(text, 'utf8')]) {
      const result = failure(decodeBody(body));
      expect(result.reason).toMatch(/^body is not JSON/);
      expect(result.raw).toEqual({ encoding: 'utf8', data: text, bytes: Buffer.byteLength(text) });
    }
    expect(items(decodeBody('\ufeff{"a":1}'))[0]!.raw.data).toBe('\ufeff{"a":1}');
  });

  it('treats an object whose records field is not an array as a single event', () => {
    const body = { records: 'not a list', x: 1 };
    const [item, ...rest] = items(decodeBody(body));
    expect(rest).toHaveLength(0);
    expect(item!.itemIndex).toBeNull();
    expect(item!.value).toEqual(body);
  });

  it('rejects an empty array and an empty records envelope as holding no events', () => {
    for (const body of ['[]', '{"records":[]}', [], { records: [] }]) {
      const result = failure(decodeBody(body));
      expect(result.reason).toMatch(/no events/);
      expect(result.raw.encoding).toBe('utf8');
    }
    expect(failure(decodeBody('  [ ]  ')).raw.data).toBe('  [ ]  ');
  });
});

describe('decodeBody: unreadable bodies', () => {
  it('keeps bytes that are not valid UTF-8 as base64 and says why', () => {
    const bytes = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0xff, 0xfe, 0xc3, 0x28, 0x7d]);
    const result = failure(decodeBody(bytes));
    expect(result.reason).toMatch(/UTF-8/);
    expect(result.raw).toEqual({ encoding: 'base64', data: bytes.toString('base64'), bytes: bytes.byteLength });
    expect(Buffer.from(result.raw.data, 'base64').equals(bytes)).toBe(true);
  });

  it('base64-encodes only the viewed bytes of an invalid UTF-8 window on a larger buffer', () => {
    const backing = Buffer.from([0x41, 0x42, 0xc3, 0x28, 0x43]);
    const view = backing.subarray(2, 4);
    const result = failure(decodeBody(view));
    expect(result.raw).toEqual({ encoding: 'base64', data: Buffer.from([0xc3, 0x28]).toString('base64'), bytes: 2 });
  });

  it('rejects malformed JSON, keeping the exact text and naming the problem', () => {
    const text = '{"schema":"tokenledger.gateway/v1","usage":{"promptTokens":12,}';
    const result = failure(decodeBody(text));
    expect(result.reason).toMatch(/^body is not JSON: /);
    expect(result.raw).toEqual({ encoding: 'utf8', data: text, bytes: Buffer.byteLength(text) });
  });

  it('rejects plain text and an empty string as not JSON', () => {
    expect(failure(decodeBody('plain text, not an event')).reason).toMatch(/not JSON/);
    expect(failure(decodeBody('')).reason).toMatch(/not JSON/);
  });

  it('rejects JSON null, numbers, strings and booleans, naming the JSON type', () => {
    expect(failure(decodeBody('null')).reason).toMatch(/JSON null, not an object/);
    expect(failure(decodeBody('42')).reason).toMatch(/JSON number, not an object/);
    expect(failure(decodeBody('"an event"')).reason).toMatch(/JSON string, not an object/);
    expect(failure(decodeBody('true')).reason).toMatch(/JSON boolean, not an object/);
    const parsedNumber = failure(decodeBody(42));
    expect(parsedNumber.reason).toMatch(/JSON number/);
    expect(parsedNumber.raw.data).toBe('42');
    expect(failure(decodeBody(null)).reason).toMatch(/JSON null/);
  });

  it('rejects a parsed body that cannot be serialised as JSON instead of throwing', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular['self'] = circular;
    expect(failure(decodeBody(circular)).reason).toMatch(/cannot be serialised/);
    expect(failure(decodeBody({ tokens: 10n })).reason).toMatch(/cannot be serialised/);
    expect(failure(decodeBody(undefined)).reason).toMatch(/cannot be serialised/);
  });
});

describe('decodeBody: size limit', () => {
  /** A JSON object whose UTF-8 text is exactly `size` bytes. */
  function jsonOfBytes(size: number): string {
    const shell = '{"pad":""}';
    return `{"pad":"${'x'.repeat(size - shell.length)}"}`;
  }

  it('accepts a body of exactly MAX_BODY_BYTES', () => {
    const text = jsonOfBytes(MAX_BODY_BYTES);
    expect(Buffer.byteLength(text)).toBe(MAX_BODY_BYTES);
    expect(items(decodeBody(text))).toHaveLength(1);
    expect(items(decodeBody(Buffer.from(text)))).toHaveLength(1);
  });

  it('rejects a string body one byte over MAX_BODY_BYTES, keeping it as text', () => {
    const text = jsonOfBytes(MAX_BODY_BYTES + 1);
    const result = failure(decodeBody(text));
    expect(result.reason).toMatch(/exceeds/);
    expect(result.reason).toContain(String(MAX_BODY_BYTES + 1));
    expect(result.raw.encoding).toBe('utf8');
    expect(result.raw.bytes).toBe(MAX_BODY_BYTES + 1);
  });

  it('rejects a byte body over MAX_BODY_BYTES before decoding it, keeping it as base64', () => {
    const bytes = Buffer.from(jsonOfBytes(MAX_BODY_BYTES + 10));
    const result = failure(decodeBody(bytes));
    expect(result.reason).toMatch(/exceeds/);
    expect(result.raw).toEqual({ encoding: 'base64', data: bytes.toString('base64'), bytes: MAX_BODY_BYTES + 10 });
  });

  it('counts three-byte characters exactly at the limit and one character over it', () => {
    // '€' is 3 UTF-8 bytes; {"pad":""} is 10.
    const atLimit = `{"pad":"${'€'.repeat((MAX_BODY_BYTES - 10) / 3)}"}`;
    expect(Buffer.byteLength(atLimit)).toBe(MAX_BODY_BYTES);
    expect(items(decodeBody(atLimit))).toHaveLength(1);
    const over = `{"pad":"${'€'.repeat((MAX_BODY_BYTES - 10) / 3 + 1)}"}`;
    const result = failure(decodeBody(over));
    expect(result.reason).toBe(`body of ${MAX_BODY_BYTES + 3} bytes exceeds ${MAX_BODY_BYTES}`);
    expect(result.raw).toEqual({ encoding: 'utf8', data: over, bytes: MAX_BODY_BYTES + 3 });
  });

  it('measures the limit in UTF-8 bytes, so a string of fewer characters than the limit can exceed it', () => {
    const text = `{"pad":"${'é'.repeat(MAX_BODY_BYTES / 2)}"}`;
    expect(text.length).toBeLessThan(MAX_BODY_BYTES);
    expect(failure(decodeBody(text)).reason).toMatch(/exceeds/);
  });
});

describe('decodeBody: deeply nested JSON', () => {
  const depth = 100_000;

  it('does not throw on 100000 nested arrays given as text, and returns items or a reason', () => {
    const text = '['.repeat(depth) + ']'.repeat(depth);
    let result: BodyDecoding | undefined;
    expect(() => {
      result = decodeBody(text);
    }).not.toThrow();
    if (result!.ok) expect(result!.items.length).toBeGreaterThan(0);
    else expect(result!.reason.length).toBeGreaterThan(0);
  });

  it('does not throw on 100000 nested arrays given as bytes', () => {
    const bytes = Buffer.from('['.repeat(depth) + ']'.repeat(depth));
    let result: BodyDecoding | undefined;
    expect(() => {
      result = decodeBody(bytes);
    }).not.toThrow();
    expect(result!.ok ? result!.items.length > 0 : result!.reason.length > 0).toBe(true);
  });

  it('refuses a list body whose one item is nested too deeply to be written again, naming the item', () => {
    const text = `{"records":[{"n":1},${'['.repeat(depth)}${']'.repeat(depth)}]}`;
    const refused = failure(decodeBody(text));
    expect(refused.reason).toBe('item 1 cannot be serialised as JSON (too deeply nested)');
    expect(refused.raw.data).toBe(text);
  });

  it('gives each item of a list nested a few hundred levels deep its own JSON text', () => {
    const nested = `${'{"a":'.repeat(500)}1${'}'.repeat(500)}`;
    const text = `[{"n":1},${nested}]`;
    expect(items(decodeBody(text)).map((item) => item.raw.data)).toEqual(['{"n":1}', nested]);
  });

  it('keeps a deeply nested object body as one item with its exact text', () => {
    const text = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    const [item, ...rest] = items(decodeBody(text));
    expect(rest).toHaveLength(0);
    expect(item!.raw.data).toBe(text);
  });
});
