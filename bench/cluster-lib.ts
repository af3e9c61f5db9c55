/**
 * Pieces of the cluster benchmarks: a PostgreSQL database of their own on the local server,
 * and a NATS prefix of their own, both removed afterwards.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

import { deleteStream } from '../src/events/nats-notifier.ts';
import { natsNames } from '../src/cluster/index.ts';

export const POSTGRES_ADMIN =
  process.env.CAIRN_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const NATS_URL = process.env.CAIRN_BENCH_NATS ?? 'nats://127.0.0.1:4222';

export interface BenchDatabase {
  name: string;
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
    name,
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

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on Linux x86). */
const TICKS_PER_SECOND = 100;

/** Returns the user plus system CPU ticks of a process, or undefined once it has gone. */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/**
 * Measures the CPU time that the matching processes use between start() and stop(), by
 * sampling /proc every 200 ms. A process that starts and ends between two samples is
 * missed, so the figure is a lower bound. The servers' pools keep their connections open
 * for the whole run, so few backends are missed.
 */
export class CpuSampler {
  readonly #match: (pid: number, command: string) => boolean;
  readonly #first = new Map<number, number>();
  readonly #last = new Map<number, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(match: (pid: number, command: string) => boolean) {
    this.#match = match;
  }

  #sample(): void {
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      if (!this.#first.has(pid) && !this.#match(pid, commandLine(pid))) continue;
      const ticks = cpuTicks(pid);
      if (ticks === undefined) continue;
      if (!this.#first.has(pid)) this.#first.set(pid, ticks);
      this.#last.set(pid, ticks);
    }
  }

  start(): void {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), 200);
  }

  /** Stops sampling and returns the CPU seconds used since start(). */
  stop(): number {
    clearInterval(this.#timer);
    this.#sample();
    let ticks = 0;
    for (const [pid, first] of this.#first) ticks += (this.#last.get(pid) ?? first) - first;
    return ticks / TICKS_PER_SECOND;
  }
}
