/**
 * STIX and TAXII timestamps.
 *
 * STIX 2.1 (section 3.2) timestamps are RFC 3339 in UTC with a `Z` and any number of
 * fractional digits. TAXII 2.1 (section 2) timestamps always carry exactly six.
 */

const STIX_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$/;

/** Parses a STIX timestamp into its parts, or returns undefined when it is not one. */
function parseParts(value: string): { seconds: number; fraction: string } | undefined {
  const m = STIX_TIMESTAMP.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) {
    return undefined;
  }
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return undefined;
  // A leap second is accepted by RFC 3339; it is counted as the next second's start.
  const seconds = Date.UTC(year, month - 1, day, hour, minute, 0) / 1000 + second;
  return { seconds, fraction: frac ?? '' };
}

/** Whether a string is a valid STIX timestamp (RFC 3339, UTC, `Z`). */
export function isStixTimestamp(value: string): boolean {
  return parseParts(value) !== undefined;
}

/**
 * Returns a key for a STIX timestamp that sorts in time order as a plain string:
 * seconds since 1970 padded to 12 digits, a dot, and the fraction padded to 9 digits.
 * Two timestamps for the same instant written with different precision get one key.
 * Returns undefined for a string that is not a STIX timestamp.
 */
export function timestampKey(value: string): string | undefined {
  const parts = parseParts(value);
  if (!parts) return undefined;
  const fraction = parts.fraction.replace(/0+$/, '').padEnd(9, '0');
  if (fraction.length > 9) return undefined;
  return `${String(parts.seconds + 62135596800).padStart(12, '0')}.${fraction}`;
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
