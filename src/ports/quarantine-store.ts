import type { QuarantinedBatch } from '../contracts/quarantine.js';
import type { StoreOptions } from './ledger-store.js';

export interface QuarantineListing {
  readonly name: string;
  readonly partitionId: string;
  /** When `quarantine replay` re-ingested it, or null while it waits. */
  readonly replayedAt: Date | null;
}

/** Trigger batches set aside after failing, in Blob storage, until they are replayed. */
export interface QuarantineStore {
  /** Stores a batch under a name derived from its partition and content (the same batch twice is one blob); returns the name. */
  putBatch(batch: QuarantinedBatch, options?: StoreOptions): Promise<string>;
  getBatch(name: string, options?: StoreOptions): Promise<QuarantinedBatch | null>;
  listBatches(options?: StoreOptions): Promise<QuarantineListing[]>;
  markReplayed(name: string, at: Date, options?: StoreOptions): Promise<void>;
}
