import type { ContainerClient } from '@azure/storage-blob';
import { NETWORK_ERROR_CODES } from '../../domain/failure-reason.js';
import { TransientStoreError, type StoreOptions } from '../../ports/ledger-store.js';
import { codeOf, statusCodeOf } from '../rest-error.js';

/** Status codes Azure Storage documents as retryable: timeout, throttled (server busy), internal error, unavailable. */
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** Runs a Blob storage call, turning retryable failures into `TransientStoreError`. */
export async function blobCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const status = statusCodeOf(error);
    if ((status !== undefined && TRANSIENT_STATUS.has(status)) || NETWORK_ERROR_CODES.has(String(codeOf(error)))) {
      throw new TransientStoreError(`${what}: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
}

export async function ensureContainer(client: ContainerClient, options: StoreOptions = {}): Promise<void> {
  await blobCall(`create container ${client.containerName}`, () => client.createIfNotExists({ abortSignal: options.abortSignal }));
}
