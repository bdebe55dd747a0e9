import type { AllocatedExport, AllocationCounts, AllocationSlice, InvoiceHead, InvoicePart, StoredCostRow } from '../contracts/invoice-allocation-document.js';
import type { AllocationCostRow, AllocationPart, RowAllocation } from './invoice-allocation.js';
import { METER_KINDS, type MeterKind } from './retail-price-meters.js';
import { stableId } from './stable-id.js';
import { chunkByBytes, MAX_PART_BYTES, wholeGeneration } from './document-parts.js';

/**
 * A cost export's allocation as documents: per billing month (the month of each row's ChargePeriodStart) a head and
 * the parts of one generation, each part at most `MAX_PART_BYTES` of JSON, like usage tiles. A head's id depends
 * only on the export's blob name and the month; each run writes parts of a generation of its own, so that what one
 * run removes is never what another run still stores.
 */

export const invoicePartition = (month: string): string => `invoice:${month}`;

/** The partition of the markers saying which export blobs (at which ETag) have been allocated. */
export const ALLOCATED_EXPORTS_PARTITION = 'invoice:exports';

export const allocatedExportKey = (exportName: string) => ({ id: `invoice-export:${stableId(exportName)}`, pk: ALLOCATED_EXPORTS_PARTITION });

export const invoiceHeadKey = (exportName: string, month: string) => ({ id: `invoice-head:${stableId(exportName)}:${month}`, pk: invoicePartition(month) });

/** The UTC month (`YYYY-MM`) of an instant written as text. */
export function monthOf(instant: string): string {
  const time = Date.parse(instant);
  if (Number.isNaN(time)) throw new RangeError(`not an instant: ${JSON.stringify(instant)}`);
  return new Date(time).toISOString().slice(0, 7);
}

function storedRow(row: AllocationCostRow): StoredCostRow {
  return { ...row, billedTokens: row.billedTokens === null ? null : row.billedTokens.toString() };
}

function meterKind(kind: string): MeterKind {
  if (!(METER_KINDS as readonly string[]).includes(kind)) throw new RangeError(`a stored allocation names an unknown meter kind ${JSON.stringify(kind)}`);
  return kind as MeterKind;
}

function costRowOf(row: StoredCostRow): AllocationCostRow {
  const meter = row.meter.type === 'tokens' ? { type: 'tokens' as const, model: row.meter.model, kind: meterKind(row.meter.kind) } : row.meter;
  return { ...row, meter, billedTokens: row.billedTokens === null ? null : BigInt(row.billedTokens) };
}

const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value)) + 1;

/** Slices of the rows, none with more than `maxBytes` of JSON unless a single part alone is larger. */
function slicesOf(allocations: readonly RowAllocation[], maxBytes: number): AllocationSlice[] {
  const slices: AllocationSlice[] = [];
  allocations.forEach(({ row, parts }, index) => {
    const stored = storedRow(row);
    const base = bytesOf({ index, row: stored, parts: [] });
    let current: AllocationSlice['parts'] = [];
    let bytes = base;
    for (const part of parts) {
      const text = { ...part, tokens: part.tokens.toString() };
      const size = bytesOf(text);
      if (current.length > 0 && bytes + size > maxBytes) {
        slices.push({ index, row: stored, parts: current });
        current = [];
        bytes = base;
      }
      current.push(text);
      bytes += size;
    }
    slices.push({ index, row: stored, parts: current });
  });
  return slices;
}

export interface ExportAllocation {
  /** The run's key (see `runKey`), from when it started reading. */
  readonly run: string;
  readonly exportName: string;
  readonly contentHash: string;
  readonly exportedAt: string;
  readonly allocatedAt: string;
  readonly counts: AllocationCounts;
  /** See `InvoiceHead.runFiles`. */
  readonly runFiles?: readonly string[];
  readonly allocations: readonly RowAllocation[];
}

/** The heads and parts of an export's allocation, one head per month its rows are in. */
export function invoiceDocuments(allocation: ExportAllocation, maxPartBytes = MAX_PART_BYTES): { heads: InvoiceHead[]; parts: InvoicePart[] } {
  const byMonth = new Map<string, RowAllocation[]>();
  for (const row of allocation.allocations) {
    const month = monthOf(row.row.chargePeriodStart);
    const rows = byMonth.get(month) ?? [];
    rows.push(row);
    byMonth.set(month, rows);
  }
  const heads: InvoiceHead[] = [];
  const parts: InvoicePart[] = [];
  const { run, exportName } = allocation;
  const generation = stableId(run);
  for (const month of [...byMonth.keys()].sort()) {
    const rows = byMonth.get(month)!;
    const { id, pk } = invoiceHeadKey(exportName, month);
    const chunks = chunkByBytes(slicesOf(rows, maxPartBytes), maxPartBytes);
    chunks.forEach((chunk, part) => parts.push({ id: `${id}:${generation}:${part}`, pk, kind: 'invoice-part', exportName, month, generation, part, slices: chunk, run }));
    heads.push({ ...emptyHead(allocation, month), parts: chunks.length, rows: rows.length });
  }
  return { heads, parts };
}

