import type { UsageGrain } from '../contracts/usage-tile.js';

export const HOUR_MS = 3_600_000;

/** Whether `text` names a UTC hour as tiles do (`YYYY-MM-DDTHH`), one the calendar has. */
export function isHourWindow(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}$/.test(text)) return false;
  const start = Date.parse(`${text}:00:00.000Z`);
  return !Number.isNaN(start) && new Date(start).toISOString().startsWith(text);
}

export function dayOf(hour: string): string {
  return hour.slice(0, 10);
}

export function monthOf(window: string): string {
  return window.slice(0, 7);
}

/** The hours (`YYYY-MM-DDTHH`) of a day (`YYYY-MM-DD`). */
export function hoursOfDay(day: string): string[] {
  return Array.from({ length: 24 }, (_, h) => `${day}T${String(h).padStart(2, '0')}`);
}

/** The UTC days (`YYYY-MM-DD`) that [from, to) touches. */
export function daysOfRange(range: { from: Date; to: Date }): string[] {
  const out: string[] = [];
  for (let t = Date.UTC(range.from.getUTCFullYear(), range.from.getUTCMonth(), range.from.getUTCDate()); t < range.to.getTime(); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/** The days (`YYYY-MM-DD`) of a month (`YYYY-MM`). */
export function daysOfMonth(month: string): string[] {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const count = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return Array.from({ length: count }, (_, d) => `${month}-${String(d + 1).padStart(2, '0')}`);
}

/**
 * The bounds [from, to) of a UTC day's hour tile windows: `T24` sorts after the day's hours and before the next
 * day, even after 9999-12-31, whose next day has no four-digit year.
 */
export function hourWindowsOf(day: string): { readonly from: string; readonly to: string } {
  return { from: `${day}T00`, to: `${day}T24` };
}

/** The UTC day after `day` (`YYYY-MM-DD`). */
export function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/**
 * The fewest tiles that exactly cover [from, to), both rounded down to whole hours: whole days as day tiles, the
 * rest as hour tiles. (No month tiles: prices change from one day to the next, and usage is priced when read.)
 */
export function coverRange(from: Date, to: Date): { grain: UsageGrain; window: string }[] {
  const start = Math.floor(from.getTime() / HOUR_MS) * HOUR_MS;
  const end = Math.floor(to.getTime() / HOUR_MS) * HOUR_MS;
  const cover: { grain: UsageGrain; window: string }[] = [];
  let t = start;
  while (t < end) {
    const d = new Date(t);
    const iso = d.toISOString();
    const dayEnd = t + 86_400_000;
    if (d.getUTCHours() === 0 && dayEnd <= end) {
      cover.push({ grain: 'day', window: iso.slice(0, 10) });
      t = dayEnd;
    } else {
      cover.push({ grain: 'hour', window: iso.slice(0, 13) });
      t += HOUR_MS;
    }
  }
  return cover;
}
