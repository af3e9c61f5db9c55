/**
 * NatsNotifier against the real NATS JetStream server at 127.0.0.1:4222 (CAIRN_TEST_NATS),
 * each run on a stream of its own. Outages are played with a TCP relay in front of the
 * server that the test cuts and restores, so the shared server keeps running.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';

import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

import { startTcpProxy, type TcpProxy } from '../cluster/tcp-proxy.test-helper.ts';
import { createLogger } from '../log/logger.ts';
import { openStore } from '../store/index.ts';
import { objectVersion, stixId, stixTime } from '../store/store.case.ts';
import type { CollectionRecord, Store } from '../store/store.ts';
import { natsAvailable, TEST_NATS_URL } from '../cluster/nats.test-helper.ts';
import {
  deleteStream,
  describeServers,
  NatsNotifier,
  parseAnnouncement,
  serverSettings,
  type NatsNotifierOptions,
} from './nats-notifier.ts';

const skip = await natsAvailable();

function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: createLogger('debug', sink), lines };
}

/** Waits until `check` holds, polling every 10 ms, or fails after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what}`);
}

describe('parseAnnouncement', () => {
  const encode = (value: string) => new TextEncoder().encode(value);
  test('reads a well-formed announcement', () => {
    assert.deepEqual(parseAnnouncement(encode('{"seq":42,"node":"n"}')), { seq: 42, node: 'n' });
  });
  test('rejects malformed and hostile bodies', () => {
    for (const body of [
      '',
      'null',
      '42',
      '{"seq":"42","node":"n"}',
      '{"seq":-1,"node":"n"}',
      '{"seq":1.5,"node":"n"}',
      '{"seq":1e300,"node":"n"}',
      '{"seq":1}',
      '{"seq":1,"node":7}',
      `{"seq":1,"node":"${'x'.repeat(300)}"}`,
      '{"__proto__":{"seq":1},"node":"n"}',
    ]) {
      assert.equal(parseAnnouncement(encode(body)), undefined, body);
    }
  });
});

describe('serverSettings', () => {
  test('turns URLs into addresses and options', () => {
    assert.deepEqual(serverSettings('nats://127.0.0.1:4222, nats://nats-2.example'), {
      servers: ['127.0.0.1:4222', 'nats-2.example:4222'],
    });
    assert.deepEqual(serverSettings('nats://cairn:p%40ss@a:1,nats://other:x@b:2'), {
      servers: ['a:1', 'b:2'],
      user: 'cairn',
      pass: 'p@ss',
    });
    assert.deepEqual(serverSettings('tls://s3cr3t@a:4443'), {
      servers: ['a:4443'],
      tls: {},
      token: 's3cr3t',
    });
    assert.deepEqual(serverSettings('nats://[::1]:4222').servers, ['[::1]:4222']);
  });

  test('rejects other schemes', () => {
    assert.throws(() => serverSettings('http://127.0.0.1:4222'), /unsupported NATS URL scheme/);
    assert.throws(() => serverSettings('127.0.0.1:4222'));
  });
});

describe('describeServers', () => {
  test('leaves credentials out', () => {
    assert.equal(
      describeServers('nats://user:secret@127.0.0.1:4222, nats://tok@127.0.0.1:4223'),
      'nats://127.0.0.1:4222,nats://127.0.0.1:4223',
    );
  });
});

describe('NatsNotifier', { skip, timeout: 60_000 }, () => {
  const stream = `CAIRN_TEST_${randomBytes(6).toString('hex').toUpperCase()}`;
  const subject = `cairn.test.${stream.toLowerCase()}.committed`;
  const notifiers: NatsNotifier[] = [];
  const proxies: TcpProxy[] = [];
  const folder = mkdtempSync(join(tmpdir(), 'cairn-nats-'));

  function notifier(overrides: Partial<NatsNotifierOptions> = {}) {
    const { logger, lines } = captureLogger();
    const created = new NatsNotifier({
      servers: TEST_NATS_URL,
      stream,
      subject,
      latestSeq: () => Promise.resolve(0),
      logger,
      fallbackMs: 60_000,
      maxBackoffMs: 200,
      ...overrides,
    });
    notifiers.push(created);
    created.start();
    return { notifier: created, lines };
  }

  async function proxy(): Promise<TcpProxy> {
    const url = new URL(TEST_NATS_URL);
    const created = await startTcpProxy(url.hostname, Number(url.port || 4222));
    proxies.push(created);
    return created;
  }

  after(async () => {
    await Promise.all(notifiers.map((each) => each.close()));
    await Promise.all(proxies.map((each) => each.close()));
    await deleteStream(TEST_NATS_URL, stream);
    rmSync(folder, { recursive: true, force: true });
  });

  test('announcement reaches other nodes once', async () => {
    const a = notifier();
    const b = notifier();
    await Promise.all([a.notifier.listening(), b.notifier.listening()]);
    const heardA: number[] = [];
    const heardB: number[] = [];
    a.notifier.listen((seq) => heardA.push(seq));
    b.notifier.listen((seq) => heardB.push(seq));

    const started = performance.now();
    a.notifier.announce(5);
    assert.deepEqual(heardA, [5], 'local listeners hear at once');
    await eventually(() => heardB.includes(5), 2_000, 'node B to hear seq 5');
    assert.ok(performance.now() - started < 1_000);
    b.notifier.announce(6);
    await eventually(() => heardA.includes(6), 2_000, 'node A to hear seq 6');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(heardA, [5, 6], 'A heard its own 5 once and B’s 6 once');
    assert.deepEqual(heardB, [5, 6]);
  });

  test('a burst of announcements becomes a few messages carrying the newest seq', async () => {
    const a = notifier();
    const b = notifier();
    await Promise.all([a.notifier.listening(), b.notifier.listening()]);
    const heard: number[] = [];
    b.notifier.listen((seq) => heard.push(seq));
    for (let seq = 100; seq <= 1_100; seq++) a.notifier.announce(seq);
    await eventually(() => heard.includes(1_100), 3_000, 'the newest seq of the burst');
    assert.ok(heard.length < 100, `${heard.length} messages for 1,001 announcements`);
  });

  test('a malformed message on the subject is logged and skipped', async () => {
    const b = notifier();
    await b.notifier.listening();
    const heard: number[] = [];
    b.notifier.listen((seq) => heard.push(seq));
    const connection = await connect({ servers: TEST_NATS_URL });
    try {
      const js = jetstream(connection);
      await js.publish(subject, 'not json');
      await js.publish(subject, JSON.stringify({ seq: 'DROP TABLE', node: 'x' }));
      await js.publish(subject, JSON.stringify({ seq: 77, node: 'another node' }));
    } finally {
      await connection.close();
    }
    await eventually(() => heard.includes(77), 2_000, 'the valid message after the bad ones');
    assert.deepEqual(heard, [77]);
    assert.equal(
      b.lines.filter((line) => line.msg === 'ignored a malformed announcement').length,
      2,
    );
  });

  test('access changes travel to the other nodes without echo', async () => {
    const accessSubject = `${subject}.access`;
    const signal = () => {
      const listeners = new Set<() => void>();
      return {
        emitted: 0,
        emit() {
          this.emitted += 1;
          for (const listener of listeners) listener();
        },
        listen(listener: () => void) {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
      };
    };
    const onA = signal();
    const onB = signal();
    const relaying = () =>
      new NatsNotifier({
        servers: TEST_NATS_URL,
        stream,
        subject,
        accessSubject,
        latestSeq: () => Promise.resolve(0),
        logger: captureLogger().logger,
      });
    const [a, b] = [relaying(), relaying()];
    notifiers.push(a, b);
    a.relayAccessChanges(onA);
    b.relayAccessChanges(onB);
    a.start();
    b.start();
    await Promise.all([a.listening(), b.listening()]);

    onA.emit();
    await eventually(() => onB.emitted === 1, 2_000, 'node B to hear the access change');
    onB.emit();
    await eventually(() => onA.emitted === 2, 2_000, 'node A to hear B’s access change');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(onA.emitted, 2, 'A: its own signal and B’s, nothing bounced back');
    assert.equal(onB.emitted, 2, 'B: A’s signal and its own');
    assert.throws(
      () => notifier().notifier.relayAccessChanges(signal()),
      /needs the accessSubject option/,
    );
  });

  test('deleted stream is created again', async () => {
    const a = notifier({ streamCheckMs: 300 });
    const b = notifier({ streamCheckMs: 300 });
    await Promise.all([a.notifier.listening(), b.notifier.listening()]);
    await deleteStream(TEST_NATS_URL, stream);
    const heard: number[] = [];
    b.notifier.listen((seq) => heard.push(seq));
    // Announce until one gets through: the stream and the consumers come back by themselves,
    // within a few stream checks.
    const started = Date.now();
    const deadline = started + 15_000;
    for (let seq = 500; !heard.some((s) => s >= 500) && Date.now() < deadline; seq++) {
      a.notifier.announce(seq);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(
      heard.some((s) => s >= 500),
      'B hears A again after the stream was deleted',
    );
    assert.ok(Date.now() - started < 5_000, `B heard A after ${Date.now() - started} ms`);
    assert.ok(b.lines.some((line) => line.msg === 'NATS consumer lost; following again'));
  });

  test('URL credentials stay out of logs; tls:// requires TLS', async () => {
    // The test server has no authentication, so it accepts any user name and password.
    const withUser = notifier({ servers: `nats://cairn:secret@${new URL(TEST_NATS_URL).host}` });
    await withUser.notifier.listening();
    assert.equal(withUser.notifier.state, 'connected');
    assert.ok(!JSON.stringify(withUser.lines).includes('secret'), 'no log line has the password');

    // It offers no TLS either, so a client that requires TLS cannot connect.
    const withTls = notifier({ servers: `tls://${new URL(TEST_NATS_URL).host}` });
    await eventually(
      () =>
        withTls.lines.some(
          (l) => l.msg === 'could not connect to NATS; the store is polled until it answers',
        ),
      5_000,
      'the TLS connection to fail',
    );
    assert.notEqual(withTls.notifier.state, 'connected');
  });

  test('a listener that throws does not stop the others', async () => {
    const a = notifier();
    const heard: number[] = [];
    a.notifier.listen(() => {
      throw new Error('listener bug');
    });
    a.notifier.listen((seq) => heard.push(seq));
    a.notifier.announce(3);
    assert.deepEqual(heard, [3]);
    assert.ok(a.lines.some((line) => line.msg === 'event listener failed'));
  });

  test('cut-off node fills the gap from the store', async () => {
    const file = join(folder, 'shared.db');
    const writerStore = await openStore(`sqlite:${file}`);
    const readerStore = await openStore(`sqlite:${file}`);
    try {
      await writerStore.createApiRoot({ name: 'r', title: 'r', maxContentLength: 1 << 20 });
      const collection = await writerStore.createCollection({ apiRoot: 'r', title: 'c' });
      const latest = async (store: Store) => (await store.eventBounds()).last;

      const relay = await proxy();
      const writer = notifier({ latestSeq: () => latest(writerStore) });
      const reader = notifier({
        servers: `nats://127.0.0.1:${relay.port}`,
        latestSeq: () => latest(readerStore),
      });
      await Promise.all([writer.notifier.listening(), reader.notifier.listening()]);

      // The reader follows the log as a stream pump does: on each announcement it reads
      // every event after its cursor.
      const seen: number[] = [];
      let cursor = 0;
      let reading = Promise.resolve();
      reader.notifier.listen(() => {
        reading = reading.then(async () => {
          for (const event of await readerStore.readEvents({ afterSeq: cursor, limit: 1000 })) {
            seen.push(event.seq);
            cursor = event.seq;
          }
        });
      });

      let n = 0;
      async function commit(count: number, target: CollectionRecord) {
        for (let i = 0; i < count; i++) {
          n += 1;
          const results = await writerStore.addObjects(target.id, [
            objectVersion(stixId('indicator', n), stixTime(n)),
          ]);
          assert.equal(results[0]!.outcome, 'added');
          writer.notifier.announce(await latest(writerStore));
        }
      }

      await commit(3, collection);
      await eventually(() => seen.length === 3, 2_000, 'the first three events');

      relay.cut();
      await eventually(
        () => reader.notifier.state === 'disconnected',
        5_000,
        'the reader to see the cut',
      );
      await commit(4, collection);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(seen.length, 3, 'nothing arrives while the link is cut');

      relay.restore();
      await eventually(() => seen.length === 7, 10_000, 'the four events committed during the cut');
      const all = (await readerStore.readEvents({ afterSeq: 0, limit: 100 })).map((e) => e.seq);
      assert.deepEqual(seen, all, 'every event once, in order');
      assert.ok(reader.lines.some((line) => line.msg === 'nats disconnected'));
      assert.ok(reader.lines.some((line) => line.msg === 'caught up from the store'));

      // And the link carries new announcements again.
      await commit(1, collection);
      await eventually(() => seen.length === 8, 2_000, 'an event after the restore');
      await writer.notifier.close();
      await reader.notifier.close();
      await reading;
    } finally {
      await writerStore.close();
      await readerStore.close();
    }
  });

  test('the fallback poll keeps a node current while NATS stays unreachable', async () => {
    const relay = await proxy();
    relay.cut();
    let storeLast = 10;
    const reader = notifier({
      servers: `nats://127.0.0.1:${relay.port}`,
      latestSeq: () => Promise.resolve(storeLast),
      fallbackMs: 100,
    });
    const heard: number[] = [];
    reader.notifier.listen((seq) => heard.push(seq));
    await eventually(() => heard.includes(10), 2_000, 'the poll to announce seq 10');
    storeLast = 12;
    await eventually(() => heard.includes(12), 2_000, 'the poll to announce seq 12');
    assert.notEqual(reader.notifier.state, 'connected');
    // Several attempts fail (the backoff is at most 200 ms), but only the first is a warning.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const warnings = reader.lines.filter(
      (line) => line.msg === 'could not connect to NATS; the store is polled until it answers',
    );
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.level, 40);
    assert.ok(reader.lines.filter((line) => line.msg === 'NATS still unreachable').length >= 2);
    assert.ok(
      reader.lines.every((line) => line.msg !== 'NATS still unreachable' || line.level === 20),
    );

    // A node that starts while NATS is down connects once it is back, and logs how many
    // attempts failed.
    relay.restore();
    await reader.notifier.listening();
    assert.equal(reader.notifier.state, 'connected');
    const recovered = reader.lines.find(
      (line) => line.msg === 'connected to NATS after failed attempts',
    );
    assert.ok(recovered, 'the recovery is logged');
    assert.ok((recovered.failedAttempts as number) >= 3, String(recovered.failedAttempts));
  });

  test('a failing store read during catch-up is logged, not thrown', async () => {
    const reader = notifier({
      latestSeq: () => Promise.reject(new Error('store unavailable')),
      fallbackMs: 50,
    });
    await eventually(
      () => reader.lines.some((l) => l.msg === 'could not read the newest event from the store'),
      2_000,
      'the failed read to be logged',
    );
  });

  test('close ends promptly, even while connecting', async () => {
    const relay = await proxy();
    relay.cut();
    const { notifier: cutOff } = notifier({ servers: `nats://127.0.0.1:${relay.port}` });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const started = performance.now();
    await cutOff.close();
    assert.ok(performance.now() - started < 3_000);
    assert.equal(cutOff.state, 'closed');
    const heard: number[] = [];
    cutOff.listen((seq) => heard.push(seq));
    cutOff.announce(1);
    assert.deepEqual(heard, [], 'a closed notifier announces nothing');
  });
});

before(() => {
  if (skip) console.log(`# NATS tests skipped: ${skip}`);
});
