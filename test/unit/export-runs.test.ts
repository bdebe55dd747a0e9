/**
 * How the allocate timer and the stored invoice treat an export run as Cost Management writes it to storage
 * over time (Exports v2, API 2023-07-01-preview and later).
 *
 * Provenance of the layout and the manifest:
 * - Microsoft Learn, "Tutorial: Create and manage exported data" (MicrosoftDocs/azure-docs,
 *   articles/cost-management-billing/costs/tutorial-export-acm-data.md), "File partitioning for large datasets":
 *   "The specifics of the file partitions are described in a manifest.json file provided with each export run,
 *   enabling you to rejoin the original file." / "With every export run you get multiple partitions of the data along
 *   with a manifest.json file. The manifest contains a summary of the full dataset and information for each file
 *   partition in it. Each file partition has headers and contains only a subset of the full dataset. To handle the
 *   full dataset, you must ingest each partition of the export." / FAQ: "Always refer to the manifest file to retrieve
 *   correct file names and sequence." The manifest below has that page's fields (manifestVersion 2024-04-01,
 *   byteCount, blobCount, dataRowCount, exportConfig, deliveryConfig, runInfo, blobs[] {blobName, byteCount,
 *   dataRowCount}).
 * - microsoft/finops-toolkit, docs-mslearn/toolkit/hubs/data-processing.md: the hubs' ingestion starts "when
 *   manifest.json files are added"; for files a user drops: "create an empty manifest.json file in the target
 *   ingestion folder after all other files are ready (don't add this file when files are still uploading) ... The
 *   sole purpose is to indicate that all files for this ingestion job are added." The hubs' export pipeline
 *   (src/templates/finops-hub/modules/Microsoft.CostManagement/Exports/app.bicep) is triggered by
 *   `storagePathEndsWith: 'manifest.json'` and copies the files the manifest's `blobs` list.
 * - Folder layout `<directory>/<export>/<YYYYMMDD-YYYYMMDD>/<run id>/part_N_NNNN.csv` with the run's manifest.json
 *   beside its parts, as the project's own README and `seriesOf` describe it.
 * - Rows: test/fixtures/cost-exports/focus-1.0-azure-openai.csv (see its README): two Azure OpenAI rows of
 *   2024-11-20 (gpt-4o input, gpt-4o output) and one Azure AI Search row; split here into two partitions of one
 *   run, each with the header, as "Each file partition has headers".
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allocateNewExports } from '../../src/services/allocate-stored-export.js';
import { storedInvoiceFor } from '../../src/services/invoice-report.js';
import { TransientStoreError } from '../../src/ports/ledger-store.js';
import { MemoryCostExportSource, MemoryDiagnosticsStore, MemoryInvoiceAllocationStore, MemoryLedgerStore } from '../support/memory-stores.js';

const FOCUS = readFileSync(new URL('../fixtures/cost-exports/focus-1.0-azure-openai.csv', import.meta.url), 'utf8');
const [HEADER, INPUT_ROW, OUTPUT_ROW, SEARCH_ROW] = FOCUS.split('\r\n');
const part0 = [HEADER, INPUT_ROW, SEARCH_ROW].join('\r\n') + '\r\n';
const part1 = [HEADER, OUTPUT_ROW].join('\r\n') + '\r\n';

const SERIES = 'tokenledger/focus-daily/20241101-20241130';
const RUN_A = '5f0c3a9e-1b2d-4c3e-8f4a-000000000001';
const RUN_B = '5f0c3a9e-1b2d-4c3e-8f4a-000000000002';

/** The manifest Cost Management writes last into a run's folder (fields of Microsoft's example). */
function manifest(runId: string, submittedTime: string, blobs: { name: string; text: string; rows: number }[]): string {
  return JSON.stringify({
    manifestVersion: '2024-04-01',
    byteCount: blobs.reduce((n, b) => n + Buffer.byteLength(b.text), 0),
    blobCount: blobs.length,
    dataRowCount: blobs.reduce((n, b) => n + b.rows, 0),
    exportConfig: {
      exportName: 'focus-daily',
      resourceId: '/providers/Microsoft.Billing/billingAccounts/12345678/providers/Microsoft.CostManagement/exports/focus-daily',
      dataVersion: '1.0',
      apiVersion: '2023-07-01-preview',
      type: 'FocusCost',
      timeFrame: 'MonthToDate',
      granularity: 'Daily',
    },
    deliveryConfig: {
      partitionData: true,
      dataOverwriteBehavior: 'CreateNewReport',
      fileFormat: 'Csv',
      compressionMode: 'None',
      containerUri: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/costexports',
      rootFolderPath: 'tokenledger',
    },
    runInfo: { executionType: 'Scheduled', submittedTime, runId, startDate: '2024-11-01T00:00:00', endDate: '2024-11-30T00:00:00' },
    blobs: blobs.map((b) => ({ blobName: `${SERIES}/${runId}/${b.name}`, byteCount: Buffer.byteLength(b.text), dataRowCount: b.rows })),
  });
}

