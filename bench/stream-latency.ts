/**
 * Event stream fan-out on one node: memory per idle subscriber, then publish-to-delivery
 * latency while objects are posted at a steady rate.
 *
 *   npm run build && node --import tsx bench/stream-latency.ts [subscribers] [objects/s] [seconds]
 *
 * Defaults: 1,000 subscribers, 1,000 objects/s, 20 s. The script starts the compiled server
 * on a fresh SQLite file. Beside it, on the same file, it creates 200 organisations in 100
 * communities: each organisation is a member of one or two, and a fifth of them are also
 * clients of another organisation. One user with a token per subscriber gives every
 * subscriber its own access set. Subscribers open, in turn, a stream of all they may read, of one
 * of their communities, or of one collection for indicators only.
 *
 * Phase 1 opens every stream and compares the server's resident memory before and after.
 * Phase 2 posts envelopes of real stalkerware indicators (under fresh ids, their `name`
 * set to the send time) to random collections every 50 ms, and each subscriber records
 * the time from the POST being sent to the event arriving. The load generator and the
 * subscribers run in this process, on the same two cores as the server.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';

import { issueToken } from '../src/auth/tokens.ts';
import { makeOrganisation, makeUser } from '../src/sharing/fixtures.test-helper.ts';
import { nowMicros } from '../src/stix/timestamp.ts';
import { buildIdentity } from '../src/store/identity.ts';
import { SqliteStore } from '../src/store/sqlite/index.ts';
import type { CollectionRecord, OrganisationRecord } from '../src/store/store.ts';
import {
  cpuSeconds,
  freshCopy,
  machine,
  percentile,
  realIndicators,
  rssKiB,
  startServerProcess,
} from './lib.ts';

const subscribers = Number(process.argv[2] ?? 1000);
const rate = Number(process.argv[3] ?? 1000);
const seconds = Number(process.argv[4] ?? 20);
const COMMUNITIES = 100;
const ORGANISATIONS = 200;
const TICK_MS = 50;
const POSTS_PER_TICK = 5;
const WARM_UP_MS = 3_000;

const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-stream-'));
const storeUrl = `sqlite:${join(dir, 'bench.db')}`;
const server = await startServerProcess(storeUrl, {
  CAIRN_STREAMS_MAX_PER_ADDRESS: String(subscribers + 10),
  CAIRN_STREAMS_HEARTBEAT: '15',
});
// A crash of this script must not leave the server running.
process.once('exit', () => server.child.kill('SIGKILL'));

/** A seeded generator, so every run builds the same world. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const connections: ClientRequest[] = [];
const latencies: number[] = [];
/** Deliveries with the send time that names their POST, and the time each POST was answered. */
const arrivals: { sent: string; received: number }[] = [];
const accepted = new Map<string, number>();
let delivered = 0;
let measuring = false;
let opened = 0;
let posted = 0;
let postFailures = 0;
let measuredSeconds = 0;
let postedWhileMeasuring = 0;
const rss = { before: 0, idle: 0, loaded: 0 };
/** CPU seconds used while measuring, by the server and by this script. */
const cpu = { server: 0, bench: 0 };

