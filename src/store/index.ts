/**
 * The store, which keeps collections, object versions, statuses, organisations, users,
 * tokens, communities, the audit log and settings. Callers program against the `Store` interface; `openStore` picks the
 * implementation from a URL, so only the place that assembles the server names a backend.
 * This folder imports only `stix/`.
 */
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { SqliteStore, type SqliteStoreOptions } from './sqlite/index.ts';
import type { Store } from './store.ts';

export * from './store.ts';
export type { SqliteStoreOptions } from './sqlite/index.ts';

/**
 * Opens the store at `url` and applies any pending migrations.
 *
 * - `sqlite:PATH` or a bare `PATH`: a SQLite database file, created with its folder when
 *   missing. The path is relative to the working directory unless absolute;
 *   `sqlite:///var/lib/cairn.db` is the absolute path `/var/lib/cairn.db`.
 *   `sqlite::memory:` is a private in-memory database, gone when the store closes.
 * - `postgres://` and `postgresql://` URLs are recognised but not supported yet.
 */
export async function openStore(url: string, options: SqliteStoreOptions = {}): Promise<Store> {
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
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
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
function sqlitePath(url: string): string {
  if (url.startsWith('sqlite:')) {
    const rest = url.slice('sqlite:'.length);
    const path = rest.startsWith('//') ? rest.slice(2) : rest;
    if (path === '') throw new Error(`invalid store URL "${url}": the database path is missing`);
    return path;
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    throw new Error(
      'PostgreSQL stores are not supported yet: use a SQLite URL such as sqlite:cairn.db',
    );
  }
  // A scheme of two or more letters followed by "://"; one letter is a Windows drive. The
  // message leaves out the rest of the URL, which may carry a password.
  const scheme = /^([a-z][a-z0-9+.-]+):\/\//i.exec(url);
  if (scheme) {
    throw new Error(`unsupported store URL scheme "${scheme[1]}:": use sqlite:PATH or a file path`);
  }
  if (url === '') throw new Error('invalid store URL "": expected sqlite:PATH or a file path');
  return url;
}
