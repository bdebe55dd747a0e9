import { readFileSync } from 'node:fs';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveDiagnosticsSource, parseArchiveBlob } from '../../src/adapters/archive/archive-diagnostics-source.js';
import { BlobArchive } from '../../src/adapters/archive/blob-archive.js';
import { REQUEST_RESPONSE_CONTAINER } from '../../src/domain/archive-layout.js';
import { startAzurite, type Azurite } from '../../src/local/azurite.js';

const ARCHIVE = readFileSync(new URL('../fixtures/aoai-requestresponse.archive.jsonl', import.meta.url), 'utf8');
/** Where a diagnostic setting writes an account's records of one hour (see archive-layout.ts). */
const BLOB = 'resourceId=/SUBSCRIPTIONS/12CABCB4-86E8-404F-A3D2-1DC9982F45CA/RESOURCEGROUPS/OBS-OPENAI-SERVICE-RS/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/OBS-OPENAI-SERVICE/y=2024/m=04/d=09/h=19/m=00/PT1H.json';

describe('the RequestResponse archive in Blob storage (Azurite)', () => {
  let azurite: Azurite;
  let container: ContainerClient;

  beforeAll(async () => {
    azurite = await startAzurite();
    container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(REQUEST_RESPONSE_CONTAINER);
    await container.create();
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  it('reads a blob line by line as it downloads: a blob of many MiB gives the records of its text, characters cut between chunks and all', async () => {
    // The fixture's records again and again, each with an id and an operation name of its own that holds characters
    // of two to four bytes, until the blob is far larger than one piece of a download.
    const lines = ARCHIVE.trim().split('\n');
    const big = Array.from({ length: 14_000 }, (_, i) => {
      const record = JSON.parse(lines[i % lines.length]!) as Record<string, unknown>;
      return JSON.stringify({ ...record, correlationId: `${String(record['correlationId'])}-${i}`, operationName: `${String(record['operationName'])} é€😀 ${'x'.repeat(i % 97)}` });
    });
    const text = `${big.join('\r\n')}\n{"not":"a record"}\nnot JSON`;
    expect(Buffer.byteLength(text)).toBeGreaterThan(8 * 2 ** 20);
    await container.getBlockBlobClient(BLOB).upload(text, Buffer.byteLength(text));

    const expected = parseArchiveBlob(`${REQUEST_RESPONSE_CONTAINER}/${BLOB}`, text.replace(/\r\n/g, '\n'));
    expect(expected.records).toHaveLength(big.length);
    expect(expected.rejected.map((r) => r.source.replace(/.*#/, '#'))).toEqual([`#L${big.length + 1}`, `#L${big.length + 2}`]);

    const read = await new ArchiveDiagnosticsSource(new BlobArchive(container), { now: () => new Date('2024-04-10T00:00:00Z') }).readSince(null);
    expect(read.records).toEqual(expected.records);
    expect(read.rejected).toEqual(expected.rejected);
    expect(read.nextWatermark).toBe('2024-04-09T19');
  });
});
