/**
 * The retro-hunt key index on PostgreSQL (see Store.addHuntKeys): look-up keys of the
 * objects of each collection, and each collection's indexed mark. The primary key is
 * (collection, key, object) with keys in the "C" collation, so an exact key and a key
 * prefix are both one range of it, in the order queries return.
 */
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
import type { Connection } from './connection.ts';

const SQL = {
  collectionSeq: 'SELECT seq FROM collections WHERE id = $1 FOR SHARE',
  insertKeys:
    'INSERT INTO hunt_keys (collection_seq, key, object_id)' +
    ' SELECT $1::integer, u.key, u.object_id FROM unnest($2::text[], $3::text[])' +
    ' AS u (key, object_id) ON CONFLICT DO NOTHING',
  raiseMark:
    'INSERT INTO hunt_key_marks (collection_seq, up_to) VALUES ($1, $2)' +
    ' ON CONFLICT (collection_seq) DO UPDATE' +
    ' SET up_to = greatest(hunt_key_marks.up_to, excluded.up_to)',
  mark:
    'SELECT m.up_to FROM collections AS c JOIN hunt_key_marks AS m' +
    ' ON m.collection_seq = c.seq WHERE c.id = $1',
  findKeys:
    'SELECT k.key, k.object_id AS "objectId" FROM hunt_keys AS k' +
    ' WHERE k.collection_seq = (SELECT seq FROM collections WHERE id = $1)' +
    ' AND k.key = ANY ($2::text[]) AND (k.key, k.object_id) > ($3, $4)' +
    ' ORDER BY k.key, k.object_id LIMIT $5',
  findPrefix:
    'SELECT k.key, k.object_id AS "objectId" FROM hunt_keys AS k' +
    ' WHERE k.collection_seq = (SELECT seq FROM collections WHERE id = $1)' +
    ' AND k.key >= $2 AND k.key < $3 AND (k.key, k.object_id) > ($4, $5)' +
    ' ORDER BY k.key, k.object_id LIMIT $6',
  // The mark row is locked for the whole transaction, so an addHuntKeys of the collection
  // (which raises the mark last) commits either before the newest version is read or
  // after this transaction.
  lockMark:
    'SELECT m.collection_seq AS seq FROM collections AS c JOIN hunt_key_marks AS m' +
    ' ON m.collection_seq = c.seq WHERE c.id = $1 FOR UPDATE OF m',
  newestVersions:
    'SELECT id, max(date_added) AS newest FROM collection_entries' +
    ' WHERE collection_seq = $1 AND id = ANY ($2::text[]) GROUP BY id',
  // A scan of the collection's rows: an index by object would slow down every insert.
  deleteOtherKeys:
    'DELETE FROM hunt_keys AS h WHERE h.collection_seq = $1 AND h.object_id = ANY ($2::text[])' +
    ' AND NOT EXISTS (SELECT 1 FROM unnest($3::text[], $4::text[]) AS w (key, object_id)' +
    ' WHERE w.key = h.key AND w.object_id = h.object_id)',
} as const;

/** Rows inserted per statement, so one call with a million keys sends bounded arrays. */
const INSERT_BATCH = 10_000;

export class HuntKeyTables {
  readonly #connection: Connection;

  constructor(connection: Connection) {
    this.#connection = connection;
  }

  async add(collectionId: string, keys: readonly HuntKey[], upTo: number): Promise<number> {
    checkHuntKeys(keys, upTo);
    return this.#connection.transaction(async (client) => {
      const [collection] = await client.query<{ seq: number }>({
        name: 'cairn_hunt_collection',
        text: SQL.collectionSeq,
        values: [collectionId],
      });
      if (collection === undefined) {
        throw new StoreConflictError(`collection ${collectionId} not found`);
      }
      let added = 0;
      for (let start = 0; start < keys.length; start += INSERT_BATCH) {
        const batch = keys.slice(start, start + INSERT_BATCH);
        added += await client.run({
          name: 'cairn_insert_hunt_keys',
          text: SQL.insertKeys,
          values: [collection.seq, batch.map((row) => row.key), batch.map((row) => row.objectId)],
        });
      }
      await client.run({
        name: 'cairn_raise_hunt_mark',
        text: SQL.raiseMark,
        values: [collection.seq, upTo],
      });
      return added;
    });
  }

  async setObjectKeys(collectionId: string, objects: readonly ObjectHuntKeys[]): Promise<string[]> {
    checkObjectHuntKeys(objects);
    if (objects.length === 0) return [];
    return this.#connection.transaction(async (client) => {
      // Without a mark nothing of the collection is indexed, so there is no row to set.
      const [collection] = await client.query<{ seq: number }>({
        name: 'cairn_lock_hunt_mark',
        text: SQL.lockMark,
        values: [collectionId],
      });
      if (collection === undefined) return [];
      const ids = [...new Set(objects.map((object) => object.objectId))];
      const versions = await client.query<{ id: string; newest: number }>({
        name: 'cairn_newest_object_versions',
        text: SQL.newestVersions,
        values: [collection.seq, ids],
      });
      const newest = new Map(versions.map((row) => [row.id, row.newest]));
      const skipped: string[] = [];
      const keysByObject = new Map<string, Set<string>>();
      for (const { objectId, keys, readUpTo } of objects) {
        const added = newest.get(objectId);
        if (added !== undefined && added > readUpTo) skipped.push(objectId);
        else keysByObject.set(objectId, new Set(keys));
      }
      if (keysByObject.size === 0) return skipped;
      const keys: string[] = [];
      const owners: string[] = [];
      for (const [objectId, objectKeys] of keysByObject) {
        for (const key of objectKeys) {
          keys.push(key);
          owners.push(objectId);
        }
      }
      await client.run({
        name: 'cairn_delete_other_hunt_keys',
        text: SQL.deleteOtherKeys,
        values: [collection.seq, [...keysByObject.keys()], keys, owners],
      });
      for (let start = 0; start < keys.length; start += INSERT_BATCH) {
        await client.run({
          name: 'cairn_insert_hunt_keys',
          text: SQL.insertKeys,
          values: [
            collection.seq,
            keys.slice(start, start + INSERT_BATCH),
            owners.slice(start, start + INSERT_BATCH),
          ],
        });
      }
      return skipped;
    });
  }

  async mark(collectionId: string): Promise<number> {
    const [row] = await this.#connection.query<{ up_to: number }>({
      name: 'cairn_hunt_mark',
      text: SQL.mark,
      values: [collectionId],
    });
    return row?.up_to ?? 0;
  }

  async find(query: HuntKeyQuery): Promise<HuntKey[]> {
    checkHuntKeyQuery(query);
    if (query.limit === 0) return [];
    const [afterKey, afterObject] = cursorOf(query);
    if (query.prefix !== undefined) {
      return this.#connection.query<HuntKey>({
        name: 'cairn_find_hunt_prefix',
        text: SQL.findPrefix,
        values: [
          query.collectionId,
          query.prefix,
          prefixEnd(query.prefix),
          afterKey,
          afterObject,
          query.limit,
        ],
      });
    }
    return this.#connection.query<HuntKey>({
      name: 'cairn_find_hunt_keys',
      text: SQL.findKeys,
      values: [query.collectionId, [...new Set(query.keys)], afterKey, afterObject, query.limit],
    });
  }
}
