import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { listCaptureFolder, startsWithAvroMagic, writeCaptureLines } from '../adapters/files/event-hubs-capture.js';
import { readRequestResponseExport } from '../adapters/files/requestresponse-export.js';
import { REQUEST_RESPONSE_CONTAINER } from '../domain/archive-layout.js';
import { Cleanup } from './cleanup.js';
import { checkArchiveFolder, checkInput, utf16Encoding } from './input-files.js';
import type { Progress } from './progress.js';

/**
 * Inputs the analyses read in another form than they were given: Event Hubs Capture files as JSON lines, a Log
 * Analytics export of `RequestResponse` records as a copy of the storage archive, UTF-16 text (what Windows
 * PowerShell 5's `>` writes) as UTF-8. Copies go to one temporary folder, removed when the command ends, fails or
 * is stopped.
 */

const EVENTS = { option: '--events', kind: 'file', holding: 'gateway events as JSON lines (one Event Hubs body per line)', text: true, jsonLines: true, utf16: true } as const;
const EVENTS_WANTED = 'expected a file of gateway events as JSON lines (one Event Hubs body per line), or Event Hubs Capture files (.avro)';
const ARCHIVE = { option: '--diagnostics', kind: 'folder', holding: 'RequestResponse storage-archive records (the folder holding insights-logs-requestresponse/, or that folder itself)' } as const;
const EXPORT = { option: '--diagnostics', kind: 'file', holding: 'AzureDiagnostics RequestResponse rows exported from Log Analytics (a query API response, az monitor log-analytics query -o json, the portal CSV, or JSON lines)', text: true, utf16: true } as const;

/** What `--events` names: a JSON lines file, or Event Hubs Capture files. */
export interface EventsInput {
  readonly path: string;
  readonly capture: { readonly files: readonly string[]; readonly bytes: number } | null;
}

/** What `--diagnostics` names: a copy of the storage archive (a folder), or a Log Analytics export (a file). */
export interface DiagnosticsInput {
  readonly path: string;
  readonly logAnalyticsExport: boolean;
}

/** Checks `--events` before any work: a JSON lines file (`checkInput`), an Avro file, or a folder of Avro files only. */
export async function checkEvents(path: string): Promise<EventsInput> {
  const capture = await captureFiles(path);
  if (!capture) await checkInput(path, EVENTS);
  return { path, capture };
}

/** Checks `--diagnostics` before any work: a folder is a copy of the archive, a file a Log Analytics export. */
export async function checkDiagnostics(path: string): Promise<DiagnosticsInput> {
  const found = await stat(path).catch(() => null);
  if (found?.isFile()) {
    await checkInput(path, EXPORT);
    return { path, logAnalyticsExport: true };
  }
  await checkArchiveFolder(path, ARCHIVE);
  return { path, logAnalyticsExport: false };
}

/** The Capture files `--events` names (an Avro file, or a folder of them), or null for anything else. */
async function captureFiles(path: string): Promise<EventsInput['capture']> {
  const found = await stat(path).catch(() => null);
  if (found?.isFile()) return (await startsWithAvroMagic(path)) ? { files: [path], bytes: found.size } : null;
  if (!found?.isDirectory()) return null;
  const folder = await listCaptureFolder(path);
  const named = `--events ${JSON.stringify(path)}`;
  if (folder.others.length > 0) {
    const more = folder.others.length > 1 ? ` (and ${folder.others.length - 1} other file${folder.others.length > 2 ? 's' : ''})` : '';
    throw new Error(`${named} is a folder, and ${JSON.stringify(folder.others[0])} in it${more} is not an Avro file: ${EVENTS_WANTED}; a folder holds Capture files only`);
  }
  if (folder.linkedFolders.length > 0) {
    throw new Error(`${named} is a folder, and ${JSON.stringify(folder.linkedFolders[0])} in it is a link to a folder, which is not followed: give the folder it links to as --events of its own, or copy its files in`);
  }
  if (folder.files.length === 0) throw new Error(`${named} is a folder with no file in it: ${EVENTS_WANTED}`);
  return folder;
}

/** Bytes read at once from a UTF-16 file. */
const READ_BYTES = 1 << 20;

/** Bytes of a file of the archive copy: about an hour's blob of a busy account. */
const ARCHIVE_FILE_BYTES = 8 * 2 ** 20;

const plural = (count: number, noun: string) => `${count.toLocaleString('en-US')} ${noun}${count === 1 ? '' : 's'}`;

export class InputCopies {
  private folder: Promise<string> | null = null;
  /** Each UTF-8 copy's path, and the path of the file it is a copy of. */
  private readonly originals = new Map<string, string>();

  private constructor(
    private readonly cleanup: Cleanup,
    private readonly progress: Progress,
  ) {}

  /** Runs `analyse` with the copies it makes, and removes them when it ends, fails or a signal stops the command. */
  static async use<T>(progress: Progress, analyse: (copies: InputCopies) => Promise<T>): Promise<T> {
    const cleanup = new Cleanup();
    void cleanup.signal().then((signal) => cleanup.exitOn(signal));
    const copies = new InputCopies(cleanup, progress);
    try {
      return await analyse(copies);
    } catch (error) {
      // A message that names a copy (a bad row of a UTF-16 file's copy) names the file given instead.
      if (error instanceof Error) for (const [copy, original] of copies.originals) error.message = error.message.replaceAll(copy, original);
      throw error;
    } finally {
      await cleanup.run();
    }
  }

