/**
 * `cairn migrate`: applies pending schema migrations to the configured store, or, with
 * `--from sqlite:PATH`, copies a SQLite store into the configured PostgreSQL store.
 */
import Database from 'better-sqlite3';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';

import { CairnError } from '../../errors.ts';
import { describeStore } from '../../server.ts';
import { isPostgresUrl, openStore, sqlitePath } from '../../store/index.ts';
import {
  CopyRejectedError,
  copySqliteToPostgres,
  type CopySummary,
} from '../../store/postgres/copy-from-sqlite.ts';
import { configFrom, type GlobalOptions } from '../context.ts';

interface MigrateOptions extends GlobalOptions {
  from?: string;
  force?: boolean;
  quiet?: boolean;
}

/** Milliseconds between progress lines when standard error is not a terminal. */
const PLAIN_PROGRESS_INTERVAL_MS = 5000;

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description(
      'apply pending schema migrations to the configured store, or copy a SQLite store into ' +
        'the configured PostgreSQL store (--from)',
    )
    .option(
      '--from <store>',
      'SQLite store to copy (sqlite:PATH or a file path) into the configured PostgreSQL store',
    )
    .option('--force', 'with --from: delete everything the target store holds before the copy')
    .option('-q, --quiet', 'no progress on standard error')
    .action(async (_options: MigrateOptions, command: Command) => {
      const options = command.optsWithGlobals<MigrateOptions>();
      const config = configFrom(options);
      if (options.from === undefined) {
        if (options.force) throw new CairnError('invalid-parameter', '--force needs --from');
        const store = await openStore(config.store, { migrate: true });
        await store.close();
        process.stderr.write(`cairn: the store at ${describeStore(config.store)} is up to date\n`);
        return;
      }
      const summary = await copyStore(options.from, config.store, options);
      process.stderr.write(
        `cairn: copied ${summary.rows} rows from ${options.from} to ` +
          `${describeStore(config.store)}` +
          ` (${summary.tables.collection_entries ?? 0} object versions in ` +
          `${summary.tables.collections ?? 0} collections)\n`,
      );
    });
}

/** Copies the SQLite store `from` into the PostgreSQL store `to`; see registerMigrate. */
export async function copyStore(
  from: string,
  to: string,
  options: { force?: boolean; quiet?: boolean },
): Promise<CopySummary> {
  if (!isPostgresUrl(to)) {
    throw new CairnError(
      'invalid-parameter',
      `the target store ${describeStore(to)} is not PostgreSQL: set --store or CAIRN_STORE ` +
        'to a postgres:// URL',
    );
  }
  if (isPostgresUrl(from)) {
    throw new CairnError('invalid-parameter', '--from takes a SQLite store: sqlite:PATH');
  }
  const path = sqlitePath(from);
  let source: Database.Database;
  try {
    source = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new CairnError(
      'invalid-parameter',
      `cannot open the SQLite store ${path}: ${(error as Error).message}`,
    );
  }
  // Loaded here, so other commands do not spend start-up time on the pg driver.
  const { PostgresStore } = await import('../../store/postgres/index.ts');
  const target = new PostgresStore(to);
  const progress = startCopyProgress(options.quiet === true);
  try {
    await target.migrate();
    return await copySqliteToPostgres(source, path, target, {
      force: options.force === true,
      onProgress: progress.update,
    });
  } catch (error) {
    if (error instanceof CopyRejectedError) throw new CairnError('conflict', error.message);
    throw error;
  } finally {
    progress.stop();
    source.close();
    await target.close();
  }
}

interface CopyProgress {
  update(copied: number, total: number, table: string): void;
  stop(): void;
}

/**
 * Shows the copy's progress on standard error: a bar on a terminal, a line every few
 * seconds otherwise, nothing when quiet.
 */
function startCopyProgress(quiet: boolean): CopyProgress {
  const stream = process.stderr;
  if (quiet) return { update: () => {}, stop: () => {} };
  if (!stream.isTTY) {
    let lastLine = performance.now();
    return {
      update(copied, total, table) {
        const now = performance.now();
        if (now - lastLine < PLAIN_PROGRESS_INTERVAL_MS && copied < total) return;
        lastLine = now;
        stream.write(`copying: ${copied} of ${total} rows (${table})\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format:
        'copying [{bar}] {percentage}% | {value}/{total} rows | {table} | ETA {eta_formatted}',
      stream,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(copied, total, table) {
      if (!started) {
        bar.start(total, 0, { table });
        started = true;
      }
      bar.update(copied, { table });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
