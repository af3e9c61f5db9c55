/** The SQLite implementation of the Store. */
export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.ts';
export { SCHEMA_VERSION } from './schema.ts';