  /** The temporary folder, made when the first copy needs it. */
  private temporaryFolder(): Promise<string> {
    this.folder ??= mkdtemp(join(tmpdir(), 'tokenledger-inputs-')).then((folder) => {
      this.cleanup.add(() => rm(folder, { recursive: true, force: true }));
      return folder;
    });
    return this.folder;
  }

  /** The events as a JSON lines file: the file given (in UTF-8), or Capture files' bodies a line each. */
  async eventsFile({ path, capture }: EventsInput): Promise<string> {
    if (!capture) return this.utf8(path);
    const count = capture.files.length;
    this.progress.step(`reading ${plural(count, 'Event Hubs Capture file')} (${(capture.bytes / 2 ** 20).toFixed(1)} MiB) into a temporary file of JSON lines`);
    const eventsFile = join(await this.temporaryFolder(), 'events.jsonl');
    const lines = await writeCaptureLines(capture.files, eventsFile);
    const withoutBody = lines.withoutBody > 0 ? `; ${lines.withoutBody.toLocaleString('en-US')} without a body, not analysed` : '';
    this.progress.step(`${plural(lines.events, 'event')} from ${plural(count, 'Capture file')}${withoutBody}`);
    return eventsFile;
  }

  /**
   * The `RequestResponse` records as a copy of the archive: the folder given, or a Log Analytics export's rows as
   * records, written as the archive holds them, in files of 8 MiB, each written whole (one file written 8 MiB at a
   * time took a sixth longer over 748 MB).
   */
  async diagnosticsFolder({ path, logAnalyticsExport }: DiagnosticsInput): Promise<string> {
    if (!logAnalyticsExport) return path;
    const container = join(await this.temporaryFolder(), REQUEST_RESPONSE_CONTAINER);
    await mkdir(container);
    let rows = 0;
    let otherRows = 0;
    let files = 0;
    let lines: string[] = [];
    let bytes = 0;
    const write = async () => {
      if (lines.length === 0) return;
      await writeFile(join(container, `log-analytics-export-${String(++files).padStart(6, '0')}.json`), lines.join(''), { flag: 'wx' });
      lines = [];
      bytes = 0;
    };
    for await (const record of readRequestResponseExport(await this.utf8(path))) {
      if (record === null) {
        otherRows++;
        continue;
      }
      const line = JSON.stringify(record) + '\n';
      lines.push(line);
      bytes += line.length;
      rows++;
      if (bytes >= ARCHIVE_FILE_BYTES) await write();
    }
    await write();
    const others = otherRows > 0 ? `; ${plural(otherRows, 'row')} of other categories left out` : '';
    this.progress.step(`${plural(rows, 'RequestResponse record')} read from ${path}${others}`);
    return container;
  }

  /**
   * A text file in UTF-8: the file given, or a UTF-8 copy of a UTF-16 one (known by its byte-order mark). A pipe
   * (`/dev/stdin`) is read once into a file first: the readers look at a file's first bytes again and read lines
   * back by their position, which a pipe cannot give.
   */
  async utf8(path: string): Promise<string> {
    if (!(await stat(path)).isFile()) return this.utf8(await this.copyOfPipe(path));
    const input = await open(path, 'r');
    try {
      const first = Buffer.alloc(2);
      const encoding = utf16Encoding(first.subarray(0, (await input.read(first, 0, 2, 0)).bytesRead));
      if (!encoding) return path;
      this.progress.step(`${this.originals.get(path) ?? path} is UTF-16 text: reading a UTF-8 copy of it`);
      const copy = join(await this.temporaryFolder(), `utf8-${this.originals.size + 1}-${basename(path)}`);
      this.originals.set(copy, this.originals.get(path) ?? path);
      const output = await open(copy, 'wx');
      try {
        const decoder = new TextDecoder(encoding);
        const chunk = Buffer.alloc(READ_BYTES);
        for (let at = 0; ; ) {
          const { bytesRead } = await input.read(chunk, 0, chunk.length, at);
          if (bytesRead === 0) break;
          at += bytesRead;
          await output.write(decoder.decode(chunk.subarray(0, bytesRead), { stream: true }));
        }
        await output.write(decoder.decode());
      } finally {
        await output.close();
      }
      return copy;
    } finally {
      await input.close();
    }
  }

  /** The bytes of a pipe (or another file that is read as it comes), in a temporary file. */
  private async copyOfPipe(path: string): Promise<string> {
    this.progress.step(`${path} is not a regular file (a pipe): reading it into a temporary file`);
    const copy = join(await this.temporaryFolder(), `input-${this.originals.size + 1}`);
    this.originals.set(copy, path);
    // Node's own stdin may be a socket, which /dev/stdin cannot open (ENXIO): it is read as the process' stdin.
    await pipeline(path === '/dev/stdin' ? process.stdin : createReadStream(path), createWriteStream(copy, { flags: 'wx' }));
    return copy;
  }
}
