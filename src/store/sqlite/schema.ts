/**
 * The SQLite schema of Cairn, as an ordered list of migrations.
 *
 * `PRAGMA user_version` stores the number of migrations applied. Each migration runs in its
 * own BEGIN IMMEDIATE transaction, so two processes that start at once apply it only once.
 * Migrations are append-only: a released migration is never edited, a new one is added.
 */
import { randomUUID } from 'node:crypto';

import type Database from 'better-sqlite3';

import { nowMicros } from '../../stix/timestamp.ts';
import { buildIdentity } from '../identity.ts';
import { createCorrelationTables, createFeedbackReports } from './correlation.ts';
import {
  createHuntKeyTables,
  DROP_HUNT_KEYS_BY_OBJECT,
  INDEX_HUNT_KEYS_BY_OBJECT,
} from './hunt-keys.ts';

/** A migration: SQL text, or a function for steps that need values computed in JavaScript. */
type Migration = string | ((db: Database.Database) => void);

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
const MIGRATIONS: readonly Migration[] = [
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
  migrateToSharingModel,
  createDocumentsTable,
  createCorrelationTables,
  createEventLog,
  createHuntKeyTables,
  INDEX_HUNT_KEYS_BY_OBJECT,
  DROP_HUNT_KEYS_BY_OBJECT,
  createFeedbackReports,
];

/** The schema version this code writes: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Applies the migrations the database lacks. Throws when the database was written by a newer
 * Cairn, because this code cannot know what that schema means.
 */
export function migrateSchema(db: Database.Database, target = SCHEMA_VERSION): void {
  // Rebuilding a table that others reference needs foreign key enforcement off, which
  // SQLite only allows outside a transaction; checkForeignKeys verifies each migration.
  const enforced = db.pragma('foreign_keys', { simple: true }) as number;
  db.pragma('foreign_keys = OFF');
  try {
    applyMigrations(db, target);
  } finally {
    db.pragma(`foreign_keys = ${enforced}`);
  }
}

function checkForeignKeys(db: Database.Database): void {
  const broken = db.pragma('foreign_key_check') as unknown[];
  if (broken.length > 0) {
    throw new Error(
      `migration left ${broken.length} broken foreign keys: ${JSON.stringify(broken[0])}`,
    );
  }
}

/** Applies migrations up to `target`, an earlier version only in upgrade tests. */
function applyMigrations(db: Database.Database, target: number): void {
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
        const next = current < target ? MIGRATIONS[current] : undefined;
        if (next === undefined) return false;

        if (typeof next === 'string') db.exec(next);
        else next(db);
        checkForeignKeys(db);
        db.pragma(`user_version = ${current + 1}`);
        return true;
      })
      .immediate();
    if (!applied) return;
  }
}

/**
 * Schema version 2: organisations, communities and the sharing facts of each entry.
 *
 * `audience` is the index of the entry's audience in AUDIENCES (0 everyone, 1 members and
 * clients, 2 members, 3 recipients), so a reader's filter is one comparison. Entries
 * stored before this version get 2 (members), since no TLP was computed for them.
 */
const SHARING_TABLES = `
  CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    identity TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;

  -- A directed relation: the provider's clients read the AMBER objects of its communities.
  CREATE TABLE organisation_clients (
    provider_id TEXT NOT NULL REFERENCES organisations (id),
    client_id TEXT NOT NULL REFERENCES organisations (id),
    PRIMARY KEY (provider_id, client_id),
    CHECK (provider_id <> client_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX clients_by_client ON organisation_clients (client_id, provider_id);

  CREATE TABLE users_v2 (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    role TEXT NOT NULL
      CHECK (role IN ('platform-admin', 'org-admin', 'analyst', 'read-only')),
    created_at INTEGER NOT NULL,
    disabled INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE communities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL,
    default_tlp TEXT NOT NULL CHECK (default_tlp IN ('clear', 'green', 'amber', 'amber+strict')),
    allow_anonymous INTEGER NOT NULL,
    publish_clear INTEGER NOT NULL,
    identity TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE community_members (
    community_id TEXT NOT NULL REFERENCES communities (id),
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    PRIMARY KEY (community_id, organisation_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX members_by_organisation ON community_members (organisation_id, community_id);

  CREATE TABLE community_moderators (
    community_id TEXT NOT NULL REFERENCES communities (id),
    user_id TEXT NOT NULL REFERENCES users_v2 (id),
    PRIMARY KEY (community_id, user_id)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('invitation', 'request')),
    community_id TEXT NOT NULL REFERENCES communities (id),
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'declined')),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    answered_by TEXT,
    answered_at INTEGER
  ) STRICT;
  CREATE INDEX invitations_by_community ON invitations (community_id, state);
  CREATE INDEX invitations_by_organisation ON invitations (organisation_id, state);

  ALTER TABLE collections ADD COLUMN community_id TEXT REFERENCES communities (id);
  CREATE INDEX collections_by_community ON collections (community_id, id);

  ALTER TABLE collection_entries ADD COLUMN audience INTEGER NOT NULL DEFAULT 2;
  ALTER TABLE collection_entries ADD COLUMN contributor_id TEXT;
  ALTER TABLE collection_entries ADD COLUMN contributor_organisation_id TEXT;
  -- The TLP levels that applied, comma-separated; empty for entries older than this schema.
  ALTER TABLE collection_entries ADD COLUMN tlp TEXT NOT NULL DEFAULT '';
  ALTER TABLE collection_entries ADD COLUMN granular INTEGER NOT NULL DEFAULT 0;
  -- For audience 3: the audience, as an index, that a recipient must also belong to.
  ALTER TABLE collection_entries ADD COLUMN recipients_within INTEGER NOT NULL DEFAULT 0;

  -- Users named as recipients of a RED entry, besides its contributor.
  CREATE TABLE entry_recipients (
    collection_seq INTEGER NOT NULL,
    date_added INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (collection_seq, date_added, user_id)
  ) STRICT, WITHOUT ROWID;

  -- details is a JSON object. anonymous marks entries naming the real contributor of an
  -- anonymous share, which only platform admins read.
  CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    action TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT,
    organisation_id TEXT,
    source_address TEXT,
    target TEXT,
    details TEXT NOT NULL,
    anonymous INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX audit_by_organisation ON audit_log (organisation_id, seq);

  DROP TABLE collection_grants;
`;

