/**
 * TAXII POST ingest throughput: one node on SQLite, one node on PostgreSQL, and two nodes on
 * one PostgreSQL database with NATS between them, end to end over HTTP.
 *
 *   npm run build && node --import tsx bench/cluster-ingest.ts [seconds] [clients]
 *
 * Each setup starts compiled servers on a fresh store. `clients` concurrent clients post
 * envelopes of 1,000 real indicators under new ids for `seconds` seconds; with two nodes
 * the clients alternate between them. Prints objects stored per second for each setup.
 * Servers, PostgreSQL, NATS and the clients share the machine's cores.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { benchNats, CpuSampler, createBenchDatabase } from './cluster-lib.ts';
import {
  freshCopy,
  machine,
  percentile,
  realIndicators,
  startServerProcess,
  type ServerProcess,
} from './lib.ts';

const seconds = Number(process.argv[2] ?? 20);
const clients = Number(process.argv[3] ?? 4);
const ENVELOPE = 1000;

const templates = realIndicators();
// Bodies are prepared ahead so the measured time is the servers', not the generator's.
const bodies = Array.from({ length: 8 }, () =>
  JSON.stringify({
    objects: Array.from({ length: ENVELOPE }, (_, i) =>
      freshCopy(templates[i % templates.length]!),
    ),
  }),
);

/** Gives every id in the body a new first UUID group, so each round posts new objects. */
function reid(body: string, round: number): string {
  const prefix = (round + 0x10000000).toString(16).slice(-8);
  return body.replace(/indicator--[0-9a-f]{8}/g, `indicator--${prefix}`);
}

interface Result {
  setup: string;
  nodes: number;
  objectsPerSecond: number;
  requestP50ms: number;
  requestP99ms: number;
  /** CPU seconds per 1,000 objects stored: Cairn nodes, PostgreSQL backends, load client. */
  cpuPerThousand: { nodes: number; postgres: number; client: number };
  /** Reading the collection back in pages of 1,000, following `next` across the nodes. */
  pageP50ms: number;
  pageP99ms: number;
}

/** Pages through up to `pages` pages of 1,000 objects, alternating nodes; returns latencies. */
async function readBack(nodes: ServerProcess[], token: string, pages: number): Promise<number[]> {
  const headers = {
    Authorization: `Bearer ${token}`,
    Accept: 'application/taxii+json;version=2.1',
  };
  const latencies: number[] = [];
  let next: string | undefined;
  for (let i = 0; i < pages; i++) {
    const node = nodes[i % nodes.length]!;
    const query = next === undefined ? '' : `&next=${encodeURIComponent(next)}`;
    const sent = performance.now();
    const response = await fetch(
      `${node.url}/default/collections/default/objects/?limit=1000${query}`,
      { headers },
    );
    const page = (await response.json()) as { more?: boolean; next?: string };
    latencies.push(performance.now() - sent);
    if (response.status !== 200) throw new Error(`page ${i} failed with ${response.status}`);
    if (page.more !== true) break;
    next = page.next;
  }
  return latencies.sort((a, b) => a - b);
}

async function load(
  setup: string,
  nodes: ServerProcess[],
  token: string,
  database?: string,
): Promise<Result> {
  const pids = new Set(nodes.map((node) => node.child.pid));
  const nodeCpu = new CpuSampler((pid) => pids.has(pid));
  const postgresCpu = new CpuSampler(
    (_pid, command) => database !== undefined && command.includes(` ${database} `),
  );
  const clientCpu = process.cpuUsage();
  nodeCpu.start();
  postgresCpu.start();
  let stored = 0;
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const client = async (index: number) => {
    const target = nodes[index % nodes.length]!;
    const url = `${target.url}/default/collections/default/objects/`;
    const headers = {
      Authorization: `Bearer ${token}`,
      Accept: 'application/taxii+json;version=2.1',
      'Content-Type': 'application/taxii+json;version=2.1',
    };
    for (let round = index; performance.now() < deadline; round += clients) {
      const sent = performance.now();
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body: reid(bodies[round % bodies.length]!, round),
      });
      const status = (await response.json()) as { success_count: number; failure_count: number };
      latencies.push(performance.now() - sent);
      if (response.status !== 202 || status.failure_count > 0) {
        throw new Error(`unexpected response status ${response.status} from ${target.url}`);
      }
      stored += status.success_count;
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  const elapsed = (performance.now() - started) / 1000;
  const clientUsage = process.cpuUsage(clientCpu);
  const perThousand = (seconds: number) => Math.round((seconds / (stored / 1000)) * 1000) / 1000;
  const cpuPerThousand = {
    nodes: perThousand(nodeCpu.stop()),
    postgres: perThousand(postgresCpu.stop()),
    client: perThousand((clientUsage.user + clientUsage.system) / 1e6),
  };
  latencies.sort((a, b) => a - b);
  const pages = await readBack(nodes, token, 100);
  return {
    cpuPerThousand,
    pageP50ms: Math.round(percentile(pages, 50) * 10) / 10,
    pageP99ms: Math.round(percentile(pages, 99) * 10) / 10,
    setup,
    nodes: nodes.length,
    objectsPerSecond: Math.round(stored / elapsed),
    requestP50ms: Math.round(percentile(latencies, 50)),
    requestP99ms: Math.round(percentile(latencies, 99)),
  };
}

const results: Result[] = [];

{
  const folder = mkdtempSync(join(tmpdir(), 'cairn-bench-'));
  const server = await startServerProcess(`sqlite:${join(folder, 'bench.db')}`);
  try {
    results.push(await load('one node, SQLite', [server], server.token));
  } finally {
    await server.stop();
    rmSync(folder, { recursive: true, force: true });
  }
}

{
  const database = await createBenchDatabase();
  const server = await startServerProcess(database.url);
  try {
    results.push(await load('one node, PostgreSQL', [server], server.token, database.name));
  } finally {
    await server.stop();
    await database.drop();
  }
}

{
  const database = await createBenchDatabase();
  const nats = benchNats();
  const first = await startServerProcess(database.url, nats.env);
  const second = await startServerProcess(database.url, nats.env);
  try {
    results.push(
      await load('two nodes, PostgreSQL + NATS', [first, second], first.token, database.name),
    );
  } finally {
    await Promise.all([first.stop(), second.stop()]);
    await database.drop();
    await nats.drop();
  }
}

console.log(
  JSON.stringify({
    benchmark: 'cluster-ingest',
    machine: machine(),
    clients,
    envelope: ENVELOPE,
    seconds,
    results,
  }),
);
