/**
 * The server's paced log readers, the value index and the correlation indexer, catching up
 * on a backlog together: each event is read from the store once and both indexes are whole.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EventIndexer } from '../correlation/event-indexer.ts';
import { createLogger } from '../log/logger.ts';
import { SqliteStore } from '../store/sqlite/index.ts';
import { objectVersion, stixId, stixTime } from '../store/store.case.ts';
import type { PreparedObject } from '../store/store.ts';
import { ValueIndexFeed } from '../watch/value-index.ts';
import { EventFeed, withReadEvents } from './feed.ts';
import { BackgroundPacer } from './pacing.ts';

const BATCHES = 6;
const BATCH = 1_000;

function indicator(n: number): PreparedObject {
  const pattern = `[domain-name:value = 'host${n}.example']`;
  return objectVersion(stixId('indicator', n), stixTime(1), {
    extra: { pattern, pattern_type: 'stix', valid_from: stixTime(1) },
  });
}

test('paced readers share the backlog', async () => {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  await store.createApiRoot({ name: 'api1', title: 'API root 1', maxContentLength: 1000 });
  const collection = await store.createCollection({ apiRoot: 'api1', title: 'Main' });
  let eventsFromStore = 0;
  const counting = withReadEvents(store, async (query) => {
    const events = await store.readEvents(query);
    eventsFromStore += events.length;
    return events;
  });
  const logger = createLogger('silent');
  // A feed smaller than the backlog, so the readers must read it from the store. The feed
  // keeps room for the convoy's gap, the indexer's page and a value index batch.
  const feed = new EventFeed(counting, logger, { maxEvents: 1_500 });
  feed.start();
  const pacer = new BackgroundPacer(feed, { convoyEvents: 600, quietMs: 50 });
  const reading = feed.wrap(store);
  const values = new ValueIndexFeed(pacer.wrap(reading, 'value index'), logger);
  await values.build();
  const indexer = new EventIndexer(reading, logger, { catchUpPageSize: 500 }, pacer);
  await indexer.pass();

  for (let batch = 0; batch < BATCHES; batch++) {
    const objects = Array.from({ length: BATCH }, (_, i) => indicator(batch * BATCH + i + 1));
    await store.addObjects(collection.id, objects);
  }
  eventsFromStore = 0;
  await new Promise((resolve) => setTimeout(resolve, 100));
  await Promise.all([
    values.catchUp(),
    (async () => {
      while ((await indexer.pass()) > 0);
    })(),
  ]);

  const total = BATCHES * BATCH;
  // Each event is read once, but for the one-event reads that look for news. Without the
  // convoy, the value index runs ahead and both read nearly every event.
  assert.ok(eventsFromStore <= total + 10, `${eventsFromStore} events read from the store`);
  assert.ok(eventsFromStore >= total - 1_500, `${eventsFromStore} events read from the store`);
  assert.equal(values.index.objectCount, total);
  const ids = Array.from({ length: total }, (_, i) => stixId('indicator', i + 1));
  assert.equal((await store.objectRefs(ids)).length, total);
  pacer.stop();
  await store.close();
});
