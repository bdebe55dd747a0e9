import type { DiagnosticRecord, RejectedDiagnostic } from '../../contracts/diagnostic-record.js';
import { REQUEST_RESPONSE_CONTAINER, parseArchivePath, type ArchiveBlob } from '../../domain/archive-layout.js';
import { parseRequestResponse } from '../../domain/diagnostic-parsing.js';
import { archivePosition } from '../../domain/join-watermark.js';
import type { ArchiveReader } from '../../ports/archive.js';
import type { DiagnosticsRead, DiagnosticsSource } from '../../ports/diagnostics-source.js';
import type { StoreOptions } from '../../ports/ledger-store.js';

export interface ArchiveSourceOptions {
  /** The clock deciding which hours are complete. */
  readonly now?: () => Date;
  /**
   * How long after its hour a blob written again is read again (default 72 hours, as Log Analytics is read back
   * over late arrivals). An older blob written again (a container restored or copied) is not: its hours were read.
   */
  readonly lateAppendInMs?: number;
  /** Minutes after an hour ends before its blob is taken as complete (Azure flushes appends late). */
  readonly settleMinutes?: number;
  /** Stop after the hour in which this many records were read (never mid-hour: the watermark names an hour). */
  readonly maxRecordsPerRead?: number;
}

/** The records of an archive blob, and its lines that are not one, each with its reason. */
export interface ArchiveBlobRecords {
  readonly records: DiagnosticRecord[];
  readonly rejected: RejectedDiagnostic[];
  /** Its last line, not JSON, was held back, not rejected: the blob may have been read in the middle of an append. */
  readonly heldLastLine: boolean;
}

/**
 * A blob written this shortly before its listing may be read while Azure appends to it: a last line that is not
 * JSON may be a record cut in two, held back until the blob is read again.
 */
const APPENDING_MS = 5 * 60_000;

/**
 * The first line of a blob in the layout before 2018-11-01: one JSON object holding a `records` array, on one line or
 * indented over many (learn.microsoft.com/azure/azure-monitor/essentials/resource-logs-blob-format; the change to
 * JSON Lines came later to some sovereign clouds, and a container keeps both). No JSON Lines record begins so.
 */
const LEGACY_FIRST_LINE = /^\s*\{\s*(?:"records"\s*:.*)?$/;
/**
 * A legacy blob is read whole, held as text (two bytes a character): one longer than this is rejected with its first
 * characters rather than held; the blob itself stays in the archive.
 */
const MAX_LEGACY_CHARS = 64 * 2 ** 20;
const REJECTED_HEAD_CHARS = 2 ** 20;

/**
 * Sorts the lines of one archive blob (one JSON record per line), some at a time; dirty lines are rejected with a
 * reason, never thrown. A blob in the legacy layout is held until `finish` and read whole. A UTF-8 byte-order mark,
 * which a copy saved by a Windows tool may begin with, is not part of the first line.
 */
class ArchiveBlobParser implements ArchiveBlobRecords {
  readonly records: DiagnosticRecord[] = [];
  readonly rejected: RejectedDiagnostic[] = [];
  heldLastLine = false;
  private lineNumber = 0;
  /** The last line met, taken when the next one comes or at `finish`. */
  private last: { source: string; line: string } | null = null;
  private legacy: { lines: string[]; chars: number; tooLong: boolean } | null = null;

  constructor(private readonly path: string) {}

  add(lines: readonly string[]): void {
    for (const text of lines) {
      this.lineNumber++;
      const line = this.lineNumber === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
      if (this.legacy) {
        this.legacy.chars += line.length + 1;
        if (this.legacy.chars > MAX_LEGACY_CHARS) this.legacy.tooLong = true;
        if (!this.legacy.tooLong || this.legacy.chars - line.length <= REJECTED_HEAD_CHARS) this.legacy.lines.push(line);
        continue;
      }
      if (line.trim() === '') continue;
      if (this.last === null && this.records.length === 0 && this.rejected.length === 0 && LEGACY_FIRST_LINE.test(line)) {
        this.legacy = { lines: [line], chars: line.length + 1, tooLong: false };
        continue;
      }
      if (this.last) this.take(this.last.source, this.last.line);
      this.last = { source: `${this.path}#L${this.lineNumber}`, line };
    }
  }

  /**
   * Takes the last line (held back when it is not JSON and `appending`) and reads a legacy blob held whole: each of
   * its records, or the whole blob rejected when it is not such an object.
   */
  finish(appending = false): this {
    if (this.last) {
      const { source, line } = this.last;
      this.last = null;
      const value = jsonOf(line);
      if (appending && value === undefined) this.heldLastLine = true;
      else this.take(source, line, value);
    }
    if (!this.legacy) return this;
    const { lines, tooLong } = this.legacy;
    this.legacy = null;
    if (tooLong) {
      const reason = `{"records": […]} blob of over ${MAX_LEGACY_CHARS} characters, not read whole`;
      this.rejected.push({ source: `${this.path}#L1`, reason, raw: lines.join('\n').slice(0, REJECTED_HEAD_CHARS) });
      return this;
    }
    const text = lines.join('\n');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.rejected.push({ source: `${this.path}#L1`, reason: 'blob is neither JSON Lines nor one JSON object', raw: text });
      return this;
    }
    const records = (value as { records?: unknown } | null)?.records;
    if (!Array.isArray(records)) {
      this.rejected.push({ source: `${this.path}#L1`, reason: 'blob is one JSON object without a "records" array', raw: text });
      return this;
    }
    records.forEach((record, i) => this.take(`${this.path}#records[${i}]`, JSON.stringify(record), record));
    return this;
  }

  private take(source: string, line: string, given?: unknown): void {
    const value = given === undefined ? jsonOf(line) : given;
    if (value === undefined) {
      this.rejected.push({ source, reason: 'line is not JSON', raw: line });
      return;
    }
    const parsed = parseRequestResponse(value);
    if (parsed.ok) this.records.push(parsed.record);
    else this.rejected.push({ source, reason: parsed.reason, raw: line });
  }
}

