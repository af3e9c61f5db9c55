/**
 * TAXII POST ingest throughput on SQLite, end to end over HTTP.
 *
 *   npm run build && node --import tsx bench/taxii-ingest.ts [seconds] [clients]
 *
 * Starts the compiled server on a fresh database, then `clients` concurrent clients post
 * envelopes of 1,000 real indicators (stalkerware templates under new ids) for `seconds`
 * seconds, and prints objects stored per second, the server's CPU time per 1,000 objects and
 * its peak resident memory. Client and server share the machine, so the load average at the
 * end is printed too. mainThreadCpuMsPerThousand counts the server's main thread alone,
 * without the envelope workers and V8's helper threads; CAIRN_TAXII_ENVELOPE_WORKERS=0
 * validates on the main thread. With CAIRN_BENCH_CPU_PROF=<directory>, the server writes a
 * V8 CPU profile there on exit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cpuSeconds,
  freshCopy,
  loadAverage,
  machine,
  mainThreadCpuSeconds,
  percentile,
  realIndicators,
  rssKiB,
  startServerProcess,
} from './lib.ts';

const seconds = Number(process.argv[2] ?? 20);
const clients = Number(process.argv[3] ?? 2);
const ENVELOPE = 1000;

const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-'));
// CAIRN_BENCH_STORE names another, empty store, such as a PostgreSQL database
// (taxii-ingest-postgres.ts).
const location = process.env.CAIRN_BENCH_STORE ?? `sqlite:${join(dir, 'bench.db')}`;
const profileDir = process.env.CAIRN_BENCH_CPU_PROF;
const server = await startServerProcess(
  location,
  {},
  profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
);
const templates = realIndicators();
const url = `${server.url}/default/collections/default/objects/`;
const headers = {
  Authorization: `Bearer ${server.token}`,
  Accept: 'application/taxii+json;version=2.1',
  'Content-Type': 'application/taxii+json;version=2.1',
};

function envelope(): string {
  const objects = Array.from({ length: ENVELOPE }, (_, i) =>
    freshCopy(templates[i % templates.length]!),
  );
  return JSON.stringify({ objects });
}

// Bodies are prepared ahead so the measured time is the server's, not the generator's.
const bodies = Array.from({ length: 8 }, envelope);
let stored = 0;
const latencies: number[] = [];
const deadline = performance.now() + seconds * 1000;
const started = performance.now();
const serverCpuAtStart = cpuSeconds(server.child.pid!);
const mainThreadCpuAtStart = mainThreadCpuSeconds(server.child.pid!);
let peakRssKiB = 0;
const rssSampler = setInterval(() => {
  peakRssKiB = Math.max(peakRssKiB, rssKiB(server.child.pid!));
}, 250);

async function client(index: number): Promise<void> {
  let round = index;
  while (performance.now() < deadline) {
    const body = reid(bodies[round % bodies.length]!, round);
    const sent = performance.now();
    const response = await fetch(url, { method: 'POST', headers, body });
    const status = (await response.json()) as { success_count: number; failure_count: number };
    latencies.push(performance.now() - sent);
    if (response.status !== 202 || status.failure_count > 0)
      throw new Error(`unexpected response status ${response.status}`);
    stored += status.success_count;
    round += clients;
  }
}

/** Gives every id in the body a new first UUID group, so each round posts new objects. */
function reid(body: string, round: number): string {
  const prefix = (round + 0x10000000).toString(16).slice(-8);
  return body.replace(/indicator--[0-9a-f]{8}/g, `indicator--${prefix}`);
}

/**
 * Waits until the server has used less than a tenth of a core for IDLE_SECONDS, and returns
 * the seconds it worked before that. The CPU time of the wait counts the work that the event
 * log followers still had queued when the clients stopped. Followers that give way to writes
 * wait for a second without writes before they start (src/events/pacing.ts), hence the long
 * idle time.
 */
async function serverIdle(): Promise<number> {
  const IDLE_SECONDS = 3;
  const waitStarted = performance.now();
  let idleSince = waitStarted;
  while (performance.now() - idleSince < IDLE_SECONDS * 1000) {
    const before = cpuSeconds(server.child.pid!);
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (cpuSeconds(server.child.pid!) - before >= 0.05) idleSince = performance.now();
  }
  return Math.round((idleSince - waitStarted) / 100) / 10;
}

await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
const elapsed = (performance.now() - started) / 1000;
const serverCpu = cpuSeconds(server.child.pid!) - serverCpuAtStart;
const mainThreadCpu = mainThreadCpuSeconds(server.child.pid!) - mainThreadCpuAtStart;
const drainSeconds = await serverIdle();
const serverCpuDrained = cpuSeconds(server.child.pid!) - serverCpuAtStart;
clearInterval(rssSampler);
latencies.sort((a, b) => a - b);
await server.stop();
rmSync(dir, { recursive: true, force: true });

console.log(
  JSON.stringify({
    benchmark: 'taxii-post-ingest',
    store: location.split(':')[0],
    machine: machine(),
    clients,
    envelope: ENVELOPE,
    seconds: Math.round(elapsed * 10) / 10,
    objects: stored,
    objectsPerSecond: Math.round(stored / elapsed),
    requestP50ms: Math.round(percentile(latencies, 50)),
    requestP99ms: Math.round(percentile(latencies, 99)),
    serverCpuMsPerThousand: Math.round((serverCpu * 1e6) / stored),
    mainThreadCpuMsPerThousand: Math.round((mainThreadCpu * 1e6) / stored),
    serverCores: Math.round((serverCpu / elapsed) * 100) / 100,
    // Including the work left when the clients stopped, which took drainSeconds to finish.
    serverCpuMsPerThousandDrained: Math.round((serverCpuDrained * 1e6) / stored),
    drainSeconds,
    serverPeakRssMiB: Math.round(peakRssKiB / 1024),
    loadAverage: loadAverage(),
  }),
);
