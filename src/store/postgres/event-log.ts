/**
 * The event log on PostgreSQL: events appended at the end of the object-version
 * transactions, and the reads, bounds and pruning of the Store interface.
 *
 * Readers follow the log with `seq > last`, so a reader must never see an event whose seq is
 * above that of an event still to be committed: it would move its cursor past the later
 * one and miss it. A sequence alone does not give that, because two transactions can take
 * seqs in one order and commit in the other. So every writer takes one transaction-level
 * advisory lock just before it inserts its events, takes its seqs as the last committed seq
 * plus one, and holds the lock until it commits. PostgreSQL makes a transaction visible
 * before it releases its locks, so the next writer reads the previous one's events and
 * continues after them, and commits happen in seq order. The lock is held only for the
 * insert and the commit, and a transaction that adds nothing new takes no lock.
 *
 * `at` comes from the database server's clock, one clock for every node, and never goes
 * below the last event's, so the log is ordered by time as well as by seq and
 * eventSeqBefore is one index seek. An added version's event refers to its stored JSON by
 * vid (see schema version 2).
 */
import {
  AUDIENCES,
  type EntrySharing,
  type EventKind,
  type EventQuery,
  type EventRecord,
  type EventRetention,
  type TlpLevel,
} from '../store.ts';
import type { Connection, Queryable } from './connection.ts';

/** Key of the advisory lock that orders event seqs; the ASCII bytes of "cairnevt" as a number. */
const EVENT_LOCK = '7161120822695130740';

/** Events deleted per transaction when pruning, so writers wait for short moments only. */
const PRUNE_CHUNK = 10_000;

const EVENT_COLUMNS =
  'seq, at, kind, collection_id, community_id, object_id, object_type, spec_version, version,' +
  ' version_key, date_added, vid, json, sharing';
/** The columns of EventRow, with the JSON of events that refer to a stored version. */
const READ_COLUMNS =
  'e.seq, e.at, e.kind, e.collection_id, e.community_id, e.object_id, e.object_type,' +
  ' e.spec_version, e.version, e.version_key, e.date_added, coalesce(e.json, v.json) AS json,' +
  ' e.sharing FROM events AS e LEFT JOIN object_versions AS v ON v.vid = e.vid';

const SQL = {
  // The key is combined with the schema's oid, so stores in different schemas of one
  // database do not wait for each other.
  lock:
    `SELECT pg_advisory_xact_lock(${EVENT_LOCK} # (SELECT oid::bigint FROM pg_namespace` +
    ' WHERE nspname = current_schema()))',
  insert:
    `INSERT INTO events (${EVENT_COLUMNS}) SELECT last.seq + u.n,` +
    ' greatest((extract(epoch FROM clock_timestamp()) * 1000000)::bigint, last.at),' +
    ' u.kind, $1::text, $2::text, u.object_id, u.object_type, u.spec_version, u.version,' +
    ' u.version_key, u.date_added, u.vid, u.json, u.sharing' +
    ' FROM (SELECT coalesce(max(seq), 0) AS seq, coalesce(max(at), 0) AS at FROM events) AS last' +
    ' CROSS JOIN unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],' +
    ' $9::bigint[], $10::bigint[], $11::text[], $12::text[]) WITH ORDINALITY AS u (kind,' +
    ' object_id, object_type, spec_version, version, version_key, date_added, vid, json,' +
    ' sharing, n)',
  readAll: `SELECT ${READ_COLUMNS} WHERE e.seq > $1 ORDER BY e.seq LIMIT $2`,
  readSome:
    `SELECT ${READ_COLUMNS} WHERE e.seq > $1 AND e.collection_id = ANY ($2::text[])` +
    ' ORDER BY e.seq LIMIT $3',
  readKinds:
    `SELECT ${READ_COLUMNS} WHERE e.seq > $1 AND e.kind = ANY ($2::text[])` +
    ' AND ($3::text[] IS NULL OR e.collection_id = ANY ($3::text[])) ORDER BY e.seq LIMIT $4',
  bounds: 'SELECT coalesce(min(seq), 0) AS first, coalesce(max(seq), 0) AS last FROM events',
  seqBefore: 'SELECT seq FROM events WHERE at < $1 ORDER BY at DESC, seq DESC LIMIT 1',
  // The seq of the newest event that the count limit drops, or nothing when none is dropped.
  countCut: 'SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET $1',
  deleteChunk:
    'DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= $1 ORDER BY seq' +
    ' LIMIT $2)',
} as const;

