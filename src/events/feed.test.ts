import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { createLogger } from '../log/logger.ts';
import { SqliteStore } from '../store/sqlite/index.ts';
import { objectVersion, stixId, stixTime } from '../store/store.case.ts';
import type { EventQuery, EventRecord, Store } from '../store/store.ts';
import { EventFeed, eventObject, type EventFeedOptions } from './feed.ts';

const directory = mkdtempSync(join(tmpdir(), 'cairn-feed-test-'));
let fileCount = 0;
const logger = createLogger('silent');

after(() => {
  rmSync(directory, { recursive: true, force: true });
});

async function openFeed(options: Partial<EventFeedOptions> = {}) {
  const path = join(directory, `feed-${++fileCount}.db`);
  const store = new SqliteStore(path);
  await store.migrate();
  await store.createApiRoot({ name: 'api1', title: 'API root 1', maxContentLength: 1000 });
  const collection = await store.createCollection({ apiRoot: 'api1', title: 'Main' });
  const feed = new EventFeed(store, logger, options);
  feed.start();
  let next = 0;
  /** Adds `count` new indicators through `writer`, by default the feed's store. */
  const add = async (count: number, writer: Store = store) => {
    const objects = Array.from({ length: count }, () =>
      objectVersion(stixId('indicator', ++next), stixTime(1), { extra: { name: 'x'.repeat(50) } }),
    );
    await writer.addObjects(collection.id, objects);
  };
  return { store, path, collectionId: collection.id, feed, add };
}

/** Checks that the feed returns what the store returns for each query. */
async function assertSameAsStore(feed: EventFeed, store: Store, queries: EventQuery[]) {
  for (const query of queries) {
    assert.deepEqual(
      (await feed.read(query)).map((event) => event.seq),
      (await store.readEvents(query)).map((event) => event.seq),
      `seqs of ${JSON.stringify(query)}`,
    );
    assert.deepEqual(await feed.read(query), await store.readEvents(query));
  }
}

/** Returns whether two reads return the very same records, which only memory does. */
async function fromMemory(feed: EventFeed, query: EventQuery): Promise<boolean> {
  const [first] = await feed.read(query);
  const [again] = await feed.read(query);
  return first !== undefined && first === again;
}

