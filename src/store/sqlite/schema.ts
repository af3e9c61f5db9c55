/**
 * The SQLite schema of Cairn, as an ordered list of migrations.
 *
 * `PRAGMA user_version` stores the number of migrations applied. Each migration runs in its
 * own BEGIN IMMEDIATE transaction, so two processes that start at once apply it only once.
 * Migrations are append-only: a released migration is never edited, a new one is added.
 */
import type Database from 'better-sqlite3';

/**
 * Tables, one statement list per schema version.
 *
 * Object storage is split in two. `object_versions` stores the JSON of each object version
 * once, keyed by (id, version_key). `collection_entries` places a version in a collection,
 * with the values that queries filter on, so one version can sit in several collections.
 * Entries are clustered by (collection_seq, date_added), the TAXII sort order (TAXII 2.1
 * section 3.3), so a page is a range scan. `collection_seq` is the collection's small
 * integer key, used instead of its 36-character UUID to keep every entry and index short.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE api_roots (
    name TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT,
    max_content_length INTEGER NOT NULL
  ) STRICT;

  -- last_date_added is the high-water mark of date_added in the collection (microseconds).
  -- It only grows, so a value freed by a delete is never handed out again. spec_versions is
  -- a JSON array of every spec version ever added, which queries use to skip spec filters.
  -- Deletes leave it unchanged, so it may name a spec version no entry has any more.
  CREATE TABLE collections (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    api_root TEXT NOT NULL REFERENCES api_roots (name),
    title TEXT NOT NULL,
    description TEXT,
    alias TEXT,
    media_types TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_date_added INTEGER NOT NULL DEFAULT 0,
    spec_versions TEXT NOT NULL DEFAULT '[]',
    UNIQUE (api_root, alias)
  ) STRICT;
  CREATE INDEX collections_by_root ON collections (api_root, id);

  -- id_hash is idHash(id) from id-hash.ts. Collections share a row only when their copies
  -- of a version are byte-identical, so (id, version_key, json) is unique; addObjects
  -- ensures it inside its write transaction, because a unique index on the text would make
  -- every insert rewrite a random page of a large index.
  CREATE TABLE object_versions (
    vid INTEGER PRIMARY KEY,
    id_hash INTEGER NOT NULL,
    id TEXT NOT NULL,
    version_key TEXT NOT NULL,
    json TEXT NOT NULL
  ) STRICT;
  CREATE INDEX object_versions_by_id ON object_versions (id_hash);

  -- is_first and is_last mark the oldest and newest version of an object in the collection
  -- (TAXII 2.1 section 3.4.2, match[version]). Three partial indexes split the flagged
  -- entries into disjoint sets, so a first or last page merges index ranges that contain
  -- only matching entries, and a set with no entry past the cursor costs one seek.
  CREATE TABLE collection_entries (
    collection_seq INTEGER NOT NULL REFERENCES collections (seq),
    date_added INTEGER NOT NULL,
    id TEXT NOT NULL,
    version TEXT NOT NULL,
    version_key TEXT NOT NULL,
    type TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    media_type TEXT NOT NULL,
    is_first INTEGER NOT NULL,
    is_last INTEGER NOT NULL,
    vid INTEGER NOT NULL REFERENCES object_versions (vid),
    PRIMARY KEY (collection_seq, date_added)
  ) STRICT, WITHOUT ROWID;
  -- Lookups by STIX id go through object_versions and then this index. Its keys grow with
  -- vid, so inserts append to it.
  CREATE UNIQUE INDEX entries_by_vid ON collection_entries (vid, collection_seq);
  CREATE INDEX entries_single ON collection_entries (collection_seq, date_added)
    WHERE is_first = 1 AND is_last = 1;
  CREATE INDEX entries_first_only ON collection_entries (collection_seq, date_added)
    WHERE is_first = 1 AND is_last = 0;
  CREATE INDEX entries_last_only ON collection_entries (collection_seq, date_added)
    WHERE is_first = 0 AND is_last = 1;
  CREATE INDEX entries_by_type
    ON collection_entries (collection_seq, type, date_added, is_first, is_last);

  -- record is the whole StatusRecord as JSON; the key columns are copied out for lookups.
  CREATE TABLE statuses (
    api_root TEXT NOT NULL REFERENCES api_roots (name),
    id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (api_root, id)
  ) STRICT;
  CREATE INDEX statuses_by_expiry ON statuses (expires_at);

  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    created_at INTEGER NOT NULL,
    disabled INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    label TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    revoked_at INTEGER
  ) STRICT;
  CREATE INDEX tokens_by_user ON tokens (user_id, created_at);

  CREATE TABLE collection_grants (
    collection_id TEXT NOT NULL REFERENCES collections (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    can_read INTEGER NOT NULL,
    can_write INTEGER NOT NULL,
    PRIMARY KEY (collection_id, user_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX grants_by_user ON collection_grants (user_id);

  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
];

/** The schema version this code writes: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Applies the migrations the database lacks. Throws when the database was written by a newer
 * Cairn, because this code cannot know what that schema means.
 */
export function migrateSchema(db: Database.Database): void {
  for (;;) {
    const applied = db
      .transaction(() => {
        const current = db.pragma('user_version', { simple: true }) as number;
        if (current > SCHEMA_VERSION) {
          throw new Error(
            `database schema version ${current} is newer than the ${SCHEMA_VERSION} this ` +
              `Cairn supports: upgrade Cairn or open another database file`,
          );
        }
        const next = MIGRATIONS[current];
        if (next === undefined) return false;

        db.exec(next);
        db.pragma(`user_version = ${current + 1}`);
        return true;
      })
      .immediate();
    if (!applied) return;
  }
}
