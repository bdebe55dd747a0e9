import { createHash } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { quarantinedBatchSchema, type QuarantinedBatch } from '../../contracts/quarantine.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import type { QuarantineListing, QuarantineStore } from '../../ports/quarantine-store.js';
import { blobCall, ensureContainer } from './blob-calls.js';

const REPLAYED_AT = 'replayedat';

/**
 * The name of a quarantined batch: `<partition>/<first sequence number>-<last>-<content hash>.json`, so blobs sort
 * by partition and position, and the same batch quarantined twice (a redelivery) is one blob.
 */
export function quarantineName(batch: QuarantinedBatch): string {
  const partition = batch.partitionId.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
  const first = batch.events[0]?.sequenceNumber ?? 'unknown';
  const last = batch.events.at(-1)?.sequenceNumber ?? 'unknown';
  const hash = createHash('sha256').update(JSON.stringify([batch.partitionId, batch.events])).digest('hex').slice(0, 16);
  return `${partition}/${first}-${last}-${hash}.json`;
}

/** Quarantined batches as JSON blobs; a replayed batch keeps its blob, marked with `replayedat` metadata. */
export class BlobQuarantineStore implements QuarantineStore {
  private ready: Promise<void> | undefined;

  constructor(private readonly client: ContainerClient) {}

  private async ensure(options: StoreOptions): Promise<void> {
    this.ready ??= ensureContainer(this.client, options).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    await this.ready;
  }

  async putBatch(batch: QuarantinedBatch, options: StoreOptions = {}): Promise<string> {
    await this.ensure(options);
    const name = quarantineName(batch);
    const text = JSON.stringify(quarantinedBatchSchema.parse(batch));
    await blobCall(`upload ${this.client.containerName}/${name}`, () =>
      this.client.getBlockBlobClient(name).upload(text, Buffer.byteLength(text), { abortSignal: options.abortSignal, blobHTTPHeaders: { blobContentType: 'application/json' } }),
    );
    return name;
  }

  async getBatch(name: string, options: StoreOptions = {}): Promise<QuarantinedBatch | null> {
    let buffer: Buffer;
    try {
      buffer = await blobCall(`download ${this.client.containerName}/${name}`, () => this.client.getBlobClient(name).downloadToBuffer(undefined, undefined, { abortSignal: options.abortSignal }));
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return null;
      throw error;
    }
    return quarantinedBatchSchema.parse(JSON.parse(buffer.toString('utf8')));
  }

  async listBatches(options: StoreOptions = {}): Promise<QuarantineListing[]> {
    await this.ensure(options);
    const listings: QuarantineListing[] = [];
    for await (const blob of this.client.listBlobsFlat({ includeMetadata: true, abortSignal: options.abortSignal })) {
      const replayed = blob.metadata?.[REPLAYED_AT];
      listings.push({ name: blob.name, partitionId: blob.name.split('/')[0] ?? '', replayedAt: replayed ? new Date(replayed) : null });
    }
    return listings.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async markReplayed(name: string, at: Date, options: StoreOptions = {}): Promise<void> {
    await blobCall(`mark ${this.client.containerName}/${name} replayed`, () => this.client.getBlobClient(name).setMetadata({ [REPLAYED_AT]: at.toISOString() }, { abortSignal: options.abortSignal }));
  }
}
