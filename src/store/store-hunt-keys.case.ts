/**
 * Shared Store cases for the retro-hunt key index: adding keys with an indexed mark, exact
 * and prefix look-ups, paging, ordering and the inputs a store must reject. runStoreSuite
 * calls runHuntKeyCases inside its own describe, so every store runs them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { objectVersion, stixTime } from './store.case.ts';
import { StoreConflictError, type CollectionRecord, type HuntKey, type Store } from './store.ts';

const IND_A = 'indicator--00000000-0000-4000-8000-00000000000a';
const IND_B = 'indicator--00000000-0000-4000-8000-00000000000b';
const IND_C = 'indicator--00000000-0000-4000-8000-00000000000c';
const MISSING = '00000000-0000-4000-8000-0000000000ff';

function row(key: string, objectId: string): HuntKey {
  return { key, objectId };
}

/** Sorts rows by key and object id by code point, the order the store returns. */
function byCodePoint(rows: HuntKey[]): HuntKey[] {
  const compare = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  return [...rows].sort((a, b) => compare(a.key, b.key) || compare(a.objectId, b.objectId));
}

/** Adds the cases; `context` returns the suite's current store, API root and collection. */
export function runHuntKeyCases(
  context: () => { store: Store; root: string; collection: CollectionRecord },
): void {
  describe('hunt keys', () => {
    test('exact keys are found in their collection only', async () => {
      const { store, root, collection } = context();
      const other = await store.createCollection({ apiRoot: root, title: 'Other' });
      await store.addHuntKeys(
        collection.id,
        [row('d:example.evil.', IND_A), row('h:abc', IND_B), row('d:example.evil.', IND_C)],
        10,
      );
      await store.addHuntKeys(other.id, [row('d:example.evil.', IND_B)], 20);

      const found = await store.findHuntKeys({
        collectionId: collection.id,
        keys: ['d:example.evil.', 'h:unknown'],
        limit: 10,
      });
      assert.deepEqual(found, [row('d:example.evil.', IND_A), row('d:example.evil.', IND_C)]);
      const elsewhere = await store.findHuntKeys({
        collectionId: other.id,
        keys: ['d:example.evil.', 'h:abc'],
        limit: 10,
      });
      assert.deepEqual(elsewhere, [row('d:example.evil.', IND_B)]);
      assert.equal(await store.huntKeyMark(collection.id), 10);
      assert.equal(await store.huntKeyMark(other.id), 20);
    });

    test('a prefix finds the keys that start with it', async () => {
      const { store, collection } = context();
      const keys = [
        row('d:com.evil.', IND_A),
        row('d:com.evil.c2.', IND_B),
        row('d:com.evil-twin.', IND_C),
        row('d:com.evil/', IND_C),
        row('d:com.evi.', IND_C),
      ];
      await store.addHuntKeys(collection.id, keys, 1);
      const found = await store.findHuntKeys({
        collectionId: collection.id,
        prefix: 'd:com.evil.',
        limit: 10,
      });
      assert.deepEqual(found, [row('d:com.evil.', IND_A), row('d:com.evil.c2.', IND_B)]);
    });

    test('rows come by key and object id in code point order', async () => {
      const { store, collection } = context();
      const keys = [
        row('u:\u{1F600}', IND_A),
        row('u:\uFFFD', IND_A),
        row('u:z', IND_B),
        row('u:\u00E9', IND_A),
        row('u:z', IND_A),
        row('u:Z', IND_C),
      ];
      await store.addHuntKeys(collection.id, keys, 1);
      const found = await store.findHuntKeys({
        collectionId: collection.id,
        prefix: 'u:',
        limit: 10,
      });
      assert.deepEqual(found, byCodePoint(keys));
      assert.equal(found.at(-1)!.key, 'u:\u{1F600}', 'an astral character sorts last');
    });

    test('pages follow the cursor', async () => {
      const { store, collection } = context();
      const keys = [IND_A, IND_B, IND_C].flatMap((id) => [row('a:AS1', id), row('a:AS2', id)]);
      await store.addHuntKeys(collection.id, keys, 1);
      const seen: HuntKey[] = [];
      let after: HuntKey | undefined;
      for (;;) {
        const page = await store.findHuntKeys({
          collectionId: collection.id,
          keys: ['a:AS2', 'a:AS1'],
          limit: 4,
          ...(after ? { after } : {}),
        });
        seen.push(...page);
        if (page.length < 4) break;
        after = page.at(-1);
      }
      assert.deepEqual(seen, byCodePoint(keys));
      assert.deepEqual(
        await store.findHuntKeys({ collectionId: collection.id, prefix: 'a:', limit: 0 }),
        [],
      );
    });

    test('a key added twice counts once', async () => {
      const { store, collection } = context();
      const key = row('h:d41d8cd98f00b204e9800998ecf8427e', IND_A);
      assert.equal(await store.addHuntKeys(collection.id, [key, key], 5), 1);
      assert.equal(await store.addHuntKeys(collection.id, [key], 6), 0);
      const found = await store.findHuntKeys({
        collectionId: collection.id,
        keys: [key.key, key.key],
        limit: 10,
      });
      assert.deepEqual(found, [key]);
    });

    test('the mark only goes up', async () => {
      const { store, collection } = context();
      assert.equal(await store.huntKeyMark(collection.id), 0);
      await store.addHuntKeys(collection.id, [], 500);
      assert.equal(await store.huntKeyMark(collection.id), 500);
      await store.addHuntKeys(collection.id, [row('*', IND_A)], 300);
      assert.equal(await store.huntKeyMark(collection.id), 500);
      await store.addHuntKeys(collection.id, [], 900);
      assert.equal(await store.huntKeyMark(collection.id), 900);
      assert.equal(await store.huntKeyMark(MISSING), 0);
    });

    test('an unknown collection is rejected or empty', async () => {
      const { store } = context();
      await assert.rejects(store.addHuntKeys(MISSING, [row('*', IND_A)], 1), StoreConflictError);
      assert.deepEqual(
        await store.findHuntKeys({ collectionId: MISSING, keys: ['*'], limit: 5 }),
        [],
      );
    });

    test('bad keys are rejected and nothing of the call is kept', async () => {
      const { store, collection } = context();
      const bad = ['', 'u:a\u0000b', 'u:\uD800x'];
      for (const key of bad) {
        await assert.rejects(
          store.addHuntKeys(collection.id, [row('u:good', IND_A), row(key, IND_B)], 7),
          TypeError,
          JSON.stringify(key),
        );
      }
      await assert.rejects(store.addHuntKeys(collection.id, [row('u:x', '')], 7), TypeError);
      await assert.rejects(store.addHuntKeys(collection.id, [], 1.5), RangeError);
      assert.deepEqual(
        await store.findHuntKeys({ collectionId: collection.id, keys: ['u:good'], limit: 5 }),
        [],
      );
      assert.equal(await store.huntKeyMark(collection.id), 0);
    });

    test('bad queries are rejected', async () => {
      const { store, collection } = context();
      const collectionId = collection.id;
      await assert.rejects(store.findHuntKeys({ collectionId, limit: 5 }), TypeError);
      await assert.rejects(
        store.findHuntKeys({ collectionId, keys: ['a'], prefix: 'a', limit: 5 }),
        TypeError,
      );
      await assert.rejects(
        store.findHuntKeys({ collectionId, prefix: 'u:\u00E9', limit: 5 }),
        TypeError,
      );
      await assert.rejects(store.findHuntKeys({ collectionId, prefix: '', limit: 5 }), TypeError);
      await assert.rejects(
        store.findHuntKeys({ collectionId, keys: ['a'], limit: -1 }),
        RangeError,
      );
    });

    test("setting objects' keys replaces their rows only", async () => {
      const { store, root, collection } = context();
      const other = await store.createCollection({ apiRoot: root, title: 'Other' });
      await store.addHuntKeys(
        collection.id,
        [
          row('d:a.', IND_A),
          row('d:b.', IND_A),
          row('d:c.', IND_A),
          row('d:b.', IND_B),
          row('d:c.', IND_C),
        ],
        10,
      );
      await store.addHuntKeys(other.id, [row('d:a.', IND_A)], 20);

      const refused = await store.setObjectHuntKeys(collection.id, [
        { objectId: IND_A, keys: ['d:b.', 'd:x.'], readUpTo: 0 },
        { objectId: IND_C, keys: [], readUpTo: 0 },
      ]);
      assert.deepEqual(refused, []);
      const all = await store.findHuntKeys({
        collectionId: collection.id,
        prefix: 'd:',
        limit: 10,
      });
      assert.deepEqual(all, [row('d:b.', IND_A), row('d:b.', IND_B), row('d:x.', IND_A)]);
      const elsewhere = await store.findHuntKeys({
        collectionId: other.id,
        prefix: 'd:',
        limit: 10,
      });
      assert.deepEqual(elsewhere, [row('d:a.', IND_A)], 'other collections keep theirs');
      assert.equal(await store.huntKeyMark(collection.id), 10, 'the mark stays');
    });

    test('no keys remove every row of the object', async () => {
      const { store, collection } = context();
      await store.addHuntKeys(collection.id, [row('h:1', IND_A), row('h:1', IND_C)], 10);
      const none = [{ objectId: IND_A, keys: [], readUpTo: 0 }];
      assert.deepEqual(await store.setObjectHuntKeys(collection.id, none), []);
      assert.deepEqual(
        await store.findHuntKeys({ collectionId: collection.id, keys: ['h:1'], limit: 10 }),
        [row('h:1', IND_C)],
      );
      assert.deepEqual(await store.setObjectHuntKeys(collection.id, none), [], 'again');
      assert.deepEqual(await store.setObjectHuntKeys(MISSING, none), [], 'no collection');
      assert.deepEqual(await store.setObjectHuntKeys(collection.id, []), [], 'no objects');
    });

    test('a version added after the read blocks the change', async () => {
      const { store, collection } = context();
      const [first, ofB] = await store.addObjects(collection.id, [
        objectVersion(IND_A, stixTime(1)),
        objectVersion(IND_B, stixTime(1)),
      ]);
      await store.addHuntKeys(
        collection.id,
        [row('h:old', IND_A), row('h:old', IND_B)],
        ofB!.dateAdded,
      );
      const [second] = await store.addObjects(collection.id, [objectVersion(IND_A, stixTime(2))]);

      const refused = await store.setObjectHuntKeys(collection.id, [
        { objectId: IND_A, keys: ['h:new'], readUpTo: first!.dateAdded },
        { objectId: IND_B, keys: ['h:new'], readUpTo: ofB!.dateAdded },
      ]);
      assert.deepEqual(refused, [IND_A], 'the keys of A were read before its second version');
      const kept = await store.findHuntKeys({
        collectionId: collection.id,
        prefix: 'h:',
        limit: 10,
      });
      assert.deepEqual(
        kept,
        [row('h:new', IND_B), row('h:old', IND_A)],
        'a refused object keeps its rows, the others change',
      );
      const again = await store.setObjectHuntKeys(collection.id, [
        { objectId: IND_A, keys: ['h:new'], readUpTo: second!.dateAdded },
      ]);
      assert.deepEqual(again, []);
      const set = await store.findHuntKeys({
        collectionId: collection.id,
        prefix: 'h:',
        limit: 10,
      });
      assert.deepEqual(set, [row('h:new', IND_A), row('h:new', IND_B)]);
    });

    test('bad object keys are rejected', async () => {
      const { store, collection } = context();
      await store.addHuntKeys(collection.id, [row('u:good', IND_A)], 1);
      const set = (objectId: string, keys: string[], readUpTo = 0) =>
        store.setObjectHuntKeys(collection.id, [
          { objectId: IND_A, keys: [], readUpTo: 0 },
          { objectId, keys, readUpTo },
        ]);
      await assert.rejects(set(IND_A, ['']), TypeError);
      await assert.rejects(set(IND_A, ['u:\u0000']), TypeError);
      await assert.rejects(set(IND_A, ['u:\ud800']), TypeError);
      await assert.rejects(set('', ['u:x']), TypeError);
      await assert.rejects(set(IND_A, ['u:x'], 1.5), RangeError);
      assert.deepEqual(
        await store.findHuntKeys({ collectionId: collection.id, keys: ['u:good'], limit: 5 }),
        [row('u:good', IND_A)],
        'a rejected call changes nothing',
      );
    });

    test('many objects are set in one call', async () => {
      const { store, collection } = context();
      const ids = Array.from(
        { length: 1_500 },
        (_, i) => `indicator--00000000-0000-4000-8000-${(i + 100).toString(16).padStart(12, '0')}`,
      );
      await store.addHuntKeys(
        collection.id,
        ids.flatMap((id) => [row('h:shared', id), row(`h:${id}`, id)]),
        5,
      );
      const refused = await store.setObjectHuntKeys(
        collection.id,
        ids.map((id, i) => ({ objectId: id, keys: i % 2 === 0 ? [] : ['h:shared'], readUpTo: 0 })),
      );
      assert.deepEqual(refused, []);
      const shared = await store.findHuntKeys({
        collectionId: collection.id,
        keys: ['h:shared'],
        limit: 2_000,
      });
      assert.equal(shared.length, 750, 'the odd objects keep the shared key');
      const own = await store.findHuntKeys({
        collectionId: collection.id,
        prefix: 'h:i',
        limit: 2_000,
      });
      assert.deepEqual(own, [], 'no object keeps its own key');
    });

    test('a large batch is stored whole', async () => {
      const { store, collection } = context();
      const keys = Array.from({ length: 12_345 }, (_, i) => row(`i4:${i.toString(2)}`, IND_A));
      assert.equal(await store.addHuntKeys(collection.id, keys, 42), keys.length);
      const found = await store.findHuntKeys({
        collectionId: collection.id,
        prefix: 'i4:',
        limit: 20_000,
      });
      assert.equal(found.length, keys.length);
    });
  });
}
