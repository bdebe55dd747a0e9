import { isUtf8 } from 'node:buffer';
import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * JSON Lines files read in large chunks, each line with the byte offset where it starts, so that a later step
 * can read one line again without holding the file. A line ends at `\n`; a `\r` before it is dropped
 * (https://jsonlines.org). Bytes are decoded as UTF-8, invalid sequences as U+FFFD, as `fs.readFile(…, 'utf8')` does;
 * a chunk keeps the bytes of such a line beside its text.
 */

export interface JsonlChunk {
  readonly lines: readonly string[];
  /** Byte offset of each line's first byte in the file. */
  readonly offsets: readonly number[];
  /**
   * The bytes of each line that is not valid UTF-8, by the line's index (its text has U+FFFD where they do not
   * decode): the pipeline dead-letters such a body as bytes, and so does the analysis.
   */
  readonly notUtf8?: ReadonlyMap<number, Uint8Array>;
}

const NEWLINE = 0x0a;
const DEFAULT_BUFFER_BYTES = 1 << 20;

const CARRIAGE_RETURN = 0x0d;

/** The end of the line in bytes [start, end): without a `\r` just before `end`. */
function lineEnd(bytes: Buffer, start: number, end: number): number {
  return end > start && bytes[end - 1] === CARRIAGE_RETURN ? end - 1 : end;
}

/** The text of bytes [start, end), without a `\r` just before the end. */
function lineText(bytes: Buffer, start: number, end: number): string {
  return bytes.toString('utf8', start, lineEnd(bytes, start, end));
}

/**
 * Splits whole lines (`bytes` ends with `\n`) starting at file offset `base`. Each line is decoded on its own:
 * a slice of one decoded chunk would keep the whole chunk alive, and V8 handles such sliced strings, and the
 * values JSON.parse takes from them, at about half the speed of flat ones.
 */
function splitLines(bytes: Buffer, base: number): JsonlChunk {
  const lines: string[] = [];
  const offsets: number[] = [];
  // One check of the whole chunk: only a chunk that fails it has its lines checked one by one.
  const valid = isUtf8(bytes);
  let notUtf8: Map<number, Uint8Array> | undefined;
  for (let start = 0; start < bytes.length; ) {
    const end = bytes.indexOf(NEWLINE, start);
    if (!valid) {
      const line = bytes.subarray(start, lineEnd(bytes, start, end));
      // A copy: the reader fills this buffer again.
      if (!isUtf8(line)) (notUtf8 ??= new Map()).set(lines.length, Uint8Array.prototype.slice.call(line));
    }
    lines.push(lineText(bytes, start, end));
    offsets.push(base + start);
    start = end + 1;
  }
  return notUtf8 ? { lines, offsets, notUtf8 } : { lines, offsets };
}

/**
 * The lines of a stream of bytes (a blob being downloaded), a chunk's whole lines at a time, as `readJsonlChunks`
 * splits a file's: a line is decoded once its bytes are all there, so a character cut between chunks reads whole.
 */
export async function* readStreamLines(stream: AsyncIterable<Buffer>): AsyncGenerator<readonly string[]> {
  // The bytes of the line begun and not yet ended, in the pieces they came in.
  let begun: Buffer[] = [];
  for await (const chunk of stream) {
    const whole = chunk.lastIndexOf(NEWLINE) + 1;
    if (whole === 0) {
      begun.push(chunk);
      continue;
    }
    begun.push(chunk.subarray(0, whole));
    yield splitLines(begun.length === 1 ? begun[0]! : Buffer.concat(begun), 0).lines;
    begun = whole < chunk.length ? [chunk.subarray(whole)] : [];
  }
  if (begun.length > 0) yield splitLines(Buffer.concat([...begun, Buffer.from('\n')]), 0).lines;
}

/** Bytes [start, end) of a file; `start` is the first byte of a line. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export interface JsonlReadOptions {
  readonly bufferBytes?: number;
  /**
   * Only the lines that start inside these ranges (cut with `rangesCutNear`), range after range, each taken from
   * the iterable when the one before is done.
   */
  readonly ranges?: Iterable<ByteRange>;
  /**
   * Read on this thread rather than on libuv's thread pool (the next chunk, or several lines read again at once):
   * for a caller that keeps every core computing (the parallel analysis), where a read on the pool waits for a core
   * like any other work and the thread that needs it waits in turn. The pool is better where a core is free, and
   * where the file is not in the page cache.
   */
  readonly readInline?: boolean;
}

