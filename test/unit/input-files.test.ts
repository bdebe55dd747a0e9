import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInput, checkOutput, describeFileError } from '../../src/cli/input-files.js';

const EVENTS = { option: '--events', kind: 'file', holding: 'gateway events as JSON lines' } as const;
const ARCHIVE = { option: '--diagnostics', kind: 'folder', holding: 'RequestResponse archive records' } as const;

describe('paths given on the command line', () => {
  let folder: string;
  let file: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tokenledger-inputs-'));
    file = join(folder, 'events.jsonl');
    await writeFile(file, '{}\n');
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('accepts a file where a file is expected and a folder where a folder is', async () => {
    await expect(checkInput(file, EVENTS)).resolves.toBeUndefined();
    await expect(checkInput(folder, ARCHIVE)).resolves.toBeUndefined();
  });

  it('names the option, the path and what belongs there when the path is missing', async () => {
    const missing = join(folder, 'nope.jsonl');
    await expect(checkInput(missing, EVENTS)).rejects.toThrow(`--events ${JSON.stringify(missing)} does not exist: expected a file of gateway events as JSON lines`);
  });

  it('names a loop of symbolic links for what it is, instead of ELOOP', async () => {
    const [a, b] = [join(folder, 'loop-a'), join(folder, 'loop-b')];
    await symlink(b, a);
    await symlink(a, b);
    await expect(checkInput(a, EVENTS)).rejects.toThrow(`--events ${JSON.stringify(a)} is a loop of symbolic links (one leads back to another): expected a file of gateway events as JSON lines`);
    const eloop = Object.assign(new Error(`ELOOP: too many symbolic links encountered, stat '${a}'`), { code: 'ELOOP', path: a, syscall: 'stat' });
    expect(describeFileError(eloop)).toBe(`${JSON.stringify(a)} is a loop of symbolic links (one leads back to another)`);
  });

  it('says a folder is a folder and a file is a file, instead of EISDIR or ENOTDIR', async () => {
    await expect(checkInput(folder, EVENTS)).rejects.toThrow(`--events ${JSON.stringify(folder)} is a folder: expected a file of gateway events as JSON lines`);
    await expect(checkInput(file, ARCHIVE)).rejects.toThrow(`--diagnostics ${JSON.stringify(file)} is a file: expected a folder of RequestResponse archive records`);
  });

  it('takes UTF-16 text with its byte-order mark where the command reads it, and still tells a pretty-printed document from JSON lines', async () => {
    const TAKES_UTF16 = { ...EVENTS, text: true, jsonLines: true, utf16: true } as const;
    const le = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const be = (text: string) => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    for (const [name, bytes] of [['lines-le.jsonl', le('{"a":1}\n{"b":2}\n')], ['lines-be.jsonl', be('{"a":1}\n{"b":2}\n')]] as const) {
      await writeFile(join(folder, name), bytes);
      await expect(checkInput(join(folder, name), TAKES_UTF16)).resolves.toBeUndefined();
    }
    for (const [name, bytes] of [['pretty-le.json', le('{\n  "a": 1\n}\n')], ['pretty-be.json', be('[\n  {"a": 1},\n  {"b": 2}\n]\n')]] as const) {
      await writeFile(join(folder, name), bytes);
      await expect(checkInput(join(folder, name), TAKES_UTF16)).rejects.toThrow(/is (one JSON document|a JSON array) written over several lines/);
    }
  });

  it('names a compressed, binary or UTF-16 file for what it is where UTF-8 text belongs, and says what to do', async () => {
    const TEXT = { ...EVENTS, text: true } as const;
    const files: [string, Buffer, RegExp][] = [
      ['utf16le.jsonl', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{}\n', 'utf16le')]), /is UTF-16 text \(it begins with the byte-order mark FF FE\): expected a file of gateway events as JSON lines; save it as UTF-8/],
      ['utf16be.jsonl', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('{}\n', 'utf16le').swap16()]), /is UTF-16 text \(it begins with the byte-order mark FE FF\)/],
      ['events.jsonl.gz', gzipSync('{}\n'), /is gzip-compressed: expected a file of gateway events as JSON lines; decompress it first/],
      ['events.zip', Buffer.from('PK\u0003\u0004rest of a zip'), /is a zip archive: .*; extract the file from it first/],
      ['capture.avro', Buffer.from('Obj\u0001avro.schema'), /is an Avro file \(as Event Hubs Capture writes\)/],
      ['events.parquet', Buffer.from('PAR1rest'), /is a Parquet file/],
    ];
    for (const [name, bytes, message] of files) {
      const path = join(folder, name);
      await writeFile(path, bytes);
      await expect(checkInput(path, TEXT)).rejects.toThrow(message);
      // Where any bytes may belong (a cost export may be gzip or Parquet), the file is not looked into.
      await expect(checkInput(path, EVENTS)).resolves.toBeUndefined();
    }
    const withBom = join(folder, 'bom.jsonl');
    await writeFile(withBom, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{}\n')]));
    await expect(checkInput(withBom, TEXT)).resolves.toBeUndefined();
    const short = join(folder, 'short.jsonl');
    await writeFile(short, Buffer.from([0x1f]));
    await expect(checkInput(short, TEXT)).resolves.toBeUndefined();
  });

  it('names a JSON document written over several lines where JSON lines belong, and says how to write it a body a line', async () => {
    const LINES = { ...EVENTS, jsonLines: true } as const;
    const event = { schema: 'tokenledger.gateway/v1', gatewayRequestId: 'r-1', usage: { promptTokens: 1 } };
    const files: [string, string, RegExp][] = [
      // JSON.stringify(…, null, 2), jq and PowerShell's ConvertTo-Json put the opening bracket on a line of its own.
      ['pretty.json', `${JSON.stringify(event, null, 2)}\n${JSON.stringify(event, null, 2)}\n`, /is one JSON document written over several lines \(its first line is "\{" alone\): expected a file of gateway events as JSON lines; write each body on a line of its own, e.g. jq -c \. FILE > events\.jsonl$/],
      ['array.json', `\uFEFF\n${JSON.stringify([event, event], null, 2)}`, /is a JSON array written over several lines \(its first line is "\[" alone\): .*; write each element on a line of its own, e\.g\. jq -c '\.\[\]' FILE > events\.jsonl$/],
      ['rows.json', `[${JSON.stringify(event)},\n${JSON.stringify(event)}]\n`, /is a JSON array written over several lines \(its first line is an unclosed "\["\)/],
      // Classic Mac OS line ends: read as one line, the file would be one dead letter.
      ['mac.jsonl', `${JSON.stringify(event)}\r${JSON.stringify(event)}\r`, /is text whose lines end with a carriage return alone \(CR, no line feed\): .*; end each line with a line feed, e\.g\. tr '\\r' '\\n' < FILE > events\.jsonl$/],
    ];
    for (const [name, text, message] of files) {
      const path = join(folder, name);
      await writeFile(path, text);
      await expect(checkInput(path, LINES)).rejects.toThrow(message);
      await expect(checkInput(path, EVENTS)).resolves.toBeUndefined();
    }
    // JSON lines, a body holding an array among them, a broken line and a first line longer than what is looked at pass.
    const accepted: string[] = [
      `${JSON.stringify(event)}\n${JSON.stringify([event, event])}\n{"schema":\n`,
      `\n  \n${JSON.stringify([event])}\n`,
      `[${'x'.repeat(70 * 1024)},\n`,
      '{',
      // CRLF line ends, a stray CR in a line (a dead letter of its own), and a CR at the very end.
      `${JSON.stringify(event)}\r\n${JSON.stringify(event)}\r\n`,
      `${JSON.stringify(event)}\nnot\rjson\n`,
      `${JSON.stringify(event)}\r`,
    ];
    for (const [i, text] of accepted.entries()) {
      const path = join(folder, `lines-${i}.jsonl`);
      await writeFile(path, text);
      await expect(checkInput(path, LINES)).resolves.toBeUndefined();
    }
  });

  it('refuses to write a file over a folder or a folder over a file, and accepts a new name', async () => {
    await expect(checkOutput(folder, { option: '--json', kind: 'file' })).rejects.toThrow(/--json .* is a folder: expected the name of a file to write/);
    await expect(checkOutput(file, { option: '--out', kind: 'folder' })).rejects.toThrow(/--out .* is a file: expected a folder to write into/);
    await expect(checkOutput(join(folder, 'new'), { option: '--out', kind: 'folder' })).resolves.toBeUndefined();
    await expect(checkOutput(join(folder, 'new.json'), { option: '--out', kind: 'file' })).resolves.toBeUndefined();
  });

  it('refuses, before any work, to write a file into a folder that does not exist', async () => {
    const path = join(folder, 'no-such-folder', 'prices.json');
    await expect(checkOutput(path, { option: '--out', kind: 'file' })).rejects.toThrow(`--out ${JSON.stringify(path)} cannot be written: ${JSON.stringify(join(folder, 'no-such-folder'))} is not a folder that exists`);
    await expect(checkOutput(join(file, 'x.json'), { option: '--json', kind: 'file' })).rejects.toThrow(/--json .* cannot be written: .* is not a folder that exists/);
  });

  it('words a file-system error with its path, and leaves other errors alone', () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'prices.json'"), { code: 'ENOENT', path: 'prices.json', syscall: 'open' });
    expect(describeFileError(enoent)).toBe('"prices.json" does not exist');
    const eisdir = Object.assign(new Error('EISDIR: illegal operation on a directory, read'), { code: 'EISDIR', syscall: 'read' });
    expect(describeFileError(eisdir)).toBe('a folder was given where a file was expected');
    expect(describeFileError(new Error('something else'))).toBeNull();
  });
});
