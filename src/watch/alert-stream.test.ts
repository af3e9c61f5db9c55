/**
 * The alert stream of a watch list on a real server over SQLite. Alerts and updates come
 * from the list's alert log with their log number as the SSE id. A client resumes after
 * Last-Event-ID or `from`, and a position the log no longer has gets a `resync`. Alerts
 * recorded without an announcement arrive through the stream's poll.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { startTestServer, type TestServer } from '../testing/server.ts';
import { ALERT_LOG_KIND, alertLogId } from './alert-log.ts';
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

describe('alert stream', { timeout: 120_000 }, () => {
  let server: TestServer;
  let world: AlertWorld;
  let token: string;
  const readers: StreamReader[] = [];

  function stream(watchlistId: string, options: { lastEventId?: string; query?: string }) {
    const reader = readAlertStream(server, watchlistId, token, options);
    readers.push(reader);
    return reader;
  }

  /** Waits until the list's alert log reaches `seq`. */
  async function logReaches(watchlistId: string, seq: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while ((await server.server.watch.alertLog.head(watchlistId)) < seq) {
      if (Date.now() > deadline) assert.fail(`the alert log of ${watchlistId} stayed below ${seq}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  before(async () => {
    server = await startTestServer();
    world = await makeAlertWorld(server.server.store);
    token = world.users['acme-analyst']!.token;
  });

  after(async () => {
    await Promise.all(readers.map((reader) => reader.close()));
    await server.dispose();
  });

  test('sends alerts and updates with log ids', async () => {
    const list = await createWatchList(server, token, ['198.51.100.10']);
    const reader = stream(list, { lastEventId: '0' });
    const object = addressIndicator('198.51.100.10');
    await postObjects(server, world, [object]);
    const created = await reader.waitFor((message) => message.event === 'alert', 'the alert');
    assert.equal(created.id, '1');
    assert.equal(created.data.objectId, object.id);
    assert.equal(created.data.watchlistId, list);
    assert.equal((created.data.match as { kind: string }).kind, 'indicator');

    await postObjects(server, world, [
      addressIndicator('198.51.100.10', '2024-06-01T10:00:00.000Z', object.id),
    ]);
    const updated = await reader.waitFor((message) => message.event === 'alert-updated', 'update');
    assert.equal(updated.id, '2');
    assert.equal(updated.data.id, created.data.id, 'the same alert, updated');
    assert.equal(updated.data.versions, 2);
    assert.equal(updated.data.version, '2024-06-01T10:00:00.000Z');
  });

  test('resumes after Last-Event-ID and from', async () => {
    const addresses = ['198.51.100.21', '198.51.100.22', '198.51.100.23'];
    const list = await createWatchList(server, token, addresses);
    for (const address of addresses) await postObjects(server, world, [addressIndicator(address)]);
    await logReaches(list, 3);

    const resumed = stream(list, { lastEventId: '1' });
    await resumed.waitFor((message) => message.id === '3', 'the third alert');
    assert.deepEqual(
      resumed.messages.map((message) => message.id),
      ['2', '3'],
    );

    const fromStart = stream(list, { query: '?from=start' });
    await fromStart.waitFor((message) => message.id === '3', 'the third alert from the start');
    assert.deepEqual(
      fromStart.messages.map((message) => message.id),
      ['1', '2', '3'],
    );

    const both = stream(list, { lastEventId: '2', query: '?from=start' });
    await both.waitFor((message) => message.id === '3', 'the alert after Last-Event-ID');
    assert.deepEqual(
      both.messages.map((message) => message.id),
      ['3'],
      'Last-Event-ID wins over from',
    );
  });

  test('rejects a bad from', async () => {
    const list = await createWatchList(server, token, ['198.51.100.30']);
    for (const from of ['yesterday', '-1', '1.5', '1e3']) {
      const refused = await api(
        server,
        token,
        `/watchlists/${list}/alerts/stream?from=${encodeURIComponent(from)}`,
      );
      assert.equal(refused.status, 400, from);
      assert.match(refused.json.error.message, /not valid/, from);
    }
    const unknownParameter = await api(server, token, `/watchlists/${list}/alerts/stream?since=1`);
    assert.equal(unknownParameter.status, 400);
  });

  test('resyncs an unknown Last-Event-ID at the head', async () => {
    const list = await createWatchList(server, token, ['198.51.100.40']);
    await postObjects(server, world, [addressIndicator('198.51.100.40')]);
    await logReaches(list, 1);

    // An alert id, as an older server used for message ids, and a number past the head.
    for (const lastEventId of [randomUUID(), '999']) {
      const reader = stream(list, { lastEventId });
      const resync = await reader.waitFor((message) => message.event === 'resync', 'resync');
      assert.equal(resync.data.reason, 'cursor-unknown', lastEventId);
      assert.equal(resync.id, '1', 'the client continues from the head');
    }
    const last = readers.at(-1)!;
    await postObjects(server, world, [addressIndicator('198.51.100.40')]);
    const next = await last.waitFor((message) => message.event === 'alert', 'a new alert');
    assert.equal(next.id, '2');
  });

  test('reports alerts pruned before the position', async () => {
    const addresses = ['198.51.100.51', '198.51.100.52', '198.51.100.53'];
    const list = await createWatchList(server, token, addresses);
    for (const address of addresses) await postObjects(server, world, [addressIndicator(address)]);
    await logReaches(list, 3);
    for (const seq of [1, 2]) {
      await server.server.store.deleteDocument(ALERT_LOG_KIND, alertLogId(list, seq));
    }

    const reader = stream(list, { lastEventId: '0' });
    await reader.waitFor((message) => message.id === '3', 'the kept alert');
    assert.deepEqual(
      reader.messages.map((message) => [message.event, message.id]),
      [
        ['resync', '2'],
        ['alert', '3'],
      ],
    );
    assert.equal(reader.messages[0]!.data.reason, 'cursor-pruned');
  });

  test('finds alerts recorded without an announcement', async () => {
    const list = await createWatchList(server, token, ['198.51.100.60']);
    await postObjects(server, world, [addressIndicator('198.51.100.60')]);
    await logReaches(list, 1);
    const [record] = await server.server.watch.alertLog.read(list, 0, 1);
    const reader = stream(list, { lastEventId: '1' });
    // Appended as another node would, but with its announcement lost.
    await server.server.watch.alertLog.append(
      { ...record!.alert, versions: 2, version: '2024-07-01T00:00:00.000Z' },
      'updated',
    );
    const started = Date.now();
    const updated = await reader.waitFor((message) => message.id === '2', 'the unannounced alert');
    assert.equal(updated.event, 'alert-updated');
    assert.ok(Date.now() - started < 5_000, 'within the stream poll interval and a margin');
  });
});
