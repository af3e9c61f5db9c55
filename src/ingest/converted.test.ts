import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import { EventIndexer } from '../correlation/event-indexer.ts';
import { createLogger } from '../log/logger.ts';
import { classify, toIndicator, toSco } from '../normalise/index.ts';
import { TLP_2_AMBER, TLP_2_RED } from '../stix/index.ts';
import { openStore, type Store } from '../store/index.ts';
import { dataPath } from '../testing/data.ts';
import { makeWatchWorld } from '../watch/fixtures.test-helper.ts';
import { WatchRuntime } from '../watch/runtime.ts';
import { submitConverted } from './converted.ts';
import { convert, type FormatOptions } from './formats/index.ts';
import { IMPORT_DEFAULTS, importConversion, importConverted } from './import.ts';
import { SUBMIT_CHUNK } from './submit.ts';

const OPTIONS: FormatOptions = { source: 'test', created: '2024-05-01T00:00:00.000Z' };
const TRAIL = dataPath('maltrail-trails/trails/static/mass_scanner.txt');
const STALKERWARE_HOSTS = dataPath('stalkerware-indicators/generated/hosts');

async function* bytesOf(text: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(text, 'utf8');
}

/** Opens an in-memory store with one collection, optionally owned by a community. */
async function openCollection(communityTlp?: 'green' | 'amber') {
  const store = await openStore('sqlite::memory:');
  await store.createApiRoot({ name: 'default', title: 'Test', maxContentLength: 1 << 20 });
  let communityId: string | undefined;
  if (communityTlp !== undefined) {
    await store.createOrganisation({ id: 'org-a', name: 'A', identity: '{}', createdAt: 1 });
    await store.createCommunity(
      {
        id: 'community-a',
        name: 'Community A',
        description: '',
        defaultTlp: communityTlp,
        allowAnonymous: false,
        publishClear: false,
        identity: '{}',
        createdAt: 1,
      },
      'org-a',
      undefined,
    );
    communityId = 'community-a';
  }
  const collection = await store.createCollection({
    apiRoot: 'default',
    title: 'Test',
    ...(communityId ? { communityId } : {}),
  });
  return { store, collectionId: collection.id };
}

/** Every stored version of a collection as `id version json`, sorted. */
async function contents(store: Store, collectionId: string): Promise<string[]> {
  const page = await store.queryObjects({
    collectionId,
    limit: 100_000,
    versions: { all: true },
  });
  return page.items.map((item) => `${item.id} ${item.version} ${item.json}`).sort();
}

/** Wraps a store so that `sizes` receives the number of objects of each addConverted call. */
function countingStore(store: Store, sizes: number[]): Store {
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      if (property !== 'addConverted') return value.bind(target);
      return (id: string, objects: unknown[]) => {
        sizes.push(objects.length);
        return store.addConverted(id, objects as never);
      };
    },
  });
}

function observable(value: string) {
  const result = classify(value);
  assert.ok(result.ok, value);
  return result.value;
}

