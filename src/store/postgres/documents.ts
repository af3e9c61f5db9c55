/**
 * The documents table on PostgreSQL: small JSON documents grouped by kind, with optimistic
 * revisions and leases for work that must happen once (see Store.putDocument and
 * Store.claimDocuments).
 *
 * Each write is one statement, so its revision check and its change are atomic on any
 * number of nodes: a conditional UPDATE applies only on the expected revision, an INSERT
 * ... ON CONFLICT DO NOTHING creates only an absent document, and a claim selects the due
 * documents FOR UPDATE SKIP LOCKED, so concurrent claimers take disjoint sets without
 * waiting for each other.
 */
import { nowMicros } from '../../stix/timestamp.ts';
import { checkCount, checkDocument, checkTime } from '../checks.ts';
import {
  StoreConflictError,
  type DocumentQuery,
  type DocumentRecord,
  type DocumentWrite,
  type NewDocument,
} from '../store.ts';
import type { Connection, Queryable } from './connection.ts';
import { constraintKind } from './constraints.ts';
import { DOCUMENT_COLUMNS, toDocument, type DocumentRow } from './records.ts';

const SQL = {
  upsert:
    `INSERT INTO documents (${DOCUMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 1, $7)` +
    ' ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, key = excluded.key,' +
    ' due = excluded.due, body = excluded.body, revision = documents.revision + 1,' +
    ` updated_at = excluded.updated_at RETURNING ${DOCUMENT_COLUMNS}`,
  create:
    `INSERT INTO documents (${DOCUMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 1, $7)` +
    ` ON CONFLICT (kind, id) DO NOTHING RETURNING ${DOCUMENT_COLUMNS}`,
  replace:
    'UPDATE documents SET owner = $3, key = $4, due = $5, body = $6, revision = revision + 1,' +
    ` updated_at = $7 WHERE kind = $1 AND id = $2 AND revision = $8 RETURNING ${DOCUMENT_COLUMNS}`,
  revision: 'SELECT revision FROM documents WHERE kind = $1 AND id = $2',
  get: `SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE kind = $1 AND id = $2`,
  getByKey: `SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE kind = $1 AND key = $2`,
  delete: 'DELETE FROM documents WHERE kind = $1 AND id = $2',
  claim:
    'WITH due AS (SELECT kind, id FROM documents WHERE kind = $1 AND due <= $2' +
    ' ORDER BY due, id LIMIT $4 FOR UPDATE SKIP LOCKED)' +
    ' UPDATE documents AS d SET due = $3, revision = d.revision + 1, updated_at = $5' +
    ` FROM due WHERE d.kind = due.kind AND d.id = due.id RETURNING ${prefixed('d')}`,
} as const;

function prefixed(alias: string): string {
  return DOCUMENT_COLUMNS.split(', ')
    .map((column) => `${alias}.${column}`)
    .join(', ');
}

/** Orders documents by id in code unit order, as the "C" collation orders ASCII ids. */
function compareIds(a: DocumentRecord, b: DocumentRecord): number {
  if (a.id === b.id) return 0;
  return a.id < b.id ? -1 : 1;
}

function checkWrite(document: NewDocument, expectRevision: number | undefined): void {
  checkDocument(document);
  if (expectRevision !== undefined) checkCount(expectRevision, 'expected revision', 0);
}

/**
 * Writes one document with one statement: an upsert without `expectRevision`, an insert
 * that does nothing on an existing document for 0, and an update conditioned on the
 * revision otherwise.
 */
