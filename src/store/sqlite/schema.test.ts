import assert from 'node:assert/strict';
import { test } from 'node:test';

import Database from 'better-sqlite3';

import { idHash } from './id-hash.ts';
import { SqliteStore } from './index.ts';
import { migrateSchema } from './schema.ts';

/** Writes a version 1 database: two users, a token, a collection with one entry and a grant. */
function versionOneDatabase(path: string): void {
  const db = new Database(path);
  db.pragma('foreign_keys = ON');
  migrateSchema(db, 1);
  db.exec(`
    INSERT INTO users VALUES ('u-admin', 'admin', 'admin', 1, 0), ('u-bob', 'bob', 'user', 2, 1);
    INSERT INTO tokens VALUES ('t-1', 'u-bob', '', '${'a'.repeat(64)}', '[]', 3, NULL, NULL, NULL);
    INSERT INTO api_roots VALUES ('default', 'Default', NULL, 1000);
    INSERT INTO collections (seq, id, api_root, title, media_types, created_at)
      VALUES (1, 'col-1', 'default', 'Old', '[]', 4);
    INSERT INTO object_versions VALUES (1, ${idHash('indicator--1')}, 'indicator--1', 'k', '{}');
    INSERT INTO collection_entries
      VALUES (1, 10, 'indicator--1', 'v', 'k', 'indicator', '2.1', 'm', 1, 1, 1);
    INSERT INTO collection_grants VALUES ('col-1', 'u-bob', 1, 0);
  `);
  db.close();
}

test('version 1 upgrades in place', async () => {
  const path = `${process.env.TMPDIR ?? '/tmp'}/cairn-upgrade-${process.pid}-${Date.now()}.db`;
  versionOneDatabase(path);
  const store = new SqliteStore(path);
  await store.migrate();

  const admin = await store.getUser('u-admin');
  const bob = await store.getUser('u-bob');
  assert.equal(admin?.role, 'platform-admin');
  assert.equal(bob?.role, 'analyst');
  assert.equal(bob?.disabled, true);
  const local = await store.getOrganisationByName('local');
  assert.ok(local);
  assert.equal(admin?.organisationId, local.id);
  assert.equal(JSON.parse(local.identity).identity_class, 'organization');
  assert.equal((await store.getToken('t-1'))?.userId, 'u-bob');

  const community = await store.getCommunityByName('default');
  assert.ok(community);
  assert.deepEqual(await store.listMembers(community.id), [local.id]);
  assert.deepEqual(await store.listModerators(community.id), ['u-admin']);
  assert.equal((await store.getCollectionById('col-1'))?.communityId, community.id);

  // Entries from before the sharing model are visible to members only.
  const member = { widest: 'members', userId: 'u-x' } as const;
  const client = { widest: 'members-and-clients', userId: 'u-x' } as const;
  assert.equal(await store.hasObject('col-1', 'indicator--1', member), true);
  assert.equal(await store.hasObject('col-1', 'indicator--1', client), false);

  const tables = store.database
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'collection_grants'")
    .all();
  assert.deepEqual(tables, []);
  assert.deepEqual(store.database.pragma('foreign_key_check'), []);
  assert.equal(store.database.pragma('foreign_keys', { simple: true }), 1);
  await store.close();
});

test('empty version 1 gets no organisation', async () => {
  const path = `${process.env.TMPDIR ?? '/tmp'}/cairn-upgrade-empty-${process.pid}-${Date.now()}.db`;
  const db = new Database(path);
  migrateSchema(db, 1);
  db.close();
  const store = new SqliteStore(path);
  await store.migrate();
  assert.deepEqual(await store.listOrganisations(), []);
  assert.deepEqual(await store.listCommunities(), []);
  await store.close();
});
