import { open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NOT_AN_ARCHIVE, requestResponseFolder } from '../adapters/archive/folder-archive.js';
import { AVRO_MAGIC } from '../domain/avro-container.js';

/** What a command expects at a path given on the command line, for messages that say it. */
export interface ExpectedInput {
  /** The option or argument that named the path, e.g. `--events`. */
  readonly option: string;
  readonly kind: 'file' | 'folder';
  /** What it should hold, e.g. `gateway events as JSON lines`. */
  readonly holding: string;
  /** Read as UTF-8 text: a compressed, binary or UTF-16 file, known by its first bytes, is refused for what it is. */
  readonly text?: boolean;
  /** Read as JSON lines, one value a line: a JSON document written over several lines, known by its first line, is refused. */
  readonly jsonLines?: boolean;
  /** UTF-16 text, known by its byte-order mark, is taken too: the command reads a UTF-8 copy of it (`InputCopies.utf8`). */
  readonly utf16?: boolean;
}

/** Files that are not UTF-8 text, by their first bytes: what each is, and what to do about it. */
const NOT_TEXT: readonly { readonly magic: readonly number[]; readonly is: string; readonly fix: string }[] = [
  { magic: [0xff, 0xfe], is: 'UTF-16 text (it begins with the byte-order mark FF FE)', fix: 'save it as UTF-8 (Excel: "CSV UTF-8"; PowerShell: Out-File -Encoding utf8) or convert it with iconv -f UTF-16 -t UTF-8' },
  { magic: [0xfe, 0xff], is: 'UTF-16 text (it begins with the byte-order mark FE FF)', fix: 'save it as UTF-8 or convert it with iconv -f UTF-16 -t UTF-8' },
  { magic: [0x1f, 0x8b], is: 'gzip-compressed', fix: 'decompress it first (gunzip -k)' },
  { magic: [0x50, 0x4b, 0x03, 0x04], is: 'a zip archive', fix: 'extract the file from it first' },
  // The object container file of the Avro specification, which Event Hubs Capture writes.
  { magic: AVRO_MAGIC, is: 'an Avro file (as Event Hubs Capture writes)', fix: "write each event's body as one line of text first" },
  { magic: [0x50, 0x41, 0x52, 0x31], is: 'a Parquet file', fix: 'write it out as text first' },
];

/** What a JSON lines reader needs to see of a file's beginning to tell it from one JSON document written over several lines. */
const FIRST_BYTES = 64 * 1024;

