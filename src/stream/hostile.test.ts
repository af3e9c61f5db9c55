import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { describe, test } from 'node:test';

import WebSocket from 'ws';

import { issueToken } from '../auth/tokens.ts';
import { submitObjects } from '../ingest/submit.ts';
import { SqliteStore } from '../store/sqlite/index.ts';
import { makeOrganisation, makeUser } from '../sharing/fixtures.test-helper.ts';
import { indicator } from '../testing/stix.ts';
import { call, startTestServer, type TestServer } from '../testing/server.ts';
import { followStream, type ReceivedMessage } from './client.ts';
import { collect, eventCount, eventsOf, makeWorld, post, sleep } from './streams.test-helper.ts';

const STREAMS = '/api/v1/streams';

function since(): string {
  return new Date(Date.now() - 1).toISOString();
}

/**
 * Opens a stream and keeps it open until `close` is called; resolves with the status. The
 * response is kept reachable: fetch cancels the body of a response that is collected.
 */
async function hold(url: string, token: string) {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
    signal: controller.signal,
  });
  const body = response.status === 200 ? undefined : await response.text();
  return {
    response,
    status: response.status,
    body,
    retryAfter: response.headers.get('retry-after'),
    close: () => controller.abort(),
  };
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail('condition not met in time');
    await sleep(20);
  }
}

