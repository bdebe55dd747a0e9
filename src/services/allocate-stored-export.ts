import { createHash, randomUUID, type Hash } from 'node:crypto';
import { readCostExportContent, wholeOf } from '../adapters/files/cost-export.js';
import { costExportManifestSchema, MANIFEST_FILE, namesBlob, type CostExportManifest } from '../contracts/cost-export-manifest.js';
import type { StoredDiagnostic } from '../contracts/diagnostic-record.js';
import { allocateInvoice, resourceKey, type AllocationUsage, type BypassCall, type RowAllocation } from '../domain/invoice-allocation.js';
import type { MeterKind } from '../domain/retail-price-meters.js';
import { exportMarker, invoiceDocuments } from '../domain/invoice-documents.js';
import { runKey } from '../domain/run-order.js';
import { isBypassCall } from '../domain/identity.js';
import { recordsByCorrelationId } from '../domain/join.js';
import type { DiagnosticsStore } from '../ports/diagnostics-store.js';
import type { InvoiceAllocationStore } from '../ports/invoice-allocation-store.js';
import type { CostExportSource } from '../ports/cost-export-source.js';
import { TransientStoreError, type LedgerStore, type StoreOptions } from '../ports/ledger-store.js';
import { allocationRowOf } from '../domain/focus-cost-rows.js';
import { allocationInputs, type AllocationInputOptions } from './allocate-files.js';
import { commitInvoiceAllocation } from './commit-invoice-allocation.js';

export interface StoredAllocationPorts {
  readonly ledger: Pick<LedgerStore, 'listEntries'>;
  readonly diagnostics: Pick<DiagnosticsStore, 'listRecords'>;
  readonly allocations: InvoiceAllocationStore;
}

/** A cost export file's content and where it came from. */
export interface ExportFile {
  readonly name: string;
  readonly etag: string;
  /** When the file was written, ISO 8601. */
  readonly lastModified: string;
  /** The file's bytes as stored (CSV, gzip-compressed CSV or Parquet, told by its name), held or as they are read. */
  readonly content: Uint8Array | AsyncIterable<Uint8Array>;
  /** The rows its run's manifest says it holds, when it says: a file holding another number is refused. */
  readonly rows?: number;
  /** See `InvoiceHead.runFiles`. */
  readonly runFiles?: readonly string[];
}

export interface StoredExportAllocation {
  readonly exportName: string;
  readonly months: readonly string[];
  readonly allocations: readonly RowAllocation[];
  readonly skippedRows: number;
  readonly unplacedRequests: number;
  readonly bypassCalls: number;
  /** Documents written (heads and parts). */
  readonly documents: number;
  /** False when a newer run of the same export had already stored its allocation: this one was discarded. */
  readonly stored: boolean;
}

/**
 * A diagnostic record's time and its request's time differ by the request's duration and the clocks': records are
 * read this much beyond the charge periods, so a request at a period's edge still finds its resource.
 */
const RECORD_MARGIN_MS = 3_600_000;

/** How long after a charge period ends its requests and diagnostic records may still arrive. */
export const DEFAULT_SETTLE_MS = 24 * 3_600_000;

export interface StoredAllocationOptions extends AllocationInputOptions {
  readonly now?: () => Date;
  /** A number in [0, 1) that picks the file a run starts from (`allocateNewExports`); default `Math.random`. */
  readonly random?: () => number;
  /** See `DEFAULT_SETTLE_MS`. */
  readonly settleInMs?: number;
}

const HOUR_MS = 3_600_000;

/**
 * Usage summed per identity, resource, model and hour. Allocation reads a request's time only to find the charge
 * periods it is in, so when every period starts and ends on a whole hour, requests of one hour are one weight: the
 * allocation is the same, and a month of requests takes memory by identity and hour, not by request.
 */
class HourlyUsage {
  private readonly sums = new Map<string, { use: AllocationUsage; tokens: Partial<Record<MeterKind, bigint>> }>();