describe('event feed', () => {
  test('reads equal the log', async () => {
    const { store, feed, add } = await openFeed();
    await add(5);
    await add(3);
    await assertSameAsStore(feed, store, [
      { afterSeq: 0, limit: 100 },
      { afterSeq: 0, limit: 2 },
      { afterSeq: 4, limit: 2 },
      { afterSeq: 5, limit: 100 },
      { afterSeq: 7, limit: 100 },
      { afterSeq: 8, limit: 100 },
      { afterSeq: 20, limit: 100 },
      { afterSeq: 3, limit: 0 },
    ]);
    assert.equal(feed.size, 8);
    assert.ok(await fromMemory(feed, { afterSeq: 2, limit: 3 }));
    await store.close();
  });

  test('collection reads go to the log', async () => {
    const { store, feed, add, collectionId } = await openFeed();
    await add(3);
    const query = { afterSeq: 0, limit: 10, collectionIds: [collectionId] };
    await assertSameAsStore(feed, store, [query, { ...query, collectionIds: [] }]);
    assert.equal(await fromMemory(feed, query), false);
    await store.close();
  });

  test('invalid queries rejected as by the store', async () => {
    const { store, feed, add } = await openFeed();
    await add(3);
    await assert.rejects(feed.read({ afterSeq: 0, limit: -1 }), RangeError);
    await assert.rejects(feed.read({ afterSeq: 0.5, limit: 10 }), RangeError);
    await store.close();
  });

  test('writes of another connection continue the feed', async () => {
    const { store, path, feed, add } = await openFeed();
    const other = new SqliteStore(path);
    await add(3);
    await add(2, other);
    // Memory ends at seq 3; the read goes on in the log, and memory takes the rest.
    await assertSameAsStore(feed, store, [{ afterSeq: 1, limit: 100 }]);
    assert.equal(feed.size, 5);
    assert.ok(await fromMemory(feed, { afterSeq: 4, limit: 100 }));
    await other.close();
    await store.close();
  });

  test('unseen writes start another run', async () => {
    const { store, path, feed, add } = await openFeed();
    const other = new SqliteStore(path);
    await add(3);
    await add(2, other);
    await add(2);
    assert.equal(feed.size, 5, 'memory keeps both runs');
    assert.ok(await fromMemory(feed, { afterSeq: 5, limit: 100 }));
    assert.ok(await fromMemory(feed, { afterSeq: 1, limit: 1 }));
    await assertSameAsStore(feed, store, [
      { afterSeq: 0, limit: 100 },
      { afterSeq: 3, limit: 100 },
      { afterSeq: 5, limit: 1 },
      { afterSeq: 6, limit: 100 },
    ]);
    // Reading the gap from the log joins the runs into one.
    assert.equal(feed.size, 7);
    assert.ok(await fromMemory(feed, { afterSeq: 2, limit: 4 }));
    await other.close();
    await store.close();
  });

  test('commit keeps its run over an idle one', async () => {
    const { store, path, feed, add } = await openFeed({ maxEvents: 6 });
    const other = new SqliteStore(path);
    await add(3);
    await add(3, other);
    await add(3);
    // Runs (0, 3] and (6, 9]. The commit extends the newer run; the idle one gives way.
    await add(2);
    assert.equal(feed.size, 6);
    assert.ok(feed.has(6));
    assert.ok(feed.has(10));
    assert.ok(feed.has(2));
    assert.equal(feed.has(1), false);

    // Reading (3, 6] from the log joins the runs; the oldest events of the join go.
    await feed.read({ afterSeq: 3, limit: 3 });
    assert.equal(feed.size, 6);
    assert.ok(feed.has(5));
    assert.equal(feed.has(4), false);
    await assertSameAsStore(feed, store, [{ afterSeq: 0, limit: 100 }]);
    await other.close();
    await store.close();
  });

  test('read keeps its run over an idle one', async () => {
    const { store, path, feed, add } = await openFeed({ maxEvents: 6 });
    const other = new SqliteStore(path);
    await add(3);
    await add(3, other);
    await add(3);
    await feed.read({ afterSeq: 0, limit: 2 });
    // The log read continues (0, 3] past its end, so the idle run (6, 9] gives way.
    await feed.read({ afterSeq: 3, limit: 1 });
    assert.equal(feed.size, 6);
    assert.ok(feed.has(0));
    assert.ok(feed.has(3));
    assert.equal(feed.has(4), false, 'seq 5 is not kept');
    assert.equal(feed.has(6), false);
    assert.ok(feed.has(7));
    await assertSameAsStore(feed, store, [{ afterSeq: 0, limit: 100 }]);
    await other.close();
    await store.close();
  });

  test('oldest events dropped at the event limit', async () => {
    const { store, feed, add } = await openFeed({ maxEvents: 4 });
    await add(3);
    await add(3);
    assert.equal(feed.size, 4);
    assert.equal(await fromMemory(feed, { afterSeq: 1, limit: 100 }), false);
    assert.ok(await fromMemory(feed, { afterSeq: 2, limit: 100 }));
    await assertSameAsStore(feed, store, [
      { afterSeq: 0, limit: 100 },
      { afterSeq: 2, limit: 2 },
    ]);
    await store.close();
  });

  test('oldest events dropped at the JSON limit', async () => {
    const { store, feed, add } = await openFeed({ maxJsonChars: 600 });
    await add(6);
    const sizes = (await store.readEvents({ afterSeq: 0, limit: 100 })).map(
      (event) => event.json!.length,
    );
    assert.ok(
      sizes.every((size) => size > 150 && size <= 300),
      `JSON sizes ${sizes.join()}`,
    );
    assert.ok(feed.size >= 2, `keeps ${feed.size} events`);
    assert.ok(feed.size <= 3, `keeps ${feed.size} events`);
    await assertSameAsStore(feed, store, [{ afterSeq: 0, limit: 100 }]);
    await store.close();
  });

  test('object larger than the JSON limit', async () => {
    const { store, feed, add } = await openFeed({ maxJsonChars: 10 });
    await add(2);
    assert.equal(feed.size, 0);
    await assertSameAsStore(feed, store, [{ afterSeq: 0, limit: 100 }]);
    await store.close();
  });

  test('stopped feed reads the log', async () => {
    const { store, feed, add } = await openFeed();
    await add(3);
    feed.stop();
    assert.equal(feed.size, 0);
    await add(2);
    assert.equal(feed.size, 0);
    await assertSameAsStore(feed, store, [{ afterSeq: 0, limit: 100 }]);
    await store.close();
  });

  test('wrapped store reads through the feed', async () => {
    const { store, feed, add } = await openFeed();
    await add(3);
    const wrapped = feed.wrap(store);
    const [first] = await wrapped.readEvents({ afterSeq: 0, limit: 10 });
    const [again] = await feed.read({ afterSeq: 0, limit: 10 });
    assert.equal(first, again);
    // Other methods reach the store's private fields.
    assert.deepEqual(await wrapped.eventBounds(), { first: 1, last: 3 });
    assert.equal(wrapped.eventBounds, wrapped.eventBounds, 'methods are bound once');
    await store.close();
  });

  test('event object parsed once', async () => {
    const { store, feed, add } = await openFeed();
    await add(1);
    const [event] = await feed.read({ afterSeq: 0, limit: 1 });
    const object = eventObject(event!);
    assert.equal(object.id, event!.objectId);
    assert.equal(eventObject(event!), object);
    const [copy] = await store.readEvents({ afterSeq: 0, limit: 1 });
    assert.notEqual(eventObject(copy!), object, 'another record is parsed on its own');
    assert.deepEqual(eventObject(copy!), object);
    await store.close();
  });

  test('event object of a delete rejected', () => {
    const deleted = { seq: 9, kind: 'deleted', objectId: 'indicator--x' } as EventRecord;
    assert.throws(() => eventObject(deleted), /event 9 \(deleted\) carries no object JSON/);
  });
});
