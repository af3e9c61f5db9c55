import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { createLogger } from '../log/logger.ts';
import { nowMicros } from '../stix/timestamp.ts';
import { indicator, malware } from '../testing/stix.ts';
import { makeWatchWorld, type WatchWorld } from './fixtures.test-helper.ts';
import { BUILDER_DOCUMENT, HuntKeyIndexer } from './hunt-index.ts';

describe('retro-hunt key indexer', () => {
  let world: WatchWorld;

  before(async () => {
    world = await makeWatchWorld();
  });

  after(async () => {
    await world.dispose();
  });

  async function share(actor: string, collection: string, objects: unknown[]) {
    const result = await world.services.share(
      world.actors[actor]!,
      world.collections[collection]!,
      objects,
    );
    assert.equal(result.failures.length, 0, JSON.stringify(result.failures));
  }

  async function keyed(collection: string, key: string): Promise<string[]> {
    const rows = await world.store.findHuntKeys({
      collectionId: world.collections[collection]!,
      keys: [key],
      limit: 100,
    });
    return rows.map((row) => row.objectId);
  }

  function indexer(pageSize = 3, pagesPerPass = 2): HuntKeyIndexer {
    return new HuntKeyIndexer(world.store, createLogger('silent'), { pageSize, pagesPerPass });
  }

  it('indexes every collection in bounded passes', async () => {
    const ring = Array.from({ length: 10 }, (_, i) =>
      indicator({ pattern: `[domain-name:value = 'ring${i}.example']` }),
    );
    await share('alpha-analyst', 'ring', [...ring, malware({ name: 'not keyed' })]);
    await share('gamma-analyst', 'den', [
      indicator({ pattern: "[ipv4-addr:value = '198.51.100.7']" }),
    ]);

    const builder = indexer();
    const first = await builder.pass();
    assert.ok(first > 0, 'a pass reads something');
    assert.ok(first <= 6, `a pass reads at most two pages of three, read ${first}`);
    assert.deepEqual(await keyed('ring', 'd:example.ring9.'), [], 'not reached yet');
    await builder.catchUp();
    assert.equal(await builder.pass(), 0, 'nothing left');
    assert.deepEqual(await keyed('ring', 'd:example.ring9.'), [ring[9]!.id]);
    assert.equal((await keyed('den', 'i4:11000110001100110110010000000111')).length, 1);

    const mark = await world.store.huntKeyMark(world.collections.ring!);
    const latest = await world.store.queryManifest({
      collectionId: world.collections.ring!,
      types: ['indicator'],
      limit: 100,
    });
    assert.equal(mark, latest.items.at(-1)!.dateAdded, 'the mark is the last keyed version');
  });

  it('keys every version of an object', async () => {
    const first = indicator({ pattern: "[domain-name:value = 'before.example']" });
    await share('alpha-analyst', 'ring', [first]);
    await share('alpha-analyst', 'ring', [
      {
        ...first,
        modified: '2024-03-01T00:00:00.000Z',
        pattern: "[url:value = 'http://after.example/']",
      },
    ]);
    await indexer().catchUp();
    assert.deepEqual(await keyed('ring', 'd:example.before.'), [first.id]);
    assert.deepEqual(await keyed('ring', 'u:http://after.example/'), [first.id]);
    assert.deepEqual(await keyed('ring', 'd:example.after.'), [first.id], 'the host of the URL');
  });

  it('waits while another node holds the lease', async () => {
    await share('alpha-analyst', 'ring', [
      indicator({ pattern: "[domain-name:value = 'n.example']" }),
    ]);
    const now = nowMicros();
    const [held] = await world.store.claimDocuments(BUILDER_DOCUMENT, now, now + 60_000_000, 1);
    assert.ok(held, 'the builder document exists after the passes above');
    assert.equal(await indexer().pass(), 0);
    assert.deepEqual(await keyed('ring', 'd:example.n.'), []);

    await world.store.putDocument(
      { kind: BUILDER_DOCUMENT, id: held.id, due: nowMicros(), body: held.body },
      held.revision,
    );
    await indexer().catchUp();
    assert.equal((await keyed('ring', 'd:example.n.')).length, 1);
  });

  it('follows new versions once started', async () => {
    const builder = indexer(50, 5);
    await builder.catchUp();
    const running = new HuntKeyIndexer(world.store, createLogger('silent'), { pollMs: 10 });
    running.start();
    try {
      const late = indicator({ pattern: "[domain-name:value = 'late.example']" });
      await share('beta-analyst', 'ring', [late]);
      for (let attempt = 0; attempt < 200; attempt++) {
        if ((await keyed('ring', 'd:example.late.')).length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.deepEqual(await keyed('ring', 'd:example.late.'), [late.id]);
    } finally {
      await running.stop();
    }
  });
});
