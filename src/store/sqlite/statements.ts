import type Database from 'better-sqlite3';

/**
 * Prepared statements of one connection, prepared on first use and then reused.
 *
 * Preparing lazily lets the store open a database before `migrate()` creates the tables.
 * The cache is bounded because its keys are SQL texts written in this folder, and the
 * version queries have a finite set of shapes. A statement keeps the pluck or raw mode last
 * set on it, so callers use each SQL text in one mode only.
 */
export class StatementCache {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Returns the statement for `sql`, preparing it on first use. */
  get(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Returns the statement cached under `key`, building its SQL only on first use. */
  getByKey(key: string, buildSql: () => string): Database.Statement {
    let statement = this.#statements.get(key);
    if (statement === undefined) {
      statement = this.#db.prepare(buildSql());
      this.#statements.set(key, statement);
    }
    return statement;
  }
}