interface EventRow {
  seq: number;
  at: number;
  kind: EventKind;
  collection_id: string;
  community_id: string | null;
  object_id: string;
  object_type: string;
  spec_version: string;
  version: string;
  version_key: string;
  date_added: number;
  json: string | null;
  sharing: string;
}

function toEvent(row: EventRow): EventRecord {
  const event: EventRecord = {
    seq: row.seq,
    at: row.at,
    kind: row.kind,
    collectionId: row.collection_id,
    objectId: row.object_id,
    objectType: row.object_type,
    specVersion: row.spec_version,
    version: row.version,
    versionKey: row.version_key,
    dateAdded: row.date_added,
    sharing: JSON.parse(row.sharing) as EntrySharing,
  };
  if (row.community_id !== null) event.communityId = row.community_id;
  if (row.json !== null) event.json = row.json;
  return event;
}

/** The values of an added or removed version that its event records. */
export interface EventVersion {
  kind: EventKind;
  objectId: string;
  objectType: string;
  specVersion: string;
  version: string;
  versionKey: string;
  dateAdded: number;
  /** The stored JSON of an added version, which the event refers to. */
  vid?: number;
  sharing: EntrySharing;
}

/** The collection whose change the events describe. */
export interface EventCollection {
  id: string;
  communityId: string | null;
}

/**
 * Appends the events of a write transaction, in the order given. Call it as the last step
 * before the commit, because the lock it takes waits for every other writer's commit.
 */
export async function appendEvents(
  client: Queryable,
  collection: EventCollection,
  events: readonly EventVersion[],
): Promise<void> {
  if (events.length === 0) return;
  const columns = {
    kinds: [] as string[],
    objectIds: [] as string[],
    objectTypes: [] as string[],
    specVersions: [] as string[],
    versions: [] as string[],
    versionKeys: [] as string[],
    datesAdded: [] as number[],
    vids: [] as (number | null)[],
    jsons: [] as null[],
    sharings: [] as string[],
  };
  // Versions of one batch usually share one sharing object, so it is serialised once.
  let lastSharing: EntrySharing | undefined;
  let lastSharingJson = '';
  for (const event of events) {
    if (event.sharing !== lastSharing) {
      lastSharing = event.sharing;
      lastSharingJson = JSON.stringify(event.sharing);
    }
    columns.kinds.push(event.kind);
    columns.objectIds.push(event.objectId);
    columns.objectTypes.push(event.objectType);
    columns.specVersions.push(event.specVersion);
    columns.versions.push(event.version);
    columns.versionKeys.push(event.versionKey);
    columns.datesAdded.push(event.dateAdded);
    columns.vids.push(event.vid ?? null);
    columns.jsons.push(null);
    columns.sharings.push(lastSharingJson);
  }
  await client.query({ name: 'cairn_event_lock', text: SQL.lock });
  await client.query({
    name: 'cairn_event_insert',
    text: SQL.insert,
    values: [
      collection.id,
      collection.communityId,
      columns.kinds,
      columns.objectIds,
      columns.objectTypes,
      columns.specVersions,
      columns.versions,
      columns.versionKeys,
      columns.datesAdded,
      columns.vids,
      columns.jsons,
      columns.sharings,
    ],
  });
}

/** The sharing facts of an entry row, for the event of its deletion. */
export interface EntrySharingRow {
  audience: number;
  contributor_id: string | null;
  contributor_organisation_id: string | null;
  tlp: string[];
  granular: boolean;
  recipients_within: number;
  recipients: string[];
}

