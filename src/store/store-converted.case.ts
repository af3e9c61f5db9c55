/**
 * Shared Store cases for addConverted, the bulk path of converted imports: duplicates,
 * date_added order, events, sharing facts, the re-share rule and failed calls.
 * runStoreSuite calls runConvertedCases inside its own describe, so every store runs them.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { objectVersion, stixId, stixTime } from './store.case.ts';
import { community, organisation } from './store-sharing.case.ts';
import type {
  CollectionRecord,
  EntrySharing,
  EventRecord,
  PreparedObject,
  Store,
} from './store.ts';

const GREEN: EntrySharing = {
  tlp: ['green'],
  audience: 'members',
  recipients: [],
  recipientsWithin: 'members',
  granularMarkings: false,
};

/** An IPv4 SCO as the converters build it: no version, so its version key is '0'. */
function sco(n: number, sharing: EntrySharing = GREEN): PreparedObject {
  const id = stixId('ipv4-addr', n);
  const value = `192.0.2.${n}`;
  return {
    id,
    type: 'ipv4-addr',
    specVersion: '2.1',
    version: '',
    versionKey: '0',
    json: JSON.stringify({ type: 'ipv4-addr', spec_version: '2.1', id, value }),
    sharing,
  };
}

/** An indicator version n seconds after 2024-01-01, with the given sharing facts. */
function indicator(n: number, seconds = 1, sharing: EntrySharing = GREEN): PreparedObject {
  return { ...objectVersion(stixId('indicator', n), stixTime(seconds)), sharing };
}

function assertIncreasing(values: number[], label: string): void {
  for (let i = 1; i < values.length; i++) {
    assert.ok(values[i]! > values[i - 1]!, `${label}: ${values[i]} follows ${values[i - 1]}`);
  }
}

