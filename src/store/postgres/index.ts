export { PostgresStore } from './postgres-store.ts';
export { describeServer, isConnectionError, type PostgresStoreOptions } from './connection.ts';
export { SCHEMA_VERSION } from './schema.ts';
