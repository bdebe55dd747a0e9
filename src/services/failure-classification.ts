import { NETWORK_ERROR_CODES, errorChain, failureReason, httpStatusOf } from '../domain/failure-reason.js';
import { TransientStoreError } from '../ports/ledger-store.js';

export type FailureKind = 'transient' | 'permanent';

/**
 * HTTP statuses worth retrying: request timeout, throttling (429), Cosmos DB's 410 Gone and 449 Retry With (both
 * documented as retryable), and server-side errors. 400, 401, 403, 404, 409 (a conflict that is not the duplicate
 * the store already treats as done), 412 and 413 answer the same way every time.
 */
function isTransientStatus(status: number): boolean {
  return status === 408 || status === 410 || status === 429 || status === 449 || status >= 500;
}

/**
 * Whether retrying the same batch may succeed. Adapters mark retryable store failures as `TransientStoreError`;
 * errors that still carry an HTTP status or a socket error code are judged by it; anything else (validation, a
 * refused document, a bug) fails the same way on every attempt, so it is permanent.
 */
export function classifyFailure(error: unknown): FailureKind {
  for (const current of errorChain(error)) {
    if (current instanceof TransientStoreError) return 'transient';
    if (current['name'] === 'AbortError' || current['name'] === 'TimeoutError') return 'transient';
    const status = httpStatusOf(current);
    if (status !== undefined) return isTransientStatus(status) ? 'transient' : 'permanent';
    if (NETWORK_ERROR_CODES.has(String(current['code']))) return 'transient';
  }
  return 'permanent';
}

/**
 * Why a read of Azure's side failed for good, to carry on without it (a missing role, a missing table): rethrows a
 * failure that may pass, or one of a cancelled run, so the run fails and is retried.
 */
export function lastingFailureReason(error: unknown, abortSignal?: AbortSignal): string {
  if (abortSignal?.aborted || classifyFailure(error) === 'transient') throw error;
  return failureReason(error);
}
