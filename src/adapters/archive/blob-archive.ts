import type { ContainerClient } from '@azure/storage-blob';
import type { ArchiveReader } from '../../ports/archive.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { readStreamLines } from '../files/jsonl-lines.js';

/**
 * The archive in Azure Blob storage: one container per log category (`insights-logs-requestresponse`),
 * blob names starting `resourceId=/`. Paths are reported as `<container>/<blob name>`.
 */
export class BlobArchive implements ArchiveReader {
  constructor(private readonly container: ContainerClient) {}

  async list(options: StoreOptions = {}): Promise<string[]> {
    const names: string[] = [];
    for await (const blob of this.container.listBlobsFlat({ abortSignal: options.abortSignal })) names.push(`${this.container.containerName}/${blob.name}`);
    return names.sort();
  }

  async *lines(path: string, options: StoreOptions = {}): AsyncGenerator<readonly string[]> {
    const name = path.startsWith(`${this.container.containerName}/`) ? path.slice(this.container.containerName.length + 1) : path;
    // The SDK resumes a body cut short where it stopped (5 times by default).
    const response = await this.container.getBlobClient(name).download(0, undefined, { abortSignal: options.abortSignal });
    if (!response.readableStreamBody) throw new Error(`${path}: the download has no body`);
    yield* readStreamLines(response.readableStreamBody as AsyncIterable<Buffer>);
  }
}
