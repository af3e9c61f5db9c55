/**
 * Shared Store cases for the event log: what addObjects and deleteObject append, reads,
 * bounds, eventSeqBefore and pruning. runStoreSuite calls runEventCases inside its own
 * describe, so every store runs them.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { nowMicros } from '../stix/timestamp.ts';
import { objectVersion, stixId, stixTime } from './store.case.ts';
import { organisation } from './store-sharing.case.ts';
import type {
  CollectionRecord,
  EntrySharing,
  EventRecord,
  PreparedObject,
  Store,
} from './store.ts';

const RED_SHARING: EntrySharing = {
  contributorId: 'user-1',
  contributorOrganisationId: 'org-1',
  tlp: ['red', 'amber'],
  audience: 'recipients',
  recipients: ['user-2', 'user-3'],
  recipientsWithin: 'members-and-clients',
  granularMarkings: true,
};

function withSharing(object: PreparedObject, sharing: EntrySharing): PreparedObject {
  return { ...object, sharing };
}

function waitMicros(micros: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.ceil(micros / 1000)));
}

/** Adds the cases; `context` returns the suite's current store, API root and collection. */
export function runEventCases(
  context: () => { store: Store; root: string; collection: CollectionRecord },
): void {
  describe('event log', () => {
    let store: Store;
    let collection: CollectionRecord;

    beforeEach(() => {
      ({ store, collection } = context());
    });

    async function allEvents(collectionIds?: string[]): Promise<EventRecord[]> {
      return store.readEvents({
        afterSeq: 0,
        limit: 10_000,
        ...(collectionIds ? { collectionIds } : {}),
      });
    }

    function add(...objects: PreparedObject[]) {
      return store.addObjects(collection.id, objects);
    }

    test('empty log bounds', async () => {
      assert.deepEqual(await store.eventBounds(), { first: 0, last: 0 });
      assert.deepEqual(await allEvents(), []);
      assert.equal(await store.eventSeqBefore(nowMicros()), 0);
    });

    test('kinds of added versions', async () => {
      const id = stixId('indicator', 1);
      await add(objectVersion(id, stixTime(1)));
      await add(objectVersion(id, stixTime(2)));
      await add(objectVersion(id, stixTime(3), { extra: { revoked: true } }));
      await add(objectVersion(stixId('malware', 2), stixTime(1), { extra: { revoked: true } }));
      // A nested revoked property is not the object's own.
      await add(objectVersion(id, stixTime(4), { extra: { x_note: { revoked: true } } }));

      const events = await allEvents();
      assert.deepEqual(
        events.map((event) => event.kind),
        ['created', 'updated', 'revoked', 'revoked', 'updated'],
      );
      assert.equal(events[3]!.objectType, 'malware');
    });

    test('event fields and json', async () => {
      const object = objectVersion(stixId('indicator', 7), stixTime(5), { specVersion: '2.1' });
      const [result] = await add(object);
      const [event] = await allEvents();

      assert.ok(event);
      assert.ok(event.seq > 0);
      assert.equal(event.collectionId, collection.id);
      assert.equal(event.communityId, undefined);
      assert.equal(event.objectId, object.id);
      assert.equal(event.objectType, 'indicator');
      assert.equal(event.specVersion, '2.1');
      assert.equal(event.version, object.version);
      assert.equal(event.versionKey, object.versionKey);
      assert.equal(event.dateAdded, result!.dateAdded);
      assert.equal(event.json, object.json);
      assert.ok(Math.abs(event.at - nowMicros()) < 60_000_000, 'at is the commit time');
    });

    test('order follows date_added', async () => {
      const objects = Array.from({ length: 50 }, (_, i) =>
        objectVersion(stixId('indicator', 100 - i), stixTime(i)),
      );
      const results = [
        ...(await add(...objects.slice(0, 20))),
        ...(await add(...objects.slice(20))),
      ];
      const events = await allEvents();

      assert.deepEqual(
        events.map((event) => event.dateAdded),
        results.map((result) => result.dateAdded),
      );
      for (let i = 1; i < events.length; i++) {
        assert.ok(events[i]!.seq > events[i - 1]!.seq, `seq at ${i} does not increase`);
        assert.ok(events[i]!.at >= events[i - 1]!.at, `at at ${i} goes back`);
      }
    });

    test('duplicates make no event', async () => {
      const object = objectVersion(stixId('indicator', 1), stixTime(1));
      await add(object);
      const outcomes = await add(object, object);

      assert.deepEqual(
        outcomes.map((outcome) => outcome.outcome),
        ['duplicate', 'duplicate'],
      );
      assert.equal((await allEvents()).length, 1);
      const sameBatch = objectVersion(stixId('indicator', 2), stixTime(1));
      await add(sameBatch, sameBatch);
      assert.equal((await allEvents()).length, 2);
    });

    test('sharing facts copied', async () => {
      const object = withSharing(objectVersion(stixId('indicator', 1), stixTime(1)), RED_SHARING);
      await add(object);
      await store.deleteObject(collection.id, object.id);
      const [added, deleted] = await allEvents();

      assert.deepEqual(added!.sharing, RED_SHARING);
      assert.equal(deleted!.kind, 'deleted');
      assert.equal(deleted!.sharing.audience, 'recipients');
      assert.deepEqual([...deleted!.sharing.recipients].sort(), ['user-2', 'user-3']);
      assert.equal(deleted!.sharing.recipientsWithin, 'members-and-clients');
      assert.equal(deleted!.sharing.contributorId, 'user-1');
      assert.equal(deleted!.sharing.contributorOrganisationId, 'org-1');
      assert.deepEqual([...deleted!.sharing.tlp].sort(), ['amber', 'red']);
      assert.equal(deleted!.sharing.granularMarkings, true);
    });

    test('deletes make events', async () => {
      const id = stixId('indicator', 1);
      const versions = [1, 2, 3].map((n) => objectVersion(id, stixTime(n)));
      const added = await add(...versions);
      const removed = await store.deleteObject(collection.id, id, {
        first: true,
        last: true,
        exact: [],
      });

      assert.equal(removed, 2);
      const deletes = (await allEvents()).filter((event) => event.kind === 'deleted');
      assert.deepEqual(
        deletes.map((event) => [event.version, event.dateAdded]),
        [
          [stixTime(1), added[0]!.dateAdded],
          [stixTime(3), added[2]!.dateAdded],
        ],
      );
      for (const event of deletes) {
        assert.equal(event.json, undefined);
        assert.equal(event.objectId, id);
        assert.equal(event.objectType, 'indicator');
        assert.equal(event.specVersion, '2.1');
      }
      assert.equal(await store.deleteObject(collection.id, id, { all: true }, ['2.0']), 0);
      assert.equal((await allEvents()).length, 5, 'a delete that removes nothing logs nothing');
    });

    test('log survives object delete', async () => {
      const object = objectVersion(stixId('indicator', 1), stixTime(1));
      await add(object);
      await store.deleteObject(collection.id, object.id);

      const [created] = await allEvents();
      assert.equal(created!.json, object.json);
    });

    test('log survives delete everywhere', async () => {
      const { root } = context();
      const second = await store.createCollection({ apiRoot: root, title: 'Second' });
      const object = objectVersion(stixId('indicator', 1), stixTime(1));
      await add(object);
      await store.addObjects(second.id, [object]);
      await store.deleteObject(collection.id, object.id);

      const afterFirst = await allEvents();
      assert.deepEqual(
        afterFirst.map((event) => event.json),
        [object.json, object.json, undefined],
      );
      await store.deleteObject(second.id, object.id);
      const afterBoth = await allEvents();
      assert.deepEqual(
        afterBoth.map((event) => [event.kind, event.json]),
        [
          ['created', object.json],
          ['created', object.json],
          ['deleted', undefined],
          ['deleted', undefined],
        ],
      );
    });

    test('re-added object is created again', async () => {
      const id = stixId('indicator', 1);
      await add(objectVersion(id, stixTime(1)));
      await store.deleteObject(collection.id, id);
      await add(objectVersion(id, stixTime(2)));

      assert.deepEqual(
        (await allEvents()).map((event) => event.kind),
        ['created', 'deleted', 'created'],
      );
    });

    test('community of the collection', async () => {
      const { store: s, root } = context();
      await s.createOrganisation(organisation('org-a', 'Org A'));
      await s.createCommunity(
        {
          id: 'community-a',
          name: 'A',
          description: '',
          defaultTlp: 'green',
          allowAnonymous: false,
          publishClear: false,
          identity: '{}',
          createdAt: 1,
        },
        'org-a',
        undefined,
      );
      const owned = await s.createCollection({
        apiRoot: root,
        title: 'Owned',
        communityId: 'community-a',
      });
      await s.addObjects(owned.id, [objectVersion(stixId('indicator', 1), stixTime(1))]);

      const [event] = await allEvents([owned.id]);
      assert.equal(event!.communityId, 'community-a');
      assert.equal(event!.collectionId, owned.id);
    });

    test('read by collection and position', async () => {
      const { root } = context();
      const second = await store.createCollection({ apiRoot: root, title: 'Second' });
      const third = await store.createCollection({ apiRoot: root, title: 'Third' });
      for (let n = 1; n <= 6; n++) {
        const target = [collection, second, third][n % 3]!;
        await store.addObjects(target.id, [objectVersion(stixId('indicator', n), stixTime(n))]);
      }
      const all = await allEvents();

      assert.equal(all.length, 6);
      assert.deepEqual(
        (await allEvents([second.id])).map((event) => event.objectId),
        [stixId('indicator', 1), stixId('indicator', 4)],
      );
      assert.deepEqual(
        (await allEvents([second.id, third.id])).map((event) => event.objectId),
        [1, 2, 4, 5].map((n) => stixId('indicator', n)),
      );
      assert.deepEqual(await allEvents([]), []);
      assert.deepEqual(await allEvents(['00000000-0000-4000-8000-00000000dead']), []);
      const page = await store.readEvents({ afterSeq: all[1]!.seq, limit: 2 });
      assert.deepEqual(
        page.map((event) => event.seq),
        [all[2]!.seq, all[3]!.seq],
      );
      const pageOfTwo = await store.readEvents({
        afterSeq: all[1]!.seq,
        limit: 1,
        collectionIds: [second.id, third.id],
      });
      assert.deepEqual(
        pageOfTwo.map((event) => event.seq),
        [all[3]!.seq],
      );
      assert.deepEqual(await store.readEvents({ afterSeq: all[5]!.seq, limit: 10 }), []);
      await assert.rejects(store.readEvents({ afterSeq: 0, limit: -1 }), RangeError);
    });

    test('read by kind and position', async () => {
      const { root } = context();
      const second = await store.createCollection({ apiRoot: root, title: 'Second' });
      const kept = stixId('indicator', 1);
      const gone = stixId('indicator', 2);
      const elsewhere = stixId('indicator', 3);
      await add(objectVersion(kept, stixTime(1)), objectVersion(gone, stixTime(1)));
      await store.addObjects(second.id, [objectVersion(elsewhere, stixTime(1))]);
      await add(objectVersion(kept, stixTime(2)));
      await store.deleteObject(collection.id, gone);
      await store.deleteObject(second.id, elsewhere);
      await store.deleteObject(collection.id, kept, { first: true, last: false, exact: [] });
      const all = await allEvents();
      assert.equal(all.length, 7);

      const deletes = await store.readEvents({ afterSeq: 0, limit: 10, kinds: ['deleted'] });
      assert.deepEqual(
        deletes.map((event) => [event.objectId, event.kind]),
        [
          [gone, 'deleted'],
          [elsewhere, 'deleted'],
          [kept, 'deleted'],
        ],
      );
      assert.deepEqual(
        deletes.map((event) => event.seq),
        all.filter((event) => event.kind === 'deleted').map((event) => event.seq),
        'the same events as the unfiltered read, in seq order',
      );
      const page = await store.readEvents({
        afterSeq: deletes[0]!.seq,
        limit: 1,
        kinds: ['deleted'],
      });
      assert.deepEqual(
        page.map((event) => event.objectId),
        [elsewhere],
      );
      const inFirst = await store.readEvents({
        afterSeq: 0,
        limit: 10,
        kinds: ['deleted', 'updated'],
        collectionIds: [collection.id],
      });
      assert.deepEqual(
        inFirst.map((event) => [event.objectId, event.kind]),
        [
          [kept, 'updated'],
          [gone, 'deleted'],
          [kept, 'deleted'],
        ],
      );
      assert.equal(inFirst[0]!.json, all[3]!.json, 'an update keeps its JSON');
      assert.deepEqual(await store.readEvents({ afterSeq: 0, limit: 10, kinds: [] }), []);
      assert.deepEqual(
        await store.readEvents({ afterSeq: 0, limit: 10, kinds: ['deleted'], collectionIds: [] }),
        [],
      );
    });

    test('bounds follow the log', async () => {
      for (let n = 1; n <= 3; n++) await add(objectVersion(stixId('indicator', n), stixTime(n)));
      const all = await allEvents();

      assert.deepEqual(await store.eventBounds(), { first: all[0]!.seq, last: all[2]!.seq });
      await store.pruneEvents({ maxEvents: 1 });
      assert.deepEqual(await store.eventBounds(), { first: all[2]!.seq, last: all[2]!.seq });
    });

    test('seq before a time', async () => {
      await add(objectVersion(stixId('indicator', 1), stixTime(1)));
      await waitMicros(3000);
      const between = nowMicros();
      await waitMicros(3000);
      await add(objectVersion(stixId('indicator', 2), stixTime(2)));
      const [first, second] = await allEvents();

      assert.equal(await store.eventSeqBefore(between), first!.seq);
      assert.equal(await store.eventSeqBefore(first!.at), 0, 'strictly before');
      assert.equal(await store.eventSeqBefore(first!.at + 1), first!.seq);
      assert.equal(await store.eventSeqBefore(nowMicros() + 1_000_000), second!.seq);
      assert.equal(await store.eventSeqBefore(0), 0);
    });

    test('prune by count keeps newest', async () => {
      for (let n = 1; n <= 10; n++) await add(objectVersion(stixId('indicator', n), stixTime(n)));
      const before = await allEvents();

      assert.equal(await store.pruneEvents({ maxEvents: 4 }), 6);
      assert.deepEqual(
        (await allEvents()).map((event) => event.seq),
        before.slice(6).map((event) => event.seq),
      );
      assert.equal(await store.pruneEvents({ maxEvents: 4 }), 0);
      assert.equal(await store.pruneEvents({ maxEvents: 0 }), 3, 'the newest event stays');
      assert.equal((await allEvents()).length, 1);
      assert.equal(await store.pruneEvents({}), 0);
    });

    test('prune by age keeps newest', async () => {
      for (let n = 1; n <= 3; n++) await add(objectVersion(stixId('indicator', n), stixTime(n)));
      await waitMicros(3000);
      const cutoff = nowMicros();
      await waitMicros(3000);
      for (let n = 4; n <= 5; n++) await add(objectVersion(stixId('indicator', n), stixTime(n)));
      const before = await allEvents();

      assert.equal(await store.pruneEvents({ before: cutoff }), 3);
      assert.deepEqual(
        (await allEvents()).map((event) => event.seq),
        before.slice(3).map((event) => event.seq),
      );
      assert.equal(await store.pruneEvents({ before: nowMicros() + 1_000_000 }), 1);
      assert.deepEqual(
        (await allEvents()).map((event) => event.seq),
        [before[4]!.seq],
      );
    });

    test('prune by age and count', async () => {
      for (let n = 1; n <= 6; n++) await add(objectVersion(stixId('indicator', n), stixTime(n)));
      await waitMicros(3000);
      const cutoff = nowMicros();
      const before = await allEvents();

      assert.equal(await store.pruneEvents({ before: 0, maxEvents: 2 }), 4, 'count cuts more');
      assert.equal(await store.pruneEvents({ before: cutoff, maxEvents: 100 }), 1, 'age cuts more');
      assert.deepEqual(
        (await allEvents()).map((event) => event.seq),
        [before[5]!.seq],
      );
    });

    test('seq never reused after prune', async () => {
      for (let n = 1; n <= 3; n++) await add(objectVersion(stixId('indicator', n), stixTime(n)));
      const last = (await store.eventBounds()).last;
      await store.pruneEvents({ maxEvents: 1 });
      await add(objectVersion(stixId('indicator', 9), stixTime(9)));

      const events = await allEvents();
      assert.equal(events.length, 2);
      assert.ok(events[1]!.seq > last);
    });
  });
}
