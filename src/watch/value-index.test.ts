import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../store/store.ts';
import { indicator } from '../testing/stix.ts';
import { makeWatchWorld, type WatchWorld } from './fixtures.test-helper.ts';
import { ValueIndexFeed, type ValueIndex } from './value-index.ts';

/**
 * Wraps a real store so that some calls reject as with an unreachable database: `fails`
 * gets each call's method and its number among the calls of that method, from 1.
 */
function failingStore(store: Store, fails: (method: string, call: number) => boolean): Store {
  const calls = new Map<string, number>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        const call = (calls.get(property) ?? 0) + 1;
        calls.set(property, call);
        if (fails(property, call)) {
          return Promise.reject(new Error(`connect ECONNREFUSED 127.0.0.1:5432 (${property})`));
        }
        return (value as (...args: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

function buildFailures(world: WatchWorld): Array<Record<string, unknown>> {
  return world.logs.filter((line) => String(line.msg).includes('value index build failed'));
}

function domainsFound(index: ValueIndex, domain: string): string[] {
  const found: string[] = [];
  index.lookup('domain', domain, (object) => found.push(index.objects.idOf(object)));
  return found;
}

describe('ValueIndexFeed', () => {
  let world: WatchWorld;
  const ringIndicator = indicator({ pattern: "[domain-name:value = 'ring.example']" });
  const denIndicator = indicator({ pattern: "[domain-name:value = 'den.example']" });
  let expected: { objects: number; values: number };

  before(async () => {
    world = await makeWatchWorld();
    const ring = await world.services.share(
      world.actors['beta-analyst']!,
      world.collections.ring!,
      [ringIndicator],
    );
    assert.equal(ring.failures.length, 0, JSON.stringify(ring.failures));
    const den = await world.services.share(world.actors['gamma-analyst']!, world.collections.den!, [
      denIndicator,
    ]);
    assert.equal(den.failures.length, 0, JSON.stringify(den.failures));
    const reference = new ValueIndexFeed(world.store, world.logger);
    await reference.build();
    expected = { objects: reference.index.objectCount, values: reference.index.valueKeys };
  });

  after(async () => {
    await world.dispose();
  });

  it('builds again from empty after failures', async () => {
    world.logs.length = 0;
    let partial: ValueIndex | undefined;
    let partialValues = 0;
    // The first build fails at once. The second fails on the first read of a collection
    // after values were filed, which the two shared indicators make sure comes.
    const store = failingStore(world.store, (method, call) => {
      if (method === 'eventBounds') return call === 1;
      if (method !== 'queryObjects' || partial !== undefined) return false;
      if (feed.index.valueKeys === 0) return false;
      partial = feed.index;
      partialValues = feed.index.valueKeys;
      return true;
    });
    const feed = new ValueIndexFeed(store, world.logger, undefined, {
      retryMs: 5,
      maxRetryMs: 100,
    });
    try {
      await feed.start();
      assert.equal(feed.state, 'ready');
      assert.ok(partialValues > 0, 'the second build failed after filing values');
      assert.notEqual(feed.index, partial, 'the failed index was replaced');
      assert.equal(feed.index.objectCount, expected.objects);
      assert.equal(feed.index.valueKeys, expected.values, 'no value filed twice');
      assert.deepEqual(domainsFound(feed.index, 'ring.example'), [ringIndicator.id]);
      assert.deepEqual(domainsFound(feed.index, 'den.example'), [denIndicator.id]);

      const failures = buildFailures(world);
      assert.deepEqual(
        failures.map((line) => line.attempt),
        [1, 2],
      );
      assert.deepEqual(
        failures.map((line) => line.retryMs),
        [5, 10],
      );
      assert.match(String((failures[0]!.err as { message: string }).message), /ECONNREFUSED/);
      const built = world.logs.find((line) => line.msg === 'observable value index built');
      assert.equal(built?.attempts, 3);
    } finally {
      await feed.stop();
    }
  });

  it('follows new events after a late build', async () => {
    const store = failingStore(
      world.store,
      (method, call) => method === 'listApiRoots' && call <= 2,
    );
    const feed = new ValueIndexFeed(store, world.logger, undefined, { retryMs: 1 });
    try {
      await feed.start();
      const later = indicator({ pattern: "[domain-name:value = 'later.example']" });
      await world.services.share(world.actors['beta-analyst']!, world.collections.ring!, [later]);
      await feed.catchUp();
      assert.deepEqual(domainsFound(feed.index, 'later.example'), [later.id]);
    } finally {
      await feed.stop();
    }
  });

  it('doubles the wait up to the maximum', async () => {
    world.logs.length = 0;
    const store = failingStore(
      world.store,
      (method, call) => method === 'eventBounds' && call <= 5,
    );
    const feed = new ValueIndexFeed(store, world.logger, undefined, {
      retryMs: 2,
      maxRetryMs: 8,
    });
    try {
      await feed.start();
      assert.equal(feed.state, 'ready');
      assert.deepEqual(
        buildFailures(world).map((line) => line.retryMs),
        [2, 4, 8, 8, 8],
      );
    } finally {
      await feed.stop();
    }
  });

  it('stops while waiting to build again', async () => {
    world.logs.length = 0;
    const store = failingStore(world.store, (method) => method === 'listApiRoots');
    const feed = new ValueIndexFeed(store, world.logger, undefined, { retryMs: 60_000 });
    const started = feed.start();
    const deadline = performance.now() + 5_000;
    while (buildFailures(world).length === 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(buildFailures(world).length, 1, 'the first build failed');
    assert.equal(feed.state, 'building');

    const stopAt = performance.now();
    await feed.stop();
    await started;
    assert.ok(performance.now() - stopAt < 5_000, 'stop ended the wait');
    assert.equal(feed.state, 'stopped');
    assert.equal(buildFailures(world).length, 1);
  });
});
