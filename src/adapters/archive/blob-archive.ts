import type { BlobClient, ContainerClient } from '@azure/storage-blob';
import type { ArchiveEntry, ArchiveListing, ArchiveReader } from '../../ports/archive.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { readStreamLines } from '../files/jsonl-lines.js';

/** Downloads of one blob cut short (a dropped connection) that are taken up again where they stopped. */
const MAX_RESUMES = 5;

/**
 * The archive in Azure Blob storage: one container per log category (`insights-logs-requestresponse`),
 * blob names starting `resourceId=/`. Paths are reported as `<container>/<blob name>`.
 */
export class BlobArchive implements ArchiveReader {
  constructor(private readonly container: ContainerClient) {}

  async list(options: StoreOptions = {}): Promise<ArchiveListing> {
    const entries: ArchiveEntry[] = [];
    let listedAt: Date | undefined;
    for await (const page of this.container.listBlobsFlat({ abortSignal: options.abortSignal }).byPage()) {
      // The service's clock, as the blobs' Last-Modified times are: the first page's Date header.
      listedAt ??= page.date;
      for (const blob of page.segment.blobItems) entries.push({ path: `${this.container.containerName}/${blob.name}`, lastModified: blob.properties.lastModified });
    }
    return { entries, listedAt: listedAt ?? new Date() };
  }

  async *lines(path: string, options: StoreOptions = {}): AsyncGenerator<readonly string[]> {
    const name = path.startsWith(`${this.container.containerName}/`) ? path.slice(this.container.containerName.length + 1) : path;
    yield* readStreamLines(blobBytes(this.container.getBlobClient(name), path, options));
  }
}

/**
 * A blob's bytes as they download. A download cut short is taken up again from the byte where it stopped, at most
 * `MAX_RESUMES` times: the SDK's own resume does not see a connection dropped mid-body on Node
 * (Azure/azure-sdk-for-js#32268). No ETag condition holds the later ranges: an archive blob is only appended to,
 * so the bytes already read stay as they were.
 */
async function* blobBytes(blob: BlobClient, path: string, options: StoreOptions): AsyncGenerator<Buffer> {
  let offset = 0;
  for (let resumes = 0; ; resumes++) {
    // A body that came whole (its Content-Length) ends without error, so a resume never starts at the blob's end.
    const response = await blob.download(offset, undefined, { abortSignal: options.abortSignal, maxRetryRequests: 0 });
    if (!response.readableStreamBody) throw new Error(`${path}: the download has no body`);
    try {
      for await (const chunk of response.readableStreamBody as AsyncIterable<Buffer>) {
        offset += chunk.length;
        yield chunk;
      }
      return;
    } catch (error) {
      if (options.abortSignal?.aborted || resumes >= MAX_RESUMES) throw error;
    }
  }
}
