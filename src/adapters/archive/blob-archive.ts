import type { ContainerClient } from '@azure/storage-blob';
import type { ArchiveReader } from '../../ports/archive.js';
import type { StoreOptions } from '../../ports/ledger-store.js';

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

  async read(path: string, options: StoreOptions = {}): Promise<string> {
    const name = path.startsWith(`${this.container.containerName}/`) ? path.slice(this.container.containerName.length + 1) : path;
    const buffer = await this.container.getBlobClient(name).downloadToBuffer(undefined, undefined, { abortSignal: options.abortSignal });
    return buffer.toString('utf8');
  }
}