/**
 * The file's lines in chunks of about `bufferBytes` (a longer line comes whole, in a chunk of its own); one file
 * handle and two buffers serve every range. Unless `readInline`, the next read is under way while the caller works
 * through a chunk, so a caller that computes never waits for the disk.
 */
export async function* readJsonlChunks(path: string, options: JsonlReadOptions = {}): AsyncGenerator<JsonlChunk> {
  const handle = await open(path, 'r');
  let buffer = Buffer.allocUnsafe(options.bufferBytes ?? DEFAULT_BUFFER_BYTES);
  let spare = Buffer.allocUnsafe(buffer.length);
  let pending: Promise<number> = Promise.resolve(0);
  try {
    for (const { start, end } of options.ranges ?? [{ start: 0, end: Infinity }]) {
      const readInto = (target: Buffer, at: number, from: number): Promise<number> => {
        const wanted = Math.min(target.length - at, end - from);
        const read = wanted <= 0 ? Promise.resolve(0) : readAt(handle, target, at, wanted, from, options.readInline);
        // Awaited later (the caller may take a while over a chunk): a failure meanwhile is not an unhandled rejection.
        read.catch(() => 0);
        return read;
      };
      // `buffer` holds `filled` bytes of the file from `position`: the start of a line.
      let filled = 0;
      let position = start;
      pending = readInto(buffer, 0, position);
      for (;;) {
        const bytesRead = await pending;
        if (bytesRead === 0) break;
        const whole = buffer.lastIndexOf(NEWLINE, filled + bytesRead - 1) + 1;
        filled += bytesRead;
        if (whole === 0) {
          // No line ends in the buffer yet: read on, into a larger one when it is full.
          if (filled === buffer.length) {
            const larger = Buffer.allocUnsafe(buffer.length * 2);
            buffer.copy(larger, 0, 0, filled);
            buffer = larger;
            spare = Buffer.allocUnsafe(larger.length);
          }
          pending = readInto(buffer, filled, position + filled);
          continue;
        }
        const chunk = splitLines(buffer.subarray(0, whole), position);
        // The line begun at the end moves to the other buffer, and the read after it starts before the chunk is used.
        buffer.copy(spare, 0, whole, filled);
        [buffer, spare] = [spare, buffer];
        position += whole;
        filled -= whole;
        pending = readInto(buffer, filled, position + filled);
        yield chunk;
      }
      if (filled > 0) yield splitLines(Buffer.concat([buffer.subarray(0, filled), Buffer.from('\n')]), position);
    }
  } finally {
    // A caller that stops early may leave a read under way: the file closes after it.
    await pending.catch(() => 0);
    await handle.close();
  }
}

/** Bytes read into `target` from `at` on: on this thread when `inline` (see `JsonlReadOptions.readInline`), else on libuv's pool. */
function readAt(handle: FileHandle, target: Buffer, at: number, length: number, position: number, inline: boolean | undefined): Promise<number> {
  if (inline) return Promise.resolve(readSync(handle.fd, target, at, length, position));
  return handle.read(target, at, length, position).then((r) => r.bytesRead);
}

/** A first read this long holds a whole event line mostly: a longer line is read on in larger pieces. */
const FIRST_READ_BYTES = 4 * 1024;
const NEXT_READ_BYTES = 64 * 1024;
/** Reads in flight at once in `readJsonlLinesAt` (Node's file reads run on libuv's pool of four threads). */
const CONCURRENT_READS = 16;

/**
 * The bytes from `position` up to the next newline (without it), or to the end of the file, in the pieces they were
 * read in (at least one); `newline` tells which ended them. `first` takes the first read.
 */
async function readToNewline(handle: FileHandle, position: number, first: Buffer, inline?: boolean): Promise<{ pieces: Buffer[]; newline: boolean }> {
  const pieces: Buffer[] = [];
  for (let piece = first; ; piece = Buffer.allocUnsafe(NEXT_READ_BYTES)) {
    const bytesRead = await readAt(handle, piece, 0, piece.length, position, inline);
    const newline = piece.subarray(0, bytesRead).indexOf(NEWLINE);
    if (newline >= 0 || bytesRead === 0) {
      pieces.push(piece.subarray(0, newline >= 0 ? newline : bytesRead));
      return { pieces, newline: newline >= 0 };
    }
    pieces.push(piece.subarray(0, bytesRead));
    position += bytesRead;
  }
}

