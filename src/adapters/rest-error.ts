/** The HTTP status of a failed Azure SDK call (`RestError.statusCode`), if it had a response. */
export function statusCodeOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The code of a failed Azure SDK call: the service's error code, or `REQUEST_SEND_ERROR` when no response came. */
export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
