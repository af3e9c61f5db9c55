/**
 * Alert delivery across two Cairn nodes on one PostgreSQL schema and one NATS server, as in
 * production. An alert raised on the node that follows the event log reaches an alert
 * stream on the other node, also when that node missed the NATS announcement. Alert
 * webhooks are delivered once although both nodes dispatch.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, describe, test } from 'node:test';

import { natsNames } from '../cluster/index.ts';
import { natsAvailable, TEST_NATS_URL } from '../cluster/nats.test-helper.ts';
import { startTcpProxy, type TcpProxy } from '../cluster/tcp-proxy.test-helper.ts';
import { deleteStream } from '../events/nats-notifier.ts';
import { createTestDatabase } from '../store/postgres/database.test-helper.ts';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { Receiver } from '../webhooks/receiver.test-helper.ts';
import {
  addressIndicator,
  api,
  createWatchList,
  makeAlertWorld,
  postObjects,
  readAlertStream,
  type AlertWorld,
  type StreamReader,
} from './alert-delivery.test-helper.ts';
import { STATE_KIND } from './model.ts';

const database = await createTestDatabase();
const natsSkip = await natsAvailable();
const skip = typeof database === 'string' ? database : natsSkip;
const prefix = `cairn-test-${randomBytes(6).toString('hex')}`;

const servers: TestServer[] = [];
const proxies: TcpProxy[] = [];
const readers: StreamReader[] = [];
const receivers: Receiver[] = [];

afterEach(async () => {
  await Promise.all(readers.splice(0).map((reader) => reader.close()));
  await Promise.all(servers.splice(0).map((server) => server.dispose()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

after(async () => {
  if (typeof database !== 'string') await database.drop();
  if (!natsSkip) await deleteStream(TEST_NATS_URL, natsNames(prefix).stream);
});

/** Starts a node on the store, announcing through NATS at `nats` (the test server by default). */
async function node(store: string, nats = TEST_NATS_URL): Promise<TestServer> {
  const server = await startTestServer({
    store,
    // A slow fallback poll of the event log, so events reach the other node through NATS.
    nats: { url: nats, prefix, fallbackPollSeconds: 30 },
    webhooks: { deliver: true, allowPrivateTargets: true, retryBaseSeconds: 0.05 },
  });
  servers.push(server);
  return server;
}

/**
 * Starts node A, waits until it holds the lease on the event log so it raises every live
 * alert, then starts node B, whose NATS link may go through a relay.
 */
async function cluster(
  bNats = TEST_NATS_URL,
): Promise<{ a: TestServer; b: TestServer; world: AlertWorld }> {
  if (typeof database === 'string') throw new Error(database);
  const url = await database.freshSchema();
  const a = await node(url);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const lease = await a.server.store.getDocument(STATE_KIND, 'follower');
    if (lease?.due !== undefined && lease.due > Date.now() * 1000) break;
    if (Date.now() > deadline) assert.fail('node A never took the lease on the event log');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const b = await node(url, bNats);
  return { a, b, world: await makeAlertWorld(a.server.store) };
}

/**
 * Waits until node A follows the list, which it learns of through its reload timer when
 * another node created it, and until the list's first retro-hunt is done. Objects posted
 * after that raise live alerts on node A only.
 */