describe('stream limits and access', { timeout: 120_000 }, () => {
  test('flood of subscribers hits limits', async () => {
    const server = await startTestServer({ streams: { maxPerToken: 3, maxPerAddress: 5 } });
    try {
      const world = await makeWorld(server);
      const url = `${server.url}${STREAMS}`;
      const flood = await Promise.all(
        Array.from({ length: 30 }, () => hold(url, world.alice.token)),
      );
      const accepted = flood.filter((stream) => stream.status === 200);
      const refused = flood.filter((stream) => stream.status === 429);

      assert.equal(accepted.length, 3);
      assert.equal(refused.length, 27);
      assert.equal(refused[0]!.retryAfter, '10');
      assert.match(refused[0]!.body!, /token already has 3 open streams/);

      const second = await issueToken(server.server.store, world.alice.user);
      const third = await issueToken(server.server.store, world.alice.user);
      const more = [await hold(url, second.token), await hold(url, second.token)];
      assert.deepEqual(
        more.map((stream) => stream.status),
        [200, 200],
      );
      const overAddress = await hold(url, third.token);
      assert.equal(overAddress.status, 429);
      assert.match(overAddress.body!, /address .* already has 5 open streams/);

      accepted[0]!.close();
      await waitFor(() => server.server.streams.size === 4);
      const again = await hold(url, third.token);
      assert.equal(again.status, 200);
      for (const stream of [...accepted, ...more, again]) stream.close();
      await waitFor(() => server.server.streams.size === 0);
    } finally {
      await server.dispose();
    }
  });

  test('revoked token ends the stream', async () => {
    // A long recheck interval: only the signal of the token service can end the stream soon.
    const server = await startTestServer({ streams: { recheckSeconds: 600 } });
    try {
      const world = await makeWorld(server);
      const extra = await issueToken(server.server.store, world.alice.user);
      const started = Date.now();
      const reading = collect(`${server.url}${STREAMS}`, extra.token, {
        until: (messages) => messages.some((message) => message.event === 'closed'),
      });
      await waitFor(() => server.server.streams.size === 1);
      const revoked = await call(server, `${server.url}/api/v1/tokens/${extra.record.id}`, {
        method: 'DELETE',
        token: world.alice.token,
        accept: null,
      });
      assert.equal(revoked.status, 204, revoked.text);
      const closed = (await reading).find((message) => message.event === 'closed')!;

      assert.equal(closed.data.reason, 'token-revoked');
      assert.match(closed.data.cursor as string, /^[A-Za-z0-9_-]{22}$/);
      assert.ok(Date.now() - started < 5_000, 'closed soon after the revocation');
      const refused = await hold(`${server.url}${STREAMS}`, extra.token);
      assert.equal(refused.status, 401);
    } finally {
      await server.dispose();
    }
  });

  test('revoked token ends a websocket', async () => {
    const server = await startTestServer({ streams: { recheckSeconds: 600 } });
    try {
      const world = await makeWorld(server);
      const extra = await issueToken(server.server.store, world.alice.user);
      const socket = new WebSocket(`${server.url.replace('http:', 'ws:')}${STREAMS}`, {
        headers: { Authorization: `Bearer ${extra.token}` },
      });
      const messages: Array<Record<string, unknown>> = [];
      socket.on('message', (data) => messages.push(JSON.parse(String(data))));
      const closed = new Promise<number>((resolve) => socket.on('close', resolve));
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      await waitFor(() => server.server.streams.size === 1);
      const revoked = await call(server, `${server.url}/api/v1/tokens/${extra.record.id}`, {
        method: 'DELETE',
        token: world.alice.token,
        accept: null,
      });
      assert.equal(revoked.status, 204);

      assert.equal(await closed, 1000);
      assert.equal(messages.at(-1)!.kind, 'closed');
      assert.equal(messages.at(-1)!.reason, 'token-revoked');
      await waitFor(() => server.server.streams.size === 0);
    } finally {
      await server.dispose();
    }
  });

  test('disabled user ends the stream', async () => {
    const server = await startTestServer({ streams: { recheckSeconds: 600 } });
    try {
      const world = await makeWorld(server);
      const reading = collect(`${server.url}${STREAMS}`, world.carol.token, {
        until: (messages) => messages.some((message) => message.event === 'closed'),
      });
      await waitFor(() => server.server.streams.size === 1);
      const disabled = await call(server, `${server.url}/api/v1/users/${world.carol.user.id}`, {
        method: 'PATCH',
        accept: null,
        contentType: 'application/json',
        body: { disabled: true },
      });
      assert.equal(disabled.status, 200, disabled.text);
      const closed = (await reading).find((message) => message.event === 'closed')!;
      assert.equal(closed.data.reason, 'user-disabled');
    } finally {
      await server.dispose();
    }
  });

  test('removed member stops receiving', async () => {
    const server = await startTestServer({
      streams: { recheckSeconds: 600, heartbeatSeconds: 0.1 },
    });
    try {
      const world = await makeWorld(server);
      const store = server.server.store;
      const orgD = await makeOrganisation(store, 'Org D');
      const dave = await makeUser(store, orgD, 'dave');
      await store.addMember(world.communityA.id, orgD.id);
      const communityUrl = `${server.url}${STREAMS}/communities/${world.communityA.id}`;
      const start = since();

      const communityReading = collect(`${communityUrl}?from=${start}`, dave.token, {
        until: (messages) => messages.some((message) => message.event === 'closed'),
      });
      let removed = false;
      const generalReading = collect(`${server.url}${STREAMS}?from=${start}`, dave.token, {
        until: (messages) =>
          removed && messages.filter((message) => message.event === 'heartbeat').length >= 10,
      });
      const before = indicator();
      await post(server, world.alice.token, world.collectionA, [before]);
      await waitFor(() => server.server.streams.size === 2);
      await sleep(300);
      const response = await call(
        server,
        `${server.url}/api/v1/communities/${world.communityA.id}/members/${orgD.id}`,
        { method: 'DELETE', accept: null },
      );
      assert.equal(response.status, 204, response.text);
      removed = true;
      await sleep(200);
      const afterRemoval = indicator();
      await post(server, world.alice.token, world.collectionA, [afterRemoval]);

      const community = await communityReading;
      assert.deepEqual(
        eventsOf(community).map((event) => event.data.id),
        [before.id],
      );
      assert.equal(community.at(-1)!.data.reason, 'access-revoked');
      const general = eventsOf(await generalReading).map((event) => event.data.id);
      assert.deepEqual(general, [before.id], 'nothing after the removal');
      const refused = await hold(communityUrl, dave.token);
      assert.equal(refused.status, 404);
    } finally {
      await server.dispose();
    }
  });
});

