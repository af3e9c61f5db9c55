/**
 * Copies a SQLite store into a PostgreSQL store, table by table, keeping every value: ids,
 * date_added, the first and last flags, sharing facts, sequence numbers of the audit and
 * event logs, and the cursor signing key among the settings. The copy streams the SQLite
 * rows in batches, so memory stays bounded by one batch whatever the store's size.
 *
 * The whole copy is one PostgreSQL transaction: a copy that fails or is interrupted leaves
 * the target as it was. The SQLite file is opened read-only and must be at the schema
 * version of this code, so its tables are the ones listed here.
 */
import { createHash } from 'node:crypto';

import type Database from 'better-sqlite3';

import { SCHEMA_VERSION as SQLITE_SCHEMA_VERSION } from '../sqlite/index.ts';
import type { Queryable } from './connection.ts';
import type { PostgresStore } from './postgres-store.ts';

/** One column of a copied table: its PostgreSQL name, array type, and optional SQL. */
interface Column {
  name: string;
  /** The element type of the unnest parameter, such as `text` or `bigint`. */
  type: string;
  /** SQL that turns the unnested value `u.<name>` into the column value; default as is. */
  expression?: string;
  /** Turns the SQLite value into the parameter value; default as is. */
  convert?: (value: unknown) => unknown;
}

interface TableCopy {
  table: string;
  /** SQLite expressions, one for each column, in the same order. */
  select: string[];
  columns: Column[];
  /** SQLite ORDER BY, so rows stream in key order. */
  order: string;
}

const flag = (value: unknown): boolean => value === 1;
const jsonArray = 'ARRAY (SELECT json_array_elements_text(u.{}::json))';
const text = (name: string): Column => ({ name, type: 'text' });
const integer = (name: string): Column => ({ name, type: 'bigint' });
const boolean = (name: string): Column => ({ name, type: 'boolean', convert: flag });
const textArray = (name: string): Column => ({
  name,
  type: 'text',
  expression: jsonArray.replace('{}', name),
});

/** Columns named the same in both stores; most tables need no more. */
function same(table: string, order: string, ...columns: Column[]): TableCopy {
  return { table, order, columns, select: columns.map((column) => column.name) };
}

/**
 * Every table of the SQLite store, in an order that inserts referenced rows first. Columns
 * that only SQLite has are left out: object_versions.id_hash (PostgreSQL keys copies by a
 * hash of their JSON instead) and collection_entries.media_type (derived from spec_version).
 */