/** The line that starts at `offset`, read again; `first` (reused between calls) takes the first read. */
async function lineAt(handle: FileHandle, offset: number, first: Buffer, inline: boolean | undefined): Promise<string> {
  const { pieces } = await readToNewline(handle, offset, first, inline);
  const line = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  return lineText(line, 0, line.length);
}

/** Lines asked for together whose starts lie at most this far apart are read in one piece (one read, not one each)… */
const SPAN_GAP_BYTES = 16 * 1024;
/** …of at most about this many bytes. */
const SPAN_BYTES = 256 * 1024;

/**
 * The lines that start at `offsets`, read again, in the order of `offsets`: lines that lie close together in the
 * file in one read (many held requests are read back at the end of a stream), several reads in flight at once,
 * or each on this thread with `readInline`.
 */
export async function readJsonlLinesAt(handle: FileHandle, offsets: readonly number[], { readInline }: Pick<JsonlReadOptions, 'readInline'> = {}): Promise<string[]> {
  const byPosition = offsets.map((_, i) => i).sort((a, b) => offsets[a]! - offsets[b]!);
  const spans: number[][] = [];
  for (const i of byPosition) {
    const span = spans[spans.length - 1];
    const joins = span && offsets[i]! - offsets[span[span.length - 1]!]! <= SPAN_GAP_BYTES && offsets[i]! - offsets[span[0]!]! <= SPAN_BYTES;
    if (joins) span.push(i);
    else spans.push([i]);
  }
  const lines = new Array<string>(offsets.length);
  await inLanes(spans.length, () => {
    const first = Buffer.allocUnsafe(FIRST_READ_BYTES);
    return async (s) => {
      const span = spans[s]!;
      const start = offsets[span[0]!]!;
      // A line alone takes the lane's buffer of one first read.
      const bytes = span.length === 1 ? first : Buffer.allocUnsafe(offsets[span[span.length - 1]!]! - start + FIRST_READ_BYTES);
      const bytesRead = await readAt(handle, bytes, 0, bytes.length, start, readInline);
      const read = bytes.subarray(0, bytesRead);
      for (const i of span) {
        const from = offsets[i]! - start;
        const newline = read.indexOf(NEWLINE, from);
        // The file ends without a newline, or the line runs on past the piece (read on by itself).
        if (newline >= 0) lines[i] = lineText(bytes, from, newline);
        else if (bytesRead < bytes.length) lines[i] = lineText(bytes, Math.min(from, bytesRead), bytesRead);
        else lines[i] = await lineAt(handle, offsets[i]!, first, readInline);
      }
    };
  });
  return lines;
}

/**
 * The results of tasks 0 … count − 1, in order, run in `CONCURRENT_READS` lanes: each lane makes its task
 * function once (say, with a buffer of its own) and runs the next task not yet taken until none is left.
 */
async function inLanes<T>(count: number, lane: () => (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const run = async () => {
    const task = lane();
    for (let i = next++; i < count; i = next++) results[i] = await task(i);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_READS, count) }, run));
  return results;
}

/**
 * Cuts a file into ranges at the first line start at or after each of `near` (ascending byte positions), so that
 * every line lies in exactly one range. Cuts that fall together or at the end of the file are made once.
 */
export async function rangesCutNear(path: string, near: readonly number[]): Promise<ByteRange[]> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    // Each cut is looked for on its own, several reads at once; the first line start at or after a position is never
    // before that of an earlier position, so cuts that fall together are next to each other.
    const found = await inLanes(near.length, () => {
      const first = Buffer.allocUnsafe(FIRST_READ_BYTES);
      return (i) => (near[i]! <= 0 ? Promise.resolve(0) : lineStartFrom(handle, near[i]! - 1, size, first));
    });
    const cuts = [0];
    for (const cut of found) if (cut > cuts[cuts.length - 1]! && cut < size) cuts.push(cut);
    cuts.push(size);
    return cuts.slice(0, -1).map((start, i) => ({ start, end: cuts[i + 1]! }));
  } finally {
    await handle.close();
  }
}

/** The offset just after the first newline at or after `position`, or `size` when none follows; `first` takes the first read. */
async function lineStartFrom(handle: FileHandle, position: number, size: number, first: Buffer): Promise<number> {
  const { pieces, newline } = await readToNewline(handle, position, first);
  return newline ? position + pieces.reduce((bytes, piece) => bytes + piece.length, 0) + 1 : size;
}
