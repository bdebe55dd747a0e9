import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { captureBodies, CaptureFileError, listCaptureFolder, putBodyLine, writeCaptureLines } from '../../src/adapters/files/event-hubs-capture.js';
import { AvroReader } from '../../src/domain/avro-container.js';
import { CAPTURE_SCHEMA, writeCaptureFile } from '../support/capture-files.js';
import { temporaryFolder } from '../support/temporary-folder.js';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

async function bodiesOf(file: string): Promise<(string | null)[]> {
  const bodies: (string | null)[] = [];
  for await (const body of captureBodies(file)) bodies.push(body === null ? null : Buffer.from(body).toString('latin1'));
  return bodies;
}

const latin1 = (body: string | Uint8Array | null) => (body === null ? null : typeof body === 'string' ? Buffer.from(body, 'utf8').toString('latin1') : Buffer.from(body).toString('latin1'));

/** Avro's zig-zag varint of a 64-bit value, written here from the specification to check the reader. */
function zigZag(value: bigint): Uint8Array {
  let raw = value >= 0n ? value << 1n : ((-value) << 1n) - 1n;
  const bytes: number[] = [];
  do {
    const low = Number(raw & 0x7fn);
    raw >>= 7n;
    bytes.push(raw > 0n ? low | 0x80 : low);
  } while (raw > 0n);
  return Uint8Array.from(bytes);
}

