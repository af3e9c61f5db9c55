/**
 * The PostgreSQL schema of Cairn, as an ordered list of migrations.
 *
 * `schema_migrations` records each applied version. Migrations run under a
 * transaction-level advisory lock, so when several nodes start at once one applies the
 * pending versions and the others wait, then find them applied. Each migration runs in the
 * same transaction as its row in `schema_migrations`; PostgreSQL's DDL is transactional,
 * so a failed migration leaves nothing behind. Migrations are append-only: a released one
 * is never edited, a new one is added.
 *
 * Every text column that is compared or sorted uses the "C" collation, which orders by
 * code point as SQLite's BINARY does, whatever the database's default collation is.
 */
import type { PoolClient } from 'pg';

/** The letters that ascii_fold turns into lower case. */
const ASCII_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Version 1: the whole schema of Cairn as it was when the PostgreSQL store was written.
 *
 * - `ascii_fold` folds A-Z only, matching SQLite's NOCASE, so organisation and community
 *   names compare without regard to ASCII case on both stores.
 * - `object_versions` keeps the JSON of a version once for every collection that holds a
 *   byte-identical copy; `json_hash` is its SHA-256, so the unique key stays short.
 * - `collection_entries` places a version in a collection. Its primary key is the TAXII
 *   sort order (collection, date_added), so a page is a range scan. is_first and is_last
 *   mark the oldest and newest version of an object in the collection; three partial
 *   indexes split the flagged entries into disjoint sets, so a `first` or `last` page
 *   merges index ranges that hold only matching entries.
 * - `collections.last_date_added` is the high-water mark of date_added, which only grows,
 *   so a value freed by a delete is never handed out again. `spec_versions` lists every
 *   spec version ever added; deletes leave it unchanged.
 * - `events.at` never decreases with seq (see event-log.ts).
 */