  add(use: AllocationUsage): void {
    const hour = new Date(Math.floor(Date.parse(use.time) / HOUR_MS) * HOUR_MS).toISOString();
    const key = [use.identity, use.attributed, resourceKey(use.resourceId), use.model, use.provisioned === true, hour].join('\u0000');
    let sum = this.sums.get(key);
    if (!sum) {
      sum = { use: { ...use, time: hour }, tokens: {} };
      this.sums.set(key, sum);
    }
    for (const [kind, tokens] of Object.entries(use.tokens) as [MeterKind, bigint | undefined][]) sum.tokens[kind] = (sum.tokens[kind] ?? 0n) + (tokens ?? 0n);
  }

  list(): AllocationUsage[] {
    return [...this.sums.values()].map(({ use, tokens }) => ({ ...use, tokens }));
  }
}

/** The content, whose bytes go through `hash` as they are read. */
function hashed(content: ExportFile['content'], hash: Hash): ExportFile['content'] {
  if (content instanceof Uint8Array) {
    hash.update(content);
    return content;
  }
  return (async function* () {
    for await (const chunk of content) {
      hash.update(chunk);
      yield chunk;
    }
  })();
}

/**
 * Allocates a cost export over the stored ledger and diagnostic records of its charge periods (the same allocation
 * as `allocateFiles`), and stores the result in place of whatever the export had stored before, unless a newer run
 * of the same export stored its own meanwhile (see `commitInvoiceAllocation`).
 */
export async function allocateStoredExport(
  ports: StoredAllocationPorts,
  file: ExportFile,
  options: StoredAllocationOptions = {},
  storeOptions: StoreOptions = {},
): Promise<StoredExportAllocation> {
  const now = (options.now ?? (() => new Date()))();
  const run = runKey(now, randomUUID());
  const hash = createHash('sha256');
  const { rows, rowsRead } = await readCostExportContent(hashed(file.content, hash), file.name, allocationRowOf);
  const contentHash = hash.digest('hex');
  if (file.rows !== undefined && rowsRead !== file.rows) throw new Error(`it holds ${rowsRead} rows where its run's manifest.json says ${file.rows}: not allocated`);
  const skippedRows = rowsRead - rows.length;
  let usage: AllocationUsage[] = [];
  const bypass: BypassCall[] = [];
  let unplacedRequests = 0;
  if (rows.length > 0) {
    const hourly = rows.every((r) => Date.parse(r.chargePeriodStart) % HOUR_MS === 0 && Date.parse(r.chargePeriodEnd) % HOUR_MS === 0) ? new HourlyUsage() : null;
    const from = new Date(rows.reduce((min, r) => Math.min(min, Date.parse(r.chargePeriodStart)), Number.POSITIVE_INFINITY));
    const to = new Date(rows.reduce((max, r) => Math.max(max, Date.parse(r.chargePeriodEnd)), Number.NEGATIVE_INFINITY));
    // Only what placing a request needs is kept of each record (see `preferredRecord` for `notes`).
    const records: Pick<StoredDiagnostic, 'correlationId' | 'resourceId' | 'notes'>[] = [];
    for await (const page of ports.diagnostics.listRecords({ from: new Date(from.getTime() - RECORD_MARGIN_MS), to: new Date(to.getTime() + RECORD_MARGIN_MS) }, storeOptions)) {
      for (const r of page) {
        records.push({ correlationId: r.correlationId, resourceId: r.resourceId, ...(r.notes ? { notes: r.notes } : {}) });
        if (isBypassCall(r, options.identity) && Date.parse(r.time) >= from.getTime() && Date.parse(r.time) < to.getTime()) bypass.push({ time: r.time, resourceId: r.resourceId });
      }
    }
    const resourceOf = recordsByCorrelationId(records);
    records.length = 0;
    for await (const page of ports.ledger.listEntries({ from, to }, storeOptions)) {
      const inputs = allocationInputs(page, resourceOf, [], options);
      if (hourly) for (const use of inputs.usage) hourly.add(use);
      else usage.push(...inputs.usage);
      unplacedRequests += inputs.unplacedRequests;
    }
    if (hourly) usage = hourly.list();
  }
  const allocations = allocateInvoice(rows, usage, bypass);
  const allocatedAt = now.toISOString();
  const lastEnd = rows.reduce((max, r) => Math.max(max, Date.parse(r.chargePeriodEnd)), now.getTime() - (options.settleInMs ?? DEFAULT_SETTLE_MS));
  const settlesAt = new Date(lastEnd + (options.settleInMs ?? DEFAULT_SETTLE_MS)).toISOString();
  const counts = { skippedRows, unplacedRequests, bypassCalls: bypass.length };
  const allocation = { run, exportName: file.name, contentHash, exportedAt: file.lastModified, allocatedAt, counts, ...(file.runFiles ? { runFiles: file.runFiles } : {}) };
  const { heads, parts } = invoiceDocuments({ ...allocation, allocations });
  const months = heads.map((h) => h.month);
  const marker = exportMarker(allocation, months, { etag: file.etag, settlesAt });
  const stored = await commitInvoiceAllocation(ports.allocations, { allocation, marker, heads, parts }, storeOptions);
  return { exportName: file.name, months, allocations, ...counts, documents: heads.length + parts.length, stored };
}

