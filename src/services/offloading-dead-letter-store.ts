import { createHash } from 'node:crypto';
import type { DeadLetter, DeadLetterHeader, InlineRaw } from '../contracts/dead-letter.js';
import type { DeadLetterKey, DeadLetterQuery, DeadLetterStore, StoreOptions } from '../ports/ledger-store.js';
import type { PayloadStore } from '../ports/payload-store.js';

/**
 * The largest dead-letter document kept whole in Cosmos DB. Azure refuses an item over 2 MB (413); a dead letter
 * carries the raw payload, which base64 (4/3) or JSON escaping (`\u0000` is six bytes for one) can blow up to
 * several times its size, so the bound is set on the serialised document, well below the service limit.
 */
export const INLINE_DEAD_LETTER_BYTES = 256 * 1024;
/** The reason text kept in a document whose payload went to Blob storage (reasons are short; this bounds them). */
const MAX_REASON_CHARS = 2_000;

/** Size of the document as Cosmos DB counts it: the UTF-8 length of its JSON. */
export function documentBytes(document: unknown): number {
  return Buffer.byteLength(JSON.stringify(document), 'utf8');
}

function rawBytes(raw: InlineRaw): Buffer {
  return raw.encoding === 'base64' ? Buffer.from(raw.data, 'base64') : Buffer.from(raw.data, 'utf8');
}

/**
 * Wraps a dead-letter store: a letter whose document would exceed `INLINE_DEAD_LETTER_BYTES` keeps its raw payload
 * in Blob storage (the exact bytes, named after the letter's id) and only a reference (container, name, size,
 * SHA-256) with its reason and position in the store. The blob is written before the document, so a document never
 * points at a missing payload; both writes are idempotent, so a redelivered batch rewrites the same blob and document.
 */
export class OffloadingDeadLetterStore implements DeadLetterStore {
  constructor(
    private readonly inner: DeadLetterStore,
    private readonly payloads: PayloadStore,
    private readonly inlineLimitInBytes = INLINE_DEAD_LETTER_BYTES,
  ) {}

  async upsertDeadLetters(letters: readonly DeadLetter[], options: StoreOptions = {}): Promise<void> {
    const stored: DeadLetter[] = [];
    for (const letter of letters) {
      if (!('data' in letter.raw) || documentBytes(letter) <= this.inlineLimitInBytes) {
        stored.push(letter);
        continue;
      }
      const bytes = rawBytes(letter.raw);
      const name = `${letter.id}.bin`;
      await this.payloads.putPayload(name, bytes, options);
      const reference: DeadLetter = {
        ...letter,
        reason: letter.reason.length > MAX_REASON_CHARS ? `${letter.reason.slice(0, MAX_REASON_CHARS)}…` : letter.reason,
        raw: {
          encoding: letter.raw.encoding,
          bytes: bytes.byteLength,
          blob: { container: this.payloads.container, name, sha256: createHash('sha256').update(bytes).digest('hex') },
        },
      };
      if (documentBytes(reference) > this.inlineLimitInBytes) throw new RangeError(`dead letter ${letter.id} is over ${this.inlineLimitInBytes} bytes even without its payload`);
      stored.push(reference);
    }
    await this.inner.upsertDeadLetters(stored, options);
  }

  listDeadLetters(query?: DeadLetterQuery): AsyncIterable<readonly DeadLetter[]> {
    return this.inner.listDeadLetters(query);
  }

  listDeadLetterHeaders(query?: DeadLetterQuery): AsyncIterable<readonly DeadLetterHeader[]> {
    return this.inner.listDeadLetterHeaders(query);
  }

  /**
   * Deletes the documents only: a payload in Blob storage stays, since the same payload rejected again meanwhile
   * writes the same blob before its document, and deleting the blob after that could leave its document pointing
   * at nothing.
   */
  deleteDeadLetters(keys: readonly DeadLetterKey[], options?: StoreOptions): Promise<void> {
    return this.inner.deleteDeadLetters(keys, options);
  }
}

/** A dead letter's payload that cannot be read back: missing from Blob storage, or not the bytes its SHA-256 names. */
export class UnreadablePayloadError extends Error {
  override readonly name = 'UnreadablePayloadError';
}

/** The raw bytes of a dead letter, from the document or from Blob storage (checked against the recorded SHA-256). */
export async function deadLetterPayload(letter: DeadLetter, payloads: PayloadStore, options: StoreOptions = {}): Promise<Buffer> {
  if ('data' in letter.raw) return rawBytes(letter.raw);
  const bytes = await payloads.getPayload(letter.raw.blob.name, options);
  if (bytes === null) throw new UnreadablePayloadError(`dead letter ${letter.id}: payload ${letter.raw.blob.container}/${letter.raw.blob.name} is missing`);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (createHash('sha256').update(buffer).digest('hex') !== letter.raw.blob.sha256) throw new UnreadablePayloadError(`dead letter ${letter.id}: payload does not match its SHA-256`);
  return buffer;
}
