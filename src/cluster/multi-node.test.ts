/**
 * Several Cairn nodes on one PostgreSQL database and one NATS stream, as in production:
 * in-process servers from src/testing/server.ts and `cairn serve` child processes, each
 * test on a schema of its own in a database of this run.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, afterEach, describe, test } from 'node:test';

import { createTestDatabase } from '../store/postgres/database.test-helper.ts';
import { deleteStream } from '../events/nats-notifier.ts';
import { openStream } from '../stream/client.ts';
import { Receiver } from '../webhooks/receiver.test-helper.ts';
import { call, startTestServer, type TestServer } from '../testing/server.ts';
import { natsNames } from './index.ts';
import { natsAvailable, TEST_NATS_URL } from './nats.test-helper.ts';
import { startNodeProcess, type NodeProcess } from './node-process.test-helper.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.test-helper.ts';

const database = await createTestDatabase();
const natsSkip = await natsAvailable();
const skip = typeof database === 'string' ? database : natsSkip;
const prefix = `cairn-test-${randomBytes(6).toString('hex')}`;

const servers: TestServer[] = [];
const processes: NodeProcess[] = [];
const proxies: TcpProxy[] = [];

/** Stops what a test started, so its database connections are closed before the next. */
async function stopAll(): Promise<void> {
  for (const child of processes.splice(0)) child.child.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((server) => server.dispose()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
}

afterEach(stopAll);

after(async () => {
  await stopAll();
  if (typeof database !== 'string') await database.drop();
  if (!natsSkip) await deleteStream(TEST_NATS_URL, natsNames(prefix).stream);
});

/** Starts an in-process node on the store URL, announcing through the run's NATS stream. */
async function node(store: string, deliverWebhooks = false): Promise<TestServer> {
  const server = await startTestServer({
    store,
    nats: { url: TEST_NATS_URL, prefix, fallbackPollSeconds: 30 },
    webhooks: { deliver: deliverWebhooks, allowPrivateTargets: true, retryBaseSeconds: 0.05 },
    // Streams recheck their readers only on a signal here, so a quick close proves the relay.
    streams: { recheckSeconds: 600 },
  });
  servers.push(server);
  return server;
}

/** Two nodes on a fresh schema, and the admin token the first one created. */
async function cluster(
  deliverWebhooks = false,
): Promise<{ a: TestServer; b: TestServer; token: string; url: string }> {
  if (typeof database === 'string') throw new Error(database);
  const url = await database.freshSchema();
  const a = await node(url, deliverWebhooks);
  const b = await node(url, deliverWebhooks);
  assert.ok(a.adminToken, 'the first node created the admin');
  assert.equal(b.adminToken, '', 'the second node found the admin');
  return { a, b, token: a.adminToken, url };
}

/** Returns a valid STIX 2.1 indicator under a new id. */
function indicator(modified = '2024-05-01T10:00:00.000Z'): Record<string, unknown> {
  return {
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--${randomUUID()}`,
    created: '2024-05-01T10:00:00.000Z',
    modified,
    name: 'C2 address',
    pattern_type: 'stix',
    valid_from: '2024-05-01T10:00:00Z',
    pattern: "[ipv4-addr:value = '198.51.100.7']",
  };
}

const OBJECTS = 'collections/default/objects/';

describe('Cairn on several nodes', { skip, timeout: 180_000 }, () => {
  test('an object posted to one node is read on the other', async () => {
    const { a, b, token } = await cluster();
    const object = indicator();
    const posted = await call(a, OBJECTS, { token, method: 'POST', body: { objects: [object] } });
    assert.equal(posted.status, 202, posted.text);
    assert.equal(posted.json.success_count, 1);

    const read = await call(b, `${OBJECTS}${String(object.id)}/`, { token });
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.json.objects, [object]);
    const status = await call(b, `status/${String(posted.json.id)}/`, { token });
    assert.equal(status.status, 200, 'the status resource is readable on the other node');
  });

  test('a next token from one node pages on the other', async () => {
    const { a, b, token } = await cluster();
    const objects = Array.from({ length: 5 }, () => indicator());
    await call(a, OBJECTS, { token, method: 'POST', body: { objects } });

    const seen: string[] = [];
    let page = await call(a, `${OBJECTS}?limit=2`, { token });
    const nodes = [b, a, b];
    for (let i = 0; page.json.more === true; i++) {
      for (const object of page.json.objects) seen.push(object.id as string);
      const next = encodeURIComponent(page.json.next as string);
      page = await call(nodes[i % nodes.length]!, `${OBJECTS}?limit=2&next=${next}`, { token });
      assert.equal(page.status, 200, page.text);
    }
    for (const object of page.json.objects) seen.push(object.id as string);
    assert.deepEqual(
      seen,
      objects.map((object) => object.id),
    );

    const tampered = await call(b, `${OBJECTS}?limit=2&next=zz.AAAAAAAAAAAAAAAAAAAAAA`, {
      token,
    });
    assert.equal(tampered.status, 400, 'a forged token is still rejected');
  });

  test('one version is stored when two nodes post it at once', async () => {
    const { a, b, token } = await cluster();
    const objects = Array.from({ length: 20 }, () => indicator());
    const [onA, onB] = await Promise.all(
      [a, b].map((server) => call(server, OBJECTS, { token, method: 'POST', body: { objects } })),
    );
    for (const result of [onA!, onB!]) {
      assert.equal(result.status, 202, result.text);
      assert.equal(result.json.success_count, 20, 'both nodes report every object stored');
      assert.equal(result.json.failure_count, 0);
    }
    for (const object of objects) {
      const versions = await call(a, `${OBJECTS}${String(object.id)}/versions/`, { token });
      assert.deepEqual(versions.json.versions, [object.modified], String(object.id));
    }
    const counts = await a.server.store.countCollection(
      (await a.server.store.getCollection('default', 'default'))!.id,
    );
    assert.deepEqual(counts, { objects: 20, versions: 20 });
  });

  test('a stream on one node sees objects posted on the other', async () => {
    const { a, b, token } = await cluster();
    const collection = (await a.server.store.getCollection('default', 'default'))!;
    const controller = new AbortController();
    const messages = openStream(`${b.url}/api/v1/streams/collections/${collection.id}`, {
      token,
      signal: controller.signal,
    });
    const received = new Map<string, number>();
    const reading = (async () => {
      try {
        for await (const message of messages) {
          if (message.event !== 'heartbeat' && typeof message.data.id === 'string') {
            received.set(message.data.id, performance.now());
          }
        }
      } catch (error) {
        if (!controller.signal.aborted) throw error;
      }
    })();
    // Let the subscription start and the first announcement settle.
    const warmUp = indicator();
    await call(a, OBJECTS, { token, method: 'POST', body: { objects: [warmUp] } });
    const warmDeadline = Date.now() + 5_000;
    while (!received.has(warmUp.id as string) && Date.now() < warmDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(received.has(warmUp.id as string), 'the stream on B got the first object');

    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const object = indicator();
      const posted = await call(a, OBJECTS, { token, method: 'POST', body: { objects: [object] } });
      const acknowledged = performance.now();
      assert.equal(posted.status, 202);
      const deadline = acknowledged + 2_000;
      while (!received.has(object.id as string) && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const at = received.get(object.id as string);
      assert.ok(at !== undefined, `object ${i} reached the stream on B`);
      latencies.push(Math.max(0, at - acknowledged));
    }
    controller.abort();
    await reading;
    latencies.sort((x, y) => x - y);
    // The fallback polls run every 30 s (NATS) and 1 s (stream hub), so delivery within
    // 100 ms comes through NATS.
    assert.ok(latencies[4]! < 100, `median ${latencies[4]!.toFixed(1)} ms after the 202`);
    assert.ok(latencies[9]! < 500, `slowest ${latencies[9]!.toFixed(1)} ms after the 202`);
  });

  test('a stream cursor from one node resumes on the other', async () => {
    const { a, b, token } = await cluster();
    const [first, second] = [indicator(), indicator()];
    await call(a, OBJECTS, { token, method: 'POST', body: { objects: [first] } });

    let cursor: string | undefined;
    const onA = new AbortController();
    for await (const message of openStream(`${a.url}/api/v1/streams?from=start`, {
      token,
      signal: onA.signal,
    })) {
      if (message.data.id === first.id) {
        cursor = message.id;
        break;
      }
    }
    onA.abort();
    assert.ok(cursor, 'the event of the first object carried a cursor');

    await call(a, OBJECTS, { token, method: 'POST', body: { objects: [second] } });
    const onB = new AbortController();
    const resumed: unknown[] = [];
    for await (const message of openStream(`${b.url}/api/v1/streams`, {
      token,
      lastEventId: cursor,
      signal: onB.signal,
    })) {
      if (message.event === 'heartbeat') continue;
      resumed.push(message.data.id);
      break;
    }
    onB.abort();
    assert.deepEqual(resumed, [second.id], 'B continued right after the cursor');
  });

  test('a token revoked on one node ends its stream on the other', async () => {
    const { a, b, token } = await cluster();
    const api = `${a.url}/api/v1`;
    const json = { token, accept: 'application/json', contentType: 'application/json' };
    const me = await call(a, `${api}/me`, json);
    const issued = await call(a, `${api}/users/${String(me.json.user.id)}/tokens`, {
      ...json,
      method: 'POST',
      body: {},
    });
    assert.equal(issued.status, 201, issued.text);

    const messages: Array<{ event: string; data: Record<string, unknown> }> = [];
    const reading = (async () => {
      for await (const message of openStream(`${b.url}/api/v1/streams`, {
        token: issued.json.token as string,
      })) {
        messages.push(message);
      }
    })();
    // The stream is open once its first heartbeat or event could be sent: post one object.
    const object = indicator();
    await call(a, OBJECTS, { token, method: 'POST', body: { objects: [object] } });
    const opened = Date.now() + 5_000;
    while (!messages.some((m) => m.data.id === object.id) && Date.now() < opened) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(
      messages.some((m) => m.data.id === object.id),
      'the stream on B is live',
    );

    const revokedAt = performance.now();
    const revoked = await call(a, `${api}/tokens/${String(issued.json.record.id)}`, {
      ...json,
      method: 'DELETE',
    });
    assert.equal(revoked.status, 204, revoked.text);
    await Promise.race([reading, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    const closed = messages.find((m) => m.event === 'closed');
    assert.ok(closed, 'B closed the stream');
    assert.equal(closed.data.reason, 'token-revoked');
    assert.ok(performance.now() - revokedAt < 3_000);
  });

  test('webhook deliveries are sent once by two nodes', async () => {
    const { a, b, token } = await cluster(true);
    const receiver = await Receiver.start();
    try {
      const created = await call(a, `${a.url}/api/v1/webhooks`, {
        token,
        method: 'POST',
        accept: 'application/json',
        contentType: 'application/json',
        body: { url: `${receiver.url}/hook` },
      });
      assert.equal(created.status, 201, created.text);
      const objects = Array.from({ length: 30 }, () => indicator());
      for (let i = 0; i < objects.length; i += 5) {
        const target = (i / 5) % 2 === 0 ? a : b;
        const body = { objects: objects.slice(i, i + 5) };
        const posted = await call(target, OBJECTS, { token, method: 'POST', body });
        assert.equal(posted.status, 202);
      }
      const deadline = Date.now() + 20_000;
      while (receiver.requests.length < objects.length && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Time for a second delivery of any event to arrive, if a node were to send one.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const events = receiver.requests.map(
        (request) => JSON.parse(request.body) as { eventId?: string; objectId?: string },
      );
      const objectIds = events.map((event) => event.objectId).sort();
      assert.deepEqual(objectIds, objects.map((object) => object.id as string).sort());
      assert.equal(new Set(events.map((event) => event.eventId)).size, objects.length);
    } finally {
      await receiver.close();
    }
  });

  test('failed authentication is limited across nodes', async () => {
    const { a, b } = await cluster();
    const basic = (token: string) => ({
      token: null,
      headers: { Authorization: `Basic ${Buffer.from(`mallory:${token}`).toString('base64')}` },
    });
    // The user-name limit is 10 failures in 5 minutes: spread them over both nodes.
    for (let i = 0; i < 10; i++) {
      const result = await call(i % 2 === 0 ? a : b, 'collections/', basic(`wrong-${i}`));
      assert.equal(result.status, 401, `attempt ${i}`);
    }
    for (const server of [a, b]) {
      const limited = await call(server, 'collections/', basic('wrong-again'));
      assert.equal(limited.status, 429, 'both nodes apply the shared count');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
    }
  });

  test('two nodes starting at once on an empty database agree on one setup', async () => {
    if (typeof database === 'string') throw new Error(database);
    const url = await database.freshSchema();
    const [a, b] = await Promise.all([node(url), node(url)]);
    const tokens = [a.adminToken, b.adminToken].filter(Boolean);
    assert.equal(tokens.length, 1, 'one admin token was created');
    assert.equal((await a.server.store.listUsers()).length, 1, 'one admin user exists');
    const token = tokens[0]!;
    const objects = [indicator(), indicator()];
    await call(a, OBJECTS, { token, method: 'POST', body: { objects } });
    const page = await call(b, `${OBJECTS}?limit=1`, { token });
    assert.equal(page.status, 200);
    assert.equal(page.json.more, true);
    const next = encodeURIComponent(page.json.next as string);
    const rest = await call(a, `${OBJECTS}?limit=1&next=${next}`, { token });
    assert.equal(rest.status, 200, 'both nodes sign next tokens with one key');
    assert.equal(rest.json.objects[0].id, objects[1]!.id);
  });

  test('PostgreSQL unreachable gives 503, then the node recovers by itself', async () => {
    if (typeof database === 'string') throw new Error(database);
    const direct = await database.freshSchema();
    const first = await node(direct);
    const token = first.adminToken;
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(direct).port || 5432));
    proxies.push(proxy);
    const relayed = new URL(direct);
    relayed.port = String(proxy.port);
    const behind = await node(relayed.toString());

    assert.equal((await call(behind, OBJECTS, { token })).status, 200);
    proxy.cut();
    const down = await call(behind, OBJECTS, { token });
    assert.equal(down.status, 503, down.text);
    assert.match(down.json.description, /unavailable|retry/i);
    assert.ok(Number(down.headers.get('retry-after')) > 0, 'Retry-After tells when');
    const posting = await call(behind, OBJECTS, {
      token,
      method: 'POST',
      body: { objects: [indicator()] },
    });
    assert.equal(posting.status, 503, 'a POST during the outage is not acknowledged');
    assert.equal((await call(first, OBJECTS, { token })).status, 200, 'the other node serves');
    const unhealthy = await fetch(`${behind.url}/api/v1/health`);
    assert.equal(unhealthy.status, 503, 'the balancer takes the node out');
    assert.deepEqual(await unhealthy.json(), {
      status: 'unavailable',
      store: 'unavailable',
      nats: 'connected',
    });
    assert.equal((await fetch(`${first.url}/api/v1/health`)).status, 200);

    proxy.restore();
    // The health result is kept for a second; after that the node reports itself healthy.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal((await fetch(`${behind.url}/api/v1/health`)).status, 200);
    const object = indicator();
    const back = await call(behind, OBJECTS, {
      token,
      method: 'POST',
      body: { objects: [object] },
    });
    assert.equal(back.status, 202, back.text);
    const read = await call(first, `${OBJECTS}${String(object.id)}/`, { token });
    assert.equal(read.status, 200);
  });

  test('a node killed mid-ingest loses no acknowledged object', async () => {
    if (typeof database === 'string') throw new Error(database);
    const url = await database.freshSchema();
    const victim = await startNodeProcess({
      CAIRN_STORE: url,
      CAIRN_NATS_URL: TEST_NATS_URL,
      CAIRN_NATS_PREFIX: prefix,
    });
    processes.push(victim);
    const token = victim.token;
    assert.ok(token, victim.output());
    const survivor = await node(url);
    const headers = {
      Authorization: `Bearer ${token}`,
      Accept: 'application/taxii+json;version=2.1',
      'Content-Type': 'application/taxii+json;version=2.1',
    };

    const acknowledged: string[] = [];
    const unacknowledged: Array<Record<string, unknown>> = [];
    let killed = false;
    // Envelopes of 200 objects, two in flight, until the node dies under them.
    const post = async (): Promise<void> => {
      while (!killed) {
        const objects = Array.from({ length: 200 }, () => indicator());
        try {
          const response = await fetch(`${victim.url}/default/${OBJECTS}`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ objects }),
          });
          const status = (await response.json()) as { successes?: Array<{ id: string }> };
          assert.equal(response.status, 202);
          acknowledged.push(...(status.successes ?? []).map((success) => success.id));
        } catch {
          unacknowledged.push(...objects);
        }
      }
    };
    const clients = [post(), post()];
    const deadline = Date.now() + 60_000;
    while (acknowledged.length < 1_000 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    victim.child.kill('SIGKILL');
    killed = true;
    await Promise.all(clients);
    assert.equal(await victim.exited, 'SIGKILL');
    assert.ok(acknowledged.length >= 1_000, `only ${acknowledged.length} acknowledged in 60 s`);
    assert.ok(unacknowledged.length > 0, 'some envelopes were in flight when the node died');

    const collection = (await survivor.server.store.getCollection('default', 'default'))!;
    for (const id of acknowledged) {
      assert.ok(await survivor.server.store.hasObject(collection.id, id), `acknowledged ${id}`);
    }
    // Posting the unacknowledged envelopes again is safe: each object ends up stored once.
    for (let i = 0; i < unacknowledged.length; i += 200) {
      const objects = unacknowledged.slice(i, i + 200);
      const again = await call(survivor, OBJECTS, { token, method: 'POST', body: { objects } });
      assert.equal(again.status, 202, again.text);
      assert.equal(again.json.success_count, objects.length);
      assert.equal(again.json.failure_count, 0);
    }
    const counts = await survivor.server.store.countCollection(collection.id);
    const total = acknowledged.length + unacknowledged.length;
    assert.deepEqual(counts, { objects: total, versions: total });
  });
});
