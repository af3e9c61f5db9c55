/**
 * The event log on SQLite: events appended inside the object-version transactions, and the
 * reads, bounds and pruning of the Store interface. The table is described in schema.ts.
 */
import type Database from 'better-sqlite3';

import { nowMicros } from '../../stix/timestamp.ts';
import {
  AUDIENCES,
  type CommittedEvents,
  type EntrySharing,
  type EventKind,
  type EventQuery,
  type EventRecord,
  type EventRetention,
  type TlpLevel,
} from '../store.ts';
import type { StatementCache } from './statements.ts';

const EVENT_COLUMNS =
  'e.seq, e.at, e.kind, e.collection_id, e.community_id, e.object_id, e.object_type,' +
  ' e.spec_version, e.version, e.version_key, e.date_added, coalesce(e.json, v.json) AS json,' +
  ' e.sharing';
const FROM_EVENTS = 'FROM events AS e LEFT JOIN object_versions AS v ON v.vid = e.vid';

const SQL = {
  insert:
    'INSERT INTO events (at, kind, collection_id, community_id, object_id, object_type,' +
    ' spec_version, version, version_key, date_added, vid, sharing)' +
    ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  readAll: `SELECT ${EVENT_COLUMNS} ${FROM_EVENTS} WHERE e.seq > ? ORDER BY e.seq LIMIT ?`,
  // A scan in seq order that skips other collections: a collection index would make every
  // insert slower, and a reader catches up from the store once per connection only.
  readSome:
    `SELECT ${EVENT_COLUMNS} ${FROM_EVENTS} WHERE e.seq > ?` +
    ' AND e.collection_id IN (SELECT value FROM json_each(?)) ORDER BY e.seq LIMIT ?',
  readKinds:
    `SELECT ${EVENT_COLUMNS} ${FROM_EVENTS} WHERE e.seq > @afterSeq` +
    ' AND e.kind IN (SELECT value FROM json_each(@kinds)) AND (@collections IS NULL' +
    ' OR e.collection_id IN (SELECT value FROM json_each(@collections)))' +
    ' ORDER BY e.seq LIMIT @limit',
  first: 'SELECT seq, at FROM events ORDER BY seq LIMIT 1',
  last: 'SELECT seq, at FROM events ORDER BY seq DESC LIMIT 1',
  atOrAfter: 'SELECT seq, at FROM events WHERE seq >= ? ORDER BY seq LIMIT 1',
  // The seq of the newest event that the count limit drops, or nothing when none is dropped.
  countCut: 'SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?',
  deleteChunk:
    'DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? ORDER BY seq LIMIT ?)',
  entry:
    'SELECT version, type, spec_version, audience, contributor_id, contributor_organisation_id,' +
    ' tlp, granular, recipients_within FROM collection_entries' +
    ' WHERE collection_seq = ? AND date_added = ?',
  recipients: 'SELECT user_id FROM entry_recipients WHERE collection_seq = ? AND date_added = ?',
  // Runs before the JSON of a version that no collection contains any more is deleted.
  keepJson:
    'UPDATE events SET json = (SELECT json FROM object_versions WHERE vid = @vid), vid = NULL' +
    ' WHERE vid = @vid AND NOT EXISTS (SELECT 1 FROM collection_entries WHERE vid = @vid)',
} as const;

/** Events deleted per transaction when pruning, so writers wait for short moments only. */
const PRUNE_CHUNK = 10_000;

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

interface Position {
  seq: number;
  at: number;
}

interface EntryRow {
  version: string;
  type: string;
  spec_version: string;
  audience: number;
  contributor_id: string | null;
  contributor_organisation_id: string | null;
  tlp: string;
  granular: number;
  recipients_within: number;
}

/**
 * The last sharing facts parsed. The events of one write share one sharing text, so a
 * batch of events costs one parse; the parsed facts are frozen because events share them.
 */
let lastSharingText = '';
let lastSharing: EntrySharing | undefined;

function parseSharing(text: string): EntrySharing {
  if (text !== lastSharingText || lastSharing === undefined) {
    const sharing = JSON.parse(text) as EntrySharing;
    Object.freeze(sharing.tlp);
    Object.freeze(sharing.recipients);
    lastSharing = Object.freeze(sharing);
    lastSharingText = text;
  }
  return lastSharing;
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
    sharing: parseSharing(row.sharing),
  };
  if (row.community_id !== null) event.communityId = row.community_id;
  if (row.json !== null) event.json = row.json;
  return event;
}

/** Whether the version has `"revoked": true` at its top level. */
export function isRevoked(json: string): boolean {
  // The substring test skips the parse for the versions that cannot match, which is nearly all.
  if (!json.includes('"revoked":true')) return false;
  return (JSON.parse(json) as { revoked?: unknown }).revoked === true;
}

/** The collection an appender writes events for. */
export interface EventCollection {
  seq: number;
  id: string;
  communityId: string | null;
}

