/**
 * Correlation tables: which objects, in which collections and from which sources, mention
 * each observable value, and the sighting and false-positive reports of each organisation
 * on an object within one feedback scope (see Store.addObservableRefs and Store.addFeedback).
 *
 * A value's references stop growing at the cap the caller gives; the value is then marked
 * capped, so a value every feed mentions (a public resolver, an empty-file hash) costs a
 * bounded number of rows however much data arrives.
 */
import type Database from 'better-sqlite3';

import type { FeedbackChange, FeedbackReport, ObservableRef, ObservableStats } from '../store.ts';
import type { StatementCache } from './statements.ts';

/** Creates the tables; a migration in schema.ts. */
export function createCorrelationTables(db: Database.Database): void {
  db.exec(`
  CREATE TABLE observable_values (
    vid INTEGER PRIMARY KEY,
    value TEXT NOT NULL UNIQUE,
    refs INTEGER NOT NULL,
    capped INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE observable_refs (
    vid INTEGER NOT NULL REFERENCES observable_values (vid),
    object_id TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (vid, collection_id, object_id, source)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX observable_refs_by_object ON observable_refs (object_id, collection_id);
  CREATE TABLE object_feedback (
    object_id TEXT PRIMARY KEY,
    sightings INTEGER NOT NULL,
    false_positives INTEGER NOT NULL,
    last_sighting_at INTEGER
  ) STRICT, WITHOUT ROWID;
  `);
}

/**
 * Replaces the per-object counters with one report per (object, scope, organisation); a
 * migration in schema.ts. The old counters name neither the organisation nor the
 * community behind them, so showing them to any reader could leak. They are dropped, and
 * the count of dropped rows is kept in `settings` under `feedback.dropped-unscoped` for the
 * operator.
 */
export function createFeedbackReports(db: Database.Database): void {
  const dropped = db.prepare('SELECT count(*) FROM object_feedback').pluck().get() as number;
  db.exec(`
  DROP TABLE object_feedback;
  CREATE TABLE feedback_reports (
    object_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    organisation_id TEXT NOT NULL,
    sightings INTEGER NOT NULL,
    false_positive INTEGER NOT NULL,
    last_sighting_at INTEGER,
    PRIMARY KEY (object_id, scope, organisation_id)
  ) STRICT, WITHOUT ROWID;
  `);
  if (dropped > 0) {
    db.prepare(
      "INSERT OR REPLACE INTO settings (key, value) VALUES ('feedback.dropped-unscoped', ?)",
    ).run(String(dropped));
  }
}

interface RefRow {
  value: string;
  object_id: string;
  collection_id: string;
  source: string;
}

interface ValueRow {
  vid: number;
  refs: number;
  capped: number;
}

/** A value's row during addRefs: its count so far and the refs this call added. */
interface ValueCount {
  vid: number;
  refs: number;
  capped: boolean;
  added: number;
  /** Whether a ref of the value was left out because the value was at the cap. */
  turnedAway: boolean;
}

interface FeedbackRow {
  object_id: string;
  scope: string;
  organisation_id: string;
  sightings: number;
  false_positive: number;
  last_sighting_at: number | null;
}

function toRef(row: RefRow): ObservableRef {
  return {
    value: row.value,
    objectId: row.object_id,
    collectionId: row.collection_id,
    source: row.source,
  };
}

function toFeedback(row: FeedbackRow): FeedbackReport {
  const feedback: FeedbackReport = {
    objectId: row.object_id,
    scope: row.scope,
    organisationId: row.organisation_id,
    sightings: row.sightings,
    falsePositive: row.false_positive === 1,
  };
  if (row.last_sighting_at !== null) feedback.lastSightingAt = row.last_sighting_at;
  return feedback;
}

/**
 * Lists of ids or values are bound as one JSON array read with json_each, so one prepared
 * statement serves every list length.
 */
const IN_LIST = 'SELECT value FROM json_each(?)';

const FEEDBACK_COLUMNS =
  'object_id, scope, organisation_id, sightings, false_positive, last_sighting_at';

function checkCount(value: number, what: string, minimum: number): void {
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw new RangeError(`invalid ${what} ${value}: expected an integer of ${minimum} or more`);
  }
}

export class CorrelationTables {
  readonly #db: Database.Database;
  readonly #statements: StatementCache;

  constructor(db: Database.Database, statements: StatementCache) {
    this.#db = db;
    this.#statements = statements;
  }

