/**
 * A PostgreSQL database of its own for one test run: `cairn_test_<random>`, created on the
 * server at CAIRN_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/postgres) and
 * dropped by `drop()`. Tests that need a schema of their own get a fresh one; the shared
 * suites get a store on one migrated schema that `openFresh` empties before each test,
 * because deleting a few rows takes a millisecond where migrating a new schema takes
 * hundreds.
 *
 * When the server cannot be reached, `createTestDatabase` throws under CI=true, so CI fails
 * instead of skipping, and otherwise returns the reason for the tests to skip.
 */
import { randomBytes } from 'node:crypto';

import pg from 'pg';

import { PostgresStore } from './postgres-store.ts';

export const ADMIN_URL =
  process.env.CAIRN_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  /** URL of the database, with the server's default search path. */
  url: string;
  /** Creates an empty schema and returns a URL whose connections use it. */
  freshSchema(): Promise<string>;
  /** Opens a migrated store whose tables are empty. */
  openFresh(): Promise<PostgresStore>;
  /** Runs one statement on the database as the test's administrator. */
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  /** Drops the database, closing whatever connections are still open to it. */
  drop(): Promise<void>;
}

/**
 * Returns the URL of another database on the same server as `base`, optionally with a
 * search path. Test connections do not wait for the WAL flush at commit
 * (synchronous_commit off): that changes durability after a server crash only, not what
 * other connections see, and it makes the many small commits of tests several times faster.
 */
export function databaseUrl(base: string, database: string, searchPath?: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  if (searchPath !== undefined) {
    url.searchParams.set('options', `-c search_path=${searchPath} -c synchronous_commit=off`);
  }
  return url.toString();
}

export async function createTestDatabase(): Promise<TestDatabase | string> {
  const name = `cairn_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (error) {
    await admin.end().catch(() => undefined);
    const reason = `PostgreSQL at ${new URL(ADMIN_URL).host} is not usable: ${(error as Error).message}`;
    if (process.env.CI === 'true') throw new Error(`${reason} (CI requires it)`, { cause: error });
    return reason;
  }
  await admin.end();

  const url = databaseUrl(ADMIN_URL, name);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  let schemas = 0;
  let reused: { url: string; tables: string[] } | undefined;
  const database: TestDatabase = {
    name,
    url,
    async freshSchema() {
      schemas += 1;
      const schema = `s${schemas}`;
      await pool.query(`CREATE SCHEMA ${schema}`);
      return databaseUrl(ADMIN_URL, name, schema);
    },
    async openFresh() {
      if (reused === undefined) {
        const schemaUrl = await database.freshSchema();
        const store = new PostgresStore(schemaUrl, { maxConnections: 4 });
        await store.migrate();
        const schema = `s${schemas}`;
        const rows = await pool.query<{ name: string }>(
          "SELECT schemaname || '.' || tablename AS name FROM pg_tables" +
            " WHERE schemaname = $1 AND tablename <> 'schema_migrations'",
          [schema],
        );
        reused = { url: schemaUrl, tables: rows.rows.map((row) => row.name) };
        return store;
      }
      // Foreign keys are not checked in replica mode, so the tables empty in any order. The
      // lock timeout turns a connection that an earlier test left open into a clear failure.
      await pool.query(
        'BEGIN; SET LOCAL session_replication_role = replica; SET LOCAL lock_timeout = 5000;' +
          ` ${reused.tables.map((table) => `DELETE FROM ${table};`).join(' ')} COMMIT`,
      );
      return new PostgresStore(reused.url, { maxConnections: 4 });
    },
    async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]) {
      return (await pool.query<R>(text, values)).rows;
    },
    async drop() {
      await pool.end();
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
  return database;
}
