import { open, type FileHandle } from 'node:fs/promises';

/**
 * JSON Lines files read in large chunks, each line with the byte offset where it starts, so that a later step
 * can read one line again without holding the file. A line ends at `\n`; a `\r` before it is dropped
 * (https://jsonlines.org). Bytes are decoded as UTF-8, invalid sequences as U+FFFD, as `fs.readFile(…, 'utf8')` does.
 */

export interface JsonlChunk {
  readonly lines: readonly string[];
  /** Byte offset of each line's first byte in the file. */
  readonly offsets: readonly number[];
}

const NEWLINE = 0x0a;
const DEFAULT_BUFFER_BYTES = 1 << 20;

function withoutCr(line: string): string {
  return line.charCodeAt(line.length - 1) === 0x0d ? line.slice(0, -1) : line;
}

/** Splits whole lines (`bytes` ends with `\n`) starting at file offset `base`. */
function splitLines(bytes: Buffer, base: number): JsonlChunk {
  const lines: string[] = [];
  const offsets: number[] = [];
  const text = bytes.toString('utf8');
  if (text.length === bytes.length) {
    // Pure ASCII (the usual case): one byte per character, so one decode for the chunk and character positions are offsets.
    for (let start = 0; start < text.length; ) {
      const end = text.indexOf('\n', start);
      lines.push(withoutCr(text.slice(start, end)));
      offsets.push(base + start);
      start = end + 1;
    }
    return { lines, offsets };
  }
  for (let start = 0; start < bytes.length; ) {
    const end = bytes.indexOf(NEWLINE, start);
    lines.push(withoutCr(bytes.toString('utf8', start, end)));
    offsets.push(base + start);
    start = end + 1;
  }
  return { lines, offsets };
}

/** The file's lines in chunks of about `bufferBytes` (a longer line comes whole, in a chunk of its own). */
export async function* readJsonlChunks(path: string, options: { bufferBytes?: number } = {}): AsyncGenerator<JsonlChunk> {
  const handle = await open(path, 'r');
  try {
    let buffer = Buffer.allocUnsafe(options.bufferBytes ?? DEFAULT_BUFFER_BYTES);
    let filled = 0;
    let position = 0;
    for (;;) {
      if (filled === buffer.length) {
        const larger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(larger, 0, 0, filled);
        buffer = larger;
      }
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, position + filled);
      if (bytesRead === 0) break;
      const end = buffer.lastIndexOf(NEWLINE, filled + bytesRead - 1) + 1;
      filled += bytesRead;
      if (end === 0) continue;
      yield splitLines(buffer.subarray(0, end), position);
      buffer.copy(buffer, 0, end, filled);
      position += end;
      filled -= end;
    }
    if (filled > 0) yield splitLines(Buffer.concat([buffer.subarray(0, filled), Buffer.from('\n')]), position);
  } finally {
    await handle.close();
  }
}

/** Reads the line that starts at `offset` again. */
export async function readJsonlLineAt(handle: FileHandle, offset: number): Promise<string> {
  const parts: Buffer[] = [];
  let position = offset;
  for (;;) {
    const piece = Buffer.allocUnsafe(64 * 1024);
    const { bytesRead } = await handle.read(piece, 0, piece.length, position);
    const newline = piece.subarray(0, bytesRead).indexOf(NEWLINE);
    if (newline >= 0 || bytesRead === 0) {
      parts.push(piece.subarray(0, newline >= 0 ? newline : bytesRead));
      return withoutCr(Buffer.concat(parts).toString('utf8'));
    }
    parts.push(piece.subarray(0, bytesRead));
    position += bytesRead;
  }
}
