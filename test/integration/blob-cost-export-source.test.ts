import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { BlobServiceClient, type BlockBlobClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAllocateTimerHandler } from '../../functions/handlers/allocate-invoice.js';
import { BlobCostExportSource } from '../../src/adapters/blob/blob-cost-export-source.js';
import { startAzurite, type Azurite } from '../../src/local/azurite.js';
import { fireTimer } from '../../src/local/timer-runner.js';
import { MemoryDiagnosticsStore, MemoryInvoiceAllocationStore, MemoryLedgerStore } from '../support/memory-stores.js';

const FOCUS = readFileSync(new URL('../fixtures/cost-exports/focus-1.0-azure-openai.csv', import.meta.url));

describe('cost exports in Blob storage (Azurite), as the allocate timer reads them', () => {
  let azurite: Azurite;
  let service: BlobServiceClient;

  beforeAll(async () => {
    azurite = await startAzurite();
    service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  async function allocate(container: ContainerClient) {
    const allocations = new MemoryInvoiceAllocationStore();
    const ports = { exports: new BlobCostExportSource(container), allocations, ledger: new MemoryLedgerStore(), diagnostics: new MemoryDiagnosticsStore() };
    const logged: string[] = [];
    await fireTimer('allocate', createAllocateTimerHandler(() => ports, () => ({})), new Date(), (m) => logged.push(m));
    return { logged, heads: (await allocations.listAllocations('2024-11')).heads };
  }

  /** A run of one partition, as Cost Management writes it: the partition, then the run's manifest.json naming it. */
  async function writeRun(container: ContainerClient, name: string, data: Buffer | string, options: Parameters<BlockBlobClient['uploadData']>[1] = {}) {
    await container.getBlockBlobClient(name).uploadData(typeof data === 'string' ? Buffer.from(data) : data, options);
    const manifest = { manifestVersion: '2024-04-01', blobCount: 1, blobs: [{ blobName: name }] };
    await container.getBlockBlobClient(name.replace(/[^/]+$/, 'manifest.json')).uploadData(Buffer.from(JSON.stringify(manifest)));
  }

  it('allocates a gzip-compressed export, and a blob stored with a gzip Content-Encoding, as the CSV export they hold', async () => {
    const plain = service.getContainerClient('plain');
    await plain.create();
    await writeRun(plain, 'focus/x/20241101-20241130/run-1/part_0_0001.csv', FOCUS);
    const expected = await allocate(plain);
    expect(expected.logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');

    const zipped = service.getContainerClient('zipped');
    await zipped.create();
    await writeRun(zipped, 'focus/x/20241101-20241130/run-1/part_0_0001.csv.gz', gzipSync(FOCUS));
    const fromGzip = await allocate(zipped);
    expect(fromGzip.logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');
    expect(fromGzip.heads.map((h) => h.rows)).toEqual(expected.heads.map((h) => h.rows));

    const encoded = service.getContainerClient('encoded');
    await encoded.create();
    await writeRun(encoded, 'focus/x/20241101-20241130/run-1/part_0_0001.csv', gzipSync(FOCUS), { blobHTTPHeaders: { blobContentEncoding: 'gzip' } });
    const fromEncoded = await allocate(encoded);
    expect(fromEncoded.logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');
    expect(fromEncoded.heads.map((h) => h.rows)).toEqual(expected.heads.map((h) => h.rows));
  });
});