export interface NewExportsPorts extends StoredAllocationPorts {
  readonly exports: CostExportSource;
}

export interface NewExportsResult {
  readonly allocated: readonly StoredExportAllocation[];
  /** Files already allocated at the ETag they have now, after their data settled. */
  readonly unchanged: number;
  /** Partitions of runs whose `manifest.json` is not written yet: the run is still being written, and waits. */
  readonly waiting: readonly string[];
  readonly failed: readonly { readonly name: string; readonly reason: string }[];
}

/** The files of an export run that hold its rows (CSV, gzip-compressed CSV, or Parquet); the run's manifest is not one. */
const EXPORT_FILE = /\.(?:csv(?:\.gz)?|parquet)$/i;

/**
 * A partition of a run of Exports, whose run writes a manifest.json last: `part_0_0001.csv` (`.csv.gz`, `.parquet`),
 * or `part0.csv` as Learn's example manifest ("Tutorial: Create and manage exported data") and some datasets name it;
 * the latter only in a run's folder (below a `YYYYMMDD-YYYYMMDD` folder), as a file dropped elsewhere may be so named.
 */
const PARTITION = /(?:^|\/)part_\d+_\d+\.[^/]+$|(?:^|\/)\d{8}-\d{8}\/(?:[^/]+\/)+part\d+\.[^/]+$/i;

/** The manifest governing `name`: the nearest one in its folder or a folder above it. */
function manifestOf(name: string, manifests: ReadonlyMap<string, string>): string | undefined {
  for (let folder = name; folder.includes('/'); ) {
    folder = folder.slice(0, folder.lastIndexOf('/'));
    const manifest = manifests.get(folder);
    if (manifest !== undefined) return manifest;
  }
  return manifests.get('');
}

/** What a run's manifest says of one of its files: the rows it holds, and the run's files as storage names them. */
type RunFile = { readonly rows?: number; readonly runFiles: readonly string[] } | { readonly reason: string };

/**
 * What a run's manifest says of each of its files, or why the run cannot be read. A run whose manifest names a
 * partition storage does not hold is incomplete; a file its manifest does not name is no part of it.
 */
async function manifestCheck(exports: CostExportSource, manifest: string, listed: readonly string[], storeOptions: StoreOptions): Promise<(name: string) => RunFile> {
  let parsed: CostExportManifest;
  try {
    const { bytes } = await exports.open(manifest, storeOptions);
    parsed = costExportManifestSchema.parse(JSON.parse(new TextDecoder().decode(await wholeOf(bytes))));
  } catch (error) {
    if (error instanceof TransientStoreError) throw error;
    const reason = `its run's ${manifest} cannot be read (${error instanceof SyntaxError ? 'not JSON' : (error as Error).message.slice(0, 200)})`;
    return () => ({ reason });
  }
  // The run's files are beside its manifest or below it: a name the manifest gives without its folders names no other run's file.
  const folder = manifest.slice(0, manifest.lastIndexOf('/') + 1);
  const inRun = listed.filter((name) => name.startsWith(folder));
  const missing = parsed.blobs.filter((blob) => !inRun.some((name) => namesBlob(name, blob.blobName)));
  const runFiles = inRun.filter((name) => parsed.blobs.some((blob) => namesBlob(name, blob.blobName)));
  return (name) => {
    if (missing.length > 0) return { reason: `its run is incomplete: ${manifest} names ${missing.map((b) => b.blobName).join(', ')}, not in storage` };
    const blob = parsed.blobs.find((b) => namesBlob(name, b.blobName));
    if (!blob) return { reason: `${manifest} of its run does not name it` };
    return blob.dataRowCount == null ? { runFiles } : { rows: blob.dataRowCount, runFiles };
  };
}

