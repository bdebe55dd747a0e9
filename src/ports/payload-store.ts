import type { StoreOptions } from './ledger-store.js';

/** Whole payloads too large for a Cosmos DB item, by name, in one Blob storage container. */
export interface PayloadStore {
  /** The container's name, recorded in the reference a document keeps. */
  readonly container: string;
  /** Writes the payload under this name; writing the same name again with the same bytes changes nothing. */
  putPayload(name: string, bytes: Uint8Array, options?: StoreOptions): Promise<void>;
  /** The payload, or null when there is none under this name. */
  getPayload(name: string, options?: StoreOptions): Promise<Uint8Array | null>;
}
