/**
 * Runs another benchmark script against a PostgreSQL database of its own:
 * `cairn_bench_<random>` on the server at CAIRN_BENCH_POSTGRES (default
 * postgres://postgres@127.0.0.1:5432/postgres), created before the run and dropped after
 * it, even when the script fails. The script receives the database URL as CAIRN_BENCH_STORE.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

import pg from 'pg';

const ADMIN_URL = process.env.CAIRN_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Runs `script` with `args` on a fresh database and returns its exit code. */
export async function runOnPostgres(script: string, args: string[]): Promise<number> {
  const name = `cairn_bench_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  try {
    return await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
        stdio: 'inherit',
        env: { ...process.env, CAIRN_BENCH_STORE: url.toString() },
      });
      child.on('error', reject);
      child.on('exit', (code) => resolve(code ?? 1));
    });
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}
