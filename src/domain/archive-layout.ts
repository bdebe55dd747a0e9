/**
 * Diagnostic settings archive each resource's logs to
 * `insights-logs-<category>/resourceId=/SUBSCRIPTIONS/…/ACCOUNTS/<name>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`.
 * Azure appends records to the blob of the hour it *received* them, so a blob grows while its hour lasts (and can
 * still be appended to, or first appear, a while after it), and may hold records up to 48 hours older than its hour.
 */
export const REQUEST_RESPONSE_CONTAINER = 'insights-logs-requestresponse';

const HOUR_PATH = /\/ACCOUNTS\/([^/]+)\/y=(\d{4})\/m=(\d{2})\/d=(\d{2})\/h=(\d{2})\/m=00\/PT1H\.json$/i;

export interface ArchiveBlob {
  readonly path: string;
  readonly account: string;
  /** `YYYY-MM-DDTHH` (UTC) of the hour the blob collects. */
  readonly hour: string;
}

export function parseArchivePath(path: string): ArchiveBlob | null {
  const match = HOUR_PATH.exec(path);
  if (!match) return null;
  const [, account, y, m, d, h] = match as unknown as [string, string, string, string, string, string];
  return { path, account: account.toLowerCase(), hour: `${y}-${m}-${d}T${h}` };
}

/** The hour after `hour` as `YYYY-MM-DDTHH`. */
export function nextHour(hour: string): string {
  return new Date(Date.parse(`${hour}:00:00Z`) + 3_600_000).toISOString().slice(0, 13);
}
