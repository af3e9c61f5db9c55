/**
 * STIX and TAXII timestamps.
 *
 * STIX 2.1 (section 3.2) timestamps are RFC 3339 in UTC with a `Z` and any number of
 * fractional digits. TAXII 2.1 (section 2) timestamps always carry exactly six.
 */

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * Days from 1970-01-01 to a date of the proleptic Gregorian calendar, by arithmetic on
 * 400-year eras. Date.UTC is not used because it maps years 0 to 99 onto 1900 to 1999.
 */
function daysFromEpoch(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** Reads `count` decimal digits at `start`, or returns -1 when one of them is not a digit. */
function readDigits(value: string, start: number, count: number): number {
  let result = 0;
  for (let i = start; i < start + count; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    result = result * 10 + digit;
  }
  return result;
}

/**
 * Parses a STIX timestamp into its parts, or returns undefined when it is not one. It
 * reads the fixed layout YYYY-MM-DDTHH:mm:ss[.s+]Z character by character, because this
 * runs several times for every object the server ingests.
 */
function parseParts(value: string): { seconds: number; fraction: string } | undefined {
  const length = value.length;
  if (length < 20 || value.charCodeAt(length - 1) !== 90 /* Z */) return undefined;
  if (
    value.charCodeAt(4) !== 45 /* - */ ||
    value.charCodeAt(7) !== 45 ||
    value.charCodeAt(10) !== 84 /* T */ ||
    value.charCodeAt(13) !== 58 /* : */ ||
    value.charCodeAt(16) !== 58
  ) {
    return undefined;
  }

  let fraction = '';
  if (length > 20) {
    // Anything between the seconds and the Z must be a dot and at least one digit.
    if (value.charCodeAt(19) !== 46 /* . */ || length === 21) return undefined;
    if (!isDigitRun(value, 20, length - 1)) return undefined;
    fraction = value.slice(20, length - 1);
  }

  const year = readDigits(value, 0, 4);
  const month = readDigits(value, 5, 2);
  const day = readDigits(value, 8, 2);
  const hour = readDigits(value, 11, 2);
  const minute = readDigits(value, 14, 2);
  const second = readDigits(value, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) return undefined;
  if (minute < 0 || minute > 59 || second < 0 || second > 60) return undefined;

  const daysInMonth = month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day > daysInMonth) return undefined;
  // A leap second is accepted by RFC 3339; it is counted as the next second's start.
  const seconds = daysFromEpoch(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return { seconds, fraction };
}

/** Checks that `value[from, to)` is all decimal digits. */
function isDigitRun(value: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const code = value.charCodeAt(i);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

/** Whether a string is a valid STIX timestamp (RFC 3339, UTC, `Z`). */
export function isStixTimestamp(value: string): boolean {
  return parseParts(value) !== undefined;
}

/**
 * Returns a key for a STIX timestamp that sorts in time order as a plain string: seconds
 * since 0001-01-01T00:00:00Z padded to 12 digits, a dot, and the fraction padded to 9
 * digits. Two timestamps for the same instant written with different precision get one
 * key. Returns undefined for a string that is not a STIX timestamp, for a year 0000
 * timestamp, and for more than nine significant fractional digits.
 */
export function timestampKey(value: string): string | undefined {
  const parts = parseParts(value);
  if (!parts) return undefined;
  let significant = parts.fraction.length;
  while (significant > 0 && parts.fraction.charCodeAt(significant - 1) === 48) significant--;
  if (significant > 9) return undefined;
  const fraction = parts.fraction.slice(0, significant).padEnd(9, '0');
  const sinceYearOne = parts.seconds + 62135596800;
  if (sinceYearOne < 0) return undefined;
  return `${String(sinceYearOne).padStart(12, '0')}.${fraction}`;
}

/** Converts a timestamp to microseconds since the epoch, truncating finer digits. */
export function timestampToMicros(value: string): number | undefined {
  const parts = parseParts(value);
  if (!parts) return undefined;
  const micros = Number(parts.fraction.slice(0, 6).padEnd(6, '0'));
  return parts.seconds * 1_000_000 + micros;
}

/** Formats microseconds since the epoch as a TAXII timestamp (six fractional digits). */
export function microsToTaxii(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const rest = micros - ms * 1000;
  const iso = new Date(ms).toISOString(); // 2024-01-02T03:04:05.678Z
  return `${iso.slice(0, 23)}${String(rest).padStart(3, '0')}Z`;
}

/** The current time in microseconds since the epoch. */
export function nowMicros(): number {
  // performance.timeOrigin + now() gives sub-millisecond resolution on the wall clock.
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * Compares two STIX timestamps by the instant they name, at any precision: negative when
 * `a` is earlier, zero when equal, positive when later. Returns undefined when either is
 * not a STIX timestamp.
 */
export function compareTimestamps(a: string, b: string): number | undefined {
  const left = parseParts(a);
  const right = parseParts(b);
  if (!left || !right) return undefined;
  if (left.seconds !== right.seconds) return left.seconds - right.seconds;
  const width = Math.max(left.fraction.length, right.fraction.length);
  const leftFraction = left.fraction.padEnd(width, '0');
  const rightFraction = right.fraction.padEnd(width, '0');
  if (leftFraction === rightFraction) return 0;
  return leftFraction < rightFraction ? -1 : 1;
}

/** Counts the fractional-second digits a timestamp is written with; 0 when it has none. */
export function fractionDigits(value: string): number {
  const dot = value.lastIndexOf('.');
  return dot === -1 ? 0 : value.length - dot - 2;
}