function setup() {
  const exports = new MemoryCostExportSource();
  const allocations = new MemoryInvoiceAllocationStore();
  const ports = { exports, allocations, ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore() };
  const timer = (now: string) => allocateNewExports(ports, { now: () => new Date(now), random: () => 0 });
  const november = () => storedInvoiceFor(allocations, { from: new Date('2024-11-01T00:00:00Z'), to: new Date('2024-12-01T00:00:00Z') });
  return { exports, allocations, timer, november };
}

/** Run A of the 21st: both partitions, then its manifest (a complete run). */
function writeCompleteRunA(exports: MemoryCostExportSource) {
  exports.write(`${SERIES}/${RUN_A}/part_0_0001.csv`, part0, '2024-11-21T06:10:00.000Z');
  exports.write(`${SERIES}/${RUN_A}/part_1_0001.csv`, part1, '2024-11-21T06:11:00.000Z');
  exports.write(`${SERIES}/${RUN_A}/manifest.json`, manifest(RUN_A, '2024-11-21T06:00:00Z', [{ name: 'part_0_0001.csv', text: part0, rows: 2 }, { name: 'part_1_0001.csv', text: part1, rows: 1 }]), '2024-11-21T06:12:00.000Z');
}

/** Run B of the 22nd, complete: part_0, part_1 holding `part1Text`, then its manifest (2 rows and 1). */
function writeRunB(exports: MemoryCostExportSource, part1Text: string) {
  exports.write(`${SERIES}/${RUN_B}/part_0_0001.csv`, part0, '2024-11-22T06:10:00.000Z');
  exports.write(`${SERIES}/${RUN_B}/part_1_0001.csv`, part1Text, '2024-11-22T06:11:00.000Z');
  exports.write(`${SERIES}/${RUN_B}/manifest.json`, manifest(RUN_B, '2024-11-22T06:00:00Z', [{ name: 'part_0_0001.csv', text: part0, rows: 2 }, { name: 'part_1_0001.csv', text: part1, rows: 1 }]), '2024-11-22T06:12:00.000Z');
}

