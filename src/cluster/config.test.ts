/**
 * The multi-node settings of the configuration and the parts the server builds from them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FailureLimiter } from '../auth/http.ts';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../config/config.ts';
import { LocalNotifier } from '../events/notifier.ts';
import { createLogger } from '../log/logger.ts';
import type { Store } from '../store/store.ts';
import { createFailureCounter, createNotifier, isSharedStore, natsNames } from './index.ts';
import { StoreFailureCounter } from './failure-counts.ts';

test('NATS settings come from the environment', () => {
  const config = loadConfig({
    env: {
      CAIRN_NATS_URL: 'nats://a:4222,tls://b:4443',
      CAIRN_NATS_PREFIX: 'prod_eu-1',
      CAIRN_NATS_REPLICAS: '3',
    },
  });
  assert.deepEqual(config.nats, {
    url: 'nats://a:4222,tls://b:4443',
    prefix: 'prod_eu-1',
    fallbackPollSeconds: 10,
    replicas: 3,
  });
  assert.equal(DEFAULT_CONFIG.nats.url, undefined, 'no NATS unless configured');
});

test('bad NATS settings stop the start with their name', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ CAIRN_NATS_URL: 'http://a:4222' }, /nats\.url: expected nats:\/\/HOST:PORT/],
    [{ CAIRN_NATS_URL: 'nats://a:4222,' }, /nats\.url/],
    [{ CAIRN_NATS_URL: 'localhost:4222' }, /nats\.url/],
    [{ CAIRN_NATS_PREFIX: 'has.dot' }, /nats\.prefix: use 1 to 32 letters/],
    [{ CAIRN_NATS_PREFIX: 'x'.repeat(33) }, /nats\.prefix/],
    [{ CAIRN_NATS_REPLICAS: '0' }, /nats\.replicas/],
    [{ CAIRN_NATS_REPLICAS: '2.5' }, /nats\.replicas/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => loadConfig({ env }), ConfigError, JSON.stringify(env));
    assert.throws(() => loadConfig({ env }), message, JSON.stringify(env));
  }
});

test('stream and subjects follow the prefix', () => {
  assert.deepEqual(natsNames('cairn'), {
    stream: 'cairn-events',
    subject: 'cairn.events.committed',
    accessSubject: 'cairn.access.changed',
    alertSubject: 'cairn.alerts.recorded',
  });
});

test('shared stores get shared counts, SQLite keeps them in memory', () => {
  const store = {} as Store;
  assert.equal(isSharedStore('postgres://db/cairn'), true);
  assert.equal(isSharedStore('POSTGRESQL://db/cairn'), true);
  assert.equal(isSharedStore('sqlite:./data/cairn.db'), false);
  assert.equal(isSharedStore('./cairn.db'), false);
  const onPostgres = { ...DEFAULT_CONFIG, store: 'postgres://db/cairn' };
  assert.ok(createFailureCounter(onPostgres, store) instanceof StoreFailureCounter);
  assert.ok(createFailureCounter(DEFAULT_CONFIG, store) instanceof FailureLimiter);
});

test('without a NATS URL the notifier stays in the process', async () => {
  const notifier = await createNotifier(DEFAULT_CONFIG, {} as Store, createLogger('silent'));
  assert.ok(notifier instanceof LocalNotifier);
  await notifier.close();
});
