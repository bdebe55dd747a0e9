import { HOUR_MS, isHourWindow } from './tile-windows.js';

/**
 * The join keeps one watermark whichever source it reads (functions/join.ts), so that it can move between them:
 * Log Analytics writes `<to>/<readAt>`, ISO instants (ingestion time read up to, and when that read ran; a bare `to`
 * before the read time was kept); the storage archive writes `<hour>/<listedAt>`, the last whole UTC hour read and
 * when the listing of that read began (a bare hour before the listing time was kept). Each source takes the
 * other's, reading again where they may overlap (a record read twice changes nothing).
 */

/** How far before a Log Analytics watermark's ingestion time the archive is read again: records are ingested late. */
const INGESTION_OVERLAP_MS = 2 * HOUR_MS;

function parts(watermark: string): { first: string; second: number | null; rest: number } {
  const [first, second, ...rest] = watermark.split('/') as [string, string | undefined, ...string[]];
  return { first, second: second === undefined ? null : Date.parse(second), rest: rest.length };
}

/**
 * Where Log Analytics goes on: ingestion time `to`, and `readAt`. After the archive, from the end of its last hour:
 * every record of that hour and before was read, and a record is ingested after it happened.
 */
export function ingestionPosition(watermark: string): { to: number; readAt: number | null } {
  const { first, second, rest } = parts(watermark);
  const to = isHourWindow(first) ? Date.parse(`${first}:00:00.000Z`) + HOUR_MS : Date.parse(first);
  if (Number.isNaN(to) || Number.isNaN(second) || rest > 0) throw new RangeError(`watermark ${JSON.stringify(watermark).slice(0, 80)} is not an ISO instant or interval`);
  return { to, readAt: second };
}

/**
 * Whether a join watermark lies after another, of either source: by the ingestion time read up to (the end of the
 * archive's last hour), then as text. As text alone, the archive's `2026-11-15T12/…` (read up to 13:00) would sort
 * before Log Analytics' `2026-11-15T12:00:00.000Z/…`.
 */
export function isLaterJoinWatermark(watermark: string, stored: string): boolean {
  const a = ingestionPosition(watermark).to;
  const b = ingestionPosition(stored).to;
  return a > b || (a === b && watermark > stored);
}

/**
 * Where the archive goes on: the last hour read, and the listing time since which blobs of hours already read are
 * read again (null: none is). After Log Analytics, from the hours before its `to` and the blobs written since then,
 * not since its `readAt`: it read only what was ingested before `to`.
 */
export function archivePosition(watermark: string): { hour: string; listedAt: number | null } {
  const { first, second } = parts(watermark);
  const ingestedTo = isHourWindow(first) ? NaN : Date.parse(first);
  if (Number.isFinite(ingestedTo)) return { hour: new Date(ingestedTo - INGESTION_OVERLAP_MS).toISOString().slice(0, 13), listedAt: ingestedTo - INGESTION_OVERLAP_MS };
  return { hour: first, listedAt: second !== null && Number.isFinite(second) ? second : null };
}