const VERSION_1 = `
  CREATE FUNCTION ascii_fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT translate(value, '${ASCII_LETTERS}', '${ASCII_LETTERS.toLowerCase()}') $$;

  CREATE TABLE api_roots (
    name text COLLATE "C" PRIMARY KEY,
    title text NOT NULL,
    description text,
    max_content_length bigint NOT NULL
  );

  CREATE TABLE organisations (
    id text COLLATE "C" PRIMARY KEY,
    name text COLLATE "C" NOT NULL,
    identity text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE UNIQUE INDEX organisations_by_name ON organisations (ascii_fold(name));

  CREATE TABLE organisation_clients (
    provider_id text COLLATE "C" NOT NULL REFERENCES organisations (id),
    client_id text COLLATE "C" NOT NULL REFERENCES organisations (id),
    PRIMARY KEY (provider_id, client_id),
    CHECK (provider_id <> client_id)
  );
  CREATE INDEX clients_by_client ON organisation_clients (client_id, provider_id);

  CREATE TABLE users (
    id text COLLATE "C" PRIMARY KEY,
    name text COLLATE "C" NOT NULL CONSTRAINT users_name_key UNIQUE,
    organisation_id text COLLATE "C" NOT NULL REFERENCES organisations (id),
    role text NOT NULL
      CHECK (role IN ('platform-admin', 'org-admin', 'analyst', 'read-only')),
    created_at bigint NOT NULL,
    disabled boolean NOT NULL
  );
  CREATE INDEX users_by_organisation ON users (organisation_id, name);

  CREATE TABLE communities (
    id text COLLATE "C" PRIMARY KEY,
    name text COLLATE "C" NOT NULL,
    description text NOT NULL,
    default_tlp text NOT NULL CHECK (default_tlp IN ('clear', 'green', 'amber', 'amber+strict')),
    allow_anonymous boolean NOT NULL,
    publish_clear boolean NOT NULL,
    identity text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE UNIQUE INDEX communities_by_name ON communities (ascii_fold(name));

  CREATE TABLE community_members (
    community_id text COLLATE "C" NOT NULL REFERENCES communities (id),
    organisation_id text COLLATE "C" NOT NULL REFERENCES organisations (id),
    PRIMARY KEY (community_id, organisation_id)
  );
  CREATE INDEX members_by_organisation ON community_members (organisation_id, community_id);

  CREATE TABLE community_moderators (
    community_id text COLLATE "C" NOT NULL REFERENCES communities (id),
    user_id text COLLATE "C" NOT NULL REFERENCES users (id),
    PRIMARY KEY (community_id, user_id)
  );

  CREATE TABLE invitations (
    id text COLLATE "C" PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('invitation', 'request')),
    community_id text COLLATE "C" NOT NULL REFERENCES communities (id),
    organisation_id text COLLATE "C" NOT NULL REFERENCES organisations (id),
    state text NOT NULL CHECK (state IN ('pending', 'accepted', 'declined')),
    created_by text NOT NULL,
    created_at bigint NOT NULL,
    answered_by text,
    answered_at bigint
  );
  CREATE INDEX invitations_by_community ON invitations (community_id, state);
  CREATE INDEX invitations_by_organisation ON invitations (organisation_id, state);

  CREATE TABLE collections (
    seq integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id text COLLATE "C" NOT NULL CONSTRAINT collections_id_key UNIQUE,
    api_root text COLLATE "C" NOT NULL REFERENCES api_roots (name),
    title text NOT NULL,
    description text,
    alias text COLLATE "C",
    media_types text[] NOT NULL,
    created_at bigint NOT NULL,
    last_date_added bigint NOT NULL DEFAULT 0,
    spec_versions text[] COLLATE "C" NOT NULL DEFAULT '{}',
    community_id text COLLATE "C" REFERENCES communities (id),
    CONSTRAINT collections_alias_key UNIQUE (api_root, alias)
  );
  CREATE INDEX collections_by_root ON collections (api_root, id);
  CREATE INDEX collections_by_community ON collections (community_id, id);

  CREATE TABLE object_versions (
    vid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id text COLLATE "C" NOT NULL,
    version_key text COLLATE "C" NOT NULL,
    json_hash bytea NOT NULL,
    json text NOT NULL,
    CONSTRAINT object_versions_copy_key UNIQUE (id, version_key, json_hash)
  );

  -- audience is the index of the entry's audience in AUDIENCES (0 everyone, 1 members and
  -- clients, 2 members, 3 recipients), so a reader's filter is one comparison.
  -- recipients_within is, for audience 3, the audience that recipients must also belong to.
  CREATE TABLE collection_entries (
    collection_seq integer NOT NULL REFERENCES collections (seq),
    date_added bigint NOT NULL,
    id text COLLATE "C" NOT NULL,
    version text NOT NULL,
    version_key text COLLATE "C" NOT NULL,
    type text COLLATE "C" NOT NULL,
    spec_version text COLLATE "C" NOT NULL,
    is_first boolean NOT NULL,
    is_last boolean NOT NULL,
    vid bigint NOT NULL REFERENCES object_versions (vid),
    audience smallint NOT NULL,
    contributor_id text COLLATE "C",
    contributor_organisation_id text COLLATE "C",
    tlp text[] COLLATE "C" NOT NULL,
    granular boolean NOT NULL,
    recipients_within smallint NOT NULL,
    PRIMARY KEY (collection_seq, date_added)
  );
  CREATE UNIQUE INDEX entries_by_object ON collection_entries (collection_seq, id, version_key);
  CREATE INDEX entries_by_vid ON collection_entries (vid);
  CREATE INDEX entries_by_type ON collection_entries (collection_seq, type, date_added);
  CREATE INDEX entries_single ON collection_entries (collection_seq, date_added)
    WHERE is_first AND is_last;
  CREATE INDEX entries_first_only ON collection_entries (collection_seq, date_added)
    WHERE is_first AND NOT is_last;
  CREATE INDEX entries_last_only ON collection_entries (collection_seq, date_added)
    WHERE is_last AND NOT is_first;

  -- Users named as recipients of a RED entry, besides its contributor.
  CREATE TABLE entry_recipients (
    collection_seq integer NOT NULL,
    date_added bigint NOT NULL,
    user_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (collection_seq, date_added, user_id)
  );

  -- record is the whole StatusRecord as JSON; the key columns are copied out for lookups.
  CREATE TABLE statuses (
    api_root text COLLATE "C" NOT NULL REFERENCES api_roots (name),
    id text COLLATE "C" NOT NULL,
    owner_id text NOT NULL,
    expires_at bigint NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (api_root, id)
  );
  CREATE INDEX statuses_by_expiry ON statuses (expires_at);

  CREATE TABLE tokens (
    id text COLLATE "C" PRIMARY KEY,
    user_id text COLLATE "C" NOT NULL REFERENCES users (id),
    label text NOT NULL,
    secret_hash text NOT NULL,
    scopes text[] NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint,
    last_used_at bigint,
    revoked_at bigint
  );
  CREATE INDEX tokens_by_user ON tokens (user_id, created_at);

  -- details is a JSON object. anonymous marks entries naming the real contributor of an
  -- anonymous share, which only platform admins read.
  CREATE TABLE audit_log (
    seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at bigint NOT NULL,
    action text COLLATE "C" NOT NULL,
    actor_id text COLLATE "C",
    actor_name text,
    organisation_id text COLLATE "C",
    source_address text,
    target text,
    details text NOT NULL,
    anonymous boolean NOT NULL
  );
  CREATE INDEX audit_by_organisation ON audit_log (organisation_id, seq);

  CREATE TABLE settings (
    key text COLLATE "C" PRIMARY KEY,
    value text NOT NULL
  );

  CREATE TABLE documents (
    kind text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    owner text COLLATE "C",
    key text COLLATE "C",
    due bigint,
    body text NOT NULL,
    revision bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (kind, id)
  );
  CREATE UNIQUE INDEX documents_by_key ON documents (kind, key) WHERE key IS NOT NULL;
  CREATE INDEX documents_by_owner ON documents (kind, owner, id) WHERE owner IS NOT NULL;
  CREATE INDEX documents_by_due ON documents (kind, due, id) WHERE due IS NOT NULL;

  -- Events keep their own JSON and sharing facts (EntrySharing as JSON) and refer to no
  -- other table, so deleting an object never breaks the log.
  CREATE TABLE events (
    seq bigint PRIMARY KEY,
    at bigint NOT NULL,
    kind text NOT NULL CHECK (kind IN ('created', 'updated', 'revoked', 'deleted')),
    collection_id text COLLATE "C" NOT NULL,
    community_id text COLLATE "C",
    object_id text COLLATE "C" NOT NULL,
    object_type text NOT NULL,
    spec_version text NOT NULL,
    version text NOT NULL,
    version_key text NOT NULL,
    date_added bigint NOT NULL,
    json text,
    sharing text NOT NULL
  );
  CREATE INDEX events_by_collection ON events (collection_id, seq);
  CREATE INDEX events_by_at ON events (at, seq);

  -- The correlation index (see correlation.ts): refs counts a value's references.
  CREATE TABLE observable_values (
    vid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    value text COLLATE "C" NOT NULL CONSTRAINT observable_values_value_key UNIQUE,
    refs integer NOT NULL,
    capped boolean NOT NULL
  );
  CREATE TABLE observable_refs (
    vid bigint NOT NULL REFERENCES observable_values (vid),
    collection_id text COLLATE "C" NOT NULL,
    object_id text COLLATE "C" NOT NULL,
    source text COLLATE "C" NOT NULL,
    PRIMARY KEY (vid, collection_id, object_id, source)
  );
  CREATE INDEX observable_refs_by_object ON observable_refs (object_id, collection_id);
  CREATE TABLE object_feedback (
    object_id text COLLATE "C" PRIMARY KEY,
    sightings bigint NOT NULL,
    false_positives bigint NOT NULL,
    last_sighting_at bigint
  );
`;

