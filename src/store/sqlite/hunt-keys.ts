/**
 * The retro-hunt key index on SQLite (see Store.addHuntKeys): look-up keys of the objects
 * of each collection, and each collection's indexed mark. Rows are clustered by
 * (collection, key, object), so both an exact key and a key prefix are one range of the
 * primary key, read in the order queries return.
 */
import type Database from 'better-sqlite3';

import {
  checkHuntKeyQuery,
  checkHuntKeys,
  checkObjectHuntKeys,
  cursorOf,
  prefixEnd,
} from '../hunt-keys.ts';
import {
  StoreConflictError,
  type HuntKey,
  type HuntKeyQuery,
  type ObjectHuntKeys,
} from '../store.ts';
import { idHash } from './id-hash.ts';
import type { StatementCache } from './statements.ts';

/** Creates the tables, as one migration of schema.ts. */
export function createHuntKeyTables(db: Database.Database): void {
  db.exec(`
  CREATE TABLE hunt_keys (
    collection_seq INTEGER NOT NULL REFERENCES collections (seq),
    key TEXT NOT NULL,
    object_id TEXT NOT NULL,
    PRIMARY KEY (collection_seq, key, object_id)
  ) STRICT, WITHOUT ROWID;
  -- up_to: the date_added up to which every version of the collection has its keys stored.
  CREATE TABLE hunt_key_marks (
    collection_seq INTEGER PRIMARY KEY REFERENCES collections (seq),
    up_to INTEGER NOT NULL
  ) STRICT;
  `);
}

/**
 * Indexes the key rows by object, as one migration of schema.ts. DROP_HUNT_KEYS_BY_OBJECT,
 * a later one, drops it again: keeping it up took building the key index from about 3.5 to
 * 6 CPU s per 200,000 indicators (bench/watch-retrohunt.ts).
 */
export const INDEX_HUNT_KEYS_BY_OBJECT =
  'CREATE INDEX hunt_keys_by_object ON hunt_keys (collection_seq, object_id);';

export const DROP_HUNT_KEYS_BY_OBJECT = 'DROP INDEX hunt_keys_by_object;';

const COLLECTION_SEQ = 'SELECT seq FROM collections WHERE id = ?';

const NEWEST_VERSION =
  'SELECT max(e.date_added) FROM object_versions AS v CROSS JOIN collection_entries AS e' +
  ' INDEXED BY entries_by_vid ON e.vid = v.vid AND e.collection_seq = ?' +
  ' WHERE v.id_hash = ? AND v.id = ?';

// A scan of the collection's rows: an index by object would slow down every insert.
const OBJECT_ROWS =
  'SELECT key, object_id AS objectId FROM hunt_keys' +
  ' WHERE collection_seq = ? AND object_id IN (SELECT value FROM json_each(?))';

const INSERT_KEY =
  'INSERT OR IGNORE INTO hunt_keys (collection_seq, key, object_id) VALUES (?, ?, ?)';

const FIND_KEYS =
  'SELECT key, object_id AS objectId FROM hunt_keys WHERE collection_seq = ?' +
  ' AND key IN (SELECT value FROM json_each(?)) AND (key, object_id) > (?, ?)' +
  ' ORDER BY key, object_id LIMIT ?';

const FIND_PREFIX =
  'SELECT key, object_id AS objectId FROM hunt_keys WHERE collection_seq = ?' +
  ' AND key >= ? AND key < ? AND (key, object_id) > (?, ?) ORDER BY key, object_id LIMIT ?';

export class HuntKeyTables {
  readonly #db: Database.Database;
  readonly #statements: StatementCache;

  constructor(db: Database.Database, statements: StatementCache) {
    this.#db = db;
    this.#statements = statements;
  }

