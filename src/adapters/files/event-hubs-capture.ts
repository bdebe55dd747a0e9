import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import {
  AVRO_MAGIC,
  AvroFormatError,
  MORE_BYTES,
  readBlockFrame,
  readBlockField,
  readContainerHeader,
  syncMatches,
  type AvroType,
} from '../../domain/avro-container.js';

/**
 * Event Hubs Capture files (Avro object containers of `Microsoft.ServiceBus.Messaging.EventData` records) read as
 * the events' bodies, one a line: what the gateway sent to the hub, as the Event Hubs trigger receives it.
 *
 * The record's documented fields are `SequenceNumber` (long), `Offset` and `EnqueuedTimeUtc` (strings),
 * `SystemProperties` and `Properties` (maps) and `Body` (bytes, or a union of null and bytes): only the body is
 * read. Capture writes the codecs `null` and `deflate`.
 */

const READ_BYTES = 1 << 20;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const TAB = 0x09;
const SPACE = 0x20;

/** Fields a record must have to be Capture's, with the kinds each may take. */
const CAPTURE_FIELDS: Readonly<Record<string, readonly string[]>> = { SequenceNumber: ['long'], Offset: ['string'], EnqueuedTimeUtc: ['string'], Body: ['bytes', 'null|bytes', 'bytes|null'] };

function kindOf(type: AvroType): string {
  return type.kind === 'union' ? type.branches.map((b) => b.kind).join('|') : type.kind;
}

type RecordType = AvroType & { kind: 'record' };

/** Why the writer's schema is not Capture's, or null when it is. */
function notCapture(schema: AvroType): string | null {
  if (schema.kind !== 'record') return `its records are of type ${schema.kind}, not Event Hubs events`;
  for (const [name, kinds] of Object.entries(CAPTURE_FIELDS)) {
    const field = schema.fields.find((f) => f.name === name);
    if (!field) return `its records (${schema.name}) have no ${name} field, which Event Hubs Capture writes`;
    if (!kinds.includes(kindOf(field.type))) return `its records' ${name} field is ${kindOf(field.type)}, where Event Hubs Capture writes ${kinds[0]}`;
  }
  return null;
}

/** A Capture file that cannot be read: the file and what is wrong. */
export class CaptureFileError extends Error {}

export interface CaptureFolder {
  /** The Avro files, in path order (Capture's default names sort by partition, then time). */
  readonly files: readonly string[];
  readonly bytes: number;
  /** Files that are not Avro files, relative to the folder. */
  readonly others: readonly string[];
  /** Links to folders, relative to the folder: not followed (a link may loop), so named rather than passed over. */
  readonly linkedFolders: readonly string[];
}

/** True when a file begins as an Avro container does. */
export async function startsWithAvroMagic(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const first = Buffer.alloc(AVRO_MAGIC.length);
    const { bytesRead } = await handle.read(first, 0, first.length, 0);
    return bytesRead === first.length && AVRO_MAGIC.every((byte, i) => first[i] === byte);
  } finally {
    await handle.close();
  }
}

/** The files of a folder and its subfolders (as `azcopy copy --recursive` downloads a Capture container), Avro or not. */
export async function listCaptureFolder(folder: string): Promise<CaptureFolder> {
  const files: string[] = [];
  const others: string[] = [];
  const linkedFolders: string[] = [];
  let bytes = 0;
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  // A link is taken for the file it links to; a link to a folder is not followed.
  const paths = entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => join(e.parentPath, e.name));
  for (const file of paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const found = await stat(file).catch(() => null);
    if (found?.isDirectory()) linkedFolders.push(relative(folder, file));
    if (!found?.isFile()) continue;
    if (!(await startsWithAvroMagic(file))) {
      others.push(relative(folder, file));
      continue;
    }
    files.push(file);
    bytes += found.size;
  }
  return { files, bytes, others, linkedFolders };
}

