/** Dates as feeds write them, turned into STIX timestamps (RFC 3339, UTC, milliseconds). */

const DATE_ONLY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const DATE_TIME =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?$/i;
const EPOCH_SECONDS = /^[0-9]{9,11}$/;

/** The earliest and latest instants a STIX timestamp can express (four-digit years). */
const MIN_TIME = Date.UTC(1, 0, 1);
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Converts `2024-05-01`, `2024-05-01 10:00:00`, `2024-05-01T10:00:00+02:00` or Unix
 * seconds (as MISP writes timestamps) to `YYYY-MM-DDTHH:mm:ss.sssZ`. A date and time
 * without a zone is taken as UTC. Returns undefined for anything else.
 */
export function toTimestamp(value: string | number): string | undefined {
  const text = String(value).trim();
  let time: number;
  if (EPOCH_SECONDS.test(text)) {
    time = Number(text) * 1000;
  } else if (DATE_ONLY.test(text)) {
    time = Date.parse(`${text}T00:00:00Z`);
  } else if (DATE_TIME.test(text)) {
    const iso = text.replace(' ', 'T');
    time = Date.parse(/(?:Z|[+-][0-9]{2}:?[0-9]{2})$/i.test(iso) ? iso : `${iso}Z`);
  } else {
    return undefined;
  }
  if (!Number.isFinite(time) || time < MIN_TIME || time > MAX_TIME) return undefined;
  return new Date(time).toISOString();
}
