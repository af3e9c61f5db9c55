/**
 * The connection pool of the PostgreSQL store, with the error mapping and the transaction
 * helper that every part of the store uses.
 *
 * pg's Pool opens connections on demand and replaces broken ones, so the store recovers by
 * itself once the server is back. A failure to reach the server becomes a
 * StoreUnavailableError, which the HTTP layers turn into 503 responses.
 */
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';

import { StoreUnavailableError } from '../store.ts';

export interface PostgresStoreOptions {
  /** Maximum number of connections this store opens at once. */
  maxConnections?: number;
  /** How long a query waits for a connection (a new one or a free one) before failing, in ms. */
  connectTimeoutMs?: number;
  /** How long an unused connection stays open, in ms. */
  idleTimeoutMs?: number;
}

const DEFAULTS: Required<PostgresStoreOptions> = {
  maxConnections: 10,
  connectTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
};

/**
 * Type parsers of this store's connections: int8 (bigint) columns come back as numbers.
 * Every int8 the store keeps (microsecond times, sequence numbers, counts) is below 2^53.
 * Set per pool rather than through pg.types, so other users of pg in the process are not
 * affected.
 */
const INT8_OID = 20;
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** SQLSTATE codes after which a whole transaction may be run again. */
const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 3;

/** Error codes of Node.js sockets and DNS that mean the server cannot be reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/**
 * Returns whether an error means that the server could not be reached or dropped the
 * connection. SQLSTATE class 08 is a connection exception; 57P01 to 57P03 are a shutdown or
 * a server still starting; 53300 is too many connections. pg reports a connection that
 * closes or times out only in its message.
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    if (code.startsWith('08') || code === '53300') return true;
    if (code === '57P01' || code === '57P02' || code === '57P03') return true;
  }
  return /^Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly/.test(
    error.message,
  );
}

/** A parsed query, ready for pg: named ones are prepared once per connection. */
export interface Statement {
  name?: string;
  text: string;
  values?: unknown[];
}

/** Anything that runs queries: the pool, or one connection inside a transaction. */
export interface Queryable {
  /** Runs a statement and returns its rows. */
  query<R extends QueryResultRow>(statement: Statement): Promise<R[]>;
  /** Runs a statement and returns how many rows it inserted, changed or deleted. */
  run(statement: Statement): Promise<number>;
}

/** The connection pool, with the mapping of connection failures to StoreUnavailableError. */
export class Connection implements Queryable {
  readonly #pool: pg.Pool;
  readonly #where: string;

  constructor(url: string, options: PostgresStoreOptions = {}) {
    const settings = { ...DEFAULTS, ...options };
    this.#pool = new pg.Pool({
      connectionString: url,
      max: settings.maxConnections,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      idleTimeoutMillis: settings.idleTimeoutMs,
      keepAlive: true,
      types: TYPES,
      application_name: 'cairn',
    });
    // An idle connection that the server closes emits an error on the pool; without a
    // listener Node.js would end the process. The pool drops that connection by itself and
    // the next query opens a new one, so there is nothing else to do here.
    this.#pool.on('error', () => undefined);
    // A checked-out connection that breaks emits its error on the client as well as failing
    // the query in flight, and the pool listens only on idle clients. The failed query
    // already reports the error, so this listener only keeps the process alive.
    this.#pool.on('connect', (client) => {
      client.on('error', () => undefined);
    });
    this.#where = describeServer(url);
  }

  /** The server and database, without user name or password, for messages. */
  get where(): string {
    return this.#where;
  }

  async query<R extends QueryResultRow>(statement: Statement): Promise<R[]> {
    try {
      const result = await this.#pool.query<R>(statement);
      return result.rows;
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  async run(statement: Statement): Promise<number> {
    try {
      const result = await this.#pool.query(statement);
      return result.rowCount ?? 0;
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  /**
   * Runs `work` in one READ COMMITTED transaction on one connection and commits. A deadlock
   * or serialization failure runs it again, up to MAX_ATTEMPTS times, so `work` must do
   * nothing outside the transaction that cannot be repeated. `begin` is the SQL that starts
   * the transaction, which may add SET LOCAL statements after BEGIN.
   */
  async transaction<T>(work: (client: Queryable) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#connect();
      let broken: Error | undefined;
      try {
        await client.query(begin);
        const result = await work(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          // The connection is gone; release(error) below closes it instead of reusing it.
          broken = rollbackError as Error;
        }
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'string' && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) continue;
        throw this.unavailable(error);
      } finally {
        client.release(broken);
      }
    }
  }

  /**
   * Runs `work` with one connection of its own outside any transaction, for steps that
   * manage their own transactions and locks (migrations).
   */
  async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#connect();
    let broken: Error | undefined;
    try {
      return await work(client);
    } catch (error) {
      if (isConnectionError(error)) broken = error as Error;
      throw this.unavailable(error);
    } finally {
      client.release(broken);
    }
  }

  async #connect(): Promise<PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  /**
   * Turns a connection failure into a StoreUnavailableError and text PostgreSQL cannot store
   * into a TypeError; returns other errors as they are.
   */
  unavailable(error: unknown): unknown {
    if ((error as { code?: unknown } | null)?.code === '22021') {
      // UTF-8 text in PostgreSQL cannot contain NUL; SQLite stores it, so callers get no
      // earlier check. JSON text is unaffected, because JSON escapes NUL as \u0000.
      return new TypeError(
        'invalid text: it contains the NUL character (U+0000), which PostgreSQL cannot ' +
          'store; remove it',
        { cause: error },
      );
    }
    if (error instanceof StoreUnavailableError || !isConnectionError(error)) return error;
    const reason = error instanceof Error ? error.message : String(error);
    return new StoreUnavailableError(
      `the PostgreSQL store at ${this.#where} is unavailable (${reason}); retry later`,
      { cause: error },
    );
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/** Wraps a pool client so queries return their rows, as the pool's do. */
function wrap(client: PoolClient): Queryable {
  return {
    async query<R extends QueryResultRow>(statement: Statement): Promise<R[]> {
      const result = await client.query<R>(statement);
      return result.rows;
    },
    async run(statement: Statement): Promise<number> {
      const result = await client.query(statement);
      return result.rowCount ?? 0;
    },
  };
}

/**
 * Returns `host:port/database` of a connection URL, leaving out the user name, the
 * password and every query parameter.
 */
export function describeServer(url: string): string {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname || 'localhost';
    const port = parsed.port || '5432';
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    return `${host}:${port}/${database}`;
  } catch {
    return 'an unparsable postgres:// URL';
  }
}
