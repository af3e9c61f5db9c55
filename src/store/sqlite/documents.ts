/**
 * The documents table: small JSON documents grouped by kind, with optimistic revisions and
 * leases for work that must happen once (see Store.putDocument and Store.claimDocuments).
 *
 * SQLite has one writer at a time per database file, and each write here is one statement
 * that checks and changes together, so two processes never both pass a revision check.
 */
import { nowMicros } from '../../stix/timestamp.ts';
import {
  StoreConflictError,
  type DocumentQuery,
  type DocumentRecord,
  type NewDocument,
} from '../store.ts';
import { checkCount, checkDocument, checkTime } from '../checks.ts';
import { constraintKind } from './constraints.ts';
import type { StatementCache } from './statements.ts';

interface DocumentRow {
  kind: string;
  id: string;
  owner: string | null;
  key: string | null;
  due: number | null;
  body: string;
  revision: number;
  updated_at: number;
}

const COLUMNS = 'kind, id, owner, key, due, body, revision, updated_at';

const VALUES = '(@kind, @id, @owner, @key, @due, @body, 1, @updated_at)';

const SQL = {
  upsert:
    `INSERT INTO documents (${COLUMNS}) VALUES ${VALUES}` +
    ' ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, key = excluded.key,' +
    ' due = excluded.due, body = excluded.body, revision = revision + 1,' +
    ` updated_at = excluded.updated_at RETURNING ${COLUMNS}`,
  create:
    `INSERT INTO documents (${COLUMNS}) VALUES ${VALUES}` +
    ` ON CONFLICT (kind, id) DO NOTHING RETURNING ${COLUMNS}`,
  replace:
    'UPDATE documents SET owner = @owner, key = @key, due = @due, body = @body,' +
    ' revision = revision + 1, updated_at = @updated_at' +
    ` WHERE kind = @kind AND id = @id AND revision = @expected RETURNING ${COLUMNS}`,
  revision: 'SELECT revision FROM documents WHERE kind = ? AND id = ?',
} as const;

function toDocument(row: DocumentRow): DocumentRecord {
  const record: DocumentRecord = {
    kind: row.kind,
    id: row.id,
    body: row.body,
    revision: row.revision,
    updatedAt: row.updated_at,
  };
  if (row.owner !== null) record.owner = row.owner;
  if (row.key !== null) record.key = row.key;
  if (row.due !== null) record.due = row.due;
  return record;
}

/** Orders documents by id in code unit order, close to SQLite's BINARY collation. */
function compareIds(a: DocumentRecord, b: DocumentRecord): number {
  if (a.id === b.id) return 0;
  return a.id < b.id ? -1 : 1;
}

export class DocumentTable {
  readonly #statements: StatementCache;

  constructor(statements: StatementCache) {
    this.#statements = statements;
  }

  /**
   * Writes with one statement, whose revision condition and change SQLite applies under
   * the write lock: an upsert without `expectRevision`, an insert that does nothing on an
   * existing document for 0, and an update conditioned on the revision otherwise. A
   * statement that changed nothing means the revision did not match.
   */
  put(document: NewDocument, expectRevision?: number): DocumentRecord {
    checkDocument(document);
    if (expectRevision !== undefined) checkCount(expectRevision, 'expected revision', 0);
    const row = {
      kind: document.kind,
      id: document.id,
      owner: document.owner ?? null,
      key: document.key ?? null,
      due: document.due ?? null,
      body: document.body,
      updated_at: nowMicros(),
    };
    let written: DocumentRow | undefined;
    try {
      if (expectRevision === undefined) {
        written = this.#statements.get(SQL.upsert).get(row) as DocumentRow;
      } else if (expectRevision === 0) {
        written = this.#statements.get(SQL.create).get(row) as DocumentRow | undefined;
      } else {
        written = this.#statements.get(SQL.replace).get({ ...row, expected: expectRevision }) as
          DocumentRow | undefined;
      }
    } catch (error) {
      if (constraintKind(error) === 'unique') {
        throw new StoreConflictError(
          `document key "${document.key}" is already used by another ${document.kind} document`,
        );
      }
      throw error;
    }
    if (written !== undefined) return toDocument(written);

    const revision =
      (this.#statements.get(SQL.revision).pluck().get(document.kind, document.id) as
        number | undefined) ?? 0;
    throw new StoreConflictError(
      `document ${document.kind}/${document.id} is at revision ${revision}, not the ` +
        `expected ${expectRevision}: read it again and reapply the change`,
    );
  }

  get(kind: string, id: string): DocumentRecord | undefined {
    const row = this.#statements
      .get(`SELECT ${COLUMNS} FROM documents WHERE kind = ? AND id = ?`)
      .get(kind, id);
    return row === undefined ? undefined : toDocument(row as DocumentRow);
  }

  getByKey(kind: string, key: string): DocumentRecord | undefined {
    const row = this.#statements
      .get(`SELECT ${COLUMNS} FROM documents WHERE kind = ? AND key = ?`)
      .get(kind, key);
    return row === undefined ? undefined : toDocument(row as DocumentRow);
  }

  list(query: DocumentQuery): DocumentRecord[] {
    checkCount(query.limit, 'limit', 0);
    const owner = query.owner === undefined ? '' : ' AND owner = @owner';
    const after = query.afterId === undefined ? '' : ' AND id > @afterId';
    const rows = this.#statements
      .get(
        `SELECT ${COLUMNS} FROM documents WHERE kind = @kind${owner}${after}` +
          ' ORDER BY id LIMIT @limit',
      )
      .all({
        kind: query.kind,
        limit: query.limit,
        ...(query.owner === undefined ? {} : { owner: query.owner }),
        ...(query.afterId === undefined ? {} : { afterId: query.afterId }),
      });
    return (rows as DocumentRow[]).map(toDocument);
  }

  delete(kind: string, id: string): boolean {
    return (
      this.#statements.get('DELETE FROM documents WHERE kind = ? AND id = ?').run(kind, id)
        .changes > 0
    );
  }

  /**
   * One UPDATE statement selects and leases the due documents, so it runs under the write
   * lock, and a second claimer, in this process or another, reads the new due times.
   */
  claim(kind: string, now: number, leaseUntil: number, limit: number): DocumentRecord[] {
    checkTime(now, 'claim time');
    checkTime(leaseUntil, 'lease end');
    checkCount(limit, 'limit', 0);
    if (leaseUntil <= now) {
      throw new RangeError(
        `invalid lease end ${leaseUntil}: it must be after the claim time ${now}`,
      );
    }
    if (limit === 0) return [];
    // Most claims of a busy worker find nothing due. A read finds that out without taking
    // the write lock and committing; when it finds something, the UPDATE checks again.
    const anyDue = this.#statements
      .get('SELECT 1 FROM documents WHERE kind = ? AND due <= ? LIMIT 1')
      .pluck()
      .get(kind, now);
    if (anyDue === undefined) return [];
    const rows = this.#statements
      .get(
        'UPDATE documents SET due = @leaseUntil, revision = revision + 1,' +
          ' updated_at = @updatedAt WHERE rowid IN (SELECT rowid FROM documents' +
          ' WHERE kind = @kind AND due <= @now ORDER BY due, id LIMIT @limit)' +
          ` RETURNING ${COLUMNS}`,
      )
      .all({ kind, now, leaseUntil, limit, updatedAt: nowMicros() }) as DocumentRow[];
    // RETURNING gives rows in no defined order; sort them by id as listDocuments does.
    const claimed = rows.map(toDocument);
    claimed.sort(compareIds);
    return claimed;
  }
}
