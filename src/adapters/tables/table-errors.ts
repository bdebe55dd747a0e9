import { TransientStoreError } from '../../ports/ledger-store.js';
import { codeOf, statusCodeOf } from '../rest-error.js';

/** Table storage statuses worth retrying: timeout, throttling, server busy or unavailable. */
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** Plain http is accepted only for an emulator on this machine (Azurite). */
export function isLoopbackHttp(url: string): boolean {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:') return false;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The error to throw for a failed Table call: `TransientStoreError` when a retry may succeed. */
export function asStoreError(error: unknown, what: string): unknown {
  const status = statusCodeOf(error);
  if (status !== undefined && TRANSIENT_STATUS.has(status)) return new TransientStoreError(`${what} failed with HTTP ${status}`, { cause: error });
  // No response at all (connection refused or reset, DNS): the service may be back on the next attempt.
  if (codeOf(error) === 'REQUEST_SEND_ERROR') return new TransientStoreError(`${what} failed: ${(error as Error).message}`, { cause: error });
  return error;
}
