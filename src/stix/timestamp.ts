/**
 * STIX and TAXII timestamps.
 *
 * STIX 2.1 (section 3.2) timestamps are RFC 3339 in UTC with a `Z` and any number of
 * fractional digits. TAXII 2.1 (section 2) timestamps always carry exactly six.
 */

const STIX_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$/;

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

/** Parses a STIX timestamp into its parts, or returns undefined when it is not one. */
function parseParts(value: string): { seconds: number; fraction: string } | undefined {
  const m = STIX_TIMESTAMP.exec(value);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) {
    return undefined;
  }
  const daysInMonth = month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day > daysInMonth) return undefined;
  // A leap second is accepted by RFC 3339; it is counted as the next second's start.
  const seconds = daysFromEpoch(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return { seconds, fraction: m[7] ?? '' };
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
  const fraction = parts.fraction.replace(/0+$/, '').padEnd(9, '0');
  if (fraction.length > 9) return undefined;
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

/** The number of fractional-second digits a timestamp is written with; 0 when it has none. */
export function fractionDigits(value: string): number {
  const dot = value.lastIndexOf('.');
  return dot === -1 ? 0 : value.length - dot - 2;
}
