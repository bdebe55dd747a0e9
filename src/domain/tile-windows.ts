import type { Grain } from '../contracts/chargeback-tile.js';

const HOUR_MS = 3_600_000;

/** Tile id and partition key: all tiles of a month share a partition, so a month's report reads one partition. */
export function tileKey(kind: string, grain: Grain, window: string): { id: string; pk: string } {
  return { id: `${kind}:${grain}:${window}`, pk: `${kind}:${window.slice(0, 7)}` };
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
 * The fewest tiles that exactly cover [from, to), both rounded down to whole hours: whole months as month
 * tiles, whole days as day tiles, the rest as hour tiles.
 */
export function coverRange(from: Date, to: Date): { grain: Grain; window: string }[] {
  const start = Math.floor(from.getTime() / HOUR_MS) * HOUR_MS;
  const end = Math.floor(to.getTime() / HOUR_MS) * HOUR_MS;
  const cover: { grain: Grain; window: string }[] = [];
  let t = start;
  while (t < end) {
    const d = new Date(t);
    const iso = d.toISOString();
    const monthEnd = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    const dayEnd = t + 86_400_000;
    if (d.getUTCDate() === 1 && d.getUTCHours() === 0 && monthEnd <= end) {
      cover.push({ grain: 'month', window: iso.slice(0, 7) });
      t = monthEnd;
    } else if (d.getUTCHours() === 0 && dayEnd <= end) {
      cover.push({ grain: 'day', window: iso.slice(0, 10) });
      t = dayEnd;
    } else {
      cover.push({ grain: 'hour', window: iso.slice(0, 13) });
      t += HOUR_MS;
    }
  }
  return cover;
}