  #collectionSeq(collectionId: string): number | undefined {
    return this.#statements.get(COLLECTION_SEQ).pluck().get(collectionId) as number | undefined;
  }

  add(collectionId: string, keys: readonly HuntKey[], upTo: number): number {
    checkHuntKeys(keys, upTo);
    const insert = this.#statements.get(INSERT_KEY);
    const raiseMark = this.#statements.get(
      'INSERT INTO hunt_key_marks (collection_seq, up_to) VALUES (?, ?)' +
        ' ON CONFLICT (collection_seq) DO UPDATE SET up_to = max(up_to, excluded.up_to)',
    );
    const add = (): number => {
      const seq = this.#collectionSeq(collectionId);
      if (seq === undefined) {
        throw new StoreConflictError(`collection ${collectionId} not found`);
      }
      let added = 0;
      for (const row of keys) added += insert.run(seq, row.key, row.objectId).changes;
      raiseMark.run(seq, upTo);
      return added;
    };
    return this.#db.transaction(add).immediate();
  }

  /**
   * Sets the rows of the objects in one immediate transaction, which also reads each
   * object's newest version, so no write of another connection comes in between.
   */
  setObjectKeys(collectionId: string, objects: readonly ObjectHuntKeys[]): string[] {
    checkObjectHuntKeys(objects);
    if (objects.length === 0) return [];
    const set = (): string[] => {
      const seq = this.#collectionSeq(collectionId);
      if (seq === undefined) return [];
      // Without a mark nothing of the collection is indexed, so there is no row to set.
      const marked = this.#statements
        .get('SELECT 1 FROM hunt_key_marks WHERE collection_seq = ?')
        .pluck()
        .get(seq);
      if (marked === undefined) return [];

      const newest = this.#statements.get(NEWEST_VERSION).pluck();
      const skipped: string[] = [];
      const keysByObject = new Map<string, Set<string>>();
      for (const { objectId, keys, readUpTo } of objects) {
        const added = newest.get(seq, idHash(objectId), objectId) as number | null;
        if (added !== null && added > readUpTo) skipped.push(objectId);
        else keysByObject.set(objectId, new Set(keys));
      }
      if (keysByObject.size === 0) return skipped;

      const stored = this.#statements
        .get(OBJECT_ROWS)
        .all(seq, JSON.stringify([...keysByObject.keys()])) as HuntKey[];
      const remove = this.#statements.get(
        'DELETE FROM hunt_keys WHERE collection_seq = ? AND key = ? AND object_id = ?',
      );
      for (const row of stored) {
        if (!keysByObject.get(row.objectId)!.has(row.key)) remove.run(seq, row.key, row.objectId);
      }
      const insert = this.#statements.get(INSERT_KEY);
      for (const [objectId, keys] of keysByObject) {
        for (const key of keys) insert.run(seq, key, objectId);
      }
      return skipped;
    };
    return this.#db.transaction(set).immediate();
  }

  mark(collectionId: string): number {
    const upTo = this.#statements
      .get(
        'SELECT m.up_to FROM collections AS c JOIN hunt_key_marks AS m' +
          ' ON m.collection_seq = c.seq WHERE c.id = ?',
      )
      .pluck()
      .get(collectionId) as number | undefined;
    return upTo ?? 0;
  }

  find(query: HuntKeyQuery): HuntKey[] {
    checkHuntKeyQuery(query);
    const seq = this.#collectionSeq(query.collectionId);
    if (seq === undefined || query.limit === 0) return [];
    const [afterKey, afterObject] = cursorOf(query);
    if (query.prefix !== undefined) {
      return this.#statements
        .get(FIND_PREFIX)
        .all(
          seq,
          query.prefix,
          prefixEnd(query.prefix),
          afterKey,
          afterObject,
          query.limit,
        ) as HuntKey[];
    }
    const keys = JSON.stringify([...new Set(query.keys)]);
    return this.#statements
      .get(FIND_KEYS)
      .all(seq, keys, afterKey, afterObject, query.limit) as HuntKey[];
  }
}