/**
 * Names of the organisation and community that hold what existed before version 2; the
 * same names that first-start setup (src/bootstrap.ts) gives them.
 */
const LOCAL_ORGANISATION = 'local';
const DEFAULT_COMMUNITY = 'default';

/**
 * Moves version 1 data into the sharing model: users join a `local` organisation (admin
 * becomes platform-admin, user becomes analyst), and existing collections go to a `default`
 * community of which `local` is the member and the platform admins the moderators.
 */
function migrateToSharingModel(db: Database.Database): void {
  db.exec(SHARING_TABLES);

  const userCount = db.prepare('SELECT count(*) FROM users').pluck().get() as number;
  const collectionCount = db.prepare('SELECT count(*) FROM collections').pluck().get() as number;
  let organisationId: string | undefined;
  if (userCount > 0 || collectionCount > 0) {
    organisationId = randomUUID();
    const identity = buildIdentity({ name: LOCAL_ORGANISATION, identityClass: 'organization' });
    db.prepare(
      'INSERT INTO organisations (id, name, identity, created_at) VALUES (?, ?, ?, ?)',
    ).run(organisationId, LOCAL_ORGANISATION, JSON.stringify(identity), nowMicros());
  }
  db.prepare(
    'INSERT INTO users_v2 (id, name, organisation_id, role, created_at, disabled)' +
      " SELECT id, name, ?, CASE role WHEN 'admin' THEN 'platform-admin' ELSE 'analyst' END," +
      ' created_at, disabled FROM users',
  ).run(organisationId ?? null);
  db.exec('DROP TABLE users; ALTER TABLE users_v2 RENAME TO users;');
  db.exec('CREATE INDEX users_by_organisation ON users (organisation_id, name);');

  if (collectionCount > 0 && organisationId !== undefined) {
    const communityId = randomUUID();
    const identity = buildIdentity({ name: DEFAULT_COMMUNITY, identityClass: 'group' });
    db.prepare(
      'INSERT INTO communities (id, name, description, default_tlp, allow_anonymous,' +
        " publish_clear, identity, created_at) VALUES (?, ?, ?, 'green', 0, 0, ?, ?)",
    ).run(
      communityId,
      DEFAULT_COMMUNITY,
      'Created on upgrade',
      JSON.stringify(identity),
      nowMicros(),
    );
    db.prepare('INSERT INTO community_members VALUES (?, ?)').run(communityId, organisationId);
    db.prepare(
      "INSERT INTO community_moderators SELECT ?, id FROM users WHERE role = 'platform-admin'",
    ).run(communityId);
    db.prepare('UPDATE collections SET community_id = ?').run(communityId);
  }
}

/**
 * Documents of features that need no tables of their own (see DocumentRecord). Ordinary
 * rowid table rather than WITHOUT ROWID, because bodies such as a webhook delivery's payload
 * may span several pages. The partial index on due holds only documents that wait for
 * work, so claiming them is a short range scan however many finished ones there are.
 * A function, like the sharing migration, so the list above can name it before this point.
 */
function createDocumentsTable(db: Database.Database): void {
  db.exec(`
  CREATE TABLE documents (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    owner TEXT,
    key TEXT,
    due INTEGER,
    body TEXT NOT NULL,
    revision INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (kind, id)
  ) STRICT;
  CREATE UNIQUE INDEX documents_by_key ON documents (kind, key) WHERE key IS NOT NULL;
  CREATE INDEX documents_by_owner ON documents (kind, owner, id) WHERE owner IS NOT NULL;
  CREATE INDEX documents_by_due ON documents (kind, due, id) WHERE due IS NOT NULL;
  `);
}

/**
 * The event log (see EventRecord). An event refers to the stored JSON of its version by
 * `vid` while a collection contains that version, so the log does not store every object twice.
 * Before the last entry of a version goes, deleteObject copies the JSON into `json` and
 * clears `vid`, so deletes never break the log. Events refer to no other table by foreign
 * key. seq is never reused without AUTOINCREMENT, because pruning always keeps the newest
 * event and SQLite gives a new row the largest seq plus one. `sharing` is the EntrySharing
 * of the version as JSON. `at` grows with seq (see EventAppender), so eventSeqBefore is a
 * binary search over seq and needs no index.
 */
function createEventLog(db: Database.Database): void {
  db.exec(`
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('created', 'updated', 'revoked', 'deleted')),
    collection_id TEXT NOT NULL,
    community_id TEXT,
    object_id TEXT NOT NULL,
    object_type TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    version TEXT NOT NULL,
    version_key TEXT NOT NULL,
    date_added INTEGER NOT NULL,
    vid INTEGER,
    json TEXT,
    sharing TEXT NOT NULL
  ) STRICT;
  CREATE INDEX events_by_vid ON events (vid) WHERE vid IS NOT NULL;
  `);
}