/**
 * Allocates every export file not yet allocated at its current ETag (new files, and files written again), and
 * again those allocated before their ledger and diagnostics settled (see `AllocatedExport.settlesAt`). A file that
 * cannot be read or allocated is reported and the others still are; it is tried again on the next run. A partition
 * of a run waits for the run's `manifest.json`, which Cost Management writes once every partition is (so a run being
 * written never replaces the last complete one), and must be one the manifest names, holding the rows it says.
 *
 * A file whose allocation outlasts the host's `functionTimeout` stops the run where it stands (the host restarts
 * the worker), with nothing recorded. So each run starts from a file picked at random among those to allocate: such
 * a file delays each of the others by as many runs as there are files, on average, never for good whatever the
 * schedule (a start taken from the clock would repeat with a daily schedule and a number of files dividing 24).
 */
export async function allocateNewExports(ports: NewExportsPorts, options: StoredAllocationOptions = {}, storeOptions: StoreOptions = {}): Promise<NewExportsResult> {
  const done = new Map((await ports.allocations.listAllocatedExports(storeOptions)).filter((m) => !m.pending && m.allocatedAt >= m.settlesAt).map((m) => [m.exportName, m.etag]));
  const allocated: StoredExportAllocation[] = [];
  const failed: { name: string; reason: string }[] = [];
  const listing = await ports.exports.list(storeOptions);
  const manifests = new Map(listing.filter((blob) => MANIFEST_FILE.test(blob.name)).map((blob) => [blob.name.slice(0, Math.max(0, blob.name.lastIndexOf('/'))), blob.name]));
  const files = listing.filter((blob) => EXPORT_FILE.test(blob.name));
  const ready = files.filter((blob) => manifestOf(blob.name, manifests) !== undefined || !PARTITION.test(blob.name));
  const toAllocate = ready.filter((blob) => done.get(blob.name) !== blob.etag);
  const unchanged = ready.length - toAllocate.length;
  const checks = new Map<string, Promise<Awaited<ReturnType<typeof manifestCheck>>>>();
  const names = listing.map((blob) => blob.name);
  const first = Math.min(toAllocate.length - 1, Math.floor((options.random ?? Math.random)() * toAllocate.length));
  for (const blob of [...toAllocate.slice(first), ...toAllocate.slice(0, first)]) {
    try {
      const manifest = manifestOf(blob.name, manifests);
      let run: { rows?: number; runFiles?: readonly string[] } = {};
      if (manifest !== undefined) {
        if (!checks.has(manifest)) checks.set(manifest, manifestCheck(ports.exports, manifest, names, storeOptions));
        const said = (await checks.get(manifest)!)(blob.name);
        if ('reason' in said) throw new Error(said.reason);
        run = said;
      }
      const { bytes, etag } = await ports.exports.open(blob.name, storeOptions);
      allocated.push(await allocateStoredExport(ports, { name: blob.name, etag, lastModified: blob.lastModified, content: bytes, ...run }, options, storeOptions));
    } catch (error) {
      if (error instanceof TransientStoreError) throw error;
      failed.push({ name: blob.name, reason: (error as Error).message });
    }
  }
  return { allocated, unchanged, waiting: files.filter((blob) => !ready.includes(blob)).map((blob) => blob.name), failed };
}
