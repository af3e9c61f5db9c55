/**
 * The store, which keeps collections, object versions, statuses, organisations, users,
 * tokens, communities, the audit log and settings. Callers program against the `Store` interface; `openStore` picks the
 * implementation from a URL, so only the place that assembles the server names a backend.
 * This folder imports only `stix/`.
 */
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PostgresStoreOptions } from './postgres/index.ts';
import {
  SCHEMA_VERSION as SQLITE_SCHEMA_VERSION,
  SqliteStore,
  type SqliteStoreOptions,
} from './sqlite/index.ts';
import type { Store } from './store.ts';

export * from './store.ts';
export type { SqliteStoreOptions } from './sqlite/index.ts';
export type { PostgresStoreOptions } from './postgres/index.ts';

export interface OpenStoreOptions extends SqliteStoreOptions {
  /**
   * Whether to apply pending schema migrations (the default). When false, a store whose
   * schema is behind this code's is rejected with a message that asks to run `cairn migrate`.
   */
  migrate?: boolean;
  /** Connection pool settings of a PostgreSQL store. */
  postgres?: PostgresStoreOptions;
}

/**
 * Opens the store at `url` and applies any pending migrations.
 *
 * - `sqlite:PATH` or a bare `PATH`: a SQLite database file, created with its folder when
 *   missing. The path is relative to the working directory unless absolute;
 *   `sqlite:///var/lib/cairn.db` is the absolute path `/var/lib/cairn.db`.
 *   `sqlite::memory:` is a private in-memory database, gone when the store closes.
 * - `postgres://` and `postgresql://` URLs: a PostgreSQL database, which must exist. Cairn
 *   creates its tables in the connection's current schema (the first one of search_path).
 *   The URL takes pg's parameters, such as `?sslmode=require` or
 *   `?options=-c%20search_path%3Dcairn`.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(url)) return openPostgres(url, options);

  const path = sqlitePath(url);
  let store: SqliteStore;
  try {
    if (path !== ':memory:') createPrivately(path);
    store = new SqliteStore(path, options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`failed to open the SQLite store at ${path}: ${reason}`, { cause: error });
  }
  try {
    if (options.migrate === false) checkSqliteSchema(store, path);
    else await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** Returns whether a store URL names a PostgreSQL database. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

async function openPostgres(url: string, options: OpenStoreOptions): Promise<Store> {
  // Loaded here, so a server on SQLite does not spend start-up time on the pg driver.
  const { PostgresStore } = await import('./postgres/index.ts');
  const store = new PostgresStore(url, options.postgres);
  try {
    if (options.migrate === false) await store.checkSchema();
    else await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

function checkSqliteSchema(store: SqliteStore, path: string): void {
  const version = store.database.pragma('user_version', { simple: true }) as number;
  if (version > SQLITE_SCHEMA_VERSION) {
    throw new Error(
      `database schema version ${version} is newer than the ${SQLITE_SCHEMA_VERSION} this ` +
        'Cairn supports: upgrade Cairn or open another database file',
    );
  }
  if (version < SQLITE_SCHEMA_VERSION) {
    throw new Error(
      `the SQLite store at ${path} has schema version ${version} and this Cairn needs ` +
        `${SQLITE_SCHEMA_VERSION}: run \`cairn migrate\` first`,
    );
  }
}

/**
 * Creates a missing database file readable by its owner only, in a folder to match, because
 * it contains every shared object, token hashes and the cursor signing key. SQLite gives the
 * -wal and -shm files the permissions of the database file. Existing files are left as
 * they are.
 */
function createPrivately(path: string): void {
  makeFolders(dirname(path));
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
}

/**
 * Creates a folder and its missing parents one level at a time. Node 20's recursive
 * mkdirSync never returns for some paths under /proc, while a single-level mkdir fails at
 * once with an error that names the path.
 */
function makeFolders(folder: string): void {
  if (existsSync(folder)) return;
  const parent = dirname(folder);
  if (parent !== folder) makeFolders(parent);
  mkdirSync(folder, { mode: 0o700 });
}

/** Returns the SQLite path of a store URL, or throws when the URL names another backend. */
export function sqlitePath(url: string): string {
  if (url.startsWith('sqlite:')) {
    const rest = url.slice('sqlite:'.length);
    const path = rest.startsWith('//') ? rest.slice(2) : rest;
    if (path === '') throw new Error(`invalid store URL "${url}": the database path is missing`);
    return path;
  }
  // A scheme of two or more letters followed by "://"; one letter is a Windows drive. The
  // message leaves out the rest of the URL, which may carry a password.
  const scheme = /^([a-z][a-z0-9+.-]+):\/\//i.exec(url);
  if (scheme) {
    throw new Error(
      `unsupported store URL scheme "${scheme[1]}:": use sqlite:PATH, a file path or a ` +
        'postgres:// URL',
    );
  }
  if (url === '') {
    throw new Error('invalid store URL "": expected sqlite:PATH, a file path or a postgres:// URL');
  }
  return url;
}
