import type { Container } from '@azure/cosmos';
import type { Versioned } from '../../ports/aggregate-store.js';
import type { StoreOptions } from '../../ports/ledger-store.js';
import { cosmosCall } from './bulk-write.js';

const statusOf = (error: unknown) => (error as { code?: unknown } | null)?.code;

/** A document read from Cosmos DB as its parsed value and its version (`_etag`). */
export function versioned<T>(document: { _etag?: unknown }, value: T): Versioned<T> {
  if (typeof document._etag !== 'string') throw new Error('Cosmos DB returned a document without its _etag');
  return { value, version: document._etag };
}

/** One document by key with its version, or null when there is none. */
export async function readVersioned<T>(container: Container, key: { id: string; pk: string }, parse: (document: unknown) => T, options: StoreOptions = {}): Promise<Versioned<T> | null> {
  const read = await cosmosCall(`read ${key.id}`, async () => {
    try {
      return await container.item(key.id, key.pk).read({ abortSignal: options.abortSignal });
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  });
  return read?.resource ? versioned(read.resource, parse(read.resource)) : null;
}

/**
 * Creates the document (`expectedVersion` null) or replaces it if still at that version. Its new version, or null
 * when another writer came first: 409, created it first; 412, replaced it; 404, removed it.
 */
export async function writeIfVersion<T extends { id: string; pk: string }>(container: Container, document: T, expectedVersion: string | null, options: StoreOptions = {}): Promise<string | null> {
  return cosmosCall(`write ${document.id}`, async () => {
    try {
      const written =
        expectedVersion === null
          ? await container.items.create(document, { abortSignal: options.abortSignal })
          : await container.item(document.id, document.pk).replace(document, { accessCondition: { type: 'IfMatch', condition: expectedVersion }, abortSignal: options.abortSignal });
      return written.etag ?? String((written.resource as { _etag?: unknown } | undefined)?._etag);
    } catch (error) {
      if ([404, 409, 412].includes(statusOf(error) as number)) return null;
      throw error;
    }
  });
}
