import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArchiveDiagnosticsSource, parseArchiveBlob } from '../../src/adapters/archive/archive-diagnostics-source.js';
import { BlobArchive } from '../../src/adapters/archive/blob-archive.js';
import { REQUEST_RESPONSE_CONTAINER } from '../../src/domain/archive-layout.js';
import { DEV_ACCOUNT, startAzurite, type Azurite } from '../../src/local/azurite.js';

const ARCHIVE = readFileSync(new URL('../fixtures/aoai-requestresponse.archive.jsonl', import.meta.url), 'utf8');
/** Where a diagnostic setting writes an account's records of one hour (see archive-layout.ts). */
const BLOB = 'resourceId=/SUBSCRIPTIONS/12CABCB4-86E8-404F-A3D2-1DC9982F45CA/RESOURCEGROUPS/OBS-OPENAI-SERVICE-RS/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/OBS-OPENAI-SERVICE/y=2024/m=04/d=09/h=19/m=00/PT1H.json';
/** The fixture's ChatCompletions record. */
const RECORD = JSON.parse(ARCHIVE.split('\n')[1]!) as Record<string, unknown>;

/** The blob of one account's records of one hour (`YYYY-MM-DDTHH`). */
function hourBlob(account: string, hour: string): string {
  const [y, m, d, h] = hour.split(/[-T]/) as [string, string, string, string];
  return `resourceId=/SUBSCRIPTIONS/12CABCB4-86E8-404F-A3D2-1DC9982F45CA/RESOURCEGROUPS/OBS-OPENAI-SERVICE-RS/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/${account}/y=${y}/m=${m}/d=${d}/h=${h}/m=00/PT1H.json`;
}

/** JSON Lines of the fixture's record, with these ids, as Azure Monitor appends them. */
function recordLines(ids: readonly string[], time: string): string {
  return ids.map((correlationId) => `${JSON.stringify({ ...RECORD, correlationId, time })}\n`).join('');
}

const idsOf = (records: readonly { correlationId: string }[]) => records.map((r) => r.correlationId).sort();

/**
 * A loopback proxy in front of the blob endpoint that drops the connection of the first download of a whole
 * PT1H.json (no range asked) after `cutAfter` bytes of its body, as a network fault does.
 */