export const TABLES: readonly TableCopy[] = [
  same(
    'api_roots',
    'name',
    text('name'),
    text('title'),
    text('description'),
    integer('max_content_length'),
  ),
  same('organisations', 'id', text('id'), text('name'), text('identity'), integer('created_at')),
  same('organisation_clients', 'provider_id, client_id', text('provider_id'), text('client_id')),
  same(
    'users',
    'id',
    text('id'),
    text('name'),
    text('organisation_id'),
    text('role'),
    integer('created_at'),
    boolean('disabled'),
  ),
  same(
    'communities',
    'id',
    text('id'),
    text('name'),
    text('description'),
    text('default_tlp'),
    boolean('allow_anonymous'),
    boolean('publish_clear'),
    text('identity'),
    integer('created_at'),
  ),
  same(
    'community_members',
    'community_id, organisation_id',
    text('community_id'),
    text('organisation_id'),
  ),
  same('community_moderators', 'community_id, user_id', text('community_id'), text('user_id')),
  same(
    'invitations',
    'id',
    text('id'),
    text('kind'),
    text('community_id'),
    text('organisation_id'),
    text('state'),
    text('created_by'),
    integer('created_at'),
    text('answered_by'),
    integer('answered_at'),
  ),
  same(
    'collections',
    'seq',
    integer('seq'),
    text('id'),
    text('api_root'),
    text('title'),
    text('description'),
    text('alias'),
    textArray('media_types'),
    integer('created_at'),
    integer('last_date_added'),
    textArray('spec_versions'),
    text('community_id'),
  ),
  {
    table: 'object_versions',
    order: 'vid',
    select: ['vid', 'id', 'version_key', 'json', 'json'],
    columns: [
      integer('vid'),
      text('id'),
      text('version_key'),
      {
        name: 'json_hash',
        type: 'bytea',
        convert: (json) =>
          createHash('sha256')
            .update(json as string)
            .digest(),
      },
      text('json'),
    ],
  },
  same(
    'collection_entries',
    'collection_seq, date_added',
    integer('collection_seq'),
    integer('date_added'),
    text('id'),
    text('version'),
    text('version_key'),
    text('type'),
    text('spec_version'),
    boolean('is_first'),
    boolean('is_last'),
    integer('vid'),
    integer('audience'),
    text('contributor_id'),
    text('contributor_organisation_id'),
    // A comma-separated list; string_to_array('') is an empty array.
    { name: 'tlp', type: 'text', expression: "string_to_array(u.tlp, ',')" },
    boolean('granular'),
    integer('recipients_within'),
  ),
  same(
    'entry_recipients',
    'collection_seq, date_added, user_id',
    integer('collection_seq'),
    integer('date_added'),
    text('user_id'),
  ),
  same(
    'statuses',
    'api_root, id',
    text('api_root'),
    text('id'),
    text('owner_id'),
    integer('expires_at'),
    text('record'),
  ),
  same(
    'tokens',
    'id',
    text('id'),
    text('user_id'),
    text('label'),
    text('secret_hash'),
    textArray('scopes'),
    integer('created_at'),
    integer('expires_at'),
    integer('last_used_at'),
    integer('revoked_at'),
  ),
  same(
    'audit_log',
    'seq',
    integer('seq'),
    integer('at'),
    text('action'),
    text('actor_id'),
    text('actor_name'),
    text('organisation_id'),
    text('source_address'),
    text('target'),
    text('details'),
    boolean('anonymous'),
  ),
  same('settings', 'key', text('key'), text('value')),
  same(
    'documents',
    'kind, id',
    text('kind'),
    text('id'),
    text('owner'),
    text('key'),
    integer('due'),
    text('body'),
    integer('revision'),
    integer('updated_at'),
  ),
  same(
    'events',
    'seq',
    integer('seq'),
    integer('at'),
    text('kind'),
    text('collection_id'),
    text('community_id'),
    text('object_id'),
    text('object_type'),
    text('spec_version'),
    text('version'),
    text('version_key'),
    integer('date_added'),
    integer('vid'),
    text('json'),
    text('sharing'),
  ),
  same(
    'observable_values',
    'vid',
    integer('vid'),
    text('value'),
    integer('refs'),
    boolean('capped'),
  ),
  same(
    'observable_refs',
    'vid, collection_id, object_id, source',
    integer('vid'),
    text('collection_id'),
    text('object_id'),
    text('source'),
  ),
  same(
    'feedback_reports',
    'object_id, scope, organisation_id',
    text('object_id'),
    text('scope'),
    text('organisation_id'),
    integer('sightings'),
    boolean('false_positive'),
    integer('last_sighting_at'),
  ),
  same(
    'hunt_keys',
    'collection_seq, key, object_id',
    integer('collection_seq'),
    text('key'),
    text('object_id'),
  ),
  same('hunt_key_marks', 'collection_seq', integer('collection_seq'), integer('up_to')),
];

/** Identity columns whose sequences must continue after the copied values. */
const IDENTITIES: readonly [table: string, column: string][] = [
  ['collections', 'seq'],
  ['object_versions', 'vid'],
  ['audit_log', 'seq'],
  ['observable_values', 'vid'],
];

/** Rows per INSERT, and the text size at which a batch is sent earlier. */
const BATCH_ROWS = 1000;
const BATCH_CHARS = 8 * 1024 * 1024;

export interface CopyOptions {
  /** Replace whatever the target holds; without it a target with any row is rejected. */
  force?: boolean;
  /** Called after each batch with the rows copied so far, the total and the table. */
  onProgress?: (copied: number, total: number, table: string) => void;
}

export interface CopySummary {
  /** Rows copied per table. */
  tables: Record<string, number>;
  rows: number;
}

/** A copy that cannot start; the message gives the reason and what to do. */
export class CopyRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyRejectedError';
  }
}

/**
 * Checks that the SQLite file is at this code's schema version and contains exactly the tables
 * this copy knows, so no table is left behind.
 */
export function checkSource(source: Database.Database, path: string): void {
  const version = source.pragma('user_version', { simple: true }) as number;
  if (version !== SQLITE_SCHEMA_VERSION) {
    throw new CopyRejectedError(
      `the SQLite store at ${path} has schema version ${version} and this Cairn copies ` +
        `version ${SQLITE_SCHEMA_VERSION}: ` +
        (version < SQLITE_SCHEMA_VERSION
          ? `upgrade it first with \`cairn --store sqlite:${path} migrate\``
          : 'use the Cairn release that wrote it'),
    );
  }
  const present = (
    source
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .pluck()
      .all() as string[]
  ).sort();
  const known = TABLES.map((table) => table.table).sort();
  const unknown = present.filter((name) => !known.includes(name));
  const missing = known.filter((name) => !present.includes(name));
  if (unknown.length > 0 || missing.length > 0) {
    throw new CopyRejectedError(
      `the SQLite store at ${path} has tables this copy does not expect` +
        ` (unknown: ${unknown.join(', ') || 'none'}; missing: ${missing.join(', ') || 'none'})`,
    );
  }
}

