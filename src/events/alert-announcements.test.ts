/**
 * Alert announcements between nodes over the real NATS server at 127.0.0.1:4222
 * (CAIRN_TEST_NATS), each run on subjects of its own, and within one process. An outage is
 * played with a TCP relay in front of the server, so the shared server keeps running.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';

import { connect } from '@nats-io/transport-node';

import { natsAvailable, TEST_NATS_URL } from '../cluster/nats.test-helper.ts';
import { startTcpProxy, type TcpProxy } from '../cluster/tcp-proxy.test-helper.ts';
import { createLogger } from '../log/logger.ts';
import { deleteStream, NatsNotifier, parseAlertAnnouncement } from './nats-notifier.ts';
import { LocalNotifier } from './notifier.ts';

const skip = await natsAvailable();

/** Waits until `check` holds, polling every 10 ms, or fails after `ms`. */
async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what}`);
}

describe('parseAlertAnnouncement', () => {
  const encode = (value: string) => new TextEncoder().encode(value);

  test('reads a well-formed announcement', () => {
    const id = randomUUID();
    assert.deepEqual(
      parseAlertAnnouncement(encode(JSON.stringify({ watchlistId: id, node: 'n' }))),
      {
        watchlistId: id,
        node: 'n',
      },
    );
  });

  test('rejects malformed and hostile bodies', () => {
    for (const body of [
      '',
      'null',
      '"list"',
      '{"node":"n"}',
      '{"watchlistId":"","node":"n"}',
      '{"watchlistId":7,"node":"n"}',
      '{"watchlistId":"a b","node":"n"}',
      '{"watchlistId":"../x","node":"n"}',
      `{"watchlistId":"${'a'.repeat(101)}","node":"n"}`,
      '{"watchlistId":"abc"}',
      '{"watchlistId":"abc","node":1}',
      `{"watchlistId":"abc","node":"${'x'.repeat(300)}"}`,
    ]) {
      assert.equal(parseAlertAnnouncement(encode(body)), undefined, body);
    }
  });
});

describe('alert announcements in one process', () => {
  test('reach every listener until it stops', async () => {
    const notifier = new LocalNotifier();
    const heard: Array<string | undefined> = [];
    const stop = notifier.listenAlerts((id) => heard.push(id));
    notifier.announceAlerts('list-1');
    stop();
    notifier.announceAlerts('list-2');
    assert.deepEqual(heard, ['list-1']);
    await notifier.close();
  });
});

describe('alert announcements over NATS', { skip, timeout: 60_000 }, () => {
  const prefix = `cairn-test-${randomBytes(6).toString('hex')}`;
  const stream = `${prefix}-events`;
  const alertSubject = `${prefix}.alerts.recorded`;
  const notifiers: NatsNotifier[] = [];
  const proxies: TcpProxy[] = [];

  function node(servers = TEST_NATS_URL): NatsNotifier {
    const created = new NatsNotifier({
      servers,
      stream,
      subject: `${prefix}.events.committed`,
      alertSubject,
      latestSeq: () => Promise.resolve(0),
      logger: createLogger('silent'),
      fallbackMs: 60_000,
      maxBackoffMs: 200,
    });
    notifiers.push(created);
    created.start();
    return created;
  }

  after(async () => {
    await Promise.all(notifiers.map((each) => each.close()));
    await Promise.all(proxies.map((each) => each.close()));
    await deleteStream(TEST_NATS_URL, stream);
  });

  test('reach the other node once, without echo', async () => {
    const [a, b] = [node(), node()];
    await Promise.all([a.listening(), b.listening()]);
    const heardA: Array<string | undefined> = [];
    const heardB: Array<string | undefined> = [];
    a.listenAlerts((id) => heardA.push(id));
    b.listenAlerts((id) => heardB.push(id));

    const list = randomUUID();
    a.announceAlerts(list);
    assert.deepEqual(heardA, [list], 'the announcing node hears at once');
    await eventually(() => heardB.includes(list), 2_000, 'node B to hear the list');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(heardA, [list], 'A did not hear its own message back');
    assert.deepEqual(heardB, [list]);
  });

  test('a malformed message is skipped', async () => {
    const b = node();
    await b.listening();
    const heard: Array<string | undefined> = [];
    b.listenAlerts((id) => heard.push(id));
    const connection = await connect({ servers: TEST_NATS_URL });
    const valid = randomUUID();
    try {
      connection.publish(alertSubject, 'not json');
      connection.publish(alertSubject, JSON.stringify({ watchlistId: '; DROP', node: 'x' }));
      connection.publish(alertSubject, JSON.stringify({ watchlistId: valid, node: 'x' }));
      await connection.flush();
    } finally {
      await connection.close();
    }
    await eventually(() => heard.includes(valid), 2_000, 'the valid message after the bad ones');
    assert.deepEqual(heard, [valid]);
  });

  test('a node that missed announcements is told to read every list', async () => {
    const url = new URL(TEST_NATS_URL);
    const relay = await startTcpProxy(url.hostname, Number(url.port || 4222));
    proxies.push(relay);
    const a = node();
    const b = node(`nats://127.0.0.1:${relay.port}`);
    await Promise.all([a.listening(), b.listening()]);
    const heard: Array<string | undefined> = [];
    b.listenAlerts((id) => heard.push(id));

    relay.cut();
    await eventually(() => b.state === 'disconnected', 5_000, 'node B to lose NATS');
    const missed = randomUUID();
    a.announceAlerts(missed);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(heard.length, 0, 'B heard nothing while cut off');

    relay.restore();
    await eventually(() => heard.includes(undefined), 10_000, 'the catch-up signal on B');
    assert.ok(!heard.includes(missed), 'the lost message itself never arrives');
    // B's subscription may reach the server a moment after the catch-up signal, and plain
    // NATS drops what is published before it, so A announces until one arrives.
    const later = randomUUID();
    const deadline = Date.now() + 10_000;
    while (!heard.includes(later) && Date.now() < deadline) {
      a.announceAlerts(later);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(heard.includes(later), 'B hears announcements after the reconnection');
  });
});
