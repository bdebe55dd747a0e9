import { MAX_REASON_LENGTH } from '../contracts/reconciliation-result.js';

/** Names whose value is a secret: a SAS signature, keys (`AccountKey`, `SharedAccessKey`, `api-key`), tokens, passwords. */
const SECRET_NAME = String.raw`[\w-]*(?:sig|signature|key|token|secret|password|pwd)`;
/** `name=value` of a URL, a connection string or a message (`=` also URL-encoded), and `Name: value` of a header. */
const SECRET_PARAMETER = new RegExp(String.raw`\b(${SECRET_NAME})(=|%3D|:\s*)[^&\s'",;]+`, 'gi');
/** `"name": "value"` of a JSON body. */
const SECRET_MEMBER = new RegExp(String.raw`"(${SECRET_NAME})"\s*:\s*"(?:[^"\\]|\\.)*"`, 'gi');
/** The credentials of an `Authorization` scheme: a bearer token, Basic's user and password, Storage's SharedKey. */
const CREDENTIAL_SCHEME = /\b(Bearer|Basic|SharedKey)\s+[\w\-.~+/:]{8,}=*/gi;
const JWT = /\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*/g;

/** One line, secrets masked, at most `MAX_REASON_LENGTH` characters (an ellipsis ends a cut). */
function sanitizeMessage(message: string): string {
  const line = message
    .replace(CREDENTIAL_SCHEME, (_, scheme: string) => `${scheme} ***`)
    .replace(JWT, '***')
    .replace(SECRET_MEMBER, (_, name: string) => `"${name}":"***"`)
    .replace(SECRET_PARAMETER, (_, name: string, separator: string) => `${name}${separator}***`)
    .replace(/[\u0000-\u001f\u007f-\u009f\s]+/g, ' ')
    .trim();
  return line.length <= MAX_REASON_LENGTH ? line : `${line.slice(0, MAX_REASON_LENGTH - 1).trimEnd()}…`;
}

/** An error and the causes it wraps, outermost first, at most five deep. */
export function* errorChain(error: unknown): Generator<Record<string, unknown>> {
  for (let current = error, depth = 0; current !== null && typeof current === 'object' && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    yield current as Record<string, unknown>;
  }
}

/** The HTTP status an error carries (`statusCode`, `status`, or a numeric `code` as Cosmos DB's SDK sets it). */
export function httpStatusOf(error: Record<string, unknown>): number | undefined {
  for (const key of ['statusCode', 'status', 'code'] as const) {
    const value = error[key];
    if (typeof value === 'number' && Number.isInteger(value) && value >= 100 && value < 600) return value;
  }
  return undefined;
}

/**
 * Error codes of a request that got no answer (Node's socket and DNS errors, the Azure SDK's `REQUEST_SEND_ERROR`,
 * a client-side timeout): sending it again may succeed. The Azure SDK's retry policy retries the same socket errors.
 * `EADDRNOTAVAIL` is a Functions instance out of outbound (SNAT) ports for a while.
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EADDRNOTAVAIL',
  'REQUEST_SEND_ERROR',
  'TimeoutError',
]);

const serviceCodeOf = (error: Record<string, unknown>) => (typeof error['code'] === 'string' && error['code'] !== '' ? error['code'] : undefined);

/**
 * The innermost error of an Azure error body (`{"error": {…, "innererror": {"code", "message", "innererror": …}}}`,
 * as `RestError.details` holds it): where Log Analytics says which table or column a query could not resolve.
 */
export function innermostError(details: unknown): { code?: unknown; message?: unknown } | undefined {
  let current = (details as { error?: { innererror?: unknown } } | null | undefined)?.error?.innererror as { innererror?: unknown; code?: unknown; message?: unknown } | undefined;
  for (let depth = 0; current?.innererror && typeof current.innererror === 'object' && depth < 10; depth++) current = current.innererror as typeof current;
  return current;
}

/**
 * Why a read of Azure's side failed, short enough to store with a result: `HTTP <status> <code>: <message>` as
 * the Azure SDK's `RestError` carries them (the error, or the first of its causes that has a status or a code),
 * with the innermost error of the body when it says more, else the error's name and message; on one line, secrets
 * masked.
 */
export function failureReason(error: unknown): string {
  if (error === null || typeof error !== 'object') return sanitizeMessage(`Error: ${String(error)}`);
  const chain = [...errorChain(error)];
  const carrier = chain.find((e) => httpStatusOf(e) !== undefined || serviceCodeOf(e) !== undefined);
  const found = carrier ?? chain[0]!;
  const status = httpStatusOf(found);
  const head = carrier ? [status === undefined ? null : `HTTP ${status}`, serviceCodeOf(found) ?? null].filter((part) => part !== null).join(' ') : String(found['name'] ?? 'Error');
  const message = typeof found['message'] === 'string' ? found['message'].trim() : '';
  const inner = innermostError(found['details']);
  const innerText = typeof inner?.message === 'string' && inner.message.trim() !== '' && inner.message.trim() !== message ? inner.message.trim() : '';
  const detail = innerText === '' ? '' : ` (${typeof inner?.code === 'string' && inner.code !== '' ? `${inner.code}: ` : ''}${innerText})`;
  return sanitizeMessage(message === '' ? `${head}${detail}` : `${head}: ${message}${detail}`);
}