/** Builds the world, opens the streams, publishes and measures. */
async function run(): Promise<void> {
  // The world, written beside the running server into the same database file.
  const store = new SqliteStore(join(dir, 'bench.db'));
  const next = random(7);
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)]!;
  const organisations: OrganisationRecord[] = [];
  for (let i = 0; i < ORGANISATIONS; i++) {
    organisations.push(await makeOrganisation(store, `bench org ${i}`));
  }
  const admin = (await store.getUserByName('admin'))!;
  const communityIds: string[] = [];
  const collections: CollectionRecord[] = [];
  const membership = new Map<string, string[]>();
  for (let i = 0; i < COMMUNITIES; i++) {
    const founder = organisations[i % ORGANISATIONS]!;
    const community = await store.createCommunity(
      {
        id: randomUUID(),
        name: `bench community ${i}`,
        description: '',
        defaultTlp: 'green',
        allowAnonymous: false,
        publishClear: false,
        identity: JSON.stringify(buildIdentity({ name: `bench ${i}`, identityClass: 'group' })),
        createdAt: nowMicros(),
      },
      founder.id,
      admin.id,
    );
    communityIds.push(community.id);
    membership.set(founder.id, [...(membership.get(founder.id) ?? []), community.id]);
    collections.push(
      await store.createCollection({
        apiRoot: 'default',
        title: `bench ${i}`,
        communityId: community.id,
      }),
    );
  }
  for (const organisation of organisations) {
    const joined = membership.get(organisation.id) ?? [];
    const wanted = 1 + Math.floor(next() * 2) - joined.length;
    for (let j = 0; j < wanted; j++) {
      const communityId = pick(communityIds);
      if (joined.includes(communityId)) continue;
      await store.addMember(communityId, organisation.id);
      joined.push(communityId);
    }
    membership.set(organisation.id, joined);
    if (next() < 0.2) {
      const provider = pick(organisations);
      if (provider.id !== organisation.id) await store.addClient(provider.id, organisation.id);
    }
  }
  const readers: Array<{ token: string; path: string }> = [];
  for (let i = 0; i < subscribers; i++) {
    const organisation = organisations[i % ORGANISATIONS]!;
    const { token } = await makeUser(store, organisation, `bench-user-${i}`);
    const own = membership.get(organisation.id)!;
    const kind = i % 5;
    const path =
      kind < 2
        ? ''
        : kind < 4
          ? `/communities/${pick(own)}`
          : `/collections/${collections[communityIds.indexOf(pick(own))]!.id}?types=indicator`;
    readers.push({ token, path });
  }
  const { token: publisherToken } = await issueToken(store, admin);
  await store.close();

  // Phase 1: open every stream and measure the server's memory.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  rss.before = rssKiB(server.child.pid!);

  function subscribe(reader: { token: string; path: string }): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request(`${server.url}/api/v1/streams${reader.path}`, {
        agent: false,
        headers: { Authorization: `Bearer ${reader.token}`, Accept: 'text/event-stream' },
      });
      req.on('response', (response) => {
        if (response.statusCode !== 200) {
          reject(new Error(`stream rejected with status ${response.statusCode}`));
          return;
        }
        opened += 1;
        resolve();
        response.setEncoding('utf8');
        let pending = '';
        response.on('data', (chunk: string) => {
          const received = performance.timeOrigin + performance.now();
          pending += chunk;
          const end = pending.lastIndexOf('\n\n');
          if (end < 0) return;
          const complete = pending.slice(0, end);
          pending = pending.slice(end + 2);
          for (const match of complete.matchAll(/"name":"t=([0-9.]+)"/g)) {
            delivered += 1;
            if (measuring) {
              latencies.push(received - Number(match[1]));
              arrivals.push({ sent: match[1]!, received });
            }
          }
        });
      });
      req.on('error', reject);
      req.end();
      connections.push(req);
    });
  }

  for (let i = 0; i < readers.length; i += 50) {
    await Promise.all(readers.slice(i, i + 50).map(subscribe));
  }
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  rss.idle = rssKiB(server.child.pid!);

  // Phase 2: publish at a steady rate and measure delivery.
  const templates = realIndicators();
  const perPost = Math.max(1, Math.round((rate * TICK_MS) / 1000 / POSTS_PER_TICK));

  async function publish(): Promise<void> {
    const sent = performance.timeOrigin + performance.now();
    const objects = Array.from({ length: perPost }, () => ({
      ...freshCopy(pick(templates)),
      name: `t=${sent.toFixed(3)}`,
    }));
    const collection = pick(collections);
    const response = await fetch(`${server.url}/default/collections/${collection.id}/objects/`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${publisherToken}`,
        Accept: 'application/taxii+json;version=2.1',
        'Content-Type': 'application/taxii+json;version=2.1',
      },
      body: JSON.stringify({ objects }),
    });
    await response.arrayBuffer();
    accepted.set(sent.toFixed(3), performance.timeOrigin + performance.now());
    if (response.status !== 202) {
      postFailures += 1;
      return;
    }
    posted += objects.length;
    if (measuring) postedWhileMeasuring += objects.length;
  }

  const started = performance.now();
  let cpuAtStart = 0;
  let benchCpuAtStart = 0;
  const inFlight = new Set<Promise<void>>();
  const ticker = setInterval(() => {
    const elapsed = performance.now() - started;
    if (!measuring && elapsed > WARM_UP_MS) {
      cpuAtStart = cpuSeconds(server.child.pid!);
      benchCpuAtStart = process.cpuUsage().user + process.cpuUsage().system;
    }
    measuring = elapsed > WARM_UP_MS;
    for (let i = 0; i < POSTS_PER_TICK; i++) {
      const work = publish()
        .catch(() => {
          postFailures += 1;
        })
        .finally(() => inFlight.delete(work));
      inFlight.add(work);
    }
  }, TICK_MS);
  await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS + seconds * 1000));
  clearInterval(ticker);
  measuring = false;
  await Promise.all(inFlight);
  rss.loaded = rssKiB(server.child.pid!);
  cpu.server = cpuSeconds(server.child.pid!) - cpuAtStart;
  const benchCpu = process.cpuUsage();
  cpu.bench = (benchCpu.user + benchCpu.system - benchCpuAtStart) / 1e6;
  measuredSeconds = (performance.now() - started - WARM_UP_MS) / 1000;
}

try {
  await run();
} finally {
  for (const connection of connections) connection.destroy();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

latencies.sort((a, b) => a - b);
// Publication is the commit, which the 202 confirms; an event that arrives before the 202
// has reached its subscriber in no time at all.
const fromAccepted = arrivals
  .map(({ sent, received }) => Math.max(0, received - (accepted.get(sent) ?? Infinity)))
  .filter((latency) => Number.isFinite(latency))
  .sort((a, b) => a - b);
const round = (value: number) => Math.round(value * 10) / 10;
console.log(
  JSON.stringify({
    benchmark: 'stream-latency',
    machine: machine(),
    loadAverage: loadavg().map(round),
    subscribers: opened,
    objectsPerSecondTarget: rate,
    objectsPosted: posted,
    postFailures,
    seconds: round(measuredSeconds),
    deliveriesMeasured: latencies.length,
    deliveriesPerSecond: Math.round(latencies.length / measuredSeconds),
    deliveriesTotal: delivered,
    p50ms: round(percentile(latencies, 50)),
    p99ms: round(percentile(latencies, 99)),
    maxMs: round(latencies.at(-1) ?? NaN),
    fromAcceptedP50ms: round(percentile(fromAccepted, 50)),
    fromAcceptedP99ms: round(percentile(fromAccepted, 99)),
    serverRssKiB: rss,
    serverCoreShare: round(cpu.server / measuredSeconds),
    benchCoreShare: round(cpu.bench / measuredSeconds),
    serverCpuMsPerObject: round((cpu.server * 1000) / Math.max(1, postedWhileMeasuring)),
    idleKiBPerSubscriber: round((rss.idle - rss.before) / opened),
  }),
);
