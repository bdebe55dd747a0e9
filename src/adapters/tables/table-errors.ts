import { TransientStoreError } from '../../ports/ledger-store.js';
import { codeOf, statusCodeOf } from '../rest-error.js';

/** Table storage statuses worth retrying: timeout, throttling, server busy or unavailable. */
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);


/** The error to throw for a failed Table call: `TransientStoreError` when a retry may succeed. */
export function asStoreError(error: unknown, what: string): unknown {
  const status = statusCodeOf(error);
  if (status !== undefined && TRANSIENT_STATUS.has(status)) return new TransientStoreError(`${what} failed with HTTP ${status}`, { cause: error });
  // No response at all (connection refused or reset, DNS): the service may be back on the next attempt.
  if (codeOf(error) === 'REQUEST_SEND_ERROR') return new TransientStoreError(`${what} failed: ${(error as Error).message}`, { cause: error });
  return error;
}