/** A file read forward: the bytes not consumed yet, read in large pieces, never more than a block beyond them. */
class ForwardReader {
  private buffer = Buffer.alloc(READ_BYTES);
  private start = 0;
  private end = 0;
  /** File offset of the first byte not consumed. */
  offset = 0;
  private ended = false;

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  static async of(handle: FileHandle): Promise<ForwardReader> {
    return new ForwardReader(handle, (await handle.stat()).size);
  }

  /** The bytes not consumed yet. */
  get bytes(): Buffer {
    return this.buffer.subarray(this.start, this.end);
  }

  /** Reads on until `wanted` bytes are held (by default, a piece more), or to the end of the file; false when nothing more was read. */
  async more(wanted = this.end - this.start + READ_BYTES): Promise<boolean> {
    if (this.ended) return false;
    const held = this.end - this.start;
    if (this.start + wanted > this.buffer.length) {
      const next = wanted > this.buffer.length ? Buffer.alloc(Math.max(wanted, this.buffer.length * 2)) : this.buffer;
      this.buffer.copy(next, 0, this.start, this.end);
      this.buffer = next;
      this.start = 0;
      this.end = held;
    }
    while (this.end - this.start < wanted && !this.ended) {
      const { bytesRead } = await this.handle.read(this.buffer, this.end, this.buffer.length - this.end, this.offset + (this.end - this.start));
      if (bytesRead === 0) this.ended = true;
      this.end += bytesRead;
    }
    return this.end - this.start > held;
  }

  consume(count: number): void {
    this.start += count;
    this.offset += count;
  }
}

/** More than any block of events a writer closes (an event is 1 MiB at most, 20 MiB on a dedicated cluster): a block that inflates beyond it is refused, not held. */
const MAX_BLOCK_BYTES = 256 * 2 ** 20;

function decompress(codec: string, data: Uint8Array): Uint8Array {
  // A block of no records may hold no bytes at all, whatever the codec (empty Capture files end with one).
  if (codec === 'null' || data.length === 0) return data;
  // The specification's deflate is RFC 1951 without a zlib header.
  return inflateRawSync(data, { maxOutputLength: MAX_BLOCK_BYTES });
}

/** `read(bytes)` over more and more of the file until it no longer asks for more bytes; null at the end of the file. */
async function readWhole<T>(reader: ForwardReader, read: (bytes: Buffer) => T, cutShort: () => Error, corrupt: (error: AvroFormatError) => Error): Promise<T> {
  for (;;) {
    try {
      return read(reader.bytes);
    } catch (error) {
      if (error === MORE_BYTES) {
        if (await reader.more()) continue;
        throw cutShort();
      }
      if (error instanceof AvroFormatError) throw corrupt(error);
      throw error;
    }
  }
}

/**
 * Every record's body of one Capture file, block by block (memory holds one block); a null body as null. A body
 * is a view of the block's bytes: copy it before taking the next one. A file cut short, a block whose sync marker
 * is not the header's, or another codec stops the read with a `CaptureFileError` naming the file, the block and
 * its byte offset.
 */