/**
 * Copies every table of `source` into `target`, whose schema must be migrated. Throws
 * CopyRejectedError when the target contains any row and `force` is not set.
 */
export async function copySqliteToPostgres(
  source: Database.Database,
  sourcePath: string,
  target: PostgresStore,
  options: CopyOptions = {},
): Promise<CopySummary> {
  checkSource(source, sourcePath);
  const counts = new Map(
    TABLES.map((table) => [
      table.table,
      source.prepare(`SELECT count(*) FROM ${table.table}`).pluck().get() as number,
    ]),
  );
  const total = [...counts.values()].reduce((sum, count) => sum + count, 0);

  return target.connection.transaction(async (client) => {
    // A server still running on the target would hold locks that TRUNCATE waits for.
    await client.run({ text: "SET LOCAL lock_timeout = '10s'" });
    await prepareTarget(client, target.connection.where, options.force === true);

    const summary: CopySummary = { tables: {}, rows: 0 };
    for (const table of TABLES) {
      let copied = 0;
      for (const batch of batches(source, table)) {
        await insertBatch(client, table, batch);
        copied += batch.length;
        summary.rows += batch.length;
        options.onProgress?.(summary.rows, total, table.table);
      }
      summary.tables[table.table] = copied;
    }
    await continueIdentities(client);
    await verifyCounts(client, counts);
    return summary;
  });
}

/** Rejects a target that contains any row unless forced; with force, empties every table. */
async function prepareTarget(client: Queryable, where: string, force: boolean): Promise<void> {
  const tables = TABLES.map((table) => table.table);
  if (force) {
    await client.run({ text: `TRUNCATE ${tables.join(', ')}` });
    return;
  }
  const [row] = await client.query<{ filled: string[] | null }>({
    text:
      'SELECT array_remove(ARRAY[' +
      tables
        .map((table) => `CASE WHEN EXISTS (SELECT 1 FROM ${table}) THEN '${table}' END`)
        .join(', ') +
      '], NULL) AS filled',
  });
  const filled = row?.filled ?? [];
  if (filled.length > 0) {
    throw new CopyRejectedError(
      `the PostgreSQL store at ${where} is not empty (rows in ${filled.join(', ')}): copy into ` +
        'an empty database, or add --force to replace everything it holds',
    );
  }
}

/** Streams the SQLite rows of a table in batches of parameter values. */
function* batches(source: Database.Database, table: TableCopy): Generator<unknown[][]> {
  const statement = source
    .prepare(`SELECT ${table.select.join(', ')} FROM ${table.table} ORDER BY ${table.order}`)
    .raw();
  let batch: unknown[][] = [];
  let chars = 0;
  for (const row of statement.iterate() as Iterable<unknown[]>) {
    batch.push(row.map((value, i) => table.columns[i]!.convert?.(value) ?? value));
    for (const value of row) if (typeof value === 'string') chars += value.length;
    if (batch.length >= BATCH_ROWS || chars >= BATCH_CHARS) {
      yield batch;
      batch = [];
      chars = 0;
    }
  }
  if (batch.length > 0) yield batch;
}

async function insertBatch(client: Queryable, table: TableCopy, rows: unknown[][]): Promise<void> {
  const columns = table.columns;
  const unnest = columns.map((column, i) => `$${i + 1}::${column.type}[]`).join(', ');
  const values = columns.map((column) => column.expression ?? `u.${column.name}`).join(', ');
  await client.run({
    name: `cairn_copy_${table.table}`,
    text:
      `INSERT INTO ${table.table} (${columns.map((column) => column.name).join(', ')})` +
      ` SELECT ${values} FROM unnest(${unnest})` +
      ` AS u (${columns.map((column) => column.name).join(', ')})`,
    values: columns.map((_, i) => rows.map((row) => row[i])),
  });
}

/** Moves each identity sequence past the largest copied value, so new rows get new keys. */
async function continueIdentities(client: Queryable): Promise<void> {
  for (const [table, column] of IDENTITIES) {
    await client.query({
      text:
        `SELECT setval(pg_get_serial_sequence('${table}', '${column}'),` +
        ` coalesce((SELECT max(${column}) FROM ${table}), 1),` +
        ` (SELECT count(*) > 0 FROM ${table}))`,
    });
  }
}

/** Compares the row count of every table with the source's before the copy commits. */
async function verifyCounts(client: Queryable, expected: Map<string, number>): Promise<void> {
  for (const [table, count] of expected) {
    const [row] = await client.query<{ count: number }>({
      text: `SELECT count(*) AS count FROM ${table}`,
    });
    if (row?.count !== count) {
      throw new Error(`copied ${row?.count} rows into ${table} where the source has ${count}`);
    }
  }
}