/** The value of a JSON text, or undefined when it is not JSON (`JSON.parse` never answers undefined). */
function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Parses one archive blob's text. */
export function parseArchiveBlob(path: string, text: string): ArchiveBlobRecords {
  const parser = new ArchiveBlobParser(path);
  parser.add(text.split('\n'));
  return parser.finish();
}

/**
 * Reads and parses one blob of an archive as it comes, never holding its whole text (but a legacy blob's); when
 * `appending`, a last line that is not JSON is held back (`heldLastLine`).
 */
export async function readArchiveBlob(archive: ArchiveReader, path: string, options: StoreOptions = {}, appending = false): Promise<ArchiveBlobRecords> {
  const parser = new ArchiveBlobParser(path);
  for await (const lines of archive.lines(path, options)) parser.add(lines);
  return parser.finish(appending);
}

/**
 * How far before a listing's time a blob written after it may be stamped: Blob storage keeps `Date` and
 * `Last-Modified` to the second and may list in the second before its answer's `Date`; Linux stamps a file's mtime
 * from a coarser clock than the one `Date` reads.
 */
const CLOCK_PRECISION_MS = 1_000;

/**
 * Reads the `RequestResponse` archive hour by hour, an hour once it is over and settled. Each hour's blob is an
 * append blob that Azure can still append to, and a blob can appear for an hour already read (records up to 48
 * hours late): a blob of an hour of the last `lateAppendInMs` already read that was written since the listing of the
 * previous read is read again whole (the join stores each record by its id, so a record read twice changes nothing),
 * before the new hours; `maxRecordsPerRead` bounds the new hours only. The watermark is `<hour>/<listedAt>`: the last
 * hour read (all accounts), and when the listing of that read began.
 */
export class ArchiveDiagnosticsSource implements DiagnosticsSource {
  constructor(
    private readonly archive: ArchiveReader,
    private readonly options: ArchiveSourceOptions = {},
  ) {}

  async readSince(watermark: string | null, options: StoreOptions = {}): Promise<DiagnosticsRead> {
    const now = (this.options.now ?? (() => new Date()))();
    const settled = new Date(now.getTime() - (this.options.settleMinutes ?? 15) * 60_000 - 3_600_000).toISOString().slice(0, 13);
    const since = watermark === null ? { hour: null, listedAt: null } : archivePosition(watermark);
    const oldestWritten = new Date(now.getTime() - (this.options.lateAppendInMs ?? 72 * 3_600_000)).toISOString().slice(0, 13);
    const listing = await this.archive.list(options);
    const written: ArchiveBlob[] = [];
    const byHour = new Map<string, ArchiveBlob[]>();
    const modified = new Map<string, number>();
    const entries = [...listing.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const { path, lastModified } of entries) {
      if (!path.startsWith(`${REQUEST_RESPONSE_CONTAINER}/`)) continue;
      const blob = parseArchivePath(path);
      if (!blob || blob.hour > settled) continue;
      modified.set(path, lastModified.getTime());
      if (since.hour === null || blob.hour > since.hour) {
        const blobs = byHour.get(blob.hour);
        if (blobs) blobs.push(blob);
        else byHour.set(blob.hour, [blob]);
      }
      else if (since.listedAt !== null && blob.hour >= oldestWritten && lastModified.getTime() >= since.listedAt - CLOCK_PRECISION_MS) written.push(blob);
    }
    const hours = [...byHour.keys()].sort();
    const records: DiagnosticRecord[] = [];
    const rejected: RejectedDiagnostic[] = [];
    // The listing the next read goes on from: no later than a blob whose last line was held back, so that it is read again.
    let listedAt = listing.listedAt.getTime();
    const read = async (blobs: readonly ArchiveBlob[]) => {
      for (const blob of blobs) {
        const lastModified = modified.get(blob.path)!;
        // Only a blob of the hours read again when written can wait for its append to end.
        const appending = blob.hour >= oldestWritten && listing.listedAt.getTime() - lastModified < APPENDING_MS;
        const parsed = await readArchiveBlob(this.archive, blob.path, options, appending);
        if (parsed.heldLastLine) listedAt = Math.min(listedAt, lastModified);
        // One at a time: spreading an hour's blob of a busy account (over ~120,000 records) into push overflows the stack.
        for (const record of parsed.records) records.push(record);
        for (const line of parsed.rejected) rejected.push(line);
      }
    };
    await read(written);
    let lastHour = since.hour;
    for (const hour of hours) {
      await read(byHour.get(hour)!);
      lastHour = hour;
      if (records.length >= (this.options.maxRecordsPerRead ?? 50_000)) break;
    }
    const next = lastHour === null ? null : `${lastHour}/${new Date(listedAt).toISOString()}`;
    return { records, rejected, nextWatermark: next === watermark ? null : next, more: lastHour !== null && hours.length > 0 && lastHour !== hours[hours.length - 1] };
  }
}
