import { gunzipSync } from 'node:zlib';
import type { ContainerClient } from '@azure/storage-blob';
import type { CostExportBlob, CostExportSource } from '../../ports/cost-export-source.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { blobCall } from './blob-calls.js';

/** The Blob container a Cost Management export writes to (`<directory>/<export>/<date range>/<run id>/part_*.csv`, `.csv.gz` or `.parquet`). */
export class BlobCostExportSource implements CostExportSource {
  constructor(private readonly container: ContainerClient, private readonly prefix = '') {}

  async list(options: StoreOptions = {}): Promise<CostExportBlob[]> {
    const blobs: CostExportBlob[] = [];
    const listing = this.container.listBlobsFlat({ abortSignal: options.abortSignal, ...(this.prefix ? { prefix: this.prefix } : {}) });
    for await (const blob of listing) {
      if (!blob.properties.etag) continue;
      blobs.push({ name: blob.name, etag: blob.properties.etag, lastModified: blob.properties.lastModified.toISOString() });
    }
    return blobs.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async read(name: string, options: StoreOptions = {}): Promise<{ bytes: Uint8Array; etag: string }> {
    const response = await blobCall(`download ${this.container.containerName}/${name}`, () => this.container.getBlobClient(name).download(0, undefined, { abortSignal: options.abortSignal }));
    const chunks: Buffer[] = [];
    for await (const chunk of response.readableStreamBody!) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    const bytes = Buffer.concat(chunks);
    const gzipped = /\.gz$/i.test(name) || response.contentEncoding === 'gzip';
    return { bytes: gzipped ? gunzipSync(bytes) : bytes, etag: response.etag ?? '' };
  }
}