describe('stream access changed elsewhere', { timeout: 60_000 }, () => {
  test('other process removes member', async () => {
    const server = await startTestServer({ streams: { recheckSeconds: 0.1 } });
    try {
      const world = await makeWorld(server);
      const store = server.server.store;
      const orgD = await makeOrganisation(store, 'Org D');
      const dave = await makeUser(store, orgD, 'dave');
      await store.addMember(world.communityA.id, orgD.id);
      const url = `${server.url}${STREAMS}/communities/${world.communityA.id}`;
      const reading = collect(url, dave.token, {
        until: (messages) => messages.some((message) => message.event === 'closed'),
      });
      await waitFor(() => server.server.streams.size === 1);

      // A second connection to the file, as the CLI would use: the server gets no signal.
      const other = new SqliteStore(server.config.store.slice('sqlite:'.length));
      try {
        assert.equal(await other.removeMember(world.communityA.id, orgD.id), true);
      } finally {
        await other.close();
      }
      const closed = (await reading).at(-1)!;
      assert.equal(closed.data.reason, 'access-revoked');
    } finally {
      await server.dispose();
    }
  });
});

/** Sends raw bytes in one write and returns the whole response as text. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let response = '';
    socket.setEncoding('utf8');
    socket.setTimeout(10_000, () => socket.destroy(new Error('no response in time')));
    socket.on('data', (chunk: string) => (response += chunk));
    socket.on('end', () => resolve(response));
    socket.on('error', reject);
  });
}

describe('oversized stream requests', { timeout: 60_000 }, () => {
  test('431 in the format of the path', async () => {
    const server = await startTestServer();
    try {
      const query = `?labels=${'x'.repeat(17 * 1024)}`;
      const request = (path: string) =>
        `GET ${path}${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
      const streams = await rawRequest(server.server.port, request(STREAMS));
      assert.match(streams, /^HTTP\/1\.1 431 /);
      assert.match(streams, /^Content-Type: application\/json\r$/m);
      const body = JSON.parse(streams.slice(streams.indexOf('\r\n\r\n') + 4)) as {
        error: { code: string; message: string };
      };
      assert.equal(body.error.code, 'headers-too-large');
      assert.match(body.error.message, /16 KiB/);

      const taxii = await rawRequest(server.server.port, request('/taxii2/'));
      assert.match(taxii, /^HTTP\/1\.1 431 /);
      assert.match(taxii, /"error_code":"headers-too-large"/);
      assert.match(taxii, /^Content-Type: application\/taxii\+json/m);
    } finally {
      await server.dispose();
    }
  });
});

describe('stream delivery under faults', { timeout: 180_000 }, () => {
  test('burst written to the store directly reaches fast readers whole', async () => {
    // A small buffer and a short poll: the burst is many times the buffer and arrives in
    // one poll, as a bulk `cairn import` into a running server's file does.
    const server = await startTestServer({ streams: { bufferKiB: 64, pollSeconds: 0.2 } });
    try {
      const world = await makeWorld(server);
      const objects = Array.from({ length: 6000 }, (_, index) =>
        indicator({ description: `burst ${index} ${'z'.repeat(1000)}` }),
      );
      const url = `${server.url}${STREAMS}/collections/${world.collectionA.id}`;
      const sse = collect(url, world.alice.token, {
        until: (messages) =>
          eventCount(messages) >= objects.length || messages.some((m) => m.event === 'closed'),
        timeoutMs: 60_000,
      });
      const socket = new WebSocket(url.replace('http:', 'ws:'), {
        headers: { Authorization: `Bearer ${world.alice.token}` },
      });
      const socketIds: unknown[] = [];
      const socketDone = new Promise<string>((resolve, reject) => {
        socket.on('message', (data) => {
          const message = JSON.parse(String(data)) as Record<string, unknown>;
          if (message.kind === 'closed') resolve(`closed: ${String(message.reason)}`);
          if (message.kind !== 'created') return;
          socketIds.push(message.id);
          if (socketIds.length === objects.length) resolve('all');
        });
        socket.on('close', () => resolve('socket closed'));
        socket.on('error', reject);
      });
      await new Promise((resolve) => socket.once('open', resolve));
      // Both streams are live before the burst is committed.
      await waitFor(() => server.server.streams.size === 2);
      await sleep(300);

      const other = new SqliteStore(server.config.store.slice('sqlite:'.length));
      try {
        const result = await submitObjects(other, world.collectionA.id, objects);
        assert.equal(result.failures.length, 0);
      } finally {
        await other.close();
      }

      const expected = objects.map((object) => object.id);
      const messages = await sse;
      assert.equal(messages.filter((m) => m.event === 'closed').length, 0);
      assert.deepEqual(
        eventsOf(messages).map((message) => message.data.id),
        expected,
      );
      assert.equal(await socketDone, 'all');
      assert.deepEqual(socketIds, expected);
      socket.close();
      assert.ok(!server.logs.some((line) => line.reason === 'slow-consumer'));
    } finally {
      await server.dispose();
    }
  });

  test('slow consumer closed with cursor', async () => {
    const server = await startTestServer({
      streams: { bufferKiB: 64, stallSeconds: 1 },
      taxii: { maxContentLength: 32 * 1024 * 1024 },
    });
    try {
      const world = await makeWorld(server);
      const start = since();
      const url = new URL(
        `${server.url}${STREAMS}/collections/${world.collectionA.id}?from=${start}`,
      );
      // A reader that reads nothing until the server has given up on it.
      const { response, destroy } = await new Promise<{
        response: IncomingMessage;
        destroy: () => void;
      }>((resolve, reject) => {
        const req = request(url, {
          headers: { Authorization: `Bearer ${world.alice.token}`, Accept: 'text/event-stream' },
        });
        req.on('response', (res) => {
          res.pause();
          resolve({ response: res, destroy: () => req.destroy() });
        });
        req.on('error', reject);
        req.end();
      });
      const objects = Array.from({ length: 480 }, () =>
        indicator({ description: 'y'.repeat(50_000) }),
      );
      for (let i = 0; i < objects.length; i += 120) {
        await post(server, world.alice.token, world.collectionA, objects.slice(i, i + 120));
      }
      await waitFor(() =>
        server.logs.some(
          (line) => line.msg === 'stream closed by the server' && line.reason === 'slow-consumer',
        ),
      );

      response.setEncoding('utf8');
      let text = '';
      for await (const chunk of response) text += chunk as string;
      destroy();
      const frames = text.split('\n\n').filter((frame) => frame.includes('event: '));
      const closing = frames.at(-1)!;
      assert.match(closing, /^event: closed$/m);
      const closed = JSON.parse(/^data: (.*)$/m.exec(closing)![1]!) as Record<string, string>;
      assert.equal(closed.reason, 'slow-consumer');
      const first = frames
        .filter((frame) => frame.includes('event: created'))
        .map((frame) => (JSON.parse(/^data: (.*)$/m.exec(frame)![1]!) as { id: string }).id);
      assert.ok(first.length < objects.length, 'the slow reader got only part of the events');

      const rest = await collect(
        `${server.url}${STREAMS}/collections/${world.collectionA.id}`,
        world.alice.token,
        {
          lastEventId: closed.cursor!,
          until: (messages) => eventCount(messages) >= objects.length - first.length,
          timeoutMs: 30_000,
        },
      );
      assert.deepEqual(
        [...first, ...eventsOf(rest).map((event) => event.data.id)],
        objects.map((object) => object.id),
      );
    } finally {
      await server.dispose();
    }
  });

  test('pruned cursor gives resync', async () => {
    const server = await startTestServer();
    try {
      const world = await makeWorld(server);
      const url = `${server.url}${STREAMS}/collections/${world.collectionA.id}`;
      const objects = Array.from({ length: 5 }, () => indicator());
      const reading = collect(`${url}?from=${since()}`, world.alice.token, {
        until: (messages) => eventCount(messages) >= 1,
      });
      await post(server, world.alice.token, world.collectionA, objects);
      const cursor = eventsOf(await reading)[0]!.id!;
      assert.equal(await server.server.store.pruneEvents({ maxEvents: 1 }), 4);

      const later = indicator();
      let posted = false;
      const messages = await collect(url, world.alice.token, {
        lastEventId: cursor,
        until: (received) => {
          if (!posted && received.some((message) => message.event === 'replayed')) {
            posted = true;
            void post(server, world.alice.token, world.collectionA, [later]);
          }
          return eventCount(received) >= 1;
        },
      });

      assert.equal(messages[0]!.event, 'resync');
      assert.equal(messages[0]!.data.reason, 'cursor-pruned');
      const replayed = messages.filter((message) => message.event === 'replay');
      assert.deepEqual(
        replayed.map((message) => message.data.id),
        objects.map((object) => object.id),
      );
      const marker = messages.find((message) => message.event === 'replayed')!;
      assert.match(marker.id!, /^[A-Za-z0-9_-]{22}$/);
      assert.deepEqual(
        eventsOf(messages).map((event) => event.data.id),
        [later.id],
      );
      const unknown = await collect(url, world.alice.token, {
        lastEventId: 'AAAAAAAAAAAAAAAAAAAAAA',
        until: (received) => received.some((message) => message.event === 'replayed'),
      });
      assert.equal(unknown[0]!.data.reason, 'cursor-unknown');
    } finally {
      await server.dispose();
    }
  });

  test('server restart mid-stream', async () => {
    const settings = { streams: { pollSeconds: 0.2 } };
    const first = await startTestServer(settings);
    let second: TestServer | undefined;
    const controller = new AbortController();
    try {
      const world = await makeWorld(first);
      const url = `${first.url}${STREAMS}/collections/${world.collectionA.id}?from=${since()}`;
      const objects = Array.from({ length: 60 }, () => indicator());
      const seen: ReceivedMessage[] = [];
      const reconnects: string[] = [];
      const following = (async () => {
        for await (const message of followStream(url, {
          token: world.alice.token,
          minDelayMs: 50,
          maxDelayMs: 200,
          signal: controller.signal,
          onReconnect: (reason) => reconnects.push(reason),
        })) {
          seen.push(message);
          if (eventCount(seen) >= objects.length) break;
        }
      })();

      for (let i = 0; i < 30; i += 10) {
        await post(first, world.alice.token, world.collectionA, objects.slice(i, i + 10));
      }
      await waitFor(() => eventCount(seen) >= 10);
      await first.stop();
      second = await startTestServer({
        ...settings,
        dataDir: first.dataDir,
        port: first.server.port,
      });
      for (let i = 30; i < 60; i += 10) {
        // The client may still hold a keep-alive connection that the stopped server closed;
        // posting the same objects again stores nothing twice.
        const batch = objects.slice(i, i + 10);
        await post(second, world.alice.token, world.collectionA, batch).catch(() =>
          post(second!, world.alice.token, world.collectionA, batch),
        );
      }
      await waitFor(() => eventCount(seen) >= objects.length, 30_000);
      await following;

      assert.deepEqual(
        eventsOf(seen).map((event) => event.data.id),
        objects.map((object) => object.id),
      );
      assert.ok(reconnects.length >= 1, 'the follower reconnected');
      assert.match(reconnects[0]!, /server-stopping|fetch failed|terminated|ECONNREFUSED/);
    } finally {
      controller.abort();
      await second?.dispose();
      await first.dispose();
    }
  });
});