/** The marker saying that export blob `etag` was allocated by the run, into `months`; see `AllocatedExport.settlesAt`. */
export function exportMarker(allocation: Omit<ExportAllocation, 'allocations'>, months: readonly string[], blob: { etag: string; settlesAt: string }): AllocatedExport {
  const { run, exportName, contentHash, allocatedAt } = allocation;
  return { ...allocatedExportKey(exportName), kind: 'invoice-export', exportName, etag: blob.etag, contentHash, months: [...months], allocatedAt, settlesAt: blob.settlesAt, run };
}

/** The head of a month `allocation` does not cover: no rows, no parts. It keeps an older run from storing the month again. */
export function emptyHead(allocation: Omit<ExportAllocation, 'allocations'>, month: string): InvoiceHead {
  const { run, exportName, contentHash, exportedAt, allocatedAt, counts, runFiles } = allocation;
  return {
    ...invoiceHeadKey(exportName, month),
    kind: 'invoice-head',
    exportName,
    contentHash,
    exportedAt,
    allocatedAt,
    month,
    generation: stableId(run),
    parts: 0,
    rows: 0,
    counts,
    run,
    ...(runFiles ? { runFiles: [...runFiles] } : {}),
  };
}

/** A head of a month its export no longer covers (see `emptyHead`): it names no allocation. */
export const isEmptyHead = (head: Pick<InvoiceHead, 'rows' | 'parts'>) => head.rows === 0 && head.parts === 0;

export interface StoredExportAllocation {
  readonly head: InvoiceHead;
  readonly allocations: RowAllocation[];
}

/**
 * The allocations the heads name, from the parts of each head's generation. An export whose parts are not all
 * there (a writer replaced it while the query was paging) is listed as incomplete, so the caller reads again.
 */
export function assembleInvoice(heads: readonly InvoiceHead[], parts: readonly InvoicePart[]): { exports: StoredExportAllocation[]; incomplete: string[] } {
  const partsOf = new Map<string, InvoicePart[]>();
  for (const part of parts) {
    const key = `${part.exportName}\u0000${part.month}\u0000${part.generation}`;
    const list = partsOf.get(key) ?? [];
    list.push(part);
    partsOf.set(key, list);
  }
  const exports: StoredExportAllocation[] = [];
  const incomplete: string[] = [];
  for (const head of [...heads].filter((h) => !isEmptyHead(h)).sort((a, b) => (a.exportName < b.exportName ? -1 : a.exportName > b.exportName ? 1 : a.month < b.month ? -1 : 1))) {
    const found = wholeGeneration(partsOf.get(`${head.exportName}\u0000${head.month}\u0000${head.generation}`), head.parts);
    if (!found) {
      incomplete.push(head.exportName);
      continue;
    }
    const rows: { row: AllocationCostRow; parts: AllocationPart[] }[] = [];
    for (const slice of found.flatMap((p) => p.slices)) {
      if (!rows[slice.index]) rows[slice.index] = { row: costRowOf(slice.row), parts: [] };
      rows[slice.index]!.parts.push(...slice.parts.map((part) => ({ ...part, tokens: BigInt(part.tokens) })));
    }
    exports.push({ head, allocations: rows.filter((row) => row !== undefined) });
  }
  return { exports, incomplete };
}

/** The folder a blob is in ('' at the container's root). */
const folderOf = (name: string) => name.slice(0, Math.max(0, name.lastIndexOf('/')));

/** The folder of an export's date range, `YYYYMMDD-YYYYMMDD`, under which Cost Management writes each of its runs. */
const DATE_RANGE_FOLDER = /^\d{8}-\d{8}$/;

/**
 * The series a stored file belongs to (an export and date range) and its run in it. Cost Management writes each run
 * of an export under the date range's folder, in one of the layouts it has used:
 * - `<export>/<date range>/<run id>/part_*.csv` (a folder per run);
 * - `<export>/<date range>/<export time>/<guid>/part_*.csv` (FinOps toolkit's description of a manifest's blobs; the
 *   guid folder is not always there): the run is the export-time folder;
 * - `<export>/<date range>/<export>_<run id>.csv` (the Exports API's run history): each file is a run.
 * Without a date-range folder, a file's folder is its run and the folder above it the series; a file less than two
 * folders deep is a run of its own.
 */
function seriesOf(name: string): { series: string; run: string } {
  const folders = name.split('/');
  const range = folders.findIndex((folder, i) => i < folders.length - 1 && DATE_RANGE_FOLDER.test(folder));
  if (range >= 0) return { series: folders.slice(0, range + 1).join('/'), run: folders.slice(0, range + 2).join('/') };
  const run = folderOf(name);
  return run.includes('/') ? { series: folderOf(run), run } : { series: `\u0000${name}`, run: name };
}

/**
 * The exports that count, of those stored for a month. A later run of an export and date range restates the earlier
 * ones (a month-to-date export runs daily): of the runs of one series (see `seriesOf`) only the latest (by its files'
 * time) counts; every file of that run counts.
 */
export function currentExports<T extends { readonly head: Pick<InvoiceHead, 'exportName' | 'exportedAt'> }>(stored: readonly T[]): T[] {
  const latestRun = new Map<string, { run: string; at: string }>();
  for (const { head } of stored) {
    const { series, run } = seriesOf(head.exportName);
    const latest = latestRun.get(series);
    if (!latest || head.exportedAt > latest.at || (head.exportedAt === latest.at && run > latest.run)) latestRun.set(series, { run, at: head.exportedAt });
  }
  return stored.filter(({ head }) => {
    const { series, run } = seriesOf(head.exportName);
    return latestRun.get(series)?.run === run;
  });
}
