/**
 * Cross-node event latency: an object posted on node A, seen by a Server-Sent Events
 * subscriber on node B, with both nodes on one PostgreSQL database and NATS between them.
 *
 *   npm run build && node --import tsx bench/cluster-latency.ts [objects] [pause-ms]
 *
 * Posts `objects` single-indicator envelopes to A one after the other, each once the
 * previous one has arrived on B's stream and `pause-ms` has passed, so no request waits
 * behind another. Records for each the time from sending the POST to the event's arrival on
 * B's stream, and from A's 202 to that arrival (0 when the event arrived first). Prints
 * p50, p99 and the maximum of both.
 */
import { benchNats, createBenchDatabase } from './cluster-lib.ts';
import { freshCopy, machine, percentile, realIndicators, startServerProcess } from './lib.ts';
import { openStream } from '../src/stream/client.ts';

const count = Number(process.argv[2] ?? 500);
const pauseMs = Number(process.argv[3] ?? 20);

const templates = realIndicators();
const database = await createBenchDatabase();
const nats = benchNats();
const a = await startServerProcess(database.url, nats.env);
const b = await startServerProcess(database.url, nats.env);
const token = a.token;

const headers = {
  Authorization: `Bearer ${token}`,
  Accept: 'application/taxii+json;version=2.1',
  'Content-Type': 'application/taxii+json;version=2.1',
};
const collections = (await (await fetch(`${a.url}/default/collections/`, { headers })).json()) as {
  collections: Array<{ id: string; alias?: string }>;
};
const collection = collections.collections.find((each) => each.alias === 'default')!;

const arrivals = new Map<string, number>();
const controller = new AbortController();
const reading = (async () => {
  try {
    for await (const message of openStream(`${b.url}/api/v1/streams/collections/${collection.id}`, {
      token,
      signal: controller.signal,
    })) {
      if (typeof message.data.id === 'string') arrivals.set(message.data.id, performance.now());
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
})();

async function post(object: Record<string, unknown>): Promise<{ sent: number; acked: number }> {
  const sent = performance.now();
  const response = await fetch(`${a.url}/default/collections/default/objects/`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ objects: [object] }),
  });
  await response.arrayBuffer();
  if (response.status !== 202) throw new Error(`unexpected response status ${response.status}`);
  return { sent, acked: performance.now() };
}

// Warm-up: the subscription is live once its first object arrives.
const warmUp = freshCopy(templates[0]!);
await post(warmUp);
while (!arrivals.has(warmUp.id as string)) await new Promise((r) => setTimeout(r, 10));

const fromSend: number[] = [];
const fromAck: number[] = [];
let lost = 0;
for (let i = 0; i < count; i++) {
  const object = freshCopy(templates[i % templates.length]!);
  const id = object.id as string;
  const { sent, acked } = await post(object);
  const deadline = performance.now() + 5_000;
  while (!arrivals.has(id) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1));
  }
  const arrived = arrivals.get(id);
  if (arrived === undefined) {
    lost += 1;
  } else {
    fromSend.push(arrived - sent);
    fromAck.push(Math.max(0, arrived - acked));
  }
  await new Promise((r) => setTimeout(r, pauseMs));
}
controller.abort();
await reading;
await Promise.all([a.stop(), b.stop()]);
await database.drop();
await nats.drop();

const summary = (values: number[]) => {
  values.sort((x, y) => x - y);
  return {
    p50ms: Math.round(percentile(values, 50) * 10) / 10,
    p99ms: Math.round(percentile(values, 99) * 10) / 10,
    maxms: Math.round(values[values.length - 1]! * 10) / 10,
  };
};
console.log(
  JSON.stringify({
    benchmark: 'cluster-latency',
    machine: machine(),
    objects: count,
    pauseMs,
    lost,
    postToStream: summary(fromSend),
    ackToStream: summary(fromAck),
  }),
);