/** Adds the cases; `context` returns the suite's current store, API root and collection. */
export function runConvertedCases(
  context: () => { store: Store; root: string; collection: CollectionRecord },
): void {
  describe('converted bulk add', () => {
    let store: Store;
    let root: string;
    let collection: CollectionRecord;

    beforeEach(() => {
      ({ store, root, collection } = context());
    });

    function addConverted(...objects: PreparedObject[]) {
      return store.addConverted(collection.id, objects);
    }

    async function allEvents(): Promise<EventRecord[]> {
      return store.readEvents({ afterSeq: 0, limit: 10_000 });
    }

    test('new versions added in order', async () => {
      const objects = Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0 ? sco(i) : indicator(i, i),
      );
      const { results, rejected } = await addConverted(...objects);

      assert.deepEqual(rejected, []);
      assert.deepEqual(
        results.map((result) => `${result.id} ${result.version} ${result.outcome}`),
        objects.map((object) => `${object.id} ${object.version} added`),
      );
      assertIncreasing(
        results.map((result) => result.dateAdded),
        'date_added',
      );
      const page = await store.queryObjects({ collectionId: collection.id, limit: 100 });
      assert.deepEqual(
        page.items.map((item) => item.json),
        objects.map((object) => object.json),
      );
      assert.deepEqual(await store.countCollection(collection.id), { objects: 40, versions: 40 });
    });

    test('events appended for added versions', async () => {
      const objects = [sco(1), indicator(2), indicator(3, 2, { ...GREEN, tlp: ['clear'] })];
      const { results } = await addConverted(...objects);
      const events = await allEvents();

      assert.equal(events.length, 3);
      assert.deepEqual(
        events.map((event) => event.kind),
        ['created', 'created', 'created'],
      );
      assert.deepEqual(
        events.map((event) => event.dateAdded),
        results.map((result) => result.dateAdded),
      );
      assertIncreasing(
        events.map((event) => event.seq),
        'seq',
      );
      for (const [i, event] of events.entries()) {
        assert.equal(event.collectionId, collection.id);
        assert.equal(event.objectId, objects[i]!.id);
        assert.equal(event.objectType, objects[i]!.type);
        assert.equal(event.version, objects[i]!.version);
        assert.equal(event.versionKey, objects[i]!.versionKey);
        assert.equal(event.json, objects[i]!.json);
        assert.deepEqual(event.sharing, objects[i]!.sharing);
      }
    });

    test('duplicates within one call', async () => {
      const first = sco(1);
      const again = { ...sco(1), json: first.json.replace('192.0.2.1', '192.0.2.99') };
      const { results } = await addConverted(first, indicator(2), again, indicator(2), sco(1));

      assert.deepEqual(
        results.map((result) => result.outcome),
        ['added', 'added', 'duplicate', 'duplicate', 'duplicate'],
      );
      assert.equal(results[2]!.dateAdded, results[0]!.dateAdded);
      assert.equal(results[3]!.dateAdded, results[1]!.dateAdded);
      assert.equal((await allEvents()).length, 2);
      assert.deepEqual(await store.countCollection(collection.id), { objects: 2, versions: 2 });
      // The first content of a version wins.
      const page = await store.queryObjects({
        collectionId: collection.id,
        ids: [first.id],
        limit: 10,
      });
      assert.equal(page.items[0]!.json, first.json);
    });

    test('duplicates of stored versions', async () => {
      const [stored] = await store.addObjects(collection.id, [indicator(1)]);
      const [converted] = (await addConverted(sco(2))).results;
      const { results } = await addConverted(indicator(1), sco(2), sco(3));

      assert.deepEqual(
        results.map((result) => result.outcome),
        ['duplicate', 'duplicate', 'added'],
      );
      assert.equal(results[0]!.dateAdded, stored!.dateAdded);
      assert.equal(results[1]!.dateAdded, converted!.dateAdded);
      assert.equal((await allEvents()).length, 3);
      const normal = await store.addObjects(collection.id, [sco(3)]);
      assert.equal(normal[0]!.outcome, 'duplicate');
    });

    test('one SCO from two feeds', async () => {
      const other = await store.createCollection({ apiRoot: root, title: 'Other' });
      await addConverted(sco(1), indicator(10));
      const second = await addConverted(sco(1), indicator(11));
      const elsewhere = await store.addConverted(other.id, [sco(1)]);

      assert.equal(second.results[0]!.outcome, 'duplicate');
      assert.equal(elsewhere.results[0]!.outcome, 'added');
      assert.deepEqual(await store.countCollection(collection.id), { objects: 3, versions: 3 });
      // Deleting the SCO from one collection leaves the other's copy readable.
      assert.equal(await store.deleteObject(collection.id, sco(1).id), 1);
      const page = await store.queryObjects({ collectionId: other.id, limit: 10 });
      assert.equal(page.items[0]!.json, sco(1).json);
    });

    test('new versions of stored objects', async () => {
      await addConverted(indicator(1, 5));
      const { results } = await addConverted(indicator(1, 9), indicator(1, 2), indicator(1, 7));
      const latest = await store.queryManifest({ collectionId: collection.id, limit: 10 });
      const first = await store.queryManifest({
        collectionId: collection.id,
        limit: 10,
        versions: { first: true, last: false, exact: [] },
      });

      assert.deepEqual(
        results.map((result) => result.outcome),
        ['added', 'added', 'added'],
      );
      assert.deepEqual(
        latest.items.map((item) => item.version),
        [stixTime(9)],
      );
      assert.deepEqual(
        first.items.map((item) => item.version),
        [stixTime(2)],
      );
      assert.deepEqual(
        (await allEvents()).map((event) => event.kind),
        ['created', 'updated', 'updated', 'updated'],
      );
      assert.deepEqual(await store.countCollection(collection.id), { objects: 1, versions: 4 });
    });

    test('revoked version makes revoked event', async () => {
      const revoked = {
        ...objectVersion(stixId('indicator', 1), stixTime(1), { extra: { revoked: true } }),
        sharing: GREEN,
      };
      await addConverted(revoked);
      assert.deepEqual(
        (await allEvents()).map((event) => event.kind),
        ['revoked'],
      );
    });

    test('date_added increases across both paths', async () => {
      const dates: number[] = [];
      for (let round = 0; round < 4; round++) {
        const normal = await store.addObjects(collection.id, [indicator(100 + round)]);
        const bulk = await addConverted(sco(round), indicator(200 + round));
        dates.push(...normal.map((result) => result.dateAdded));
        dates.push(...bulk.results.map((result) => result.dateAdded));
      }
      assertIncreasing(dates, 'date_added');
      const events = await allEvents();
      assert.deepEqual(
        events.map((event) => event.dateAdded),
        dates,
      );
    });

    test('empty call adds nothing', async () => {
      assert.deepEqual(await addConverted(), { results: [], rejected: [] });
      assert.deepEqual(await allEvents(), []);
    });

    test('failing call keeps stored data', async () => {
      const stored = await addConverted(sco(1), indicator(2));
      const eventsBefore = await allEvents();
      const broken = { ...indicator(4), json: '{"name":"\uD800"}' };
      await assert.rejects(addConverted(sco(3), broken), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /lone/);
        assert.match(error.message, new RegExp(broken.id));
        return true;
      });
      const misnamed = { ...sco(5), type: 'domain-name' };
      await assert.rejects(addConverted(sco(3), misnamed), /does not start with its type/);
      await assert.rejects(
        store.addConverted('00000000-0000-4000-8000-00000000dead', [sco(3)]),
        (error: unknown) => error instanceof Error && error.name === 'StoreConflictError',
      );

      assert.equal(await store.hasObject(collection.id, sco(3).id), false);
      assert.deepEqual(await allEvents(), eventsBefore);
      const page = await store.queryManifest({ collectionId: collection.id, limit: 10 });
      assert.deepEqual(
        page.items.map((item) => item.dateAdded),
        stored.results.map((result) => result.dateAdded),
      );
    });

    test('sharing facts give access', async () => {
      const red: EntrySharing = {
        contributorId: 'cu-1',
        contributorOrganisationId: 'co-1',
        tlp: ['red'],
        audience: 'recipients',
        recipients: ['cu-2', 'cu-2'],
        recipientsWithin: 'members',
        granularMarkings: false,
      };
      const clear: EntrySharing = { ...GREEN, tlp: ['clear'], audience: 'everyone' };
      const granular: EntrySharing = { ...GREEN, contributorId: 'cu-3', granularMarkings: true };
      await addConverted(sco(1, clear), indicator(2, 1, red), indicator(3, 1, granular));
      const visible = async (widest: 'everyone' | 'members', userId: string) => {
        const page = await store.queryObjects({
          collectionId: collection.id,
          limit: 10,
          access: { widest, userId },
        });
        return page.items.map((item) => item.id);
      };

      assert.deepEqual(await visible('everyone', 'cu-9'), [sco(1).id]);
      assert.deepEqual(await visible('members', 'cu-9'), [sco(1).id, indicator(3).id]);
      assert.deepEqual(await visible('members', 'cu-2'), [
        sco(1).id,
        indicator(2).id,
        indicator(3).id,
      ]);
      assert.deepEqual(await visible('everyone', 'cu-1'), [sco(1).id, indicator(2).id]);
      const page = await store.queryObjects({
        collectionId: collection.id,
        limit: 10,
        access: { widest: 'members', userId: 'cu-3' },
      });
      const marked = page.items.find((item) => item.id === indicator(3).id);
      assert.equal(marked?.granularMarkings, true);
      assert.equal(marked?.contributed, true);
      const [, redEvent] = await allEvents();
      assert.deepEqual(redEvent!.sharing, red);
    });

    /** Creates organisation co-1, its user cu-1, its community cc-1 and a collection of cc-1. */
    async function convertedCollection(): Promise<CollectionRecord> {
      await store.createOrganisation(organisation('co-1', 'Converted One'));
      await store.createUser({
        id: 'cu-1',
        name: 'cu-1',
        organisationId: 'co-1',
        role: 'analyst',
        createdAt: 1,
        disabled: false,
      });
      await store.createCommunity(community('cc-1', 'Converted'), 'co-1', 'cu-1');
      return store.createCollection({ apiRoot: root, title: 'Owned', communityId: 'cc-1' });
    }

    test('held objects rejected', async () => {
      await store.createOrganisation(organisation('co-2', 'Converted Two'));
      const owned = await convertedCollection();
      // co-2 is a member of cc-1 and reads its AMBER versions.
      await store.addMember('cc-1', 'co-2');
      const amber: EntrySharing = { ...GREEN, tlp: ['amber'], contributorOrganisationId: 'co-1' };
      await store.addConverted(owned.id, [
        sco(1, amber),
        sco(2, { ...amber, tlp: ['green'] }),
        sco(4, amber),
      ]);
      const eventsBefore = (await allEvents()).length;

      const fromMember: EntrySharing = { ...GREEN, contributorOrganisationId: 'co-2' };
      const { results, rejected } = await addConverted(
        sco(1, fromMember),
        sco(2, fromMember),
        sco(3, fromMember),
        sco(1, fromMember),
      );

      assert.deepEqual(
        rejected.map((rejection) => [rejection.index, rejection.id]),
        [
          [0, sco(1).id],
          [3, sco(1).id],
        ],
      );
      assert.match(rejected[0]!.message, /held as TLP:AMBER/);
      assert.doesNotMatch(rejected[0]!.message, /Converted/);
      assert.deepEqual(
        results.map((result) => `${result.id} ${result.outcome}`),
        [`${sco(2).id} added`, `${sco(3).id} added`],
      );
      assert.equal(await store.hasObject(collection.id, sco(1).id), false);
      assert.equal((await allEvents()).length, eventsBefore + 2);

      // The contributor's own organisation may share it on.
      const own = await addConverted(sco(1, { ...GREEN, contributorOrganisationId: 'co-1' }));
      assert.deepEqual(own.rejected, []);
      assert.equal(own.results[0]!.outcome, 'added');
    });

    test('unreadable held objects accepted', async () => {
      await store.createOrganisation(organisation('co-3', 'Converted Three'));
      const owned = await convertedCollection();
      const amber: EntrySharing = {
        ...GREEN,
        tlp: ['amber'],
        audience: 'members-and-clients',
        contributorId: 'cu-1',
        contributorOrganisationId: 'co-1',
      };
      const red: EntrySharing = {
        ...GREEN,
        tlp: ['red'],
        audience: 'recipients',
        recipients: ['cu-1'],
        recipientsWithin: 'everyone',
        contributorId: 'cu-1',
        contributorOrganisationId: 'co-1',
      };
      await store.addConverted(owned.id, [sco(1, amber), sco(2, red)]);
      const ownedBefore = await store.countCollection(owned.id);
      const eventsBefore = (await allEvents()).length;

      // co-3 reads nothing of cc-1, and the operator has no organisation: both obtained the
      // values on their own, so both copies are stored under their own sharing facts.
      const fromOutsider: EntrySharing = { ...GREEN, contributorOrganisationId: 'co-3' };
      const outsider = await addConverted(sco(1, fromOutsider), sco(2, fromOutsider));
      assert.deepEqual(outsider.rejected, []);
      assert.deepEqual(
        outsider.results.map((result) => result.outcome),
        ['added', 'added'],
      );
      const events = (await allEvents()).slice(eventsBefore);
      assert.deepEqual(
        events.map((event) => [event.collectionId, event.objectId]),
        [
          [collection.id, sco(1).id],
          [collection.id, sco(2).id],
        ],
      );
      for (const event of events) assert.deepEqual(event.sharing, fromOutsider);

      const operator = await store.addConverted(
        (await store.createCollection({ apiRoot: root, title: 'Operator' })).id,
        [sco(1, GREEN), sco(2, GREEN)],
      );
      assert.deepEqual(operator.rejected, []);

      // The other community's copies are unchanged.
      assert.deepEqual(await store.countCollection(owned.id), ownedBefore);
      const ownedPage = await store.queryObjects({
        collectionId: owned.id,
        limit: 10,
        access: { widest: 'members-and-clients', userId: 'cu-9' },
      });
      assert.deepEqual(
        ownedPage.items.map((item) => item.id),
        [sco(1).id],
      );
    });

    test('large call in one transaction', async () => {
      const objects = Array.from({ length: 3000 }, (_, i) =>
        i % 3 === 0 ? sco(i) : indicator(i, i % 7),
      );
      const { results } = await addConverted(...objects, ...objects.slice(0, 100));

      assert.equal(results.filter((result) => result.outcome === 'added').length, 3000);
      assert.equal(results.filter((result) => result.outcome === 'duplicate').length, 100);
      assert.equal((await allEvents()).length, 3000);
      assert.deepEqual(await store.countCollection(collection.id), {
        objects: 3000,
        versions: 3000,
      });
    });
  });
}
