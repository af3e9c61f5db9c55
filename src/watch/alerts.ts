/**
 * Recording alerts (one per watch entry and object, updated by later versions) and listing
 * them most urgent first without holding all of a list's alerts in memory.
 */
import { compareTimestamps, microsToTaxii, timestampToMicros } from '../stix/timestamp.ts';
import type { TlpLevel } from '../store/store.ts';
import { describeEntry, type IndexedEntry } from './engine.ts';
import type { Alert, AlertState, MatchDetail } from './model.ts';
import { alertPriority, severityOf } from './priority.ts';
import { newId, type AlertWrite, type WatchRepository } from './repository.ts';

/** One match of an entry with an object version, ready to become an alert. */
export interface AlertInput {
  entry: IndexedEntry;
  object: Readonly<Record<string, unknown>>;
  detail: MatchDetail;
  collectionId: string;
  tlp: readonly TlpLevel[];
  sources: number;
  origin: Alert['origin'];
  now: number;
}

export type { AlertChange } from './alert-log.ts';

function objectVersion(object: Readonly<Record<string, unknown>>): string {
  const version = object.modified ?? object.created;
  return typeof version === 'string' ? version : '';
}

/** Returns whether the object is an indicator whose `valid_until` is at or before `now`. */
function isExpired(object: Readonly<Record<string, unknown>>, now: number): boolean {
  if (object.type !== 'indicator' || typeof object.valid_until !== 'string') return false;
  const until = timestampToMicros(object.valid_until);
  return until !== undefined && until <= now;
}

function alertFields(input: AlertInput) {
  const { object } = input;
  const version = objectVersion(object);
  const confidence = typeof object.confidence === 'number' ? object.confidence : undefined;
  const revoked = object.revoked === true;
  const expired = isExpired(object, input.now);
  const modifiedAt = timestampToMicros(version);
  const priority = alertPriority({
    match: input.detail,
    tlp: input.tlp,
    sources: input.sources,
    revoked,
    expired,
    now: input.now,
    ...(confidence === undefined ? {} : { confidence }),
    ...(modifiedAt === undefined ? {} : { modifiedAt }),
  });
  return {
    objectType: String(object.type),
    ...(typeof object.name === 'string' ? { objectName: object.name.slice(0, 200) } : {}),
    version,
    revoked,
    ...(expired ? { expired } : {}),
    collectionId: input.collectionId,
    match: input.detail,
    priority,
    severity: severityOf(priority),
    sources: input.sources,
    ...(confidence === undefined ? {} : { confidence }),
    tlp: [...input.tlp],
  };
}

/**
 * Creates the alert of the match, or updates the entry's alert for the object when the
 * version is newer than the one it records. An update reopens an acknowledged alert, since
 * a new version is new information. An expired indicator raises no alert, and its version
 * updates an existing alert without reopening it, because it is no longer in force. Each change is appended to the list's alert log, which
 * alert streams and webhooks deliver from, in the same transaction as the alert. Returns
 * undefined when nothing changed: the same or an older version, as a retro-hunt run twice
 * finds, or an expired indicator without an alert.
 */
export async function recordAlert(
  repository: WatchRepository,
  input: AlertInput,
): Promise<AlertWrite | undefined> {
  const { entry } = input;
  const objectId = String(input.object.id);
  const fields = alertFields(input);
  return repository.upsertAlert(
    () => {
      if (fields.expired) return undefined;
      return {
        id: newId(),
        watchlistId: entry.owner.list.id,
        entryId: entry.entry.id,
        objectId,
        ...fields,
        state: 'open',
        versions: 1,
        origin: input.origin,
        createdAt: input.now,
        updatedAt: input.now,
      };
    },
    (current) => {
      const order = compareTimestamps(fields.version, current.version) ?? 0;
      if (order <= 0) return undefined;
      const {
        acknowledgedAt,
        acknowledgedBy,
        objectName: _objectName,
        confidence: _confidence,
        expired: _expired,
        ...rest
      } = current;
      if (fields.expired) {
        return {
          ...rest,
          ...fields,
          ...(acknowledgedAt === undefined ? {} : { acknowledgedAt }),
          ...(acknowledgedBy === undefined ? {} : { acknowledgedBy }),
          versions: current.versions + 1,
          updatedAt: input.now,
        };
      }
      return {
        ...rest,
        ...fields,
        state: 'open',
        versions: current.versions + 1,
        updatedAt: input.now,
      };
    },
    entry.entry.id,
    objectId,
  );
}