describe('Event Hubs Capture files read as event bodies', () => {
  it('reads the body of a file Event Hubs archived in 2016 (Body a union of null and bytes, codec null)', async () => {
    expect(await bodiesOf(join(FIXTURES, 'event-hubs-capture/archive-2016.avro'))).toEqual(['{"field1": "value1", "field2": "value2"}']);
  });

  it('reads every body avsc wrote, in order, whatever the codec and the blocks', async () => {
    const folder = await temporaryFolder('capture-');
    const body = fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 200 }));
    await fc.assert(
      fc.asyncProperty(fc.array(body, { minLength: 1, maxLength: 60 }), fc.constantFrom('null' as const, 'deflate' as const), fc.integer({ min: 1, max: 4096 }), async (bodies, codec, blockSize) => {
        const file = join(folder, `${Math.random().toString(36).slice(2)}.avro`);
        await writeCaptureFile(file, bodies, { codec, blockSize });
        expect(await bodiesOf(file)).toEqual(bodies.map(latin1));
      }),
      { numRuns: 60 },
    );
  });

  it('reads an empty Capture file that ends with a block of no records and no bytes as no bodies, whatever the codec', async () => {
    // Capture writes empty files when asked to (users report 508-byte files: azure-sdk-for-python#6076), which is the
    // header of the documented schema and one block of count 0, size 0 and the sync marker (Avro 1.11, object
    // container files). Such a block has no deflate stream to inflate.
    const folder = await temporaryFolder('capture-');
    for (const codec of ['null', 'deflate'] as const) {
      const file = join(folder, `${codec}.avro`);
      await writeCaptureFile(file, [], { codec });
      const header = await readFile(file);
      await writeFile(file, Buffer.concat([header, Buffer.from([0, 0]), header.subarray(header.length - 16)]));
      expect(await bodiesOf(file), codec).toEqual([]);
    }
  });

  it('reads a file of many blocks larger than a read (a block across two reads, blocks held whole)', async () => {
    const folder = await temporaryFolder('capture-');
    const file = join(folder, 'big.avro');
    const bodies = Array.from({ length: 3000 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat(i % 977)}"}`);
    await writeCaptureFile(file, bodies, { codec: 'null', blockSize: 700_000 });
    expect(await bodiesOf(file)).toEqual(bodies);
  });

  it('reads arrays of items that take no bytes (nulls, empty records), as avsc writes them, and refuses an absurd count of them', () => {
    // Avro 1.11, binary encoding: "null is written as zero bytes"; an array is blocks of a count and that many items.
    const type = avro.Type.forSchema({ type: 'record', name: 'Row', fields: [{ name: 'marks', type: { type: 'array', items: 'null' } }, { name: 'empty', type: { type: 'array', items: { type: 'record', name: 'Nothing', fields: [] } } }] });
    const bytes = type.toBuffer({ marks: [null, null, null, null, null], empty: [{}, {}, {}] });
    const reader = new AvroReader(bytes, 0, bytes.length);
    expect(reader.datum({ kind: 'record', name: 'Row', fields: [{ name: 'marks', type: { kind: 'array', items: { kind: 'null' } } }, { name: 'empty', type: { kind: 'array', items: { kind: 'record', name: 'Nothing', fields: [] } } }] })).toEqual({ marks: [null, null, null, null, null], empty: [{}, {}, {}] });
    expect(reader.at).toBe(bytes.length);
    const absurd = Uint8Array.from([...zigZag(2n ** 40n), 0]);
    expect(() => new AvroReader(absurd, 0, absurd.length, () => new Error('damaged')).datum({ kind: 'array', items: { kind: 'null' } })).toThrow('damaged');
  });

  it('reads longs as Avro writes them, up to 64 bits, as numbers where they are safe integers', () => {
    for (const value of [0n, -1n, 1n, 63n, -64n, 64n, 2n ** 31n, -(2n ** 31n), 2n ** 53n - 1n, -(2n ** 53n) + 1n, 2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n)]) {
      const bytes = zigZag(value);
      const read = new AvroReader(bytes, 0, bytes.length).long();
      expect(BigInt(read)).toBe(value);
      expect(typeof read).toBe(value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? 'number' : 'bigint');
    }
  });

  it('stops with the file and the block when a file is cut short, at any byte but between blocks', async () => {
    const folder = await temporaryFolder('capture-');
    const whole = join(folder, 'whole.avro');
    const bodies = ['{"a":1}', '{"b":2}', '{"c":3}'];
    // A block a record: a file cut between two blocks is a whole file of fewer blocks, as the format has it.
    await writeCaptureFile(whole, bodies, { codec: 'deflate', blockSize: 1 });
    const bytes = await readFile(whole);
    const cut = join(folder, 'cut.avro');
    const wholeFiles: string[][] = [];
    for (let length = 4; length < bytes.length; length++) {
      await writeFile(cut, bytes.subarray(0, length));
      const read = await bodiesOf(cut).catch((error: unknown) => error);
      if (Array.isArray(read)) {
        wholeFiles.push(read as string[]);
        continue;
      }
      expect(read).toBeInstanceOf(CaptureFileError);
      expect((read as Error).message).toMatch(/ ends inside (its Avro header|block \d \(at byte \d+\)(, which needs \d+ bytes)?): the file is cut short$/);
      expect((read as Error).message.startsWith(JSON.stringify(cut))).toBe(true);
    }
    expect(wholeFiles).toEqual([[], bodies.slice(0, 1), bodies.slice(0, 2)]);
  });

  it('refuses a block whose sync marker is not the header\'s, a codec Capture does not write, and another record schema', async () => {
    const folder = await temporaryFolder('capture-');
    const file = join(folder, 'events.avro');
    await writeCaptureFile(file, ['{"a":1}'], { codec: 'null' });
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = 0xff - bytes[bytes.length - 1]!;
    await writeFile(file, bytes);
    await expect(bodiesOf(file)).rejects.toThrow(/has a corrupt block 1 \(at byte \d+\): its sync marker is not the header's$/);

    const snappy = join(folder, 'snappy.avro');
    const type = avro.Type.forSchema(CAPTURE_SCHEMA as unknown as avro.Schema, { wrapUnions: true });
    const encoder = new avro.streams.BlockEncoder(type, { codec: 'snappy', codecs: { snappy: (data: Buffer, cb: (error: Error | null, out?: Buffer) => void) => cb(null, data) } });
    const chunks: Buffer[] = [];
    encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise((resolve) => encoder.on('end', resolve));
    encoder.end({ SequenceNumber: 1, Offset: '0', EnqueuedTimeUtc: '11/15/2026 12:00:00 AM', SystemProperties: {}, Properties: {}, Body: { bytes: Buffer.from('{}') } });
    await ended;
    await writeFile(snappy, Buffer.concat(chunks));
    await expect(bodiesOf(snappy)).rejects.toThrow(/is compressed with the Avro codec "snappy"; Event Hubs Capture writes null or deflate/);

    const other = join(folder, 'other.avro');
    await new Promise<void>((resolve, reject) => {
      const out = avro.createFileEncoder(other, { type: 'record', name: 'Reading', fields: [{ name: 'value', type: 'double' }] });
      out.on('error', reject).on('finish', () => setTimeout(resolve, 50));
      out.end({ value: 1.5 });
    });
    await expect(bodiesOf(other)).rejects.toThrow(/is an Avro file, but not as Event Hubs Capture writes it: its records \(Reading\) have no SequenceNumber field/);
  });

  it('reads a damaged file to its bodies or to a CaptureFileError, never another error, whatever bytes are changed', async () => {
    const folder = await temporaryFolder('capture-');
    const originals = await Promise.all(
      (['null', 'deflate'] as const).map(async (codec) => {
        const file = join(folder, `${codec}.avro`);
        await writeCaptureFile(file, ['{"a":1}', null, '{"b":"é"}', '{"c":[1,2,3]}'], { codec, blockSize: 40 });
        return readFile(file);
      }),
    );
    const damaged = join(folder, 'damaged.avro');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...originals), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), async (original, changes) => {
        const bytes = Buffer.from(original);
        for (const [at, value] of changes) bytes[at % bytes.length] = value;
        await writeFile(damaged, bytes);
        const read = await bodiesOf(damaged).catch((error: unknown) => error);
        if (!Array.isArray(read)) expect(read).toBeInstanceOf(CaptureFileError);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a schema or values nested deeper than the stack holds, as a format error', async () => {
    const folder = await temporaryFolder('capture-');
    // A header whose schema nests 100,000 arrays: avsc cannot write it either, so the bytes are laid out here.
    const deepSchema = `${'{"type":"array","items":'.repeat(100_000)}"long"${'}'.repeat(100_000)}`;
    const varint = (n: number) => Buffer.from(avro.Type.forSchema('long').toBuffer(n));
    const text = (value: string) => Buffer.concat([varint(Buffer.byteLength(value)), Buffer.from(value)]);
    const header = Buffer.concat([Buffer.from('Obj\x01', 'latin1'), varint(1), text('avro.schema'), text(deepSchema), varint(0), Buffer.alloc(16, 7)]);
    await writeFile(join(folder, 'deep-schema.avro'), header);
    await expect(bodiesOf(join(folder, 'deep-schema.avro'))).rejects.toThrow(/is not a readable Avro file: it nests types or values too deeply to read$/);

    // A recursive type Capture's four fields sit beside, whose value nests 200,000 levels.
    const schema = { ...CAPTURE_SCHEMA, fields: [...CAPTURE_SCHEMA.fields, { name: 'Chain', type: ['null', { type: 'record', name: 'Link', fields: [{ name: 'next', type: ['null', 'Link'] }] }] }] };
    const record = Buffer.concat([varint(1), text('0'), text('now'), varint(0), varint(0), varint(1), text('{}'), Buffer.from(Array.from({ length: 200_000 }, () => 2)), varint(0)]);
    const sync = Buffer.alloc(16, 9);
    const file = Buffer.concat([Buffer.from('Obj\x01', 'latin1'), varint(1), text('avro.schema'), text(JSON.stringify(schema)), varint(0), sync, varint(1), varint(record.length), record, sync]);
    await writeFile(join(folder, 'deep-values.avro'), file);
    await expect(bodiesOf(join(folder, 'deep-values.avro'))).rejects.toThrow(/has a corrupt block 1 \(at byte \d+\): it nests types or values too deeply to read$/);
  });

  it('writes a body as one line: JSON reads the same, line breaks inside a string stay an error', () => {
    const line = (text: string) => {
      const body = Buffer.from(text);
      // Written after other bytes, as into a buffer of lines.
      const target = Buffer.alloc(body.length + 8, 0x0a);
      expect(putBodyLine(target, 3, body)).toBe(body.length + 4);
      return target.subarray(3, body.length + 4).toString('utf8');
    };
    const indented = '{\r\n  "id": "chatcmpl-1",\r\n  "promptTokens": 12\r\n}';
    expect(line(indented)).toMatch(/^[^\r\n]*\n$/);
    expect(JSON.parse(line(indented))).toEqual(JSON.parse(indented));
    const brokenString = '{"a":"x\ny"}';
    expect(() => JSON.parse(brokenString)).toThrow(/control character/i);
    expect(() => JSON.parse(line(brokenString))).toThrow(/control character/i);
    fc.assert(
      fc.property(fc.json(), fc.array(fc.constantFrom('\n', '\r\n', '\r', ' ')), (json, breaks) => {
        // Line breaks where JSON allows whitespace: between tokens.
        const spread = json.replace(/([,:[\]{}])/g, (token) => `${token}${breaks[token.length % Math.max(breaks.length, 1)] ?? ''}`);
        const once = line(spread);
        expect(once.indexOf('\n')).toBe(once.length - 1);
        let parsed: unknown;
        try {
          parsed = JSON.parse(spread);
        } catch {
          // A break put inside a string: an error both ways.
          expect(() => JSON.parse(once)).toThrow();
          return;
        }
        expect(JSON.parse(once)).toEqual(parsed);
      }),
    );
  });

  it('lists a folder tree as azcopy downloads it: Avro files in path order, links to files followed, other files named', async () => {
    const root = await temporaryFolder('capture-');
    const partition = (p: string) => join(root, 'ns', 'hub', p, '2026', '11', '15', '10', '05');
    for (const p of ['1', '0']) {
      await mkdir(partition(p), { recursive: true });
      await writeCaptureFile(join(partition(p), '00.avro'), [`{"p":${p}}`]);
    }
    const elsewhere = await temporaryFolder('capture-');
    await writeCaptureFile(join(elsewhere, '30.avro'), ['{"linked":true}']);
    await symlink(join(elsewhere, '30.avro'), join(partition('0'), '30.avro'));
    await symlink(elsewhere, join(root, 'linked-folder'));
    await writeFile(join(root, 'notes.txt'), 'not an event\n');
    const listed = await listCaptureFolder(root);
    expect(listed.files).toEqual([join(partition('0'), '00.avro'), join(partition('0'), '30.avro'), join(partition('1'), '00.avro')]);
    expect(listed.others).toEqual(['notes.txt']);
    expect(listed.linkedFolders).toEqual(['linked-folder']);
  });

  it('writes the bodies of several files as JSON lines, bodies without text counted and left out', async () => {
    const folder = await temporaryFolder('capture-');
    const aiHub = await readFile(join(FIXTURES, 'ai-hub-gateway/event-main.json'));
    await writeCaptureFile(join(folder, '0.avro'), ['{"a":1}', null, aiHub], { partitionId: '0' });
    await writeCaptureFile(join(folder, '1.avro'), [' \r\n', '{"b":2}'], { partitionId: '1', codec: 'null' });
    const out = join(folder, 'events.jsonl');
    expect(await writeCaptureLines([join(folder, '0.avro'), join(folder, '1.avro')], out)).toEqual({ files: 2, events: 3, withoutBody: 2 });
    const lines = (await readFile(out, 'utf8')).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('{"a":1}');
    expect(JSON.parse(lines[1]!)).toEqual(JSON.parse(aiHub.toString('utf8')));
    expect(lines.slice(2)).toEqual(['{"b":2}', '']);
  });
});