function cuttingProxy(target: URL, cutAfter: number): Promise<Server> {
  let cut = false;
  const server = createServer((req, res) => {
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 500, answer.headers);
      const cutThis = !cut && req.method === 'GET' && req.url?.includes('PT1H.json') && req.headers['x-ms-range'] === undefined && req.headers['range'] === undefined;
      if (!cutThis) return void answer.pipe(res);
      cut = true;
      let sent = 0;
      answer.on('data', (chunk: Buffer) => {
        if (sent >= cutAfter) return;
        const part = chunk.subarray(0, cutAfter - sent);
        sent += part.length;
        res.write(part);
        if (sent >= cutAfter) {
          answer.destroy();
          res.socket?.destroy();
        }
      });
    });
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

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
    // Lines that are not records, then a record: a blob just written may be mid-append, and its last line is held
    // back when it is not JSON.
    const text = `${big.join('\r\n')}\n{"not":"a record"}\nnot JSON\n${big[0]!.replace('-0"', '-last"')}`;
    expect(Buffer.byteLength(text)).toBeGreaterThan(8 * 2 ** 20);
    await container.getBlockBlobClient(BLOB).upload(text, Buffer.byteLength(text));

    const expected = parseArchiveBlob(`${REQUEST_RESPONSE_CONTAINER}/${BLOB}`, text.replace(/\r\n/g, '\n'));
    expect(expected.records).toHaveLength(big.length + 1);
    expect(expected.rejected.map((r) => r.source.replace(/.*#/, '#'))).toEqual([`#L${big.length + 1}`, `#L${big.length + 2}`]);

    const read = await new ArchiveDiagnosticsSource(new BlobArchive(container), { now: () => new Date('2024-04-10T00:00:00Z') }).readSince(null);
    expect(read.records).toEqual(expected.records);
    expect(read.rejected).toEqual(expected.rejected);
    expect(read.nextWatermark).toMatch(/^2024-04-09T19\/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
  // Learn, "Prepare for format change to Azure Monitor resource logs archived to a storage account": each PT1H.json is
  // an append blob, records appended as JSON Lines. Nothing closes it when its hour ends, and a blob may appear for an
  // hour whose records reached Azure Monitor late.
  describe('an hour already read', () => {
    const ACCOUNT = 'OBS-OPENAI-LATE';
    const at = (iso: string) => () => new Date(iso);
    // An empty container each time: the blobs of the tests before were written just now.
    beforeEach(async () => {
      await container.deleteIfExists();
      await container.create();
    });

    it('is read again whole when its blob was appended to since: the late record comes, nothing is lost', async () => {
      const blob = container.getAppendBlobClient(hourBlob(ACCOUNT, '2024-06-01T10'));
      await blob.create();
      const first = recordLines(['aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000002'], '2024-06-01T10:20:00.0000000Z');
      await blob.appendBlock(first, Buffer.byteLength(first));
      const source = (now: string) => new ArchiveDiagnosticsSource(new BlobArchive(container), { now: at(now) });

      const read1 = await source('2024-06-01T11:30:00Z').readSince('2024-06-01T09');
      expect(idsOf(read1.records)).toEqual(['aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000002']);
      expect(read1.nextWatermark).toMatch(/^2024-06-01T10\//);

      const late = recordLines(['aaaaaaaa-0000-4000-8000-000000000003'], '2024-06-01T10:59:00.0000000Z');
      await blob.appendBlock(late, Buffer.byteLength(late));
      const read2 = await source('2024-06-01T12:05:00Z').readSince(read1.nextWatermark);
      expect(idsOf(read2.records)).toEqual(['aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000002', 'aaaaaaaa-0000-4000-8000-000000000003']);

      // Written no more: once a listing began over a second after the last append, the blob is read no more.
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      const watermark = read2.nextWatermark ?? read1.nextWatermark;
      const read3 = await source('2024-06-01T12:06:00Z').readSince(watermark);
      const read4 = await source('2024-06-01T12:07:00Z').readSince(read3.nextWatermark ?? watermark);
      expect(read4.records).toEqual([]);
    });

    it('is read again for a blob that first appears for it (another account whose records came late)', async () => {
      const one = recordLines(['bbbbbbbb-0000-4000-8000-000000000001'], '2024-06-02T10:10:00.0000000Z');
      await container.getBlockBlobClient(hourBlob(`${ACCOUNT}-A`, '2024-06-02T10')).upload(one, Buffer.byteLength(one));
      const source = new ArchiveDiagnosticsSource(new BlobArchive(container), { now: at('2024-06-02T11:30:00Z') });
      const read1 = await source.readSince('2024-06-02T09');
      expect(idsOf(read1.records)).toEqual(['bbbbbbbb-0000-4000-8000-000000000001']);

      const other = recordLines(['bbbbbbbb-0000-4000-8000-000000000002'], '2024-06-02T10:20:00.0000000Z');
      await container.getBlockBlobClient(hourBlob(`${ACCOUNT}-B`, '2024-06-02T10')).upload(other, Buffer.byteLength(other));
      const read2 = await source.readSince(read1.nextWatermark);
      expect(idsOf(read2.records)).toContain('bbbbbbbb-0000-4000-8000-000000000002');
    });
  });

  it('takes a download whose connection drops midway up again where it stopped: every record of the blob, once', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `cccccccc-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const text = recordLines(ids, '2024-06-03T10:30:00.0000000Z');
    await container.getBlockBlobClient(hourBlob('OBS-OPENAI-CUT', '2024-06-03T10')).upload(text, Buffer.byteLength(text));
    const proxy = await cuttingProxy(new URL(azurite.blobEndpoint), Math.floor(Buffer.byteLength(text) / 2));
    try {
      const key = /AccountKey=([^;]+)/.exec(azurite.connectionString)![1]!;
      const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/${DEV_ACCOUNT}`;
      const viaProxy = BlobServiceClient.fromConnectionString(`DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${key};BlobEndpoint=${endpoint};`).getContainerClient(REQUEST_RESPONSE_CONTAINER);
      const read = await new ArchiveDiagnosticsSource(new BlobArchive(viaProxy), { now: () => new Date('2024-06-03T11:30:00Z') }).readSince('2024-06-03T09');
      expect(idsOf(read.records)).toEqual(ids);
      expect(read.rejected).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});