export async function* captureBodies(file: string): AsyncGenerator<Uint8Array | null> {
  const handle = await open(file, 'r');
  const fail = (what: string) => new CaptureFileError(`${JSON.stringify(file)} ${what}`);
  try {
    const reader = await ForwardReader.of(handle);
    const header = await readWhole(
      reader,
      readContainerHeader,
      () => fail('ends inside its Avro header: the file is cut short'),
      (error) => fail(`is not a readable Avro file: ${error.message}`),
    );
    const why = notCapture(header.schema);
    if (why) throw fail(`is an Avro file, but not as Event Hubs Capture writes it: ${why}`);
    const schema = header.schema as RecordType;
    if (header.codec !== 'null' && header.codec !== 'deflate') throw fail(`is compressed with the Avro codec ${JSON.stringify(header.codec)}; Event Hubs Capture writes null or deflate, which are read`);
    reader.consume(header.length);
    for (let block = 1; reader.bytes.length > 0 || (await reader.more()); block++) {
      const at = reader.offset;
      const where = `block ${block} (at byte ${at})`;
      const frame = await readWhole(
        reader,
        (bytes) => readBlockFrame(bytes, 0),
        () => fail(`ends inside ${where}: the file is cut short`),
        (error) => fail(`has a corrupt ${where}: ${error.message}`),
      );
      if (at + frame.end > reader.size) throw fail(`ends inside ${where}, which needs ${frame.end} bytes: the file is cut short`);
      if (frame.end > reader.bytes.length) await reader.more(frame.end);
      const bytes = reader.bytes;
      if (!syncMatches(bytes, frame, header.sync)) throw fail(`has a corrupt ${where}: its sync marker is not the header's`);
      let bodies;
      try {
        bodies = readBlockField(decompress(header.codec, bytes.subarray(frame.dataStart, frame.dataStart + frame.dataBytes)), frame.records, schema, 'Body') as (Uint8Array | null)[];
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw fail(`has a ${where} that inflates to more than ${MAX_BLOCK_BYTES / 2 ** 20} MiB`);
        throw fail(`has a corrupt ${where}: ${error instanceof AvroFormatError ? error.message : `its ${header.codec} data cannot be decompressed (${(error as Error).message})`}`);
      }
      yield* bodies;
      reader.consume(frame.end);
    }
  } finally {
    await handle.close();
  }
}

/** True when a body holds only JSON whitespace (or nothing): it would be no line at all. */
function isBlank(body: Uint8Array): boolean {
  for (const byte of body) if (byte !== SPACE && byte !== TAB && byte !== NEWLINE && byte !== CARRIAGE_RETURN) return false;
  return true;
}

/**
 * Writes a body as one line into `target` at `at` (it needs the body's length and one byte more), and returns where
 * the line ends. JSON allows a line break only as whitespace between tokens, and a tab wherever it allows a line
 * break (both are whitespace outside strings, both forbidden raw inside them), so a body's CR and LF bytes become
 * tabs: a JSON body reads the same (Json.NET's indented bodies, with CRLF, included), and a body that is not JSON
 * stays a dead letter for the same reason, at the same positions.
 */
export function putBodyLine(target: Buffer, at: number, body: Uint8Array): number {
  target.set(body, at);
  const line = target.subarray(at, at + body.length);
  for (const breaking of [NEWLINE, CARRIAGE_RETURN]) {
    for (let i = line.indexOf(breaking); i >= 0; i = line.indexOf(breaking, i + 1)) line[i] = TAB;
  }
  target[at + body.length] = NEWLINE;
  return at + body.length + 1;
}

export interface CaptureLines {
  readonly files: number;
  /** Events written, a line each. */
  readonly events: number;
  /** Events with a null or blank body: no line, as a JSON lines reader skips blank lines. */
  readonly withoutBody: number;
}

/** Writes every body of the Capture files as a line of `out` (a new file), in file order. */
export async function writeCaptureLines(files: readonly string[], out: string): Promise<CaptureLines> {
  const handle = await open(out, 'wx');
  let events = 0;
  let withoutBody = 0;
  let lines = Buffer.allocUnsafe(READ_BYTES);
  let used = 0;
  try {
    for (const file of files) {
      for await (const body of captureBodies(file)) {
        if (body === null || isBlank(body)) {
          withoutBody++;
          continue;
        }
        if (used + body.length + 1 > lines.length) {
          await handle.write(lines, 0, used);
          used = 0;
          if (body.length + 1 > lines.length) lines = Buffer.allocUnsafe(body.length + 1);
        }
        used = putBodyLine(lines, used, body);
        events++;
      }
    }
    await handle.write(lines, 0, used);
  } finally {
    await handle.close();
  }
  return { files: files.length, events, withoutBody };
}