export interface AlertQuery {
  watchlistIds: readonly string[];
  state?: AlertState;
  /** Only alerts created or updated at or after this time (microseconds). */
  since?: number;
  limit: number;
  /** Position after which the page starts, from the previous page's last alert. */
  after?: AlertPosition;
}

/** A place in the order alerts are listed in: priority descending, then update time, then id. */
export interface AlertPosition {
  priority: number;
  updatedAt: number;
  id: string;
}

/** Negative when `a` comes before `b` in the listing order. */
export function compareAlerts(a: AlertPosition, b: AlertPosition): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.updatedAt !== b.updatedAt) return b.updatedAt - a.updatedAt;
  if (a.id === b.id) return 0;
  return a.id < b.id ? -1 : 1;
}

/**
 * Returns the first `limit` alerts of the lists in listing order, after `after`. Reads
 * every alert of the lists once but keeps at most `limit + 1` of them, so a list with
 * a million alerts is listed in constant memory.
 */
export async function queryAlerts(
  repository: WatchRepository,
  query: AlertQuery,
): Promise<{ alerts: Alert[]; more: boolean }> {
  const kept: Alert[] = [];
  const capacity = query.limit + 1;
  for (const watchlistId of query.watchlistIds) {
    for await (const alert of repository.listAlerts(watchlistId)) {
      if (query.state !== undefined && alert.state !== query.state) continue;
      if (query.since !== undefined && alert.updatedAt < query.since) continue;
      if (query.after && compareAlerts(alert, query.after) <= 0) continue;
      insertSorted(kept, alert, capacity);
    }
  }
  const more = kept.length > query.limit;
  return { alerts: kept.slice(0, query.limit), more };
}

/** Inserts into a sorted array that keeps only its first `capacity` elements. */
function insertSorted(kept: Alert[], alert: Alert, capacity: number): void {
  if (kept.length >= capacity && compareAlerts(alert, kept[kept.length - 1]!) >= 0) return;
  let low = 0;
  let high = kept.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareAlerts(kept[middle]!, alert) <= 0) low = middle + 1;
    else high = middle;
  }
  kept.splice(low, 0, alert);
  if (kept.length > capacity) kept.pop();
}

/** Writes a listing position as an opaque page token. */
export function encodePosition(position: AlertPosition): string {
  return Buffer.from(JSON.stringify([position.priority, position.updatedAt, position.id])).toString(
    'base64url',
  );
}

/** Reads a page token; returns undefined when it is not one. */
export function decodePosition(token: string): AlertPosition | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 3) return undefined;
    const [priority, updatedAt, id] = value as unknown[];
    if (typeof priority !== 'number' || typeof updatedAt !== 'number' || typeof id !== 'string') {
      return undefined;
    }
    return { priority, updatedAt, id };
  } catch {
    return undefined;
  }
}

/** Returns an alert as the JSON API and webhooks show it, with RFC 3339 times. */
export function alertView(alert: Alert) {
  return {
    ...alert,
    createdAt: microsToTaxii(alert.createdAt),
    updatedAt: microsToTaxii(alert.updatedAt),
    acknowledgedAt:
      alert.acknowledgedAt === undefined ? undefined : microsToTaxii(alert.acknowledgedAt),
  };
}

/** Summarises an alert in one line, for logs and the CLI. */
export function describeAlert(alert: Alert, entry?: IndexedEntry): string {
  const watched = entry ? describeEntry(entry.entry) : alert.match.watched;
  const value = alert.match.value ? ` (${alert.match.value})` : '';
  return `${alert.severity} ${alert.priority} ${alert.objectId}: ${alert.match.kind} ${watched}${value}`;
}
