/**
 * Deleted objects and versions in the retro-hunt key index, on SQLite and on PostgreSQL:
 * the indexer removes their rows, and a hunt never raises an alert for them.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, beforeEach, describe, it } from 'node:test';

import { EventFeed } from '../events/feed.ts';
import { BackgroundPacer } from '../events/pacing.ts';
import { createLogger } from '../log/logger.ts';
import { createTestDatabase } from '../store/postgres/database.test-helper.ts';
import { indicator } from '../testing/stix.ts';
import { WatchAccess } from './access.ts';
import { AlertBus } from './bus.ts';
import { buildEntry, type EntryInput } from './entries.ts';
import { BUILDER_DOCUMENT, HuntKeyIndexer } from './hunt-index.ts';
import { HuntRunner, queueHunt } from './hunt.ts';
import { watchWorldBackends, type WatchWorld } from './fixtures.test-helper.ts';
import type { WatchList } from './model.ts';
import { WatchRepository } from './repository.ts';

const database = await createTestDatabase();

after(async () => {
  if (typeof database !== 'string') await database.drop();
});

const backends = watchWorldBackends(database);

for (const { name, make: makeWorld, skip } of backends) {
  describe(`retro-hunt after deletes on ${name}`, { skip, timeout: 120_000 }, () => {
    let world: WatchWorld;
    let repository: WatchRepository;

    beforeEach(async () => {
      world = await makeWorld();
      repository = new WatchRepository(world.store);
    });

    afterEach(async () => {
      await world.dispose();
    });

    const ring = () => world.collections.ring!;

    function indexer(): HuntKeyIndexer {
      return new HuntKeyIndexer(world.store, world.logger, { pageSize: 2, pagesPerPass: 2 });
    }

    async function share(objects: unknown[]): Promise<void> {
      const result = await world.services.share(world.actors['alpha-analyst']!, ring(), objects);
      assert.equal(result.failures.length, 0, JSON.stringify(result.failures));
    }

    async function keyed(key: string): Promise<string[]> {
      const rows = await world.store.findHuntKeys({ collectionId: ring(), keys: [key], limit: 50 });
      return rows.map((row) => row.objectId);
    }

    /** Hunts with a new list of the values; returns the ids of the objects it alerted on. */
    async function huntFor(values: string[]): Promise<string[]> {
      const user = world.users['alpha-analyst']!;
      const list: WatchList = {
        id: randomUUID(),
        name: `deletes ${randomUUID()}`,
        ownerType: 'user',
        ownerUserId: user.id,
        organisationId: user.organisationId,
        visibility: 'private',
        enabled: true,
        entries: values.map((value) => {
          const input: EntryInput = { value };
          const built = buildEntry(input, 0);
          assert.ok(built.ok, value);
          return built.entry;
        }),
        createdBy: user.id,
        createdAt: 0,
        updatedAt: 0,
      };
      const stored = await repository.putList(list, 0);
      const job = await queueHunt(repository, list, stored.revision);
      const runner = new HuntRunner({
        store: world.store,
        repository,
        access: new WatchAccess(world.store),
        bus: new AlertBus(),
        logger: createLogger('silent'),
      });
      await runner.runDue();
      const done = (await repository.getJob(job.id))!.job;
      assert.equal(done.state, 'done', done.error);
      const alerted: string[] = [];
      for await (const alert of repository.listAlerts(list.id)) alerted.push(alert.objectId);
      return alerted.sort();
    }

    it('deleted object loses its rows', async () => {
      const gone = indicator({ pattern: "[domain-name:value = 'gone.example']" });
      const kept = indicator({ pattern: "[domain-name:value = 'kept.example']" });
      const shared = indicator({ pattern: "[domain-name:value = 'gone.example']" });
      await share([gone, kept, shared]);
      await indexer().catchUp();
      assert.deepEqual((await keyed('d:example.gone.')).sort(), [gone.id, shared.id].sort());

      assert.equal(await world.store.deleteObject(ring(), gone.id), 1);
      await indexer().catchUp();
      assert.deepEqual(await keyed('d:example.gone.'), [shared.id], 'only the deleted one goes');
      assert.deepEqual(await keyed('d:example.kept.'), [kept.id]);
      assert.deepEqual(
        await huntFor(['gone.example', 'kept.example']),
        [kept.id, shared.id].sort(),
      );
    });

    it('deleted version loses only its keys', async () => {
      const first = indicator({ pattern: "[domain-name:value = 'before.example']" });
      await share([first]);
      const second = {
        ...first,
        modified: '2024-03-01T00:00:00.000Z',
        pattern: "[url:value = 'http://after.example/']",
      };
      await share([second]);
      await indexer().catchUp();
      assert.deepEqual(await keyed('u:http://after.example/'), [first.id]);

      const versions = await world.store.queryManifest({
        collectionId: ring(),
        ids: [first.id],
        versions: { all: true },
        limit: 10,
      });
      const newest = versions.items.find((item) => item.version === second.modified)!;
      const deleted = await world.store.deleteObject(ring(), first.id, {
        first: false,
        last: false,
        exact: [newest.versionKey],
      });
      assert.equal(deleted, 1);
      await indexer().catchUp();
      assert.deepEqual(await keyed('u:http://after.example/'), [], 'the URL key went');
      assert.deepEqual(await keyed('d:example.after.'), [], 'so did its host');
      assert.deepEqual(await keyed('d:example.before.'), [first.id], 'the kept version keeps its');
      assert.deepEqual(await huntFor(['http://after.example/']), [], 'no alert on the deleted');
      assert.deepEqual(await huntFor(['before.example']), [first.id]);
    });

    it('delete before the first pass', async () => {
      const early = indicator({ pattern: "[domain-name:value = 'early.example']" });
      await share([early]);
      await world.store.deleteObject(ring(), early.id);
      await indexer().catchUp();
      assert.deepEqual(await keyed('d:example.early.'), []);
      assert.deepEqual(await huntFor(['early.example']), []);
    });

    it('re-added object gets its keys back', async () => {
      const back = indicator({ pattern: "[domain-name:value = 'back.example']" });
      await share([back]);
      await indexer().catchUp();
      await world.store.deleteObject(ring(), back.id);
      await share([back]);
      await indexer().catchUp();
      assert.deepEqual(await keyed('d:example.back.'), [back.id]);
      assert.deepEqual(await huntFor(['back.example']), [back.id]);
    });

    it('deletes applied behind the pacer', async () => {
      const paced = indicator({ pattern: "[domain-name:value = 'paced.example']" });
      await share([paced]);
      await world.store.deleteObject(ring(), paced.id);
      const feed = new EventFeed(world.store, world.logger);
      feed.start();
      const pacer = new BackgroundPacer(feed);
      try {
        const builder = new HuntKeyIndexer(world.store, world.logger, { pageSize: 2 }, pacer);
        await builder.catchUp();
        assert.deepEqual(await keyed('d:example.paced.'), []);
        const builderDocument = await world.store.getDocument(BUILDER_DOCUMENT, 'builder');
        const { last } = await world.store.eventBounds();
        assert.deepEqual(JSON.parse(builderDocument!.body), { afterSeq: last });
      } finally {
        pacer.stop();
        feed.stop();
      }
    });

    it('pruned events are logged and passed', async () => {
      const lost = indicator({ pattern: "[domain-name:value = 'lost.example']" });
      await share([lost]);
      await indexer().catchUp();
      await world.store.deleteObject(ring(), lost.id);
      await share([indicator({ pattern: "[domain-name:value = 'later.example']" })]);
      // Keeps only the newest event, so the delete is gone before the indexer reads it.
      await world.store.pruneEvents({ maxEvents: 1 });
      await indexer().catchUp();

      const warned = world.logs.filter((line) =>
        String(line.msg).includes('events were pruned before the retro-hunt key indexer'),
      );
      assert.equal(warned.length, 1, 'the lost deletes are logged once');
      const { last } = await world.store.eventBounds();
      const builder = await world.store.getDocument(BUILDER_DOCUMENT, 'builder');
      assert.deepEqual(JSON.parse(builder!.body), { afterSeq: last }, 'the indexer moved on');
      assert.deepEqual(await huntFor(['lost.example']), [], 'the hunt still skips it');
    });
  });
}