describe('export runs as Cost Management writes them over time', () => {
  it('keeps counting the last complete run while a newer run has written only some of its partitions and no manifest.json yet', async () => {
    const { exports, timer, november } = setup();
    writeCompleteRunA(exports);
    await timer('2024-11-21T07:00:00Z');
    const before = await november();
    expect(before.allocations.map((a) => a.row.meterName).sort()).toEqual(['gpt 4o 0806 Inp glbl Tokens', 'gpt 4o 0806 Outp glbl Tokens']);

    // The run of the 22nd: its first partition is in storage, its second still being written, no manifest yet.
    exports.write(`${SERIES}/${RUN_B}/part_0_0001.csv`, part0, '2024-11-22T06:10:00.000Z');
    const waiting = await timer('2024-11-22T06:30:00Z');
    expect({ waiting: waiting.waiting, failed: waiting.failed, runB: waiting.allocated.filter((a) => a.exportName.includes(RUN_B)) }).toEqual({ waiting: [`${SERIES}/${RUN_B}/part_0_0001.csv`], failed: [], runB: [] });

    // Microsoft: a run's dataset is all its partitions, described by the manifest written with the run; until it
    // is there the run is not complete, and the last complete run (A) is still the month's invoice.
    const during = await november();
    expect(during.allocations.map((a) => a.row.meterName).sort()).toEqual(['gpt 4o 0806 Inp glbl Tokens', 'gpt 4o 0806 Outp glbl Tokens']);
    expect(during.exports.every((name) => name.includes(RUN_A))).toBe(true);
  });

  it('allocates a file of an export run that writes no manifest (the run history layout, a file of its own) as it finds it', async () => {
    const { exports, timer, november } = setup();
    exports.write(`${SERIES}/focus-daily_${RUN_A}.csv`, FOCUS, '2024-11-21T06:10:00.000Z');
    expect(await timer('2024-11-21T07:00:00Z')).toMatchObject({ waiting: [], failed: [] });
    expect((await november()).allocations.map((a) => a.row.meterName).sort()).toEqual(['gpt 4o 0806 Inp glbl Tokens', 'gpt 4o 0806 Outp glbl Tokens']);
  });

  it("does not count a run whose files do not match its manifest's blobs (a listed partition is missing)", async () => {
    const { exports, timer, november } = setup();
    writeCompleteRunA(exports);
    await timer('2024-11-21T07:00:00Z');

    // Run B's manifest names two partitions (blobCount 2, dataRowCount 3), but only part_0 is in storage.
    exports.write(`${SERIES}/${RUN_B}/part_0_0001.csv`, part0, '2024-11-22T06:10:00.000Z');
    exports.write(`${SERIES}/${RUN_B}/manifest.json`, manifest(RUN_B, '2024-11-22T06:00:00Z', [{ name: 'part_0_0001.csv', text: part0, rows: 2 }, { name: 'part_1_0001.csv', text: part1, rows: 1 }]), '2024-11-22T06:12:00.000Z');
    expect((await timer('2024-11-22T07:00:00Z')).failed).toEqual([
      { name: `${SERIES}/${RUN_B}/part_0_0001.csv`, reason: `its run is incomplete: ${SERIES}/${RUN_B}/manifest.json names ${SERIES}/${RUN_B}/part_1_0001.csv, not in storage` },
    ]);

    // "To handle the full dataset, you must ingest each partition": a run missing a partition its manifest lists is
    // not the full dataset, and must not replace the complete run A (nor be counted silently).
    const invoice = await november();
    expect(invoice.allocations.map((a) => a.row.meterName).sort()).toEqual(['gpt 4o 0806 Inp glbl Tokens', 'gpt 4o 0806 Outp glbl Tokens']);
  });

  it("counts a partition whose allocation is claimed but not written (pending) only while an earlier allocation of it stands", async () => {
    const { exports, allocations, timer, november } = setup();
    writeCompleteRunA(exports);
    await timer('2024-11-21T07:00:00Z');
    writeRunB(exports, part1);
    // The timer claims part_1 (its marker, pending) before it writes the partition's parts and heads; here the store
    // fails in between, and a report reads the month at that moment too.
    const putParts = allocations.putParts.bind(allocations);
    let meanwhile: Awaited<ReturnType<typeof november>> | undefined;
    allocations.putParts = async (parts, options) => {
      if (parts.some((p) => p.exportName.endsWith(`${RUN_B}/part_1_0001.csv`))) {
        meanwhile = await november();
        throw new TransientStoreError('store unavailable');
      }
      return putParts(parts, options);
    };
    await expect(timer('2024-11-22T07:00:00Z')).rejects.toThrow('store unavailable');
    expect((await allocations.getAllocatedExport(`${SERIES}/${RUN_B}/part_1_0001.csv`))?.value.pending).toBe(true);
    const runA = [`${SERIES}/${RUN_A}/part_0_0001.csv`, `${SERIES}/${RUN_A}/part_1_0001.csv`];
    expect(meanwhile?.exports).toEqual(runA);
    expect((await november()).exports).toEqual(runA);

    allocations.putParts = putParts;
    await timer('2024-11-22T08:00:00Z');
    expect((await november()).exports).toEqual([`${SERIES}/${RUN_B}/part_0_0001.csv`, `${SERIES}/${RUN_B}/part_1_0001.csv`]);
  });

  it("keeps a whole run whole while the timer allocates again a partition of it whose rows are in another month", async () => {
    const { exports, allocations, timer, november } = setup();
    writeCompleteRunA(exports);
    await timer('2024-11-21T07:00:00Z');
    // Run B's part_1 holds October's row (a run over two months): November's invoice is B's part_0 alone.
    const october = part1.replaceAll('2024-11-2', '2024-10-2');
    writeRunB(exports, october);
    await timer('2024-11-22T07:00:00Z');
    const runB = [`${SERIES}/${RUN_B}/part_0_0001.csv`];
    expect((await november()).exports).toEqual(runB);

    // part_1 is written again: while the timer replaces its allocation (claimed, pending), the earlier one stands.
    exports.write(`${SERIES}/${RUN_B}/part_1_0001.csv`, october, '2024-11-22T09:00:00.000Z');
    const putParts = allocations.putParts.bind(allocations);
    let meanwhile: Awaited<ReturnType<typeof november>> | undefined;
    allocations.putParts = async (parts, options) => {
      if (parts.some((p) => p.exportName.endsWith(`${RUN_B}/part_1_0001.csv`))) meanwhile = await november();
      return putParts(parts, options);
    };
    await timer('2024-11-22T10:00:00Z');
    expect(meanwhile?.exports).toEqual(runB);
  });

  it("looks for a run's partitions beside its manifest, not in another run's folder, when the manifest names them without folders", async () => {
    const { exports, timer, november } = setup();
    writeCompleteRunA(exports);
    await timer('2024-11-21T07:00:00Z');

    // Run B's manifest names its blobs by file name alone; only its part_0 is in storage (run A has a part_1 of that name).
    const runB = JSON.parse(manifest(RUN_B, '2024-11-22T06:00:00Z', [{ name: 'part_0_0001.csv', text: part0, rows: 2 }, { name: 'part_1_0001.csv', text: part1, rows: 1 }])) as { blobs: { blobName: string }[] };
    for (const blob of runB.blobs) blob.blobName = blob.blobName.slice(blob.blobName.lastIndexOf('/') + 1);
    exports.write(`${SERIES}/${RUN_B}/part_0_0001.csv`, part0, '2024-11-22T06:10:00.000Z');
    exports.write(`${SERIES}/${RUN_B}/manifest.json`, JSON.stringify(runB), '2024-11-22T06:12:00.000Z');
    expect((await timer('2024-11-22T07:00:00Z')).failed).toEqual([
      { name: `${SERIES}/${RUN_B}/part_0_0001.csv`, reason: `its run is incomplete: ${SERIES}/${RUN_B}/manifest.json names part_1_0001.csv, not in storage` },
    ]);
    expect((await november()).exports).toEqual([`${SERIES}/${RUN_A}/part_0_0001.csv`, `${SERIES}/${RUN_A}/part_1_0001.csv`]);
  });

  it("does not count a run whose partition holds fewer rows than the manifest's dataRowCount for it", async () => {
    const { exports, timer, november } = setup();
    writeCompleteRunA(exports);
    await timer('2024-11-21T07:00:00Z');

    // Run B: one partition, which the manifest says holds 3 data rows; the stored file holds the header and 1 row
    // (cut short), and nothing in it fails to parse.
    const full = [HEADER, INPUT_ROW, OUTPUT_ROW, SEARCH_ROW].join('\r\n') + '\r\n';
    const cut = [HEADER, INPUT_ROW].join('\r\n') + '\r\n';
    exports.write(`${SERIES}/${RUN_B}/part_0_0001.csv`, cut, '2024-11-22T06:10:00.000Z');
    exports.write(`${SERIES}/${RUN_B}/manifest.json`, manifest(RUN_B, '2024-11-22T06:00:00Z', [{ name: 'part_0_0001.csv', text: full, rows: 3 }]), '2024-11-22T06:12:00.000Z');
    expect((await timer('2024-11-22T07:00:00Z')).failed).toEqual([{ name: `${SERIES}/${RUN_B}/part_0_0001.csv`, reason: "it holds 1 rows where its run's manifest.json says 3: not allocated" }]);

    // A run whose file does not hold the rows its manifest counts is not the full dataset: the complete run A stays
    // the month's invoice (never a silent part of a month).
    const invoice = await november();
    expect(invoice.exports.some((name) => name.includes(RUN_B))).toBe(false);
    expect(invoice.allocations.map((a) => a.row.meterName).sort()).toEqual(['gpt 4o 0806 Inp glbl Tokens', 'gpt 4o 0806 Outp glbl Tokens']);
  });

  it('keeps counting the last complete run while a partition of the newer run is refused for its row count, and counts the newer run once all its partitions are allocated', async () => {
    const { exports, timer, november } = setup();
    writeCompleteRunA(exports);
    await timer('2024-11-21T07:00:00Z');

    // Run B: part_0 as its manifest says; part_1 holds the header only where the manifest counts 1 row.
    writeRunB(exports, `${HEADER}\r\n`);
    const refused = await timer('2024-11-22T07:00:00Z');
    expect(refused.allocated.map((a) => a.exportName).filter((name) => name.includes(RUN_B))).toEqual([`${SERIES}/${RUN_B}/part_0_0001.csv`]);
    expect(refused.failed).toEqual([{ name: `${SERIES}/${RUN_B}/part_1_0001.csv`, reason: "it holds 0 rows where its run's manifest.json says 1: not allocated" }]);

    // Run B's part_0 alone is a third of the month's rows: the full dataset is every partition, so run A stays the invoice.
    const during = await november();
    expect(during.exports).toEqual([`${SERIES}/${RUN_A}/part_0_0001.csv`, `${SERIES}/${RUN_A}/part_1_0001.csv`]);
    expect(during.allocations.map((a) => a.row.meterName).sort()).toEqual(['gpt 4o 0806 Inp glbl Tokens', 'gpt 4o 0806 Outp glbl Tokens']);

    exports.write(`${SERIES}/${RUN_B}/part_1_0001.csv`, part1, '2024-11-22T08:00:00.000Z');
    expect((await timer('2024-11-22T09:00:00Z')).failed).toEqual([]);
    const after = await november();
    expect(after.exports).toEqual([`${SERIES}/${RUN_B}/part_0_0001.csv`, `${SERIES}/${RUN_B}/part_1_0001.csv`]);
    expect(after.allocations.map((a) => a.row.meterName).sort()).toEqual(['gpt 4o 0806 Inp glbl Tokens', 'gpt 4o 0806 Outp glbl Tokens']);
  });

  it('keeps counting the last complete run when the timer stopped after allocating some partitions of the newer run', async () => {
    const { exports, timer, november } = setup();
    writeCompleteRunA(exports);
    await timer('2024-11-21T07:00:00Z');

    writeRunB(exports, part1);
    // Storage fails on part_1 after part_0 is allocated: the timer run ends there, as it would at the host's functionTimeout.
    const open = exports.open.bind(exports);
    exports.open = async (name, options) => {
      if (name.endsWith(`${RUN_B}/part_1_0001.csv`)) throw new TransientStoreError('storage unavailable');
      return open(name, options);
    };
    await expect(timer('2024-11-22T07:00:00Z')).rejects.toThrow('storage unavailable');

    const during = await november();
    expect(during.exports).toEqual([`${SERIES}/${RUN_A}/part_0_0001.csv`, `${SERIES}/${RUN_A}/part_1_0001.csv`]);
    expect(during.allocations).toHaveLength(2);
  });

  it('reads a manifest that writes its row counts as null (manifest version 2024-04-01, Exports API 2025-03-01) as counts not given', async () => {
    // microsoft/finops-toolkit issue #2173: "Your export uses `apiVersion: 2025-03-01`, which produces the newer
    // `manifestVersion: 2024-04-01` manifest where `dataRowCount` defaults to `null`".
    const { exports, timer, november } = setup();
    const written = JSON.parse(manifest(RUN_A, '2024-11-21T06:00:00Z', [{ name: 'part_0_0001.csv', text: part0, rows: 2 }, { name: 'part_1_0001.csv', text: part1, rows: 1 }])) as {
      dataRowCount: number | null;
      blobs: { dataRowCount: number | null }[];
    };
    written.dataRowCount = null;
    for (const blob of written.blobs) blob.dataRowCount = null;
    exports.write(`${SERIES}/${RUN_A}/part_0_0001.csv`, part0, '2024-11-21T06:10:00.000Z');
    exports.write(`${SERIES}/${RUN_A}/part_1_0001.csv`, part1, '2024-11-21T06:11:00.000Z');
    exports.write(`${SERIES}/${RUN_A}/manifest.json`, JSON.stringify(written), '2024-11-21T06:12:00.000Z');
    expect((await timer('2024-11-21T07:00:00Z')).failed).toEqual([]);
    expect((await november()).allocations.map((a) => a.row.meterName).sort()).toEqual(['gpt 4o 0806 Inp glbl Tokens', 'gpt 4o 0806 Outp glbl Tokens']);
  });

  it("waits for the run's manifest before counting partitions named part0.csv, as Learn's example manifest names them", async () => {
    // "Tutorial: Create and manage exported data", its example manifest: "blobName": ".../part0.csv"; a dataset's
    // run in finops-toolkit issue #1317 is stored as ".../<run id>/part0.csv" too.
    const { exports, timer, november } = setup();
    exports.write(`${SERIES}/${RUN_A}/part0.csv`, part0, '2024-11-21T06:10:00.000Z');
    exports.write(`${SERIES}/${RUN_A}/part1.csv`, part1, '2024-11-21T06:11:00.000Z');
    exports.write(`${SERIES}/${RUN_A}/manifest.json`, manifest(RUN_A, '2024-11-21T06:00:00Z', [{ name: 'part0.csv', text: part0, rows: 2 }, { name: 'part1.csv', text: part1, rows: 1 }]), '2024-11-21T06:12:00.000Z');
    await timer('2024-11-21T07:00:00Z');

    exports.write(`${SERIES}/${RUN_B}/part0.csv`, part0, '2024-11-22T06:10:00.000Z');
    expect((await timer('2024-11-22T06:30:00Z')).waiting).toEqual([`${SERIES}/${RUN_B}/part0.csv`]);
    const during = await november();
    expect(during.exports).toEqual([`${SERIES}/${RUN_A}/part0.csv`, `${SERIES}/${RUN_A}/part1.csv`]);
    expect(during.allocations.map((a) => a.row.meterName).sort()).toEqual(['gpt 4o 0806 Inp glbl Tokens', 'gpt 4o 0806 Outp glbl Tokens']);
  });

  it('allocates a file named part1.csv outside any run folder at once: only a run folder waits for a manifest', async () => {
    const { exports, timer, november } = setup();
    exports.write('manual/2024-11/part1.csv', FOCUS, '2024-11-21T06:10:00.000Z');
    expect(await timer('2024-11-21T07:00:00Z')).toMatchObject({ waiting: [], failed: [] });
    expect((await november()).allocations.map((a) => a.row.meterName).sort()).toEqual(['gpt 4o 0806 Inp glbl Tokens', 'gpt 4o 0806 Outp glbl Tokens']);
  });
});
