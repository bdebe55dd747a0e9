import type { ContainerClient } from '@azure/storage-blob';
import type { StoreOptions } from '../../ports/ledger-store.js';
import type { PayloadStore } from '../../ports/payload-store.js';
import { blobCall, ensureContainer } from './blob-calls.js';

/** Payloads too large for a Cosmos DB item (oversize dead letters), one block blob each. */
export class BlobPayloadStore implements PayloadStore {
  private ready: Promise<void> | undefined;

  constructor(private readonly client: ContainerClient) {}

  get container(): string {
    return this.client.containerName;
  }

  async putPayload(name: string, bytes: Uint8Array, options: StoreOptions = {}): Promise<void> {
    this.ready ??= ensureContainer(this.client, options).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    await this.ready;
    await blobCall(`upload ${this.container}/${name}`, () =>
      this.client.getBlockBlobClient(name).uploadData(bytes, { abortSignal: options.abortSignal, blobHTTPHeaders: { blobContentType: 'application/octet-stream' } }),
    );
  }

  async getPayload(name: string, options: StoreOptions = {}): Promise<Uint8Array | null> {
    try {
      return await blobCall(`download ${this.container}/${name}`, () => this.client.getBlobClient(name).downloadToBuffer(undefined, undefined, { abortSignal: options.abortSignal }));
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404 || (error as { cause?: { statusCode?: number } }).cause?.statusCode === 404) return null;
      throw error;
    }
  }
}
