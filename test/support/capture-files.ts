import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import avro from 'avsc';

/**
 * Event Hubs Capture files written by avsc, an Avro implementation of its own, in the record schema Capture
 * documents ("Explore captured files" in the Event Hubs Capture overview): the fixtures' bytes come from a writer
 * that is not the reader under test.
 */

/** The schema the Capture docs print (`avro-tools getschema`), Body a union of null and bytes. */
export const CAPTURE_SCHEMA = {
  type: 'record',
  name: 'EventData',
  namespace: 'Microsoft.ServiceBus.Messaging',
  fields: [
    { name: 'SequenceNumber', type: 'long' },
    { name: 'Offset', type: 'string' },
    { name: 'EnqueuedTimeUtc', type: 'string' },
    { name: 'SystemProperties', type: { type: 'map', values: ['long', 'double', 'string', 'bytes'] } },
    { name: 'Properties', type: { type: 'map', values: ['long', 'double', 'string', 'bytes', 'null'] } },
    { name: 'Body', type: ['null', 'bytes'] },
  ],
} as const;

export interface CaptureFileOptions {
  readonly codec?: 'null' | 'deflate';
  /** Bytes after which avsc closes a block: small values give many blocks. */
  readonly blockSize?: number;
  readonly partitionId?: string;
  readonly firstSequenceNumber?: number;
}

/** Writes one Capture file holding `bodies` (a string as its UTF-8 bytes, null as a null body), in order; its header even with none. */
export async function writeCaptureFile(path: string, bodies: readonly (string | Uint8Array | null)[], options: CaptureFileOptions = {}): Promise<void> {
  const type = avro.Type.forSchema(CAPTURE_SCHEMA as unknown as avro.Schema, { wrapUnions: true });
  const encoder = new avro.streams.BlockEncoder(type, { codec: options.codec ?? 'deflate', writeHeader: 'always', ...(options.blockSize ? { blockSize: options.blockSize } : {}) });
  const out = createWriteStream(path);
  encoder.pipe(out);
  const first = options.firstSequenceNumber ?? 0;
  bodies.forEach((body, i) => {
    const enqueued = new Date(Date.UTC(2026, 10, 15, 0, 0, i));
    encoder.write({
      SequenceNumber: first + i,
      Offset: String((first + i) * 1024),
      EnqueuedTimeUtc: enqueued.toLocaleString('en-US', { timeZone: 'UTC' }).replace(',', ''),
      SystemProperties: { 'x-opt-sequence-number': { long: first + i }, 'x-opt-offset': { string: String((first + i) * 1024) }, 'x-opt-enqueued-time': { long: enqueued.getTime() } },
      Properties: { 'x-partition': { string: options.partitionId ?? '0' }, unset: null },
      Body: body === null ? null : { bytes: typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body) },
    });
  });
  encoder.end();
  await finished(out);
}