async function write(
  db: Queryable,
  document: NewDocument,
  expectRevision: number | undefined,
): Promise<DocumentRecord> {
  checkWrite(document, expectRevision);
  const fields = [
    document.kind,
    document.id,
    document.owner ?? null,
    document.key ?? null,
    document.due ?? null,
    document.body,
    nowMicros(),
  ];
  let rows: DocumentRow[];
  try {
    if (expectRevision === undefined) {
      rows = await db.query<DocumentRow>({ text: SQL.upsert, values: fields });
    } else if (expectRevision === 0) {
      rows = await db.query<DocumentRow>({ text: SQL.create, values: fields });
    } else {
      rows = await db.query<DocumentRow>({
        text: SQL.replace,
        values: [...fields, expectRevision],
      });
    }
  } catch (error) {
    if (constraintKind(error) === 'unique') {
      throw new StoreConflictError(
        `document key "${document.key}" is already used by another ${document.kind} document`,
      );
    }
    throw error;
  }
  const [row] = rows;
  if (row === undefined) {
    // Read only for the message: the write was already refused atomically.
    const [current] = await db.query<{ revision: number }>({
      text: SQL.revision,
      values: [document.kind, document.id],
    });
    throw new StoreConflictError(
      `document ${document.kind}/${document.id} is at revision ${current?.revision ?? 0}, ` +
        `not the expected ${expectRevision}: read it again and reapply the change`,
    );
  }
  return toDocument(row);
}

export class DocumentTable {
  readonly #connection: Connection;

  constructor(connection: Connection) {
    this.#connection = connection;
  }

  async put(document: NewDocument, expectRevision?: number): Promise<DocumentRecord> {
    return write(this.#connection, document, expectRevision);
  }

  /** Applies the writes in one transaction; a write that throws rolls back the others. */
  async putAll(writes: readonly DocumentWrite[]): Promise<DocumentRecord[]> {
    for (const { document, expectRevision } of writes) checkWrite(document, expectRevision);
    if (writes.length === 0) return [];
    return this.#connection.transaction(async (client) => {
      const stored: DocumentRecord[] = [];
      for (const { document, expectRevision } of writes) {
        stored.push(await write(client, document, expectRevision));
      }
      return stored;
    });
  }

  async get(kind: string, id: string): Promise<DocumentRecord | undefined> {
    const [row] = await this.#connection.query<DocumentRow>({
      name: 'cairn_document',
      text: SQL.get,
      values: [kind, id],
    });
    return row === undefined ? undefined : toDocument(row);
  }

  async getByKey(kind: string, key: string): Promise<DocumentRecord | undefined> {
    const [row] = await this.#connection.query<DocumentRow>({
      name: 'cairn_document_by_key',
      text: SQL.getByKey,
      values: [kind, key],
    });
    return row === undefined ? undefined : toDocument(row);
  }

  async list(query: DocumentQuery): Promise<DocumentRecord[]> {
    checkCount(query.limit, 'limit', 0);
    const values: unknown[] = [query.kind];
    let where = 'kind = $1';
    if (query.owner !== undefined) {
      values.push(query.owner);
      where += ` AND owner = $${values.length}`;
    }
    if (query.afterId !== undefined) {
      values.push(query.afterId);
      where += ` AND id > $${values.length}`;
    }
    values.push(query.limit);
    const rows = await this.#connection.query<DocumentRow>({
      text: `SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE ${where} ORDER BY id LIMIT $${values.length}`,
      values,
    });
    return rows.map(toDocument);
  }

  async delete(kind: string, id: string): Promise<boolean> {
    return (await this.#connection.run({ text: SQL.delete, values: [kind, id] })) > 0;
  }

  async claim(
    kind: string,
    now: number,
    leaseUntil: number,
    limit: number,
  ): Promise<DocumentRecord[]> {
    checkTime(now, 'claim time');
    checkTime(leaseUntil, 'lease end');
    checkCount(limit, 'limit', 0);
    if (leaseUntil <= now) {
      throw new RangeError(
        `invalid lease end ${leaseUntil}: it must be after the claim time ${now}`,
      );
    }
    if (limit === 0) return [];
    const rows = await this.#connection.query<DocumentRow>({
      name: 'cairn_claim_documents',
      text: SQL.claim,
      values: [kind, now, leaseUntil, limit, nowMicros()],
    });
    // RETURNING gives rows in no defined order; sort them by id as listDocuments does.
    return rows.map(toDocument).sort(compareIds);
  }
}
