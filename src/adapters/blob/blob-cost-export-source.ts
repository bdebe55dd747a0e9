import type { ContainerClient } from '@azure/storage-blob';
import type { CostExportBlob, CostExportSource } from '../../ports/cost-export-source.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { gunzipStream } from '../files/gunzip-stream.js';
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

  /** The blob as it downloads. One stored with a gzip `Content-Encoding` under a name without `.gz` is unzipped here: its name says CSV. */
  async open(name: string, options: StoreOptions = {}): Promise<{ bytes: AsyncIterable<Uint8Array>; etag: string }> {
    const response = await blobCall(`download ${this.container.containerName}/${name}`, () => this.container.getBlobClient(name).download(0, undefined, { abortSignal: options.abortSignal }));
    const body = response.readableStreamBody as AsyncIterable<Uint8Array>;
    const unzip = response.contentEncoding === 'gzip' && !/\.gz$/i.test(name);
    return { bytes: unzip ? gunzipStream(body) : body, etag: response.etag ?? '' };
  }
}
