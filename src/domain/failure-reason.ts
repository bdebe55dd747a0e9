import { MAX_REASON_LENGTH } from '../contracts/reconciliation-result.js';

/** `name=value` pairs of a URL or message whose value is a secret (SAS signature, keys, tokens). */
const SECRET_PARAMETER = /\b(sig|signature|key|api-key|token|access_token|refresh_token|client_secret|secret|password)=[^&\s'",;]+/gi;
const BEARER = /\bBearer\s+[\w\-.~+/]+=*/gi;
const JWT = /\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*/g;

/** One line, secrets masked, at most `max` characters (an ellipsis ends a cut). */
export function sanitizeMessage(message: string, max: number = MAX_REASON_LENGTH): string {
  const line = message
    .replace(BEARER, 'Bearer ***')
    .replace(JWT, '***')
    .replace(SECRET_PARAMETER, (_, name: string) => `${name}=***`)
    .replace(/[\u0000-\u001f\u007f-\u009f\s]+/g, ' ')
    .trim();
  return line.length <= max ? line : `${line.slice(0, max - 1).trimEnd()}…`;
}

interface ErrorFields {
  readonly statusCode?: number;
  readonly code?: string;
  readonly name?: string;
  readonly message?: string;
}

function fieldsOf(error: unknown): ErrorFields {
  if (error === null || typeof error !== 'object') return { message: String(error) };
  const e = error as Record<string, unknown>;
  const status = e['statusCode'] ?? e['status'];
  return {
    ...(typeof status === 'number' && Number.isInteger(status) ? { statusCode: status } : {}),
    ...(typeof e['code'] === 'string' && e['code'] !== '' ? { code: e['code'] } : {}),
    ...(typeof e['name'] === 'string' ? { name: e['name'] } : {}),
    ...(typeof e['message'] === 'string' ? { message: e['message'] } : {}),
  };
}

/**
 * Why a read of Azure's side failed, short enough to store with a result: `HTTP <status> <code>: <message>` as
 * the Azure SDK's `RestError` carries them (the error, or the first of its causes that has a status or a code),
 * else the error's name and message; on one line, secrets masked.
 */
export function failureReason(error: unknown): string {
  let found = fieldsOf(error);
  for (let cause = (error as { cause?: unknown } | null)?.cause, depth = 0; found.statusCode === undefined && found.code === undefined && cause !== undefined && depth < 5; cause = (cause as { cause?: unknown } | null)?.cause, depth++) {
    const fields = fieldsOf(cause);
    if (fields.statusCode !== undefined || fields.code !== undefined) found = fields;
  }
  const head = found.statusCode !== undefined || found.code !== undefined ? [found.statusCode !== undefined ? `HTTP ${found.statusCode}` : null, found.code ?? null].filter((part) => part !== null).join(' ') : (found.name ?? 'Error');
  const message = found.message?.trim() ?? '';
  return sanitizeMessage(message === '' ? head : `${head}: ${message}`);
}