/**
 * Version 2: an event refers to the stored JSON of its version by `vid` while a collection
 * contains that version, so the log does not keep every object twice. Before the last entry
 * of a version goes, deleteObject copies the JSON into `json` and clears `vid`; the foreign
 * key makes a delete that skipped that step fail instead of losing the JSON.
 */
const VERSION_2 = `
  ALTER TABLE events ADD COLUMN vid bigint REFERENCES object_versions (vid);
  CREATE INDEX events_by_vid ON events (vid) WHERE vid IS NOT NULL;
`;

/**
 * Version 3: the retro-hunt key index (see hunt-keys.ts). `hunt_key_marks.up_to` is the
 * date_added up to which every version of the collection has its keys stored.
 */
const VERSION_3 = `
  CREATE TABLE hunt_keys (
    collection_seq integer NOT NULL REFERENCES collections (seq),
    key text COLLATE "C" NOT NULL,
    object_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (collection_seq, key, object_id)
  );
  CREATE TABLE hunt_key_marks (
    collection_seq integer PRIMARY KEY REFERENCES collections (seq),
    up_to bigint NOT NULL
  );
`;

/**
 * Version 4: the retro-hunt key rows by object, so setObjectHuntKeys finds the rows of one
 * object without reading every key of its collection.
 */