/** The fields of an added or removed version that go into its event. */
export interface EventVersion {
  objectId: string;
  objectType: string;
  specVersion: string;
  version: string;
  versionKey: string;
  dateAdded: number;
  /** The row of object_versions with the version's JSON; absent for deletes. */
  vid?: number;
  /** The version's JSON, which listeners of committed events receive; absent for deletes. */
  json?: string;
  sharing: EntrySharing;
}

/**
 * Collects the events that write transactions on one connection append and hands them to
 * the listeners once the transaction has committed (see Store.listenCommittedEvents). While
 * no one listens, appending costs nothing extra.
 */
export class CommittedEventsHub {
  readonly #db: Database.Database;
  readonly #listeners = new Set<(committed: CommittedEvents) => void>();
  #afterSeq = 0;
  #pending: EventRecord[] = [];

  constructor(db: Database.Database) {
    this.#db = db;
  }

  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  listen(listener: (committed: CommittedEvents) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Keeps one appended event. `afterSeq` is the log's newest seq before this transaction. */
  collect(afterSeq: number, event: EventRecord): void {
    if (this.#pending.length === 0) this.#afterSeq = afterSeq;
    this.#pending.push(event);
  }

  /**
   * Runs a write and hands its events to the listeners when it committed. A write that throws
   * rolled back, and its events are dropped. So are the events of a write nested in an outer
   * transaction, because that could still roll back. Listeners then find them in the log.
   */
  publishAfter<T>(write: () => T): T {
    let result: T;
    try {
      result = write();
    } catch (error) {
      this.#pending = [];
      throw error;
    }
    const events = this.#pending;
    if (events.length === 0) return result;
    this.#pending = [];
    if (this.#db.inTransaction) return result;
    const committed: CommittedEvents = { afterSeq: this.#afterSeq, events };
    for (const listener of this.#listeners) {
      try {
        listener(committed);
      } catch {
        // The write has committed, so it must not report a failure. Listeners keep their
        // own errors (the event feed logs them) and fall back to reading the log.
      }
    }
    return result;
  }
}

/** The hub of each connection, found through the connection's statement cache. */
const hubs = new WeakMap<StatementCache, CommittedEventsHub>();

/**
 * Appends the events of one write transaction. `at` never goes below the last event's, so
 * the log is ordered by time as well as by seq, and eventSeqBefore can search by seq.
 */
export class EventAppender {
  readonly #statements: StatementCache;
  readonly #collection: EventCollection;
  readonly #hub: CommittedEventsHub | undefined;
  /** The time of this transaction's events, read when the first one is appended. */
  #at: number | undefined;
  /** The newest seq before this transaction's events, read with #at. */
  #afterSeq = 0;
  #lastSharing: EntrySharing | undefined;
  #lastSharingJson = '';

  constructor(statements: StatementCache, collection: EventCollection) {
    this.#statements = statements;
    this.#collection = collection;
    this.#hub = hubs.get(statements);
  }

  append(kind: EventKind, version: EventVersion): void {
    if (this.#at === undefined) {
      const last = this.#statements.get(SQL.last).get() as Position | undefined;
      this.#at = Math.max(nowMicros(), last?.at ?? 0);
      this.#afterSeq = last?.seq ?? 0;
    }
    // Versions of one batch usually share one sharing object, so it is serialised once.
    if (version.sharing !== this.#lastSharing) {
      this.#lastSharing = version.sharing;
      this.#lastSharingJson = JSON.stringify(version.sharing);
    }
    const { lastInsertRowid } = this.#statements
      .get(SQL.insert)
      .run(
        this.#at,
        kind,
        this.#collection.id,
        this.#collection.communityId,
        version.objectId,
        version.objectType,
        version.specVersion,
        version.version,
        version.versionKey,
        version.dateAdded,
        version.vid ?? null,
        this.#lastSharingJson,
      );
    if (this.#hub?.listening === true) {
      this.#hub.collect(this.#afterSeq, this.#record(Number(lastInsertRowid), kind, version));
    }
  }

  /** The event as readEvents returns it, with the sharing facts parsed back from the stored text. */
  #record(seq: number, kind: EventKind, version: EventVersion): EventRecord {
    const event: EventRecord = {
      seq,
      at: this.#at!,
      kind,
      collectionId: this.#collection.id,
      objectId: version.objectId,
      objectType: version.objectType,
      specVersion: version.specVersion,
      version: version.version,
      versionKey: version.versionKey,
      dateAdded: version.dateAdded,
      sharing: parseSharing(this.#lastSharingJson),
    };
    if (this.#collection.communityId !== null) event.communityId = this.#collection.communityId;
    if (version.json !== undefined) event.json = version.json;
    return event;
  }

  /**
   * Copies the JSON of a version into the events that refer to it, when no collection contains
   * the version any more. Call it before deleting such JSON.
   */
  keepJson(vid: number): void {
    this.#statements.get(SQL.keepJson).run({ vid });
  }

  /** Appends a `deleted` event for an entry about to be removed, reading its sharing facts. */
  appendDeleted(objectId: string, dateAdded: number, versionKey: string): void {
    const statements = this.#statements;
    const collection = this.#collection.seq;
    const row = statements.get(SQL.entry).get(collection, dateAdded) as EntryRow | undefined;
    if (row === undefined) return;
    const recipients = statements.get(SQL.recipients).pluck().all(collection, dateAdded);
    this.append('deleted', {
      objectId,
      objectType: row.type,
      specVersion: row.spec_version,
      version: row.version,
      versionKey,
      dateAdded,
      sharing: entrySharing(row, recipients as string[]),
    });
  }
}

function entrySharing(row: EntryRow, recipients: string[]): EntrySharing {
  const sharing: EntrySharing = {
    tlp: row.tlp === '' ? [] : (row.tlp.split(',') as TlpLevel[]),
    audience: AUDIENCES[row.audience] ?? 'members',
    recipients,
    granularMarkings: row.granular === 1,
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

/** Reads and prunes the event log on one connection. */
export class EventLog {
  readonly #db: Database.Database;
  readonly #statements: StatementCache;
  /** The events this connection's writes commit, for listeners in this process. */
  readonly committed: CommittedEventsHub;

  constructor(db: Database.Database, statements: StatementCache) {
    this.#db = db;
    this.#statements = statements;
    this.committed = new CommittedEventsHub(db);
    hubs.set(statements, this.committed);
  }

  read(query: EventQuery): EventRecord[] {
    const { afterSeq, limit, collectionIds } = query;
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError(`invalid limit ${limit}: expected an integer of 0 or more`);
    }
    if (!Number.isSafeInteger(afterSeq)) {
      throw new RangeError(`invalid afterSeq ${afterSeq}: expected an integer`);
    }
    const s = this.#statements;
    let rows: unknown[];
    if (query.kinds !== undefined) {
      if (query.kinds.length === 0 || collectionIds?.length === 0) return [];
      const kinds = JSON.stringify(query.kinds);
      const collections = collectionIds === undefined ? null : JSON.stringify(collectionIds);
      rows = s.get(SQL.readKinds).all({ afterSeq, kinds, collections, limit });
    } else if (collectionIds === undefined) rows = s.get(SQL.readAll).all(afterSeq, limit);
    else if (collectionIds.length === 0) rows = [];
    else rows = s.get(SQL.readSome).all(afterSeq, JSON.stringify(collectionIds), limit);
    return (rows as EventRow[]).map(toEvent);
  }

  bounds(): { first: number; last: number } {
    return this.#db
      .transaction(() => {
        const first = this.#statements.get(SQL.first).get() as Position | undefined;
        const last = this.#statements.get(SQL.last).get() as Position | undefined;
        return { first: first?.seq ?? 0, last: last?.seq ?? 0 };
      })
      .deferred();
  }

  /**
   * Binary search over seq, which `at` follows. Seqs may have gaps (pruning, or other
   * stores' sequences), so each probe reads the first event at or after the middle.
   */
  seqBefore(at: number): number {
    const s = this.#statements;
    return this.#db
      .transaction(() => {
        const first = s.get(SQL.first).get() as Position | undefined;
        const last = s.get(SQL.last).get() as Position | undefined;
        if (first === undefined || last === undefined || first.at >= at) return 0;
        if (last.at < at) return last.seq;
        // lo is an event before `at`; no event at or after hi is.
        let lo = first.seq;
        let hi = last.seq;
        while (hi - lo > 1) {
          const middle = Math.floor((lo + hi) / 2);
          const probe = s.get(SQL.atOrAfter).get(middle) as Position;
          if (probe.seq < hi && probe.at < at) lo = probe.seq;
          else hi = middle;
        }
        return lo;
      })
      .deferred();
  }

  /**
   * Deletes the events outside the retention, oldest first, in chunks of PRUNE_CHUNK per
   * transaction. The newest event is never deleted, so the next seq stays above every seq
   * handed out.
   */
  prune(retention: EventRetention): number {
    const s = this.#statements;
    const last = (s.get(SQL.last).get() as Position | undefined)?.seq;
    if (last === undefined) return 0;

    let cut = 0;
    if (retention.maxEvents !== undefined) {
      const keep = Math.max(1, Math.trunc(retention.maxEvents));
      const first = (s.get(SQL.first).get() as Position).seq;
      // Seqs are never reused, so fewer seqs in the range than `keep` means nothing to cut.
      if (last - first + 1 > keep) {
        cut = (s.get(SQL.countCut).pluck().get(keep) as number | undefined) ?? 0;
      }
    }
    if (retention.before !== undefined) {
      cut = Math.max(cut, this.seqBefore(retention.before));
    }
    cut = Math.min(cut, last - 1);

    let removed = 0;
    const deleteChunk = s.get(SQL.deleteChunk);
    for (;;) {
      const changes = this.#db
        .transaction(() => deleteChunk.run(cut, PRUNE_CHUNK).changes)
        .immediate();
      removed += changes;
      if (changes < PRUNE_CHUNK) return removed;
    }
  }
}
