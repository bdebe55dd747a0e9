import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
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

  it('allocates a gzip-compressed export, and a blob stored with a gzip Content-Encoding, as the CSV export they hold', async () => {
    const plain = service.getContainerClient('plain');
    await plain.create();
    await plain.getBlockBlobClient('focus/x/20241101-20241130/run-1/part_0_0001.csv').uploadData(FOCUS);
    const expected = await allocate(plain);
    expect(expected.logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');

    const zipped = service.getContainerClient('zipped');
    await zipped.create();
    await zipped.getBlockBlobClient('focus/x/20241101-20241130/run-1/part_0_0001.csv.gz').uploadData(gzipSync(FOCUS));
    const fromGzip = await allocate(zipped);
    expect(fromGzip.logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');
    expect(fromGzip.heads.map((h) => h.rows)).toEqual(expected.heads.map((h) => h.rows));

    const encoded = service.getContainerClient('encoded');
    await encoded.create();
    await encoded.getBlockBlobClient('focus/x/20241101-20241130/run-1/part_0_0001.csv').uploadData(gzipSync(FOCUS), { blobHTTPHeaders: { blobContentEncoding: 'gzip' } });
    const fromEncoded = await allocate(encoded);
    expect(fromEncoded.logged.at(-1)).toBe('allocate: 1 exports allocated, 0 unchanged, 0 failed');
    expect(fromEncoded.heads.map((h) => h.rows)).toEqual(expected.heads.map((h) => h.rows));
  });
});