async function ready(a: TestServer, token: string, watchlistId: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const hunts = await api(a, token, `/watchlists/${watchlistId}/hunts`);
    const done = hunts.json.every((job: { state: string }) => job.state === 'done');
    if (a.server.watch.engine.getList(watchlistId) !== undefined && done) return;
    if (Date.now() > deadline) assert.fail(`node A did not take up watch list ${watchlistId}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Returns whether a node's log shows that it raised the alert of the object. */
function raisedOn(server: TestServer, objectId: string): boolean {
  return server.logs.some((line) => line.msg === 'watch alert' && line.objectId === objectId);
}

/** Waits up to `ms` for a node's log to show that it raised the alert of the object. */
async function raisedWithin(server: TestServer, objectId: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!raisedOn(server, objectId)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

describe('alert delivery on several nodes', { skip, timeout: 180_000 }, () => {
  test('an alert raised on node A reaches a stream on node B', async (t) => {
    const { a, b, world } = await cluster();
    const token = world.users['acme-analyst']!.token;
    const addresses = Array.from({ length: 6 }, (_, i) => `192.0.2.${i + 1}`);
    const list = await createWatchList(b, token, addresses);
    await ready(a, token, list);
    const reader = readAlertStream(b, list, token, { lastEventId: '0' });
    readers.push(reader);

    const latencies: number[] = [];
    for (const [index, address] of addresses.entries()) {
      const object = addressIndicator(address);
      const posted = performance.now();
      await postObjects(a, world, [object]);
      const message = await reader.waitFor(
        (received) => received.data.objectId === object.id,
        `the alert on ${address}`,
      );
      latencies.push(performance.now() - posted);
      assert.equal(message.event, 'alert');
      assert.equal(message.id, String(index + 1));
      // Node A logs the alert after its last store write, so B's poll may read it first.
      assert.ok(await raisedWithin(a, object.id, 2_000), 'node A raised it');
      assert.ok(!raisedOn(b, object.id), 'node B did not');
    }
    latencies.sort((x, y) => x - y);
    const median = latencies[Math.floor(latencies.length / 2)]!;
    t.diagnostic(`POST on A to alert on B: ${latencies.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    // The stream also polls the log every 2 s, which alone would give latencies spread
    // evenly up to 2 s: a median under 500 ms shows that NATS carried most of them.
    assert.ok(median < 500, `median ${median.toFixed(0)} ms from the POST to the stream on B`);
  });

  test('a node that missed the announcement still delivers the alert', async () => {
    const url = new URL(TEST_NATS_URL);
    const relay = await startTcpProxy(url.hostname, Number(url.port || 4222));
    proxies.push(relay);
    const { a, b, world } = await cluster(`nats://127.0.0.1:${relay.port}`);
    const token = world.users['acme-analyst']!.token;
    const list = await createWatchList(a, token, ['192.0.2.50', '192.0.2.51']);
    await ready(a, token, list);
    const reader = readAlertStream(b, list, token, { lastEventId: '0' });
    readers.push(reader);

    relay.cut();
    const missed = addressIndicator('192.0.2.50');
    await postObjects(a, world, [missed]);
    const deadline = Date.now() + 10_000;
    while ((await a.server.watch.alertLog.head(list)) < 1) {
      if (Date.now() > deadline) assert.fail('node A raised no alert');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // B hears nothing from NATS now; its stream finds the alert in the store.
    const recovered = await reader.waitFor(
      (message) => message.data.objectId === missed.id,
      'the alert announced while B was cut off',
    );
    assert.equal(recovered.id, '1');
    assert.ok(await raisedWithin(a, missed.id, 2_000), 'node A raised it while B was cut off');

    relay.restore();
    const later = addressIndicator('192.0.2.51');
    await postObjects(a, world, [later]);
    const next = await reader.waitFor(
      (message) => message.data.objectId === later.id,
      'the alert after the link came back',
    );
    assert.equal(next.id, '2');
    assert.deepEqual(
      reader.messages.map((message) => message.id),
      ['1', '2'],
      'each alert once',
    );
  });

  test('alert webhooks are delivered once by two nodes', async () => {
    const { a, b, world } = await cluster();
    const token = world.users['acme-analyst']!.token;
    const addresses = Array.from({ length: 10 }, (_, i) => `192.0.2.${i + 100}`);
    const list = await createWatchList(a, token, addresses);
    await ready(a, token, list);
    const receiver = await Receiver.start((_request, response) => {
      // A short pause, so both nodes have attempts in flight.
      setTimeout(() => response.writeHead(204).end(), 5);
    });
    receivers.push(receiver);
    const subscribed = await api(b, token, `/watchlists/${list}/webhooks`, {
      method: 'POST',
      body: { url: receiver.url },
    });
    assert.equal(subscribed.status, 201, subscribed.text);

    for (const [index, address] of addresses.entries()) {
      await postObjects(index % 2 === 0 ? a : b, world, [addressIndicator(address)]);
    }
    await receiver.waitFor(addresses.length, 20_000);
    // Time for a second delivery of any alert to arrive, if a node were to send one.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const payloads = receiver.requests.map(
      (request) => JSON.parse(request.body) as { streamId: string; kind: string },
    );
    assert.equal(payloads.length, addresses.length);
    assert.deepEqual(
      payloads.map((payload) => Number(payload.streamId)).sort((x, y) => x - y),
      addresses.map((_, i) => i + 1),
    );
    assert.ok(payloads.every((payload) => payload.kind === 'alert'));
  });
});
