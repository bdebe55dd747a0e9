/**
 * Reading ISO-8601 instants on hot paths. Every ledger entry carries its time in the canonical form
 * `YYYY-MM-DDTHH:MM:SS.sssZ` (what `Date.prototype.toISOString` writes for the years 0000–9999); for those the
 * instant is read from the digits, which costs a fraction of `Date.parse`. Any other text goes to `Date.parse`.
 */

const DASH = 0x2d;
const COLON = 0x3a;
const DOT = 0x2e;
const LETTER_T = 0x54;
const LETTER_Z = 0x5a;
const CANONICAL_LENGTH = 24;
const MS_PER_MINUTE = 60_000;
const MINUTES_PER_DAY = 1_440;

/** The number written by the two digits at `at`, or -1 when they are not two digits. */
function twoDigitsAt(text: string, at: number): number {
  const tens = text.charCodeAt(at) - 0x30;
  const ones = text.charCodeAt(at + 1) - 0x30;
  return tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9 ? tens * 10 + ones : -1;
}

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** Days of `month` (1–12) of `year`, in the proleptic Gregorian calendar. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's `days_from_civil`). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function hasCanonicalSeparators(time: string): boolean {
  return (
    time.length === CANONICAL_LENGTH &&
    time.charCodeAt(4) === DASH &&
    time.charCodeAt(7) === DASH &&
    time.charCodeAt(10) === LETTER_T &&
    time.charCodeAt(13) === COLON &&
    time.charCodeAt(16) === COLON &&
    time.charCodeAt(19) === DOT &&
    time.charCodeAt(23) === LETTER_Z
  );
}

/**
 * Milliseconds since the epoch of a canonical instant, or NaN when `time` is not one. Out-of-range fields
 * (`T24:00`, February 30) are not canonical: `Date.parse` rolls some of them over into the next day.
 */
function readCanonical(time: string): number {
  if (!hasCanonicalSeparators(time)) return NaN;
  const century = twoDigitsAt(time, 0);
  const yearOfCentury = twoDigitsAt(time, 2);
  const month = twoDigitsAt(time, 5);
  const day = twoDigitsAt(time, 8);
  const hour = twoDigitsAt(time, 11);
  const minute = twoDigitsAt(time, 14);
  const second = twoDigitsAt(time, 17);
  const centiseconds = twoDigitsAt(time, 20);
  const lastDigit = time.charCodeAt(22) - 0x30;
  if (century < 0 || yearOfCentury < 0 || centiseconds < 0 || !(lastDigit >= 0 && lastDigit <= 9)) return NaN;
  const year = century * 100 + yearOfCentury;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return NaN;
  const millisecond = centiseconds * 10 + lastDigit;
  const minutes = daysFromCivil(year, month, day) * MINUTES_PER_DAY + hour * 60 + minute;
  return minutes * MS_PER_MINUTE + second * 1_000 + millisecond;
}

// The last text read: an event's time is read by validation, the ledger entry, price matching and the tiles.
let lastText = '';
let lastCanonicalMs = NaN;

function canonicalEpochMs(time: string): number {
  if (time !== lastText) {
    lastCanonicalMs = readCanonical(time);
    lastText = time;
  }
  return lastCanonicalMs;
}

/**
 * True for `YYYY-MM-DDTHH:MM:SS.sssZ` naming a real date and time (no Feb 30, no hour 24, no leap second): such
 * a text is its own `new Date(text).toISOString()`, and texts of this form sort as their instants do.
 */
export function isCanonicalInstant(time: string): boolean {
  return !Number.isNaN(canonicalEpochMs(time));
}

/** `Date.parse(time)`, the same for every string, without parsing when `time` is a canonical instant. */
export function parseInstant(time: string): number {
  const ms = canonicalEpochMs(time);
  return Number.isNaN(ms) ? Date.parse(time) : ms;
}

/** An ISO 8601 date, or date and time with an optional fraction and offset; the captures are read by `isoInstantMs`. */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * Milliseconds since the epoch of an ISO 8601 date or date and time naming a real day and time of day, its fraction
 * cut to the millisecond (as `Date.parse` cuts it); NaN for any other text. Unlike `Date.parse`, February 30 and hour
 * 24 are refused rather than rolled over into the next day, and a time without an offset is UTC, not the process'
 * local time: Azure's logs and exports write UTC.
 */
export function isoInstantMs(text: string): number {
  const match = ISO_DATE_TIME.exec(text);
  if (match === null) return NaN;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const [hour, minute, second] = [Number(match[4] ?? 0), Number(match[5] ?? 0), Number(match[6] ?? 0)];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
  if (hour > 23 || minute > 59 || second > 59) return NaN;
  const offset = match[8] ?? 'Z';
  const [offsetHours, offsetMinutes] = offset === 'Z' ? [0, 0] : [Number(offset.slice(1, 3)), Number(offset.slice(4, 6))];
  if (offsetHours > 23 || offsetMinutes > 59) return NaN;
  const offsetMinutesEast = (offset.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  const millisecond = Number((match[7] ?? '').slice(0, 3).padEnd(3, '0'));
  const minutes = daysFromCivil(year, month, day) * MINUTES_PER_DAY + hour * 60 + minute - offsetMinutesEast;
  return minutes * MS_PER_MINUTE + second * 1_000 + millisecond;
}