  addRefs(refs: readonly ObservableRef[], capPerValue: number): number {
    checkCount(capPerValue, 'cap per value', 1);
    const s = this.#statements;
    const findValue = s.get('SELECT vid, refs, capped FROM observable_values WHERE value = ?');
    const insertValue = s.get(
      'INSERT INTO observable_values (value, refs, capped) VALUES (?, 0, 0)' +
        ' RETURNING vid, refs, capped',
    );
    const insertRef = s.get(
      'INSERT OR IGNORE INTO observable_refs (vid, object_id, collection_id, source)' +
        ' VALUES (?, ?, ?, ?)',
    );
    const countRefs = s.get('UPDATE observable_values SET refs = refs + ? WHERE vid = ?');
    const markCapped = s.get('UPDATE observable_values SET capped = 1 WHERE vid = ?');
    // Each value's row is read once and written at most twice per call, however many of the
    // refs name it. Reading a row costs far less than an upsert, which rewrites the row.
    const add = (): number => {
      const values = new Map<string, ValueCount>();
      let added = 0;
      for (const ref of refs) {
        let value = values.get(ref.value);
        if (value === undefined) {
          const row = (findValue.get(ref.value) ?? insertValue.get(ref.value)) as ValueRow;
          value = {
            vid: row.vid,
            refs: row.refs,
            capped: row.capped === 1,
            added: 0,
            turnedAway: false,
          };
          values.set(ref.value, value);
        }
        if (value.refs >= capPerValue) {
          // Marked capped only once a ref is turned away, as the PostgreSQL store does.
          value.turnedAway = true;
          continue;
        }
        if (insertRef.run(value.vid, ref.objectId, ref.collectionId, ref.source).changes > 0) {
          value.refs++;
          value.added++;
          added++;
        }
      }
      for (const value of values.values()) {
        if (value.added > 0) countRefs.run(value.added, value.vid);
        if (value.turnedAway && !value.capped) markCapped.run(value.vid);
      }
      return added;
    };
    return this.#db.transaction(add).immediate();
  }

  removeObjectRefs(collectionId: string, objectId: string): number {
    const remove = (): number => {
      const vids = this.#statements
        .get('SELECT vid FROM observable_refs WHERE object_id = ? AND collection_id = ?')
        .pluck()
        .all(objectId, collectionId) as number[];
      const removed = this.#statements
        .get('DELETE FROM observable_refs WHERE object_id = ? AND collection_id = ?')
        .run(objectId, collectionId).changes;
      const uncount = this.#statements.get(
        'UPDATE observable_values SET refs = refs - 1 WHERE vid = ?',
      );
      for (const vid of vids) uncount.run(vid);
      return removed;
    };
    return this.#db.transaction(remove).immediate();
  }

  findRefs(value: string, limit: number): ObservableRef[] {
    checkCount(limit, 'limit', 0);
    return (
      this.#statements
        .get(
          'SELECT v.value, r.object_id, r.collection_id, r.source FROM observable_values v' +
            ' JOIN observable_refs r ON r.vid = v.vid WHERE v.value = ?' +
            ' ORDER BY r.collection_id, r.object_id, r.source LIMIT ?',
        )
        .all(value, limit) as RefRow[]
    ).map(toRef);
  }

  objectRefs(objectIds: readonly string[]): ObservableRef[] {
    const rows = this.#statements
      .get(
        'SELECT v.value, r.object_id, r.collection_id, r.source FROM observable_refs r' +
          ` JOIN observable_values v ON v.vid = r.vid WHERE r.object_id IN (${IN_LIST})` +
          ' ORDER BY r.object_id, r.collection_id, v.value, r.source',
      )
      .all(JSON.stringify(objectIds)) as RefRow[];
    return rows.map(toRef);
  }

  stats(values: readonly string[]): ObservableStats[] {
    const rows = this.#statements
      .get(
        `SELECT value, refs, capped FROM observable_values WHERE value IN (${IN_LIST})` +
          ' ORDER BY value',
      )
      .all(JSON.stringify(values)) as Array<{ value: string; refs: number; capped: number }>;
    return rows.map((row) => ({ value: row.value, refs: row.refs, capped: row.capped === 1 }));
  }

  addFeedback(change: FeedbackChange): FeedbackReport {
    const sightings = change.sightings ?? 0;
    checkCount(sightings, 'sightings change', 0);
    const row = this.#statements
      .get(
        `INSERT INTO feedback_reports (${FEEDBACK_COLUMNS})` +
          ' VALUES (@objectId, @scope, @organisationId, @sightings, @falsePositive, @lastSighting)' +
          ' ON CONFLICT (object_id, scope, organisation_id) DO UPDATE SET' +
          ` sightings = min(sightings + excluded.sightings, ${Number.MAX_SAFE_INTEGER}),` +
          ' false_positive = max(false_positive, excluded.false_positive),' +
          ' last_sighting_at = max(coalesce(last_sighting_at, 0),' +
          ' coalesce(excluded.last_sighting_at, 0))' +
          ` RETURNING ${FEEDBACK_COLUMNS}`,
      )
      .get({
        objectId: change.objectId,
        scope: change.scope,
        organisationId: change.organisationId,
        sightings,
        falsePositive: change.falsePositive === true ? 1 : 0,
        lastSighting: sightings > 0 ? change.at : null,
      }) as FeedbackRow;
    // max(coalesce(...)) turns a never-sighted object's NULL into 0; read 0 back as absent.
    return toFeedback({ ...row, last_sighting_at: row.last_sighting_at || null });
  }

  getFeedback(objectIds: readonly string[], scopes: readonly string[]): FeedbackReport[] {
    const rows = this.#statements
      .get(
        `SELECT ${FEEDBACK_COLUMNS} FROM feedback_reports` +
          ` WHERE object_id IN (${IN_LIST}) AND scope IN (${IN_LIST})` +
          ' ORDER BY object_id, scope, organisation_id',
      )
      .all(JSON.stringify(objectIds), JSON.stringify(scopes)) as FeedbackRow[];
    return rows.map(toFeedback);
  }
}
