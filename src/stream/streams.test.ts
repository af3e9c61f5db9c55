import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';

import WebSocket from 'ws';

import { indicator, malware, versions } from '../testing/stix.ts';
import { call, startTestServer, type TestServer } from '../testing/server.ts';
import { openStream, StreamRequestError } from './client.ts';
import {
  collect,
  eventCount,
  eventsOf,
  makeWorld,
  post,
  sleep,
  type World,
} from './streams.test-helper.ts';

const STREAMS = '/api/v1/streams';
const CURSOR = /^[A-Za-z0-9_-]{22}$/;

function since(): string {
  return new Date(Date.now() - 1).toISOString();
}

describe('event streams', { timeout: 120_000 }, () => {
  let server: TestServer;
  let world: World;

  before(async () => {
    server = await startTestServer({
      streams: { heartbeatSeconds: 0.2, recheckSeconds: 0.5, pollSeconds: 0.2 },
    });
    world = await makeWorld(server);
  });

  after(async () => {
    await server.dispose();
  });

  function collectionUrl(query = ''): string {
    return `${server.url}${STREAMS}/collections/${world.collectionA.id}${query}`;
  }

  test('events arrive in order', async () => {
    const objects = [indicator(), malware(), indicator()];
    const reading = collect(collectionUrl(`?from=${since()}`), world.alice.token, {
      until: (messages) => eventCount(messages) >= 3,
    });
    await post(server, world.alice.token, world.collectionA, objects);
    const events = eventsOf(await reading);

    assert.deepEqual(
      events.map((event) => event.data.id),
      objects.map((object) => object.id),
    );
    for (const event of events) {
      assert.equal(event.event, 'created');
      assert.match(event.id!, CURSOR);
      assert.equal(event.data.cursor, event.id);
      assert.equal(event.data.collection, world.collectionA.id);
      assert.equal(event.data.community, world.communityA.id);
      assert.equal((event.data.object as { id: string }).id, event.data.id);
    }
    assert.equal(new Set(events.map((event) => event.id)).size, 3, 'cursors differ');
  });

  test('update, revoke and delete kinds', async () => {
    const [v1, v2] = versions(indicator(), 2);
    const revoked = { ...v1!, modified: '2024-03-01T00:00:00.000Z', revoked: true };
    const reading = collect(collectionUrl(`?from=${since()}`), world.alice.token, {
      until: (messages) => eventCount(messages) >= 4,
    });
    await post(server, world.alice.token, world.collectionA, [v1!]);
    await post(server, world.alice.token, world.collectionA, [v2!, revoked]);
    const deleted = await call(server, `collections/${world.collectionA.id}/objects/${v1!.id}/`, {
      method: 'DELETE',
      token: world.alice.token,
      headers: { 'X-Test': '1' },
    });
    assert.equal(deleted.status, 200);
    const events = eventsOf(await reading);

    assert.deepEqual(
      events.slice(0, 4).map((event) => event.event),
      ['created', 'updated', 'revoked', 'deleted'],
    );
    assert.equal(events[3]!.data.object, undefined);
  });

  test('live start after a heartbeat', async () => {
    const object = indicator();
    let posted = false;
    const messages = await collect(collectionUrl(), world.alice.token, {
      until: (received) => {
        if (!posted && received.some((message) => message.event === 'heartbeat')) {
          posted = true;
          void post(server, world.alice.token, world.collectionA, [object]);
        }
        return eventCount(received) >= 1;
      },
    });
    assert.equal(eventsOf(messages)[0]!.data.id, object.id);
  });

  test('other community sees nothing', async () => {
    const hidden = await call(server, collectionUrl(), { token: world.bob.token, accept: null });
    assert.equal(hidden.status, 404);
    assert.equal(hidden.json.error.code, 'not-found');
    const community = await call(
      server,
      `${server.url}${STREAMS}/communities/${world.communityA.id}`,
      { token: world.bob.token, accept: null },
    );
    assert.equal(community.status, 404);

    const start = since();
    const objects = Array.from({ length: 20 }, () => indicator());
    const bobReading = collect(`${server.url}${STREAMS}?from=${start}`, world.bob.token, {
      until: (messages) => messages.filter((message) => message.event === 'heartbeat').length >= 6,
    });
    const aliceReading = collect(`${server.url}${STREAMS}?from=${start}`, world.alice.token, {
      until: (messages) => eventCount(messages) >= 20,
    });
    await post(server, world.alice.token, world.collectionA, objects.slice(0, 10));
    await sleep(300);
    await post(server, world.alice.token, world.collectionA, objects.slice(10));
    const bobMessages = await bobReading;
    const aliceMessages = await aliceReading;

    assert.deepEqual(
      bobMessages.filter((message) => message.event !== 'heartbeat'),
      [],
      'bob receives heartbeats only',
    );
    const bobCursors = bobMessages.map((message) => message.id);
    assert.equal(new Set(bobCursors).size, bobCursors.length, 'heartbeat cursors never repeat');
    const aliceCursors = new Set(aliceMessages.map((message) => message.id));
    assert.ok(bobCursors.every((cursor) => !aliceCursors.has(cursor)));
  });

  test('client sees amber, then left view', async () => {
    const amber = 'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82';
    const strict = 'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003';
    const [v1, v2] = versions(indicator({ object_marking_refs: [amber] }), 2);
    const hiddenVersion = { ...v2!, object_marking_refs: [strict] };
    const start = since();
    const carolReading = collect(collectionUrl(`?from=${start}`), world.carol.token, {
      until: (messages) => eventCount(messages) >= 2,
    });
    const aliceReading = collect(collectionUrl(`?from=${start}`), world.alice.token, {
      until: (messages) => eventCount(messages) >= 2,
    });
    await post(server, world.alice.token, world.collectionA, [v1!]);
    await post(server, world.alice.token, world.collectionA, [hiddenVersion]);
    const carol = eventsOf(await carolReading);
    const alice = eventsOf(await aliceReading);

    assert.deepEqual(
      alice.map((event) => event.event),
      ['created', 'updated'],
    );
    assert.deepEqual(
      carol.map((event) => event.event),
      ['created', 'deleted'],
    );
    assert.equal(carol[1]!.data.reason, 'hidden');
    assert.equal(carol[1]!.data.id, v1!.id);
    assert.equal(carol[1]!.data.version, undefined, 'the hidden version stays unknown');
    assert.equal(carol[1]!.data.object, undefined);
  });

  test('granular markings redacted per reader', async () => {
    const amber = 'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82';
    const strict = 'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003';
    const object = indicator({
      object_marking_refs: [amber],
      description: 'members only',
      granular_markings: [{ marking_ref: strict, selectors: ['description'] }],
    });
    const start = since();
    const readers = [world.alice.token, world.carol.token].map((token) =>
      collect(collectionUrl(`?from=${start}`), token, {
        until: (messages) => eventCount(messages) >= 1,
      }),
    );
    await post(server, world.alice.token, world.collectionA, [object]);
    const [alice, carol] = await Promise.all(readers);

    const seenByAlice = eventsOf(alice!)[0]!.data.object as Record<string, unknown>;
    const seenByCarol = eventsOf(carol!)[0]!.data.object as Record<string, unknown>;
    assert.equal(seenByAlice.description, 'members only');
    assert.equal(seenByCarol.id, object.id);
    assert.equal(seenByCarol.description, undefined, 'the client does not see the strict part');
    const taxii = await call(server, `collections/${world.collectionA.id}/objects/${object.id}/`, {
      token: world.carol.token,
    });
    assert.deepEqual(taxii.json.objects[0], seenByCarol, 'the stream redacts as TAXII does');
  });

  test('filters by type, label and confidence', async () => {
    const start = since();
    const wanted = indicator({ labels: ['ransomware'], confidence: 80 });
    const objects = [
      malware({ labels: ['ransomware'], confidence: 90 }),
      indicator({ labels: ['phishing'], confidence: 90 }),
      indicator({ labels: ['ransomware'], confidence: 10 }),
      wanted,
    ];
    const reading = collect(
      `${server.url}${STREAMS}?from=${start}&types=indicator&labels=ransomware,other&min_confidence=50&tlp=green`,
      world.alice.token,
      { until: (messages) => eventCount(messages) >= 1 },
    );
    await post(server, world.alice.token, world.collectionA, objects);
    const events = eventsOf(await reading);
    assert.deepEqual(
      events.map((event) => event.data.id),
      [wanted.id],
    );

    for (const query of ['types=Bad Type', 'tlp=purple', 'min_confidence=101', 'colour=red']) {
      const refused = await call(server, `${server.url}${STREAMS}?${query}`, {
        token: world.alice.token,
        accept: null,
      });
      assert.equal(refused.status, 400, query);
      assert.equal(refused.json.error.code, 'invalid-parameter', query);
    }
    const badCursor = await call(server, `${server.url}${STREAMS}?from=not-a-cursor`, {
      token: world.alice.token,
      accept: null,
    });
    assert.equal(badCursor.status, 400);
    assert.match(badCursor.json.error.message, /not-a-cursor/);
  });

  test('from takes any RFC 3339 date-time; loose values rejected', async () => {
    const startMs = Date.now() - 1;
    const object = indicator();
    await post(server, world.alice.token, world.collectionA, [object]);
    // The same instant as local time two hours east of UTC, and in lowercase UTC form.
    const east = new Date(startMs + 2 * 3_600_000).toISOString().replace('T', 't');
    const starts = [east.replace('Z', '+02:00'), new Date(startMs).toISOString().toLowerCase()];
    for (const start of starts) {
      const events = eventsOf(
        await collect(collectionUrl(`?from=${encodeURIComponent(start)}`), world.alice.token, {
          until: (messages) => eventsOf(messages).some((m) => m.data.id === object.id),
        }),
      );
      assert.equal(events[0]!.data.id, object.id, start);
    }

    const refusals: Array<[string, Record<string, string>, RegExp]> = [
      ['min_confidence=0x10', {}, /min_confidence/],
      ['min_confidence=1e1', {}, /min_confidence/],
      ['min_confidence=0b1', {}, /min_confidence/],
      ['min_confidence=%2050', {}, /min_confidence/],
      ['from=start&from=garbage', {}, /from is given 2 times/],
      ['from=', {}, /from is empty/],
      ['types=', {}, /types is empty/],
      ['types=,,,', {}, /types is empty/],
      ['from=2026-12-04T22:26:00%2B25:00', {}, /from "2026-12-04T22:26:00\+25:00"/],
      ['', { 'Last-Event-ID': 'garbage' }, /Last-Event-ID "garbage" is not a cursor/],
      ['', { 'Last-Event-ID': 'A'.repeat(12_000) }, /Last-Event-ID "A{40}" is not a cursor/],
      ['from=start', { 'Last-Event-ID': 'not a cursor' }, /Last-Event-ID/],
    ];
    for (const [query, headers, message] of refusals) {
      const refused = await call(server, collectionUrl(`?${query}`), {
        token: world.alice.token,
        accept: null,
        headers,
      });
      const label = `${query} ${JSON.stringify(headers).slice(0, 60)}`;
      assert.equal(refused.status, 400, label);
      assert.equal(refused.json.error.code, 'invalid-parameter', label);
      assert.match(refused.json.error.message, message, label);
    }
  });

  test('collection path takes the alias, with the same 404 for hidden and missing', async () => {
    const alias = world.collectionA.alias!;
    const object = indicator();
    const reading = collect(
      `${server.url}${STREAMS}/collections/${encodeURIComponent(alias)}?from=${since()}`,
      world.alice.token,
      { until: (messages) => eventCount(messages) >= 1 },
    );
    await post(server, world.alice.token, world.collectionA, [object]);
    const [event] = eventsOf(await reading);
    assert.equal(event!.data.id, object.id);
    assert.equal(event!.data.collection, world.collectionA.id);

    const answers = [];
    for (const [name, token] of [
      [alias, world.bob.token],
      ['no-such-alias', world.bob.token],
    ] as const) {
      const refused = await call(server, `${server.url}${STREAMS}/collections/${name}`, {
        token,
        accept: null,
      });
      assert.equal(refused.status, 404, name);
      answers.push(refused.json.error.message.replace(name, 'NAME'));
      assert.ok(
        !refused.text.includes(world.collectionA.id),
        'the id behind the alias stays hidden',
      );
    }
    assert.equal(answers[0], answers[1]);
  });

  test('resume with Last-Event-ID', async () => {
    const objects = Array.from({ length: 6 }, () => indicator());
    const first = collect(collectionUrl(`?from=${since()}`), world.alice.token, {
      until: (messages) => eventCount(messages) >= 2,
    });
    await post(server, world.alice.token, world.collectionA, objects);
    const firstEvents = eventsOf(await first);
    const rest = await collect(collectionUrl(), world.alice.token, {
      lastEventId: firstEvents[1]!.id!,
      until: (messages) => eventCount(messages) >= 4,
    });

    assert.deepEqual(
      [...firstEvents.slice(0, 2), ...eventsOf(rest)].map((event) => event.data.id),
      objects.map((object) => object.id),
    );
  });

  test('disconnect mid-event and resume', async () => {
    const objects = Array.from({ length: 5 }, () => indicator({ description: 'x'.repeat(2_000) }));
    const start = since();
    await post(server, world.alice.token, world.collectionA, objects);

    // Read raw bytes and cut the connection in the middle of the third event's frame.
    const { frames, partial } = await new Promise<{ frames: string[]; partial: string }>(
      (resolve, reject) => {
        const url = new URL(collectionUrl(`?from=${start}`));
        const req = request(url, {
          headers: { Authorization: `Bearer ${world.alice.token}`, Accept: 'text/event-stream' },
        });
        req.on('error', reject);
        req.on('response', (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            text += chunk;
            const complete = text.split('\n\n').filter((frame) => frame.includes('event: created'));
            if (complete.length >= 3) {
              const cut = text.lastIndexOf('event: created');
              req.destroy();
              resolve({
                frames: text
                  .slice(0, cut)
                  .split('\n\n')
                  .filter((f) => f.includes('event: created')),
                partial: text.slice(cut, cut + 100),
              });
            }
          });
        });
        req.end();
      },
    );
    assert.ok(frames.length >= 2);
    assert.ok(partial.startsWith('event: created'));
    const lastId = /^id: (\S+)$/m.exec(frames.at(-1)!)![1]!;
    const rest = await collect(collectionUrl(), world.alice.token, {
      lastEventId: lastId,
      until: (messages) => eventCount(messages) >= 5 - frames.length,
    });

    const ids = [
      ...frames.map((frame) => JSON.parse(/^data: (.*)$/m.exec(frame)![1]!).id as string),
      ...eventsOf(rest).map((event) => event.data.id),
    ];
    assert.deepEqual(
      ids,
      objects.map((object) => object.id),
    );
  });

  test('websocket carries the same events', async () => {
    const objects = [indicator(), indicator()];
    const start = since();
    const socket = new WebSocket(collectionUrl(`?from=${start}`).replace('http:', 'ws:'), {
      headers: { Authorization: `Bearer ${world.alice.token}` },
    });
    const received: Array<Record<string, unknown>> = [];
    const done = new Promise<void>((resolve, reject) => {
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as Record<string, unknown>;
        received.push(message);
        if (received.filter((m) => m.kind === 'created').length >= 2) resolve();
      });
      socket.on('error', reject);
      socket.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    await new Promise((resolve) => socket.once('open', resolve));
    await post(server, world.alice.token, world.collectionA, objects);
    await done;
    socket.close();

    const created = received.filter((message) => message.kind === 'created');
    assert.deepEqual(
      created.map((message) => message.id),
      objects.map((object) => object.id),
    );
    assert.match(created[0]!.cursor as string, CURSOR);

    const refused = new WebSocket(collectionUrl().replace('http:', 'ws:'), {
      headers: { Authorization: `Bearer ${world.bob.token}` },
    });
    const status = await new Promise<number>((resolve) => {
      refused.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      refused.on('open', () => resolve(101));
      refused.on('error', () => undefined);
    });
    assert.equal(status, 404);
  });
});

describe('stream client errors', () => {
  test('refusal is a request error', async () => {
    const server = await startTestServer();
    try {
      await assert.rejects(
        async () => {
          for await (const message of openStream(`${server.url}${STREAMS}`, { token: 'bad' })) {
            assert.fail(`unexpected message ${message.event}`);
          }
        },
        (error: unknown) => error instanceof StreamRequestError && error.status === 401,
      );
    } finally {
      await server.dispose();
    }
  });
});
