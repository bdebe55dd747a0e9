import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

/** Gzip bytes unzipped as they are read. Both streams end when either fails or the reader stops; an error reaches the reader. */
export function gunzipStream(bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Readable {
  const gunzip = createGunzip();
  pipeline(Readable.from(bytes, { objectMode: false }), gunzip).catch(() => undefined);
  return gunzip;
}

/** A zlib error (its code is `Z_…`), as a gunzip stream reports damaged or cut gzip data. */
export function isZlibError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}