export function entrySharing(row: EntrySharingRow): EntrySharing {
  const sharing: EntrySharing = {
    tlp: row.tlp as TlpLevel[],
    audience: AUDIENCES[row.audience] ?? 'members',
    recipients: row.recipients,
    granularMarkings: row.granular,
  };
  if (row.contributor_id !== null) sharing.contributorId = row.contributor_id;
  if (row.contributor_organisation_id !== null) {
    sharing.contributorOrganisationId = row.contributor_organisation_id;
  }
  if (sharing.audience === 'recipients') {
    sharing.recipientsWithin = AUDIENCES[row.recipients_within] ?? 'everyone';
  }
  return sharing;
}

/** Reads and prunes the event log. */
export class EventLog {
  readonly #connection: Connection;

  constructor(connection: Connection) {
    this.#connection = connection;
  }

  async read(query: EventQuery): Promise<EventRecord[]> {
    const { afterSeq, limit, collectionIds } = query;
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError(`invalid limit ${limit}: expected an integer of 0 or more`);
    }
    if (!Number.isSafeInteger(afterSeq)) {
      throw new RangeError(`invalid afterSeq ${afterSeq}: expected an integer`);
    }
    if (collectionIds?.length === 0 || query.kinds?.length === 0) return [];
    if (query.kinds !== undefined) {
      const collections = collectionIds === undefined ? null : [...new Set(collectionIds)];
      const rows = await this.#connection.query<EventRow>({
        name: 'cairn_events_of_kinds',
        text: SQL.readKinds,
        values: [afterSeq, [...new Set(query.kinds)], collections, limit],
      });
      return rows.map(toEvent);
    }
    const rows =
      collectionIds === undefined
        ? await this.#connection.query<EventRow>({
            name: 'cairn_events_all',
            text: SQL.readAll,
            values: [afterSeq, limit],
          })
        : await this.#connection.query<EventRow>({
            name: 'cairn_events_some',
            text: SQL.readSome,
            values: [afterSeq, [...new Set(collectionIds)], limit],
          });
    return rows.map(toEvent);
  }

  async bounds(): Promise<{ first: number; last: number }> {
    const [row] = await this.#connection.query<{ first: number; last: number }>({
      name: 'cairn_event_bounds',
      text: SQL.bounds,
    });
    return { first: row?.first ?? 0, last: row?.last ?? 0 };
  }

  async seqBefore(at: number): Promise<number> {
    if (Number.isNaN(at)) return 0;
    // `at` values are integers, so `at < x` equals `at < ceil(x)`.
    const bound = Math.min(
      Math.max(Math.ceil(at), Number.MIN_SAFE_INTEGER),
      Number.MAX_SAFE_INTEGER,
    );
    const [row] = await this.#connection.query<{ seq: number }>({
      name: 'cairn_event_seq_before',
      text: SQL.seqBefore,
      values: [bound],
    });
    return row?.seq ?? 0;
  }

  /**
   * Deletes the events outside the retention, oldest first, in chunks of PRUNE_CHUNK per
   * transaction. The newest event is never deleted, so the next seq, which is the last one
   * plus one, stays above every seq handed out.
   */
  async prune(retention: EventRetention): Promise<number> {
    const { first, last } = await this.bounds();
    if (last === 0) return 0;

    let cut = 0;
    if (retention.maxEvents !== undefined) {
      const keep = Math.max(1, Math.trunc(retention.maxEvents));
      // Seqs are never reused, so fewer seqs in the range than `keep` means nothing to cut.
      if (last - first + 1 > keep) {
        const [row] = await this.#connection.query<{ seq: number }>({
          text: SQL.countCut,
          values: [keep],
        });
        cut = row?.seq ?? 0;
      }
    }
    if (retention.before !== undefined) cut = Math.max(cut, await this.seqBefore(retention.before));
    cut = Math.min(cut, last - 1);
    if (cut <= 0) return 0;

    let removed = 0;
    for (;;) {
      const deleted = await this.#connection.run({
        text: SQL.deleteChunk,
        values: [cut, PRUNE_CHUNK],
      });
      removed += deleted;
      if (deleted < PRUNE_CHUNK) return removed;
    }
  }
}
