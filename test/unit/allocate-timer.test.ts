import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { createAllocateTimerHandler } from '../../functions/handlers/allocate-invoice.js';
import { fireTimer } from '../../src/local/timer-runner.js';
import type { InvoiceAllocationStore } from '../../src/ports/invoice-allocation-store.js';
import { pausedAt } from '../support/paused-calls.js';
import { MemoryCostExportSource, MemoryDiagnosticsStore, MemoryInvoiceAllocationStore, MemoryLedgerStore, writeExportRun } from '../support/memory-stores.js';

const FOCUS = readFileSync(new URL('../fixtures/cost-exports/focus-1.0-azure-openai.csv', import.meta.url), 'utf8');
const RUN = 'focus/tokenledger/20241101-20241130/run-1';
const fixture = (name: string) => readFileSync(new URL(`../fixtures/cost-exports/${name}`, import.meta.url));

function setup() {
  const exports = new MemoryCostExportSource();
  const allocations = new MemoryInvoiceAllocationStore();
  const ports = { exports, allocations, ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore() };
  const logged: string[] = [];
  const run = () => fireTimer('allocate', createAllocateTimerHandler(() => ports, () => ({})), new Date(), (m) => logged.push(m));
  return { exports, allocations, logged, run };
}

describe('the invoice allocation timer', () => {
  it('allocates each export file once, and again only when the file is written again', async () => {
    const { exports, allocations, logged, run } = setup();
    writeExportRun(exports, RUN, { 'part_0_0001.csv': FOCUS });
    await run();
    expect(logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');
    expect(logged[0]).toMatch(/^allocate: focus\/tokenledger\/20241101-20241130\/run-1\/part_0_0001\.csv: \d+ Azure OpenAI cost rows of 2024-11 allocated/);
    const stored = new Map(allocations.documents);

    await run();
    expect(logged.at(-1)).toBe('allocate: 0 exports allocated, 1 unchanged, 0 failed');
    expect(allocations.documents).toEqual(stored);

    writeExportRun(exports, RUN, { 'part_0_0001.csv': FOCUS.split(/\r?\n/).slice(0, 2).join('\r\n') });
    await run();
    expect(logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');
    const { heads } = await allocations.listAllocations('2024-11');
    expect(heads.map((h) => h.rows)).toEqual([1]);
    expect((await allocations.listAllocatedExports()).map((m) => m.etag)).toEqual([(await exports.list()).find((b) => b.name.endsWith('.csv'))!.etag]);
  });

  it("names each run whose partitions wait for the run's manifest.json, with how many", async () => {
    const { exports, logged, run } = setup();
    exports.write(`${RUN}/part_0_0001.csv`, FOCUS, '2024-11-22T06:10:00.000Z');
    exports.write(`${RUN}/part_1_0001.csv`, FOCUS, '2024-11-22T06:11:00.000Z');
    exports.write('focus/tokenledger/20241101-20241130/run-2/part_0_0001.csv', FOCUS, '2024-11-23T06:10:00.000Z');
    await run();
    expect(logged).toEqual([
      "allocate: focus/tokenledger/20241101-20241130/run-1: 2 partitions written, waiting for the run's manifest.json",
      "allocate: focus/tokenledger/20241101-20241130/run-2: 1 partitions written, waiting for the run's manifest.json",
      "allocate: 0 exports allocated, 0 unchanged, 0 failed, 3 waiting for their run's manifest.json",
    ]);
  });

  it('allocates actual-cost and Parquet export files as it does FOCUS CSV files, with no setting to say which', async () => {
    const { exports, allocations, logged, run } = setup();
    const actualRun = 'actual/tokenledger/20261101-20261130/run-1';
    writeExportRun(exports, actualRun, {
      'part_0_0001.csv': fixture('actual-ea-2024-08-01-azure-openai.csv').toString('utf8'),
      'part_1_0001.parquet': new Uint8Array(fixture('focus-1.2-preview-azure-openai.parquet')),
    });
    await run();
    expect(logged.at(-1)).toBe('allocate: 2 exports allocated, 0 unchanged, 0 failed');
    expect(logged.filter((m) => /part_0_0001\.csv: 5 Azure OpenAI cost rows of 2026-11 allocated/.test(m))).toHaveLength(1);
    expect(logged.filter((m) => /part_1_0001\.parquet: 6 Azure OpenAI cost rows of 2026-11 allocated/.test(m))).toHaveLength(1);
    const { heads } = await allocations.listAllocations('2026-11');
    expect(heads.map((h) => h.rows).sort()).toEqual([5, 6]);
  });

  it('allocates a gzip-compressed CSV export file (an export with gzip compression) as the CSV it holds', async () => {
    const { exports, allocations, logged, run } = setup();
    writeExportRun(exports, RUN, { 'part_0_0001.csv.gz': new Uint8Array(gzipSync(FOCUS)) });
    await run();
    expect(logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');
    const plain = setup();
    writeExportRun(plain.exports, RUN, { 'part_0_0001.csv.gz': FOCUS });
    await expect(plain.run()).rejects.toThrow('1 cost exports could not be allocated');
    expect(plain.logged).toContain('allocate: 0 exports allocated, 0 unchanged, 1 failed');
    expect(plain.logged.at(-1)).toMatch(/run-1\/part_0_0001\.csv\.gz: not a gzip file that can be read \(incorrect header check\)$/);
    const { heads } = await allocations.listAllocations('2024-11');
    expect(heads.length).toBeGreaterThan(0);
  });

  it('allocates the files it can read, names the one it cannot, fails the run, and tries that file again next time', async () => {
    const { exports, allocations, logged, run } = setup();
    writeExportRun(exports, RUN, { 'part_0_0001.csv': FOCUS, 'part_1_0001.csv': 'not,a,focus,export\n1,2,3,4\n' });
    await expect(run()).rejects.toThrow(/1 cost exports could not be allocated: .*part_1_0001\.csv/);
    expect(logged).toContain('allocate: 1 exports allocated, 0 unchanged, 1 failed');
    expect(logged.some((m) => /part_1_0001\.csv: .*not a "Cost and usage details \(FOCUS\)" export/.test(m))).toBe(true);
    expect((await allocations.listAllocatedExports()).map((m) => m.exportName)).toEqual([`${RUN}/part_0_0001.csv`]);
    await expect(run()).rejects.toThrow(/part_1_0001\.csv/);
    expect(logged.at(-2)).toBe('allocate: 0 exports allocated, 1 unchanged, 1 failed');
  });

  it('allocates an unchanged export again while its requests and diagnostics may still arrive, and then no more', async () => {
    const exports = new MemoryCostExportSource();
    const allocations = new MemoryInvoiceAllocationStore();
    const ports = { exports, allocations, ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore() };
    const logged: string[] = [];
    // The fixture's last charge period ends 2024-11-21T00:00Z; its data settles a day later.
    const runAt = (now: string) => fireTimer('allocate', createAllocateTimerHandler(() => ports, () => ({ now: () => new Date(now) })), new Date(now), (m) => logged.push(m));
    writeExportRun(exports, RUN, { 'part_0_0001.csv': FOCUS });
    await runAt('2024-11-21T06:00:00Z');
    expect((await allocations.listAllocatedExports())[0]).toMatchObject({ allocatedAt: '2024-11-21T06:00:00.000Z', settlesAt: '2024-11-22T00:00:00.000Z' });
    await runAt('2024-11-21T23:00:00Z');
    expect(logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');
    await runAt('2024-11-22T01:00:00Z');
    expect(logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');
    await runAt('2024-11-22T02:00:00Z');
    expect(logged.at(-1)).toBe('allocate: 0 exports allocated, 1 unchanged, 0 failed');
  });

  it('allocates an export again when the run before stopped before its marker was final', async () => {
    const { exports, allocations, logged, run } = setup();
    writeExportRun(exports, RUN, { 'part_0_0001.csv': FOCUS });
    allocations.failBeforeMarker = true;
    await expect(run()).rejects.toThrow('1 cost exports could not be allocated');
    expect((await allocations.listAllocatedExports()).map((m) => m.pending)).toEqual([true]);
    allocations.failBeforeMarker = false;
    await run();
    expect(logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');
    await run();
    expect(logged.at(-1)).toBe('allocate: 0 exports allocated, 1 unchanged, 0 failed');
  });

  it('leaves nothing of a run that stopped after writing its parts, once the restated export no longer covers their month', async () => {
    const { exports, allocations, logged, run } = setup();
    const lines = FOCUS.split(/\r?\n/);
    const december = lines[1]!.replace('2024-11-21T00:00Z,2024-11-20T00:00Z', '2024-12-03T00:00Z,2024-12-02T00:00Z');
    expect(december).not.toBe(lines[1]);
    writeExportRun(exports, RUN, { 'part_0_0001.csv': [...lines.slice(0, 2), december, ...lines.slice(2)].join('\r\n') });
    // The run claims the export and writes its parts, then the store fails for good before any head.
    const getHeads = allocations.getHeads.bind(allocations);
    allocations.getHeads = () => Promise.reject(new Error('store unavailable'));
    await expect(run()).rejects.toThrow('1 cost exports could not be allocated');
    expect((await allocations.listAllocations('2024-12')).parts.length).toBeGreaterThan(0);
    allocations.getHeads = getHeads;

    // Cost Management restates the export without the December row.
    writeExportRun(exports, RUN, { 'part_0_0001.csv': FOCUS });
    await run();
    expect(logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');
    const left = await allocations.listAllocations('2024-12');
    expect(left.parts).toEqual([]);
    expect(left.heads.map((h) => [h.rows, h.parts])).toEqual([[0, 0]]);
    expect((await allocations.listAllocatedExports()).map((m) => [m.months, m.pending])).toEqual([[['2024-11'], undefined]]);
  });

  it('discards what a run allocated when a newer run of the same export stored its allocation first, and says so', async () => {
    const exports = new MemoryCostExportSource();
    const allocations = new MemoryInvoiceAllocationStore();
    const stores = { ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore() };
    const logged: string[] = [];
    const runAt = (now: string, store: InvoiceAllocationStore) =>
      fireTimer('allocate', createAllocateTimerHandler(() => ({ exports, allocations: store, ...stores }), () => ({ now: () => new Date(now) })), new Date(now), (m) => logged.push(m));
    writeExportRun(exports, RUN, { 'part_0_0001.csv': FOCUS });
    // The older run waits before it claims the export; the newer one stores its allocation meanwhile.
    const paused = pausedAt(allocations, 'getAllocatedExport');
    const older = runAt('2024-11-25T06:00:00Z', paused.store);
    await paused.reached;
    await runAt('2024-11-25T06:05:00Z', allocations);
    paused.release();
    await older;
    expect(logged.slice(-2)).toEqual([
      `allocate: ${RUN}/part_0_0001.csv: a newer run stored its allocation meanwhile; this run's was discarded`,
      'allocate: 0 exports allocated, 0 unchanged, 0 failed, 1 superseded by a newer run',
    ]);
    const { heads, parts } = await allocations.listAllocations('2024-11');
    expect(heads.map((h) => h.allocatedAt)).toEqual(['2024-11-25T06:05:00.000Z']);
    expect(new Set(parts.map((p) => p.run))).toEqual(new Set([heads[0]!.run]));
  });

  it("gets to every other export file within a few runs when one file's allocation outlasts functionTimeout, whatever the schedule", async () => {
    const exports = new MemoryCostExportSource();
    const allocations = new MemoryInvoiceAllocationStore();
    // Listed after the stuck file, ${RUN}/part_0_0001.csv.
    const others = ['focus/tokenledger/20261101-20261130/run-1/part_0_0001.csv', 'focus/tokenledger/20261201-20261231/run-1/part_0_0001.csv'];
    writeExportRun(exports, RUN, { 'part_0_0001.csv': FOCUS });
    for (const name of others) writeExportRun(exports, name.slice(0, name.lastIndexOf('/')), { 'part_0_0001.csv': fixture('actual-ea-2024-08-01-azure-openai.csv').toString('utf8') });
    // November 2024's diagnostics take longer than functionTimeout to read: the host stops the run there, and no
    // more of it runs (a read that never settles).
    const diagnostics = new MemoryDiagnosticsStore();
    let stops = 0;
    const slow = Object.assign(Object.create(diagnostics) as MemoryDiagnosticsStore, {
      listRecords: (range: { from: Date; to: Date }) => {
        if (range.from.getUTCFullYear() > 2024) return diagnostics.listRecords(range);
        stops++;
        return (async function* () {
          await new Promise<never>(() => {});
        })();
      },
    });
    const ports = { exports, allocations, ledger: new MemoryLedgerStore(), diagnostics: slow };
    // Daily runs at the same hour (an ALLOCATE_SCHEDULE of once a day), three files: a start taken from the clock
    // would be the same file every day. The starts the runs draw: the stuck file first, then each of the others.
    const draws = [0, 0.5, 0.99];
    for (let day = 0; day < draws.length; day++) {
      const now = new Date(Date.UTC(2026, 11, 2 + day, 0, 40));
      const stopsBefore = stops;
      const random = () => draws[day]!;
      const run = fireTimer('allocate', createAllocateTimerHandler(() => ports, () => ({ now: () => now, random })), now, () => {});
      // The run ends, or the host stops it at the stuck file.
      await Promise.race([run, vi.waitFor(() => expect(stops).toBe(stopsBefore + 1))]);
    }
    const allocated = (await allocations.listAllocatedExports()).filter((m) => !m.pending).map((m) => m.exportName);
    expect(allocated.sort()).toEqual(others);
  });

  it('says there is nothing to allocate when no export is configured', async () => {
    const logged: string[] = [];
    await fireTimer('allocate', createAllocateTimerHandler(() => null, () => ({})), new Date(), (m) => logged.push(m));
    expect(logged).toEqual(['allocate: no cost export configured (CostExport__blobEndpoint): nothing to allocate']);
  });
});
