import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonlChunks, readJsonlLinesAt, readStreamLines, type JsonlReadOptions } from '../../src/adapters/files/jsonl-lines.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jsonl-lines-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(bytes: Buffer, options: JsonlReadOptions = {}): Promise<{ lines: string[]; offsets: number[]; again: string[] }> {
  const file = join(dir, `f-${Math.random().toString(36).slice(2)}.jsonl`);
  await writeFile(file, bytes);
  const lines: string[] = [];
  const offsets: number[] = [];
  for await (const chunk of readJsonlChunks(file, options)) {
    lines.push(...chunk.lines);
    offsets.push(...chunk.offsets);
  }
  const handle = await open(file, 'r');
  const again: string[] = [];
  for (const offset of offsets) again.push(...(await readJsonlLinesAt(handle, [offset], options)));
  // Read again all at once (several reads in flight, unless inline), in reverse order: the same lines, in the order asked.
  const reversed = await readJsonlLinesAt(handle, [...offsets].reverse(), options);
  expect(reversed.reverse()).toEqual(again);
  await handle.close();
  await rm(file);
  return { lines, offsets, again };
}

describe('JSON Lines files read in chunks with byte offsets', () => {
  it('splits at \\n, drops a \\r before it, and keeps a last line without a newline', async () => {
    const { lines, offsets } = await readAll(Buffer.from('{"a":1}\r\n\n{"b":"é"}\n{"c":3}'));
    expect(lines).toEqual(['{"a":1}', '', '{"b":"é"}', '{"c":3}']);
    expect(offsets).toEqual([0, 9, 10, 21]);
  });

  it.each([false, true])('reads a line again whole when it is longer than the first read (4 KiB) or a later one (64 KiB), inline: %s', async (readInline) => {
    const long = ['{"a":"' + 'x'.repeat(4090) + '"}', '{"b":"' + 'é'.repeat(40_000) + '"}', '{"c":3}'];
    const { lines, again } = await readAll(Buffer.from(long.join('\n')), { readInline });
    expect(lines).toEqual(long);
    expect(again).toEqual(long);
  });

  it('gives nothing for an empty file', async () => {
    expect((await readAll(Buffer.alloc(0))).lines).toEqual([]);
  });

  it('decodes invalid UTF-8 as U+FFFD, the same way on the first read and when a line is read again', async () => {
    const bytes = Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}\n{"y":2}\n')]);
    const { lines, offsets, again } = await readAll(bytes);
    expect(lines).toEqual([bytes.subarray(0, 11).toString('utf8'), '{"y":2}']);
    expect(offsets[1]).toBe(12);
    expect(again).toEqual(lines);
  });

  it('keeps the bytes of each line that is not UTF-8 (without its \\r) beside its text, and none for a chunk that is', async () => {
    const bad = Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const path = join(dir, 'not-utf8.jsonl');
    await writeFile(path, Buffer.concat([Buffer.from('{"a":"é"}\n'), bad, Buffer.from('\r\n{"b":2}\n'), bad]));
    const chunks = [];
    for await (const chunk of readJsonlChunks(path)) chunks.push(chunk);
    expect(chunks.flatMap((c) => c.lines)).toEqual(['{"a":"é"}', bad.toString('utf8'), '{"b":2}', bad.toString('utf8')]);
    expect(chunks.map((c) => [...(c.notUtf8 ?? new Map<number, Uint8Array>())].map(([i, bytes]) => [i, Buffer.from(bytes).toString('hex')]))).toEqual([
      [[1, bad.toString('hex')]],
      [[0, bad.toString('hex')]],
    ]);
    await writeFile(path, '{"a":"é"}\n{"b":2}\n');
    for await (const chunk of readJsonlChunks(path)) expect(chunk.notUtf8).toBeUndefined();
  });

  it('matches splitting the decoded file for any content and buffer size, read ahead or inline, and reads every line again from its offset', async () => {
    const piece = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom('\n', '\r\n', '\r', '"é€😀"'), fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b).toString('latin1')));
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 40 }), fc.integer({ min: 1, max: 64 }), fc.boolean(), fc.boolean(), async (pieces, bufferBytes, raw, readInline) => {
        const bytes = raw ? Buffer.from(pieces.join(''), 'latin1') : Buffer.from(pieces.join(''), 'utf8');
        const { lines, offsets, again } = await readAll(bytes, { bufferBytes, readInline });
        const expected = bytes.length === 0 ? [] : bytes.toString('utf8').replace(/\n$/, '').split('\n').map((l) => l.replace(/\r$/, ''));
        expect(lines).toEqual(expected);
        for (let i = 0; i < offsets.length; i++) expect(offsets[i] === 0 || bytes[offsets[i]! - 1] === 0x0a).toBe(true);
        expect(again).toEqual(lines);
      }),
      { numRuns: 150 },
    );
  });

  it('splits a stream (a blob being downloaded) into the lines of the file it would be, however its bytes come cut', async () => {
    const piece = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom('\n', '\r\n', '\r', '"é€😀"'), fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b).toString('latin1')));
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 8 }), async (pieces, cuts) => {
        const bytes = Buffer.from(pieces.join(''), 'utf8');
        const chunks: Buffer[] = [];
        for (let at = 0, i = 0; at < bytes.length; at += cuts[i++ % cuts.length]!) chunks.push(bytes.subarray(at, at + cuts[i % cuts.length]!));
        const lines: string[] = [];
        for await (const some of readStreamLines((async function* () { yield* chunks; })())) lines.push(...some);
        expect(lines).toEqual((await readAll(bytes)).lines);
      }),
      { numRuns: 150 },
    );
  });
});