const VERSION_4 = `
  CREATE INDEX hunt_keys_by_object ON hunt_keys (collection_seq, object_id);
`;

/**
 * Version 5: drops the index of version 4 again. Keeping it up made every addHuntKeys write
 * a second B-tree entry per key, for a look-up that only deletes need.
 */
const VERSION_5 = `
  DROP INDEX hunt_keys_by_object;
`;

/**
 * Version 6: one feedback report per (object, scope, organisation) in place of per-object
 * counters (see correlation.ts). The old counters name neither the organisation nor the
 * community behind them, so showing them to any reader could leak. They are dropped, and
 * the count of dropped rows is kept in `settings` under `feedback.dropped-unscoped` for the
 * operator.
 */
const VERSION_6 = `
  INSERT INTO settings (key, value)
    SELECT 'feedback.dropped-unscoped', count(*)::text FROM object_feedback
    HAVING count(*) > 0
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
  DROP TABLE object_feedback;
  CREATE TABLE feedback_reports (
    object_id text COLLATE "C" NOT NULL,
    scope text COLLATE "C" NOT NULL,
    organisation_id text COLLATE "C" NOT NULL,
    sightings bigint NOT NULL,
    false_positive boolean NOT NULL,
    last_sighting_at bigint,
    PRIMARY KEY (object_id, scope, organisation_id)
  );
`;

const MIGRATIONS: readonly string[] = [
  VERSION_1,
  VERSION_2,
  VERSION_3,
  VERSION_4,
  VERSION_5,
  VERSION_6,
];

/** The schema version this code writes: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Key of the advisory lock that migrations take; the ASCII bytes of "cairnmig" as a number. */
const MIGRATION_LOCK = '7161120822695651687';

const CREATE_LEDGER = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`;

/**
 * Applies the migrations the database lacks, up to `target` (an earlier version only in
 * upgrade tests). Throws when the database was written by a newer Cairn, because this code
 * cannot know what that schema means.
 *
 * The advisory lock key is combined with the schema's oid, so stores in different schemas
 * of one database migrate independently.
 */
export async function migrateSchema(client: PoolClient, target = SCHEMA_VERSION): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(
      `SELECT pg_advisory_xact_lock(${MIGRATION_LOCK} # (SELECT oid::bigint FROM pg_namespace` +
        ' WHERE nspname = current_schema()))',
    );
    await client.query(CREATE_LEDGER);
    const current = await appliedVersion(client);
    checkNotNewer(current);
    for (let version = current + 1; version <= target; version++) {
      await client.query(MIGRATIONS[version - 1]!);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Returns the highest applied version, 0 for an empty database. */
export async function appliedVersion(client: PoolClient): Promise<number> {
  const exists = await client.query<{ found: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS found",
  );
  if (!exists.rows[0]?.found) return 0;
  const result = await client.query<{ version: number | null }>(
    'SELECT max(version) AS version FROM schema_migrations',
  );
  return result.rows[0]?.version ?? 0;
}

function checkNotNewer(current: number): void {
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `database schema version ${current} is newer than the ${SCHEMA_VERSION} this Cairn ` +
        'supports: upgrade Cairn or use another database',
    );
  }
}

/**
 * Throws unless the schema is at this code's version, for servers started with migrations
 * on start turned off.
 */
export async function checkSchema(client: PoolClient): Promise<void> {
  const current = await appliedVersion(client);
  checkNotNewer(current);
  if (current < SCHEMA_VERSION) {
    throw new Error(
      `the PostgreSQL store has schema version ${current} and this Cairn needs ` +
        `${SCHEMA_VERSION}: run \`cairn migrate\` first`,
    );
  }
}
