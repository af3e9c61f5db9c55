/**
 * The migration to scoped feedback on both stores: per-object counters from before name no
 * organisation or community, so they are dropped and their number is kept in a setting.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import Database from 'better-sqlite3';
import pg from 'pg';

import { createTestDatabase } from './postgres/database.test-helper.ts';
import { PostgresStore } from './postgres/index.ts';
import {
  migrateSchema as migratePostgres,
  SCHEMA_VERSION as POSTGRES_VERSION,
} from './postgres/schema.ts';
import { SqliteStore } from './sqlite/index.ts';
import {
  migrateSchema as migrateSqlite,
  SCHEMA_VERSION as SQLITE_VERSION,
} from './sqlite/schema.ts';
import type { Store } from './store.ts';

const SETTING = 'feedback.dropped-unscoped';
const OLD_ROWS =
  "INSERT INTO object_feedback VALUES ('indicator--a', 1000000, 3, 5), ('indicator--b', 0, 1, NULL)";

async function checkUpgraded(store: Store, dropped: string | undefined): Promise<void> {
  assert.equal(await store.getSetting(SETTING), dropped);
  assert.deepEqual(await store.getFeedback(['indicator--a', 'indicator--b'], ['ring']), []);
  const added = await store.addFeedback({
    objectId: 'indicator--a',
    scope: 'ring',
    organisationId: 'org',
    sightings: 1,
    at: 9,
  });
  assert.equal(added.sightings, 1);
}

describe('feedback migration on SQLite', () => {
  const directory = join(tmpdir(), `cairn-feedback-migration-${process.pid}`);
  after(() => rmSync(directory, { recursive: true, force: true }));

  for (const [name, rows, dropped] of [
    ['old counters are dropped', OLD_ROWS, '2'],
    ['no counters leave no setting', '', undefined],
  ] as const) {
    test(name, async () => {
      const path = join(directory, `${name.replaceAll(' ', '-')}.db`);
      rmSync(directory, { recursive: true, force: true });
      mkdirSync(directory, { recursive: true });
      const db = new Database(path);
      migrateSqlite(db, SQLITE_VERSION - 1);
      if (rows) db.exec(rows);
      db.close();

      const store = new SqliteStore(path);
      try {
        await store.migrate();
        await checkUpgraded(store, dropped);
        const old = store.database
          .prepare("SELECT name FROM sqlite_master WHERE name = 'object_feedback'")
          .all();
        assert.deepEqual(old, []);
      } finally {
        await store.close();
      }
    });
  }
});

const database = await createTestDatabase();
describe(
  'feedback migration on PostgreSQL',
  { skip: typeof database === 'string' ? database : false },
  () => {
    after(async () => {
      if (typeof database !== 'string') await database.drop();
    });

    for (const [name, rows, dropped] of [
      ['old counters are dropped', OLD_ROWS, '2'],
      ['no counters leave no setting', '', undefined],
    ] as const) {
      test(name, async () => {
        if (typeof database === 'string') return;
        const url = await database.freshSchema();
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await migratePostgres(
            client as unknown as Parameters<typeof migratePostgres>[0],
            POSTGRES_VERSION - 1,
          );
          if (rows) await client.query(rows);
        } finally {
          await client.end();
        }

        const store = new PostgresStore(url);
        try {
          await store.migrate();
          await checkUpgraded(store, dropped);
          const check = new pg.Client({ connectionString: url });
          await check.connect();
          const { rows: tables } = await check
            .query<{ old: string | null; reports: string | null }>(
              "SELECT to_regclass('object_feedback') AS old, to_regclass('feedback_reports') AS reports",
            )
            .finally(() => check.end());
          assert.equal(tables[0]?.old, null);
          assert.equal(tables[0]?.reports, 'feedback_reports');
        } finally {
          await store.close();
        }
      });
    }
  },
);
