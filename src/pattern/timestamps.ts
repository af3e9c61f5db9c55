/**
 * RFC 3339 UTC timestamps as pattern literals and observed values (the STIX 2.1 timestamp type),
 * converted to instants with nanosecond precision. Calendar arithmetic is done on integers
 * rather than with Date, which is both faster and free of Date's two-digit-year rules.
 */

import type { Instant } from './ast.ts';
import { PatternEvaluationError } from './errors.ts';

/** Days from 1970-01-01 to a proleptic Gregorian date; `month` runs from 1 to 12. */
function daysFromCivil(year: number, month: number, day: number): number {
  // Counting years from March puts the leap day at the end of the year.
  const shiftedYear = month <= 2 ? year - 1 : year;
  const era = Math.floor(shiftedYear / 400);
  const yearOfEra = shiftedYear - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Converts date and time fields to an instant. Digits of the fraction past the ninth are
 * dropped, and a leap second (second 60) counts as the first second of the next minute.
 */
export function instantFromFields(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  fraction: string,
): Instant {
  const days = daysFromCivil(year, month, day);
  const seconds = days * 86400 + hour * 3600 + minute * 60 + second;
  const nanos = fraction === '' ? 0 : Number(fraction.slice(0, 9).padEnd(9, '0'));
  return { seconds, nanos };
}

/**
 * Parses an RFC 3339 UTC timestamp with any number of fractional digits
 * (`YYYY-MM-DDThh:mm:ss[.fraction]Z`, upper-case T and Z only), or returns undefined.
 * Read character by character rather than with a regular expression because it runs for
 * every first_observed and last_observed of every observation matched.
 */
export function tryParseTimestamp(text: string): Instant | undefined {
  const length = text.length;
  if (length < 20 || text.charCodeAt(length - 1) !== 90 /* Z */) return undefined;
  // The separators: '-' is 45, 'T' 84 and ':' 58.
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return undefined;
  if (text.charCodeAt(10) !== 84 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) {
    return undefined;
  }

  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return undefined;

  let fraction = '';
  if (length > 20) {
    // Everything between the seconds and the Z must be a dot (46) and at least one digit.
    if (text.charCodeAt(19) !== 46 || length === 21 || digits(text, 20, length - 21) < 0) {
      return undefined;
    }
    fraction = text.slice(20, length - 1);
  }

  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  return instantFromFields(year, month, day, hour, minute, second, fraction);
}

/** Reads `count` ASCII digits at `start` as a number, or returns -1 if any is not a digit. */
function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const code = text.charCodeAt(i) - 48;
    if (code < 0 || code > 9) return -1;
    // Only the short fields are used as numbers; a long fraction is checked here and sliced.
    value = value * 10 + code;
  }
  return value;
}

/**
 * Recently parsed observed timestamps. Observed data repeats the same few timestamps (often
 * first_observed equals last_observed), and a look-up costs less than a parse. Cleared when
 * full rather than kept in LRU order, which is simpler and enough for that pattern of reuse.
 */
const observedTimestamps = new Map<string, Instant>();
const MAX_CACHED_TIMESTAMPS = 1024;
/** `YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ` with nanoseconds is 30 characters. */
const MAX_CACHED_TIMESTAMP_LENGTH = 30;

/**
 * Parses a timestamp found in observed data, or raises PatternEvaluationError because the
 * reference matcher treats a malformed one as an error rather than a mismatch. The returned
 * instant may be shared with other callers and must not be modified.
 */
export function parseObservedTimestamp(text: string): Instant {
  const cached = observedTimestamps.get(text);
  if (cached) return cached;

  const instant = tryParseTimestamp(text);
  if (!instant) throw new PatternEvaluationError(`invalid timestamp in observed data: '${text}'`);
  // Longer texts carry fraction digits past the nanosecond and are not worth the memory.
  if (text.length <= MAX_CACHED_TIMESTAMP_LENGTH) {
    if (observedTimestamps.size >= MAX_CACHED_TIMESTAMPS) observedTimestamps.clear();
    observedTimestamps.set(text, instant);
  }
  return instant;
}

export function compareInstants(a: Instant, b: Instant): number {
  if (a.seconds !== b.seconds) return a.seconds < b.seconds ? -1 : 1;
  return Math.sign(a.nanos - b.nanos);
}

export function instantToNanoseconds(instant: Instant): bigint {
  return BigInt(instant.seconds) * 1_000_000_000n + BigInt(instant.nanos);
}
