import type { DiagnosticRecord, RejectedDiagnostic } from '../../contracts/diagnostic-record.js';
import { REQUEST_RESPONSE_CONTAINER, parseArchivePath, type ArchiveBlob } from '../../domain/archive-layout.js';
import { parseRequestResponse } from '../../domain/diagnostic-parsing.js';
import type { ArchiveReader } from '../../ports/archive.js';
import type { DiagnosticsRead, DiagnosticsSource } from '../../ports/diagnostics-source.js';
import type { StoreOptions } from '../../ports/ledger-store.js';

export interface ArchiveSourceOptions {
  /** The clock deciding which hours are complete. */
  readonly now?: () => Date;
  /** Minutes after an hour ends before its blob is taken as complete (Azure flushes appends late). */
  readonly settleMinutes?: number;
  /** Stop after the hour in which this many records were read (never mid-hour: the watermark is an hour). */
  readonly maxRecordsPerRead?: number;
}

/** The records of an archive blob, and its lines that are not one, each with its reason. */
export interface ArchiveBlobRecords {
  readonly records: DiagnosticRecord[];
  readonly rejected: RejectedDiagnostic[];
}

/** Sorts the lines of one archive blob (one JSON record per line), some at a time; dirty lines are rejected with a reason, never thrown. */
class ArchiveBlobParser implements ArchiveBlobRecords {
  readonly records: DiagnosticRecord[] = [];
  readonly rejected: RejectedDiagnostic[] = [];
  private lineNumber = 0;

  constructor(private readonly path: string) {}

  add(lines: readonly string[]): void {
    for (const line of lines) {
      this.lineNumber++;
      if (line.trim() === '') continue;
      const source = `${this.path}#L${this.lineNumber}`;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        this.rejected.push({ source, reason: 'line is not JSON', raw: line });
        continue;
      }
      const parsed = parseRequestResponse(value);
      if (parsed.ok) this.records.push(parsed.record);
      else this.rejected.push({ source, reason: parsed.reason, raw: line });
    }
  }
}

/** Parses one archive blob's text. */
export function parseArchiveBlob(path: string, text: string): ArchiveBlobRecords {
  const parser = new ArchiveBlobParser(path);
  parser.add(text.split('\n'));
  return parser;
}

/** Reads and parses one blob of an archive as it comes, never holding its whole text. */
export async function readArchiveBlob(archive: ArchiveReader, path: string, options: StoreOptions = {}): Promise<ArchiveBlobRecords> {
  const parser = new ArchiveBlobParser(path);
  for await (const lines of archive.lines(path, options)) parser.add(lines);
  return parser;
}

/**
 * Reads the `RequestResponse` archive hour by hour. The watermark is the last hour whose blobs (all accounts)
 * were read; an hour is read only once it is complete, so no record is missed and none is read twice.
 */
export class ArchiveDiagnosticsSource implements DiagnosticsSource {
  constructor(
    private readonly archive: ArchiveReader,
    private readonly options: ArchiveSourceOptions = {},
  ) {}

  async readSince(watermark: string | null, options: StoreOptions = {}): Promise<DiagnosticsRead> {
    const now = (this.options.now ?? (() => new Date()))();
    const settled = new Date(now.getTime() - (this.options.settleMinutes ?? 15) * 60_000 - 3_600_000).toISOString().slice(0, 13);
    const byHour = new Map<string, ArchiveBlob[]>();
    for (const path of await this.archive.list(options)) {
      if (!path.startsWith(`${REQUEST_RESPONSE_CONTAINER}/`)) continue;
      const blob = parseArchivePath(path);
      if (!blob || (watermark !== null && blob.hour <= watermark) || blob.hour > settled) continue;
      byHour.set(blob.hour, [...(byHour.get(blob.hour) ?? []), blob]);
    }
    const hours = [...byHour.keys()].sort();
    const records: DiagnosticRecord[] = [];
    const rejected: RejectedDiagnostic[] = [];
    let nextWatermark: string | null = null;
    for (const hour of hours) {
      for (const blob of byHour.get(hour)!) {
        const parsed = await readArchiveBlob(this.archive, blob.path, options);
        // One at a time: spreading an hour's blob of a busy account (over ~120,000 records) into push overflows the stack.
        for (const record of parsed.records) records.push(record);
        for (const line of parsed.rejected) rejected.push(line);
      }
      nextWatermark = hour;
      if (records.length >= (this.options.maxRecordsPerRead ?? 50_000)) break;
    }
    return { records, rejected, nextWatermark, more: nextWatermark !== null && nextWatermark !== hours[hours.length - 1] };
  }
}