/** The first bytes of a regular file (at most `FIRST_BYTES`). */
async function firstBytes(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const first = Buffer.alloc(FIRST_BYTES);
    const { bytesRead } = await handle.read(first, 0, first.length, 0);
    return first.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** What a file is when it is not UTF-8 text (see `NOT_TEXT`), by its first bytes; or null. */
export function notText(first: Buffer): (typeof NOT_TEXT)[number] | null {
  return NOT_TEXT.find(({ magic }) => magic.length <= first.length && magic.every((byte, i) => first[i] === byte)) ?? null;
}

/** The UTF-16 encoding a file's byte-order mark names, or null. */
export function utf16Encoding(first: Uint8Array): 'utf-16le' | 'utf-16be' | null {
  if (first[0] === 0xff && first[1] === 0xfe) return 'utf-16le';
  if (first[0] === 0xfe && first[1] === 0xff) return 'utf-16be';
  return null;
}

/** The text of a file's bytes: UTF-16 where its byte-order mark says so (the mark dropped), else UTF-8. */
function decodeText(bytes: Buffer): string {
  const encoding = utf16Encoding(bytes);
  return encoding ? new TextDecoder(encoding).decode(bytes) : bytes.toString('utf8');
}

/**
 * What a file is when its first line shows one JSON document written over several lines (pretty-printed, or an
 * array with an element a line), which a JSON lines reader would take as lines that are not JSON each; or null.
 */
function notJsonLines(first: Buffer): { readonly is: string; readonly fix: string } | null {
  const text = decodeText(first);
  // Lines that end with a CR alone (no LF in the first bytes at all) would be read as one line, one dead letter.
  const cr = text.indexOf('\r');
  if (cr >= 0 && cr + 1 < text.length && !text.includes('\n')) return { is: 'text whose lines end with a carriage return alone (CR, no line feed)', fix: "end each line with a line feed, e.g. tr '\\r' '\\n' < FILE > events.jsonl" };
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  // The last piece may be cut short by FIRST_BYTES: only whole lines are looked at.
  const line = lines.slice(0, -1).find((l) => l.trim() !== '')?.trim();
  if (line === '{') return { is: 'one JSON document written over several lines (its first line is "{" alone)', fix: 'write each body on a line of its own, e.g. jq -c . FILE > events.jsonl' };
  if (line === '[' || (line?.startsWith('[') && line.endsWith(','))) {
    return { is: `a JSON array written over several lines (its first line is ${line === '[' ? '"[" alone' : 'an unclosed "["'})`, fix: "write each element on a line of its own, e.g. jq -c '.[]' FILE > events.jsonl" };
  }
  return null;
}

function describe(path: string, expected: ExpectedInput): string {
  return `${expected.option} ${JSON.stringify(path)}`;
}

/**
 * Checks before reading that a path given on the command line is what the command expects, so a mistake is
 * reported with the option, the path and what belongs there, not as a bare ENOENT or EISDIR from deep inside.
 */
export async function checkInput(path: string, expected: ExpectedInput): Promise<void> {
  const wanted = `expected a ${expected.kind} of ${expected.holding}`;
  let found;
  try {
    found = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new Error(`${describe(path, expected)} does not exist: ${wanted}`);
    if (code === 'EACCES' || code === 'EPERM') throw new Error(`${describe(path, expected)} cannot be read (permission denied): ${wanted}`);
    if (code === 'ELOOP') throw new Error(`${describe(path, expected)} ${FILE_ERRORS['ELOOP']![0]}: ${wanted}`);
    throw error;
  }
  if (expected.kind === 'file' && found.isDirectory()) throw new Error(`${describe(path, expected)} is a folder: ${wanted}`);
  if (expected.kind === 'folder' && !found.isDirectory()) throw new Error(`${describe(path, expected)} is a file: ${wanted}`);
  // Only a regular file: the first bytes of a pipe (/dev/stdin) are the command's to read.
  if (!(expected.text || expected.jsonLines) || !found.isFile()) return;
  const first = await firstBytes(path);
  const taken = expected.utf16 && utf16Encoding(first) !== null;
  const other = (expected.text && !taken ? notText(first) : null) ?? (expected.jsonLines ? notJsonLines(first) : null);
  if (other) throw new Error(`${describe(path, expected)} is ${other.is}: ${wanted}; ${other.fix}`);
}

/** `checkInput` for a local copy of the RequestResponse archive, which must hold the container or be it (`requestResponseFolder`). */
export async function checkArchiveFolder(path: string, expected: ExpectedInput): Promise<void> {
  await checkInput(path, expected);
  if ((await requestResponseFolder(path)) === null) {
    throw new Error(`${describe(path, expected)} ${NOT_AN_ARCHIVE}: expected a ${expected.kind} of ${expected.holding}`);
  }
}

/**
 * Checks, before any work, that a path the command will write to is not an existing folder (for a file) or file
 * (for a folder), and that the folder a file goes into exists (a folder to write into is made with its parents).
 */
export async function checkOutput(path: string, expected: Omit<ExpectedInput, 'holding'>): Promise<void> {
  let found;
  try {
    found = await stat(path);
  } catch {
    if (expected.kind === 'folder') return;
    const folder = await stat(dirname(path)).catch(() => null);
    if (!folder?.isDirectory()) throw new Error(`${expected.option} ${JSON.stringify(path)} cannot be written: ${JSON.stringify(dirname(path))} is not a folder that exists`);
    return;
  }
  if (expected.kind === 'file' && found.isDirectory()) throw new Error(`${expected.option} ${JSON.stringify(path)} is a folder: expected the name of a file to write`);
  if (expected.kind === 'folder' && !found.isDirectory()) throw new Error(`${expected.option} ${JSON.stringify(path)} is a file: expected a folder to write into`);
}

/** Per error code: what it says about a named path, and what it says when the error names none. */
const FILE_ERRORS: Readonly<Record<string, readonly [string, string]>> = {
  ENOENT: ['does not exist', 'a file or folder does not exist'],
  EISDIR: ['is a folder, not a file', 'a folder was given where a file was expected'],
  ENOTDIR: ['has a file where a folder was expected', 'a file was given where a folder was expected'],
  EACCES: ['cannot be accessed (permission denied)', 'a file cannot be accessed (permission denied)'],
  EPERM: ['cannot be accessed (operation not permitted)', 'a file cannot be accessed (operation not permitted)'],
  EEXIST: ['already exists', 'a file already exists'],
  ENOSPC: ['cannot be written: the disk is full', 'the disk is full'],
  ELOOP: ['is a loop of symbolic links (one leads back to another)', 'a loop of symbolic links was given'],
};

/** A file-system error as a sentence naming its path, or null when `error` is not one. */
export function describeFileError(error: unknown): string | null {
  const e = error as NodeJS.ErrnoException;
  const words = e?.code ? FILE_ERRORS[e.code] : undefined;
  if (!words) return null;
  return e.path ? `${JSON.stringify(e.path)} ${words[0]}` : words[1];
}
