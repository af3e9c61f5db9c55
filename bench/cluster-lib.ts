/**
 * Pieces of the cluster benchmarks: a PostgreSQL database of their own on the local server,
 * and a NATS prefix of their own, both removed afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

import { deleteStream } from '../src/events/nats-notifier.ts';
import { natsNames } from '../src/cluster/index.ts';

export const POSTGRES_ADMIN =
  process.env.CAIRN_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const NATS_URL = process.env.CAIRN_BENCH_NATS ?? 'nats://127.0.0.1:4222';

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database `cairn_bench_<random>` on the local PostgreSQL server. */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `cairn_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Returns a NATS prefix for one run and a function that deletes its stream. */
export function benchNats(): { env: Record<string, string>; drop(): Promise<void> } {
  const prefix = `cairn-bench-${randomBytes(5).toString('hex')}`;
  return {
    env: { CAIRN_NATS_URL: NATS_URL, CAIRN_NATS_PREFIX: prefix },
    drop: () => deleteStream(NATS_URL, natsNames(prefix).stream),
  };
}