describe('converted bulk import', () => {
  test('same content as full validation', async () => {
    const bulk = await openCollection();
    const full = await openCollection();
    const bulkSummary = await importConversion(
      bulk.store,
      bulk.collectionId,
      convert('text', { stream: createReadStream(TRAIL) }, OPTIONS),
      { batchSize: 1000 },
    );
    const fullSummary = await importConverted(
      full.store,
      full.collectionId,
      convert('text', { stream: createReadStream(TRAIL) }, OPTIONS).objects,
      { batchSize: 1000 },
    );

    assert.ok(bulkSummary.added > 10_000, `only ${bulkSummary.added} added`);
    assert.equal(bulkSummary.added, fullSummary.added);
    assert.equal(bulkSummary.duplicates, fullSummary.duplicates);
    assert.equal(bulkSummary.rejected, 0);
    assert.equal(bulkSummary.read, fullSummary.read);
    assert.deepEqual(
      await contents(bulk.store, bulk.collectionId),
      await contents(full.store, full.collectionId),
    );
    assert.deepEqual(
      await bulk.store.countCollection(bulk.collectionId),
      await full.store.countCollection(full.collectionId),
    );
    await bulk.store.close();
    await full.store.close();
  });

  test('bulk batches bounded', async () => {
    const { store, collectionId } = await openCollection();
    const sizes: number[] = [];
    const counted = countingStore(store, sizes);
    const summary = await importConversion(
      counted,
      collectionId,
      convert('text', { stream: createReadStream(TRAIL) }, OPTIONS),
    );

    assert.ok(sizes.length > 2, `${sizes.length} calls`);
    assert.ok(
      sizes.every((size) => size <= IMPORT_DEFAULTS.bulkBatchSize),
      `sizes ${sizes.join(', ')}`,
    );
    assert.equal(sizes[0], IMPORT_DEFAULTS.bulkBatchSize);
    assert.equal(
      sizes.reduce((sum, size) => sum + size, 0),
      summary.added + summary.duplicates,
    );
    await store.close();
  });

  test('server batches chunked', async () => {
    const { store, collectionId } = await openCollection();
    const sizes: number[] = [];
    const objects = Array.from({ length: 1250 }, (_, i) =>
      toSco(observable(`10.0.${i >> 8}.${i & 255}`)),
    );
    const result = await submitConverted(countingStore(store, sizes), collectionId, objects);

    assert.deepEqual(sizes, [SUBMIT_CHUNK, objects.length - SUBMIT_CHUNK]);
    assert.equal(result.successes.length, objects.length);
    assert.deepEqual(await store.countCollection(collectionId), {
      objects: objects.length,
      versions: objects.length,
    });
    await store.close();
  });

  test('re-import counts duplicates', async () => {
    const { store, collectionId } = await openCollection();
    const text = 'evil.example\n198.51.100.7\nevil.example\nnot an indicator\n';
    const first = await importConversion(
      store,
      collectionId,
      convert('text', { stream: bytesOf(text) }, OPTIONS),
    );
    const second = await importConversion(
      store,
      collectionId,
      convert('text', { stream: bytesOf(text) }, OPTIONS),
    );

    assert.equal(first.added, 4);
    assert.equal(first.duplicates, 1, 'the repeated line gives its indicator again');
    assert.equal(second.added, 0);
    assert.equal(second.duplicates, 5);
    assert.deepEqual(await store.countCollection(collectionId), { objects: 4, versions: 4 });
    await store.close();
  });

  test('event log readers see the objects', async () => {
    const { store, collectionId } = await openCollection();
    const summary = await importConversion(
      store,
      collectionId,
      convert('text', { stream: createReadStream(TRAIL) }, OPTIONS),
      { batchSize: 5000 },
    );
    const events = await store.readEvents({ afterSeq: 0, limit: 100_000 });

    assert.equal(events.length, summary.added);
    assert.ok(events.every((event) => event.kind === 'created'));
    assert.ok(events.every((event) => typeof event.json === 'string'));
    assert.ok(events.every((event) => event.collectionId === collectionId));
    const dates = events.map((event) => event.dateAdded);
    assert.ok(
      dates.every((date, i) => i === 0 || date > dates[i - 1]!),
      'date_added order',
    );

    // The correlation index follows the log, as the server runs it.
    const indexer = new EventIndexer(store, createLogger('silent'));
    let indexed = 0;
    for (let pass = await indexer.pass(); pass > 0; pass = await indexer.pass()) indexed += pass;
    assert.equal(indexed, summary.added);
    const first = events.find((event) => event.objectType === 'indicator')!;
    const refs = await store.objectRefs([first.objectId]);
    assert.equal(refs.length, 1);
    assert.equal(refs[0]!.source, 'operator');
    await store.close();
  });

  test('community default TLP applied', async () => {
    const { store, collectionId } = await openCollection('amber');
    await importConversion(
      store,
      collectionId,
      convert('text', { stream: bytesOf('203.0.113.5\n') }, OPTIONS),
    );
    const events = await store.readEvents({ afterSeq: 0, limit: 10 });

    assert.equal(events.length, 2);
    for (const event of events) {
      assert.deepEqual(event.sharing.tlp, ['amber']);
      assert.equal(event.sharing.audience, 'members-and-clients');
      assert.equal(event.sharing.contributorId, undefined);
      assert.equal(event.communityId, 'community-a');
    }
    await store.close();
  });

  test('contributor and markings recorded', async () => {
    const { store, collectionId } = await openCollection();
    const value = observable('evil.example');
    const marked = toIndicator(value, {
      ...OPTIONS,
      objectMarkingRefs: [TLP_2_AMBER.id],
    });
    const contribution = {
      contributor: { userId: 'user-1', organisationId: 'org-1' },
      anonymous: false,
      recipients: [],
    };
    const result = await submitConverted(
      store,
      collectionId,
      [toSco(value), marked],
      0,
      contribution,
    );
    const events = await store.readEvents({ afterSeq: 0, limit: 10 });

    assert.deepEqual(result.failures, []);
    assert.equal(result.successes.length, 2);
    assert.deepEqual(events[0]!.sharing.tlp, ['green']);
    assert.deepEqual(events[1]!.sharing.tlp, ['amber']);
    assert.equal(events[1]!.sharing.audience, 'members-and-clients');
    assert.equal(events[1]!.sharing.contributorId, 'user-1');
    assert.equal(events[1]!.sharing.contributorOrganisationId, 'org-1');
    await store.close();
  });

  test('values held elsewhere imported', async () => {
    // Community A (org-a alone, AMBER by default) contains every stalkerware host through a
    // connector run by org-a.
    const { store, collectionId: heldId } = await openCollection('amber');
    const hosts = readFileSync(STALKERWARE_HOSTS, 'utf8');
    const objects = async () => {
      const conversion = convert('text', { stream: bytesOf(hosts) }, OPTIONS);
      const all: unknown[] = [];
      for await (const object of conversion.objects) all.push(object);
      return all;
    };
    // The contribution of a connector run by a user of `organisationId`, as the runner sets it.
    const connector = async (organisationId: string, communityId: string) => ({
      contributor: { userId: `${organisationId}-user`, organisationId },
      community: await store.getCommunity(communityId),
      anonymous: false,
      recipients: [],
    });
    const held = await submitConverted(
      store,
      heldId,
      await objects(),
      0,
      await connector('org-a', 'community-a'),
    );
    assert.deepEqual(held.failures, []);
    assert.ok(held.successes.length > 600, `${held.successes.length} stored`);

    // An operator import into a fresh collection obtained the list on its own.
    const fresh = await store.createCollection({ apiRoot: 'default', title: 'Fresh' });
    const imported = await importConversion(
      store,
      fresh.id,
      convert('text', { stream: bytesOf(hosts) }, OPTIONS),
    );
    assert.equal(imported.rejected, 0, JSON.stringify(imported.failures.slice(0, 3)));
    assert.equal(imported.added, held.successes.length);

    // So did org-b, which reads nothing of community A: its connector stores its own copies
    // under community B's TLP, and community A's copies stay as they were.
    await store.createOrganisation({ id: 'org-b', name: 'B', identity: '{}', createdAt: 1 });
    await store.createCommunity(
      {
        id: 'community-b',
        name: 'Community B',
        description: '',
        defaultTlp: 'green',
        allowAnonymous: false,
        publishClear: false,
        identity: '{}',
        createdAt: 1,
      },
      'org-b',
      undefined,
    );
    const ringB = await store.createCollection({
      apiRoot: 'default',
      title: 'B',
      communityId: 'community-b',
    });
    const eventsBefore = (await store.readEvents({ afterSeq: 0, limit: 100_000 })).length;
    const copied = await submitConverted(
      store,
      ringB.id,
      await objects(),
      0,
      await connector('org-b', 'community-b'),
    );
    assert.deepEqual(copied.failures, []);
    assert.equal(copied.successes.length, held.successes.length);
    const events = (await store.readEvents({ afterSeq: 0, limit: 100_000 })).slice(eventsBefore);
    assert.equal(events.length, held.successes.length);
    for (const event of events) {
      assert.equal(event.collectionId, ringB.id);
      assert.deepEqual(event.sharing.tlp, ['green']);
      assert.equal(event.sharing.contributorOrganisationId, 'org-b');
    }
    assert.deepEqual(await store.countCollection(heldId), {
      objects: held.successes.length,
      versions: held.successes.length,
    });

    // Once org-b is a member of community A, it reads the AMBER copies and may not re-share
    // them, and the messages name no community.
    await store.addMember('community-a', 'org-b');
    const second = await store.createCollection({
      apiRoot: 'default',
      title: 'B second',
      communityId: 'community-b',
    });
    const refused = await submitConverted(
      store,
      second.id,
      await objects(),
      0,
      await connector('org-b', 'community-b'),
    );
    assert.equal(refused.successes.length, 0);
    assert.equal(refused.failures.length, held.successes.length);
    for (const failure of refused.failures) {
      assert.match(failure.message, /may not be re-shared/);
      assert.doesNotMatch(failure.message, /Community A|community-a/);
    }
    await store.close();
  });

  test('unusual objects validated in full', async () => {
    const { store, collectionId } = await openCollection();
    const value = observable('198.51.100.9');
    const good = toIndicator(value, OPTIONS);
    const badTime = { ...toIndicator(observable('198.51.100.10'), OPTIONS), modified: 'yesterday' };
    const notObject = 'evil.example';
    const red = toIndicator(observable('198.51.100.11'), {
      ...OPTIONS,
      objectMarkingRefs: [TLP_2_RED.id],
    });
    const surrogate = { ...toIndicator(observable('198.51.100.12'), OPTIONS), name: 'x\uD800' };
    const result = await submitConverted(store, collectionId, [
      good,
      badTime,
      notObject,
      red,
      surrogate,
    ]);

    assert.deepEqual(
      result.successes.map((success) => success.id),
      [good.id, surrogate.id],
    );
    const byId = new Map(result.failures.map((failure) => [failure.id, failure]));
    assert.equal(result.failures.length, 3);
    assert.ok(byId.get(badTime.id as string)!.problems.length > 0, 'validator problems');
    assert.equal(byId.get('objects[2]')?.problems[0]?.rule, 'not-object');
    assert.match(
      byId.get(red.id as string)!.message,
      /TLP:RED objects need at least one recipient/,
    );
    // JSON.stringify escapes the lone surrogate, so the stored text is well-formed.
    const stored = await store.queryObjects({ collectionId, ids: [surrogate.id], limit: 1 });
    assert.match(stored.items[0]!.json, /"name":"x\\ud800"/);
    assert.equal((await store.readEvents({ afterSeq: 0, limit: 10 })).length, 2);
    await store.close();
  });

  test('watch follower alerts on them', async () => {
    const world = await makeWatchWorld();
    const runtime = new WatchRuntime(world.store, world.logger);
    try {
      const { list } = await runtime.service.createList(world.actors['alpha-analyst']!, {
        name: 'scanners',
        entries: [{ value: '198.51.100.0/24' }],
      });
      await runtime.reload();
      await runtime.follower.drain();

      const collectionId = world.collections.ring!;
      const text = '# scanners\n198.51.100.23\nquiet.example\n';
      const summary = await importConversion(
        world.store,
        collectionId,
        convert('text', { stream: bytesOf(text) }, OPTIONS),
      );
      await runtime.follower.drain();
      const { alerts } = await runtime.service.listAlerts(world.actors['alpha-analyst']!, {
        watchlistId: list.id,
      });

      assert.equal(summary.added, 4);
      assert.equal(alerts.length, 2, JSON.stringify(alerts));
      assert.deepEqual(alerts.map((alert) => alert.match.value).sort(), [
        '198.51.100.23',
        '198.51.100.23',
      ]);
      assert.ok(alerts.every((alert) => alert.origin === 'live'));
    } finally {
      await runtime.stop();
      await world.dispose();
    }
  });
});
