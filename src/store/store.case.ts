/**
 * The shared Store suite: every store implementation runs these cases through
 * `runStoreSuite`, so they are written against the Store interface alone.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { nowMicros, timestampKey } from '../stix/timestamp.ts';
import {
  StoreConflictError,
  type CollectionRecord,
  type PreparedObject,
  type StatusRecord,
  type Store,
  type StoredVersion,
  type TokenRecord,
  type UserRecord,
  type VersionQuery,
  type VersionSelector,
} from './store.ts';
import { runConvertedCases } from './store-converted.case.ts';
import { runCorrelationCases } from './store-correlation.case.ts';
import { runDocumentCases } from './store-documents.case.ts';
import { runEventCases } from './store-events.case.ts';
import { runHuntKeyCases } from './store-hunt-keys.case.ts';
import { organisation, runSharingCases } from './store-sharing.case.ts';

const STIX_21 = 'application/stix+json;version=2.1';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Returns a STIX id of the type whose UUID encodes n, so tests can name objects by number. */
export function stixId(type: string, n: number): string {
  return `${type}--00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** Returns the STIX timestamp n seconds after 2024-01-01, in millisecond precision. */
export function stixTime(n: number): string {
  return new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString();
}

/** The version key of a STIX timestamp; fails the test when the timestamp is invalid. */
function keyOf(timestamp: string): string {
  const key = timestampKey(timestamp);
  assert.ok(key, `invalid test timestamp ${timestamp}`);
  return key;
}

/** Builds a prepared object version whose JSON is a small STIX object with the extras. */
export function objectVersion(
  id: string,
  modified: string,
  options: { specVersion?: string; extra?: Record<string, unknown>; json?: string } = {},
): PreparedObject {
  const type = id.slice(0, id.indexOf('--'));
  const specVersion = options.specVersion ?? '2.1';
  const json =
    options.json ??
    JSON.stringify({
      type,
      spec_version: specVersion,
      id,
      created: stixTime(0),
      modified,
      ...options.extra,
    });
  return { id, type, specVersion, version: modified, versionKey: keyOf(modified), json };
}

function selector(first: boolean, last: boolean, exact: string[] = []): VersionSelector {
  return { first, last, exact };
}

/** Reads every item of a query page by page with addedAfter, checking each page's size. */
async function readAllPages(
  store: Store,
  query: Omit<VersionQuery, 'addedAfter'>,
): Promise<StoredVersion[]> {
  const items: StoredVersion[] = [];
  let addedAfter: number | undefined;
  for (;;) {
    const page = await store.queryManifest({ ...query, addedAfter });
    assert.ok(page.items.length <= query.limit, 'a page holds more items than the limit');
    items.push(...page.items);
    if (!page.more) return items;

    assert.equal(page.items.length, query.limit, 'a page before the last is not full');
    addedAfter = page.items.at(-1)!.dateAdded;
  }
}

function versionsOf(items: { id: string; version: string }[]): string[] {
  return items.map((item) => `${item.id} ${item.version}`);
}

function assertStrictlyIncreasing(values: number[], label: string): void {
  for (let i = 1; i < values.length; i++) {
    assert.ok(values[i]! > values[i - 1]!, `${label}: ${values[i]} follows ${values[i - 1]}`);
  }
}

/** Runs the shared cases on stores returned by `open`, which must be migrated and empty. */
export function runStoreSuite(name: string, open: () => Promise<Store>): void {
  describe(name, () => {
    let store: Store;
    let root: string;
    let collection: CollectionRecord;

    beforeEach(async () => {
      store = await open();
      root = 'api1';
      await store.createApiRoot({ name: root, title: 'API root 1', maxContentLength: 1 << 20 });
      collection = await store.createCollection({ apiRoot: root, title: 'Main' });
    });

    afterEach(async () => {
      await store.close();
    });

    /** Adds versions to the main collection and returns their results. */
    function add(...objects: PreparedObject[]) {
      return store.addObjects(collection.id, objects);
    }

    function manifest(query: Partial<VersionQuery> = {}) {
      return store.queryManifest({ collectionId: collection.id, limit: 1000, ...query });
    }

    describe('migrate', () => {
      test('migrate again keeps data', async () => {
        await add(objectVersion(stixId('indicator', 1), stixTime(1)));
        await store.migrate();
        await store.migrate();

        assert.equal((await manifest()).items.length, 1);
        assert.ok(await store.getApiRoot(root));
      });
    });

    describe('api roots', () => {
      test('create and get', async () => {
        const created = await store.createApiRoot({
          name: 'intel',
          title: 'Intel',
          description: 'Shared intelligence',
          maxContentLength: 5_000_000,
        });

        assert.deepEqual(created, {
          name: 'intel',
          title: 'Intel',
          description: 'Shared intelligence',
          maxContentLength: 5_000_000,
        });
        assert.deepEqual(await store.getApiRoot('intel'), created);
      });

      test('optional description left out', async () => {
        await store.createApiRoot({ name: 'bare', title: 'Bare', maxContentLength: 10 });

        const root = await store.getApiRoot('bare');
        assert.deepEqual(root, { name: 'bare', title: 'Bare', maxContentLength: 10 });
        assert.equal('description' in root!, false);
      });

      test('list holds every root', async () => {
        await store.createApiRoot({ name: 'b', title: 'B', maxContentLength: 1 });
        await store.createApiRoot({ name: 'a', title: 'A', maxContentLength: 1 });

        const names = (await store.listApiRoots()).map((r) => r.name);
        assert.deepEqual([...names].sort(), ['a', 'api1', 'b']);
      });

      test('unknown root is undefined', async () => {
        assert.equal(await store.getApiRoot('missing'), undefined);
      });

      test('duplicate name conflicts', async () => {
        await assert.rejects(
          store.createApiRoot({ name: root, title: 'Again', maxContentLength: 1 }),
          (error: unknown) =>
            error instanceof StoreConflictError && error.message.includes(`"${root}"`),
        );
        assert.equal((await store.getApiRoot(root))?.title, 'API root 1');
      });
    });

    describe('collections', () => {
      test('defaults filled in', async () => {
        const before = nowMicros();
        const created = await store.createCollection({ apiRoot: root, title: 'Defaults' });

        assert.match(created.id, UUID_V4);
        assert.equal(created.apiRoot, root);
        assert.deepEqual(created.mediaTypes, [STIX_21]);
        assert.ok(created.createdAt >= before, 'createdAt precedes the call');
        assert.ok(created.createdAt <= nowMicros(), 'createdAt is in the future');
        assert.equal('alias' in created, false);
        assert.equal('description' in created, false);
        assert.deepEqual(await store.getCollection(root, created.id), created);
      });

      test('given fields kept', async () => {
        const id = '2f3e8a6c-7a51-4b3a-9d0c-5d1b6a0e9f11';
        const created = await store.createCollection({
          id,
          apiRoot: root,
          title: 'Phishing',
          description: 'Phishing URLs',
          alias: 'phishing',
          mediaTypes: [STIX_21, 'application/stix+json;version=2.0'],
        });

        assert.equal(created.id, id);
        assert.equal(created.alias, 'phishing');
        assert.equal(created.description, 'Phishing URLs');
        assert.deepEqual(created.mediaTypes, [STIX_21, 'application/stix+json;version=2.0']);
        assert.deepEqual(await store.getCollection(root, id), created);
        assert.deepEqual(await store.getCollection(root, 'phishing'), created);
      });

      test('list sorted by id', async () => {
        await store.createApiRoot({ name: 'other', title: 'Other', maxContentLength: 1 });
        const ids = [
          'c0000000-0000-4000-8000-000000000000',
          'a0000000-0000-4000-8000-000000000000',
        ];
        for (const id of ids) await store.createCollection({ id, apiRoot: root, title: id });
        await store.createCollection({ apiRoot: 'other', title: 'Elsewhere' });

        const listed = (await store.listCollections(root)).map((c) => c.id);
        assert.deepEqual(listed, [...ids, collection.id].sort());
      });

      test('list of unknown root is empty', async () => {
        assert.deepEqual(await store.listCollections('missing'), []);
      });

      test('get in another root is undefined', async () => {
        await store.createApiRoot({ name: 'other', title: 'Other', maxContentLength: 1 });

        assert.equal(await store.getCollection('other', collection.id), undefined);
        assert.equal(await store.getCollection(root, 'no-such-alias'), undefined);
      });

      test('duplicate id conflicts', async () => {
        await store.createApiRoot({ name: 'other', title: 'Other', maxContentLength: 1 });

        for (const apiRoot of [root, 'other']) {
          await assert.rejects(
            store.createCollection({ id: collection.id, apiRoot, title: 'Again' }),
            (error: unknown) =>
              error instanceof StoreConflictError && error.message.includes(collection.id),
          );
        }
        assert.equal((await store.listCollections('other')).length, 0);
      });

      test('duplicate alias conflicts in root', async () => {
        await store.createCollection({ apiRoot: root, title: 'A', alias: 'feeds' });

        await assert.rejects(
          store.createCollection({ apiRoot: root, title: 'B', alias: 'feeds' }),
          (error: unknown) => error instanceof StoreConflictError && /"feeds"/.test(error.message),
        );
        assert.equal((await store.listCollections(root)).length, 2);
      });

      test('same alias in two roots', async () => {
        await store.createApiRoot({ name: 'other', title: 'Other', maxContentLength: 1 });
        const first = await store.createCollection({ apiRoot: root, title: 'A', alias: 'x' });
        const second = await store.createCollection({ apiRoot: 'other', title: 'B', alias: 'x' });

        assert.equal((await store.getCollection(root, 'x'))?.id, first.id);
        assert.equal((await store.getCollection('other', 'x'))?.id, second.id);
      });

      test('many collections without alias', async () => {
        await store.createCollection({ apiRoot: root, title: 'A' });
        await store.createCollection({ apiRoot: root, title: 'B' });

        assert.equal((await store.listCollections(root)).length, 3);
      });

      test('unknown root conflicts', async () => {
        await assert.rejects(
          store.createCollection({ apiRoot: 'missing', title: 'Orphan' }),
          (error: unknown) =>
            error instanceof StoreConflictError && /"missing"/.test(error.message),
        );
      });

      test('id match wins over alias', async () => {
        const other = await store.createCollection({
          apiRoot: root,
          title: 'Alias equals an id',
          alias: collection.id,
        });

        assert.equal((await store.getCollection(root, collection.id))?.id, collection.id);
        assert.notEqual(other.id, collection.id);
      });
    });

    describe('addObjects', () => {
      test('results in input order', async () => {
        const before = nowMicros();
        const objects = [3, 1, 2].map((n) => objectVersion(stixId('indicator', n), stixTime(n)));
        const results = await add(...objects);

        assert.deepEqual(
          results.map((r) => [r.id, r.version, r.outcome]),
          objects.map((o) => [o.id, o.version, 'added']),
        );
        assert.ok(results[0]!.dateAdded >= before, 'date_added precedes the call');
        assertStrictlyIncreasing(
          results.map((r) => r.dateAdded),
          'date_added',
        );
      });

      test('empty batch', async () => {
        assert.deepEqual(await add(), []);
        assert.deepEqual(await store.countCollection(collection.id), { objects: 0, versions: 0 });
      });

      test('duplicate in one batch', async () => {
        const object = objectVersion(stixId('indicator', 1), stixTime(1));
        const [first, second] = await add(object, object);

        assert.equal(first!.outcome, 'added');
        assert.equal(second!.outcome, 'duplicate');
        assert.equal(second!.dateAdded, first!.dateAdded);
        assert.equal((await manifest({ versions: { all: true } })).items.length, 1);
      });

      test('stored and repeated ids in one batch', async () => {
        const id = stixId('indicator', 1);
        const other = stixId('indicator', 2);
        const [stored] = await add(objectVersion(id, stixTime(2)));
        const results = await add(
          objectVersion(other, stixTime(1)),
          objectVersion(id, stixTime(3)),
          objectVersion(id, stixTime(2)),
          objectVersion(id, stixTime(1)),
          objectVersion(id, stixTime(3)),
        );

        assert.deepEqual(
          results.map((r) => r.outcome),
          ['added', 'added', 'duplicate', 'added', 'duplicate'],
        );
        assert.equal(results[2]!.dateAdded, stored!.dateAdded);
        assert.equal(results[4]!.dateAdded, results[1]!.dateAdded);
        const first = await manifest({ versions: { first: true, last: false, exact: [] } });
        assert.deepEqual(
          first.items.map((item) => `${item.id} ${item.version}`),
          [`${other} ${stixTime(1)}`, `${id} ${stixTime(1)}`],
        );
        const last = await manifest({ versions: { first: false, last: true, exact: [] } });
        assert.deepEqual(
          last.items.map((item) => `${item.id} ${item.version}`),
          [`${other} ${stixTime(1)}`, `${id} ${stixTime(3)}`],
        );
        const events = await store.readEvents({ afterSeq: 0, limit: 100 });
        assert.deepEqual(
          events.map((event) => event.kind),
          ['created', 'created', 'updated', 'updated'],
        );
      });

      test('duplicate across batches keeps first', async () => {
        const id = stixId('indicator', 1);
        const original = objectVersion(id, stixTime(1), { extra: { name: 'original' } });
        const [added] = await add(original);
        const [again] = await add(objectVersion(id, stixTime(1), { extra: { name: 'changed' } }));

        assert.equal(again!.outcome, 'duplicate');
        assert.equal(again!.dateAdded, added!.dateAdded);
        const page = await store.queryObjects({ collectionId: collection.id, limit: 10 });
        assert.equal(page.items.length, 1);
        assert.equal(page.items[0]!.json, original.json);
      });

      test('precision does not make a version', async () => {
        const id = stixId('indicator', 1);
        const [added] = await add(objectVersion(id, '2024-05-01T10:00:00Z'));
        const results = await add(
          objectVersion(id, '2024-05-01T10:00:00.000Z'),
          objectVersion(id, '2024-05-01T10:00:00.000000Z'),
        );

        assert.deepEqual(
          results.map((r) => [r.outcome, r.dateAdded, r.version]),
          [
            ['duplicate', added!.dateAdded, '2024-05-01T10:00:00.000Z'],
            ['duplicate', added!.dateAdded, '2024-05-01T10:00:00.000000Z'],
          ],
        );
        const [stored] = (await manifest({ versions: { all: true } })).items;
        assert.equal(stored!.version, '2024-05-01T10:00:00Z');
      });

      test('rapid adds keep date_added unique', async () => {
        const dates: number[] = [];
        for (let call = 0; call < 200; call++) {
          const objects = [0, 1, 2].map((i) =>
            objectVersion(stixId('indicator', call * 3 + i), stixTime(i)),
          );
          for (const result of await add(...objects)) dates.push(result.dateAdded);
        }

        assertStrictlyIncreasing(dates, 'date_added over 200 calls');
        const stored = (await manifest({ versions: { all: true } })).items.map((i) => i.dateAdded);
        assert.deepEqual(stored, dates);
      });

      test('concurrent adds keep date_added unique', async () => {
        const calls = Array.from({ length: 20 }, (_, call) =>
          add(objectVersion(stixId('indicator', call), stixTime(1))),
        );
        const dates = (await Promise.all(calls)).flat().map((r) => r.dateAdded);

        assert.equal(new Set(dates).size, dates.length);
      });

      test('date_added not reused after delete', async () => {
        const id = stixId('indicator', 1);
        const [first] = await add(objectVersion(id, stixTime(1)));
        assert.equal(await store.deleteObject(collection.id, id), 1);

        const [again] = await add(objectVersion(id, stixTime(1)));
        assert.equal(again!.outcome, 'added');
        assert.ok(again!.dateAdded > first!.dateAdded);
      });

      test('unknown collection conflicts', async () => {
        await assert.rejects(
          store.addObjects('00000000-0000-4000-8000-000000000000', [
            objectVersion(stixId('indicator', 1), stixTime(1)),
          ]),
          (error: unknown) =>
            error instanceof StoreConflictError &&
            error.message.includes('00000000-0000-4000-8000-000000000000'),
        );
      });

      test('unicode stored byte-exact', async () => {
        const text = 'Zürich 東京 🛰️ e\u0301 \u2028\u2029 \\ud800 "quoted" \\u0000 \t';
        const object = objectVersion(stixId('note', 1), stixTime(1), {
          extra: { content: text, [`x_ключ_${'ü'.repeat(3)}`]: '😀'.repeat(100) },
        });
        await add(object);

        const [stored] = (await store.queryObjects({ collectionId: collection.id, limit: 1 }))
          .items;
        assert.equal(stored!.json, object.json);
        assert.equal(Buffer.compare(Buffer.from(stored!.json), Buffer.from(object.json)), 0);
      });

      test('escaped lone surrogate kept', async () => {
        const json = '{"type":"note","id":"x","content":"\\ud83d half"}';
        const object = objectVersion(stixId('note', 1), stixTime(1), { json });
        await add(object);

        const [stored] = (await store.queryObjects({ collectionId: collection.id, limit: 1 }))
          .items;
        assert.equal(stored!.json, json);
      });

      test('raw lone surrogate rejected', async () => {
        const object = objectVersion(stixId('note', 1), stixTime(1), {
          json: '{"content":"\ud83d"}',
        });

        await assert.rejects(add(objectVersion(stixId('note', 2), stixTime(1)), object), TypeError);
        assert.deepEqual(await store.countCollection(collection.id), { objects: 0, versions: 0 });
      });

      test('huge JSON stored byte-exact', async () => {
        const big = objectVersion(stixId('report', 1), stixTime(1), {
          extra: { description: 'Größe ✓ '.repeat(1_000_000) },
        });
        assert.ok(big.json.length > 8_000_000);
        await add(big);

        const [stored] = (await store.queryObjects({ collectionId: collection.id, limit: 1 }))
          .items;
        assert.equal(stored!.json.length, big.json.length);
        assert.ok(stored!.json === big.json, 'stored JSON differs from the input');
      });
    });

    describe('version selection', () => {
      const id = stixId('malware', 1);
      const single = stixId('tool', 2);
      const times = [1, 2, 3, 4].map((n) => stixTime(n * 60));
      const [v1, v2, v3, v4] = times as [string, string, string, string];

      /** Adds v3, v1, v4, v2 of one object and one single-version object. */
      async function addOutOfOrder(): Promise<void> {
        await add(objectVersion(id, v3), objectVersion(id, v1));
        await add(objectVersion(single, stixTime(10)));
        await add(objectVersion(id, v4), objectVersion(id, v2));
      }

      async function selected(versions: VersionSelector | undefined): Promise<string[]> {
        return versionsOf((await manifest({ versions })).items);
      }

      test('default is last', async () => {
        await addOutOfOrder();

        assert.deepEqual(await selected(undefined), [`${single} ${stixTime(10)}`, `${id} ${v4}`]);
      });

      test('last', async () => {
        await addOutOfOrder();

        assert.deepEqual(await selected(selector(false, true)), [
          `${single} ${stixTime(10)}`,
          `${id} ${v4}`,
        ]);
      });

      test('first', async () => {
        await addOutOfOrder();

        assert.deepEqual(await selected(selector(true, false)), [
          `${id} ${v1}`,
          `${single} ${stixTime(10)}`,
        ]);
      });

      test('all in date_added order', async () => {
        await addOutOfOrder();

        assert.deepEqual(await selected({ all: true }), [
          `${id} ${v3}`,
          `${id} ${v1}`,
          `${single} ${stixTime(10)}`,
          `${id} ${v4}`,
          `${id} ${v2}`,
        ]);
      });

      test('exact keys', async () => {
        await addOutOfOrder();

        assert.deepEqual(await selected(selector(false, false, [keyOf(v2), keyOf(v3)])), [
          `${id} ${v3}`,
          `${id} ${v2}`,
        ]);
      });

      test('exact key of other precision', async () => {
        await addOutOfOrder();
        const sameInstant = v2.replace('.000Z', 'Z');

        assert.deepEqual(await selected(selector(false, false, [keyOf(sameInstant)])), [
          `${id} ${v2}`,
        ]);
      });

      test('first and last', async () => {
        await addOutOfOrder();

        assert.deepEqual(await selected(selector(true, true)), [
          `${id} ${v1}`,
          `${single} ${stixTime(10)}`,
          `${id} ${v4}`,
        ]);
      });

      test('first and exact', async () => {
        await addOutOfOrder();

        assert.deepEqual(await selected(selector(true, false, [keyOf(v2)])), [
          `${id} ${v1}`,
          `${single} ${stixTime(10)}`,
          `${id} ${v2}`,
        ]);
      });

      test('last and overlapping exact', async () => {
        await addOutOfOrder();

        assert.deepEqual(await selected(selector(false, true, [keyOf(v4), keyOf(v4)])), [
          `${single} ${stixTime(10)}`,
          `${id} ${v4}`,
        ]);
      });

      test('first, last and exact', async () => {
        await addOutOfOrder();

        assert.deepEqual(await selected(selector(true, true, [keyOf(v3)])), [
          `${id} ${v3}`,
          `${id} ${v1}`,
          `${single} ${stixTime(10)}`,
          `${id} ${v4}`,
        ]);
      });

      test('empty selector matches nothing', async () => {
        await addOutOfOrder();

        assert.deepEqual(await selected(selector(false, false)), []);
        assert.deepEqual(await selected(selector(false, false, [keyOf(stixTime(999))])), []);
      });

      test('objects endpoint matches manifest', async () => {
        await addOutOfOrder();

        const selectors: (VersionSelector | undefined)[] = [
          undefined,
          selector(true, true, [keyOf(v2)]),
          { all: true },
        ];
        for (const versions of selectors) {
          const objects = await store.queryObjects({
            collectionId: collection.id,
            limit: 100,
            versions,
          });
          const entries = await manifest({ versions });
          assert.deepEqual(
            objects.items.map(
              ({
                json: _json,
                granularMarkings: _granular,
                contributed: _c,
                recipient: _r,
                ...entry
              }) => entry,
            ),
            entries.items,
          );
          for (const item of objects.items) {
            assert.equal(JSON.parse(item.json).modified, item.version);
          }
        }
      });

      test('filtered by id', async () => {
        await addOutOfOrder();

        assert.deepEqual(
          versionsOf((await manifest({ ids: [id], versions: selector(true, true) })).items),
          [`${id} ${v1}`, `${id} ${v4}`],
        );
      });

      describe('after delete', () => {
        async function deleteAndRead(versions: VersionSelector): Promise<{
          deleted: number;
          first: string[];
          last: string[];
          all: string[];
        }> {
          await addOutOfOrder();
          const deleted = await store.deleteObject(collection.id, id, versions);
          const ofId = (items: StoredVersion[]) =>
            items.filter((item) => item.id === id).map((item) => item.version);
          return {
            deleted,
            first: ofId((await manifest({ versions: selector(true, false) })).items),
            last: ofId((await manifest({ versions: selector(false, true) })).items),
            all: ofId((await manifest({ versions: { all: true } })).items),
          };
        }

        test('middle version', async () => {
          const result = await deleteAndRead(selector(false, false, [keyOf(v2)]));

          assert.deepEqual(result, { deleted: 1, first: [v1], last: [v4], all: [v3, v1, v4] });
        });

        test('last version', async () => {
          const result = await deleteAndRead(selector(false, true));

          assert.deepEqual(result, { deleted: 1, first: [v1], last: [v3], all: [v3, v1, v2] });
        });

        test('first version', async () => {
          const result = await deleteAndRead(selector(true, false));

          assert.deepEqual(result, { deleted: 1, first: [v2], last: [v4], all: [v3, v4, v2] });
        });

        test('first and last', async () => {
          const result = await deleteAndRead(selector(true, true));

          assert.deepEqual(result, { deleted: 2, first: [v2], last: [v3], all: [v3, v2] });
        });

        test('all but one', async () => {
          const result = await deleteAndRead(selector(false, false, [v1, v2, v4].map(keyOf)));

          assert.deepEqual(result, { deleted: 3, first: [v3], last: [v3], all: [v3] });
        });

        test('every version', async () => {
          const result = await deleteAndRead({ all: true });

          assert.deepEqual(result, { deleted: 4, first: [], last: [], all: [] });
          assert.equal(await store.hasObject(collection.id, id), false);
          assert.equal(await store.hasObject(collection.id, single), true);
        });

        test('then newer version added', async () => {
          await deleteAndRead(selector(false, true));
          await add(objectVersion(id, stixTime(1000)));

          assert.deepEqual(
            versionsOf((await manifest({ ids: [id], versions: selector(true, true) })).items),
            [`${id} ${v1}`, `${id} ${stixTime(1000)}`],
          );
        });

        test('then older version added', async () => {
          await deleteAndRead(selector(true, false));
          await add(objectVersion(id, stixTime(0)));

          assert.deepEqual(
            versionsOf((await manifest({ ids: [id], versions: selector(true, true) })).items),
            [`${id} ${v4}`, `${id} ${stixTime(0)}`],
          );
        });
      });
    });

    describe('deleteObject', () => {
      test('without selector deletes all', async () => {
        const id = stixId('indicator', 1);
        await add(objectVersion(id, stixTime(1)), objectVersion(id, stixTime(2)));

        assert.equal(await store.deleteObject(collection.id, id), 2);
        assert.equal(await store.hasObject(collection.id, id), false);
        assert.deepEqual(await store.countCollection(collection.id), { objects: 0, versions: 0 });
      });

      test('misses return zero', async () => {
        const id = stixId('indicator', 1);
        await add(objectVersion(id, stixTime(1)));
        const unknownCollection = '00000000-0000-4000-8000-00000000dead';

        assert.equal(await store.deleteObject(collection.id, stixId('indicator', 2)), 0);
        assert.equal(await store.deleteObject(unknownCollection, id), 0);
        assert.equal(
          await store.deleteObject(collection.id, id, selector(false, false, [keyOf(stixTime(9))])),
          0,
        );
        assert.equal(await store.deleteObject(collection.id, id, selector(false, false)), 0);
        assert.equal(await store.deleteObject(collection.id, id, { all: true }, ['2.0']), 0);
        assert.equal(await store.deleteObject(collection.id, id, { all: true }, []), 0);
        assert.equal(await store.hasObject(collection.id, id), true);
      });

      test('by spec version', async () => {
        const id = stixId('indicator', 1);
        await add(
          objectVersion(id, stixTime(1), { specVersion: '2.0' }),
          objectVersion(id, stixTime(2), { specVersion: '2.1' }),
        );

        assert.equal(await store.deleteObject(collection.id, id, { all: true }, ['2.0']), 1);
        const remaining = (await manifest({ versions: { all: true } })).items;
        assert.deepEqual(
          remaining.map((item) => [item.version, item.specVersion]),
          [[stixTime(2), '2.1']],
        );
        const first = (await manifest({ versions: selector(true, false) })).items;
        assert.deepEqual(versionsOf(first), [`${id} ${stixTime(2)}`]);
      });

      test('re-added content replaces deleted', async () => {
        const id = stixId('indicator', 1);
        await add(objectVersion(id, stixTime(1), { extra: { name: 'old' } }));
        await store.deleteObject(collection.id, id);
        const fresh = objectVersion(id, stixTime(1), { extra: { name: 'new' } });
        await add(fresh);

        const [stored] = (await store.queryObjects({ collectionId: collection.id, limit: 1 }))
          .items;
        assert.equal(stored!.json, fresh.json);
      });
    });

    describe('two collections', () => {
      let second: CollectionRecord;

      beforeEach(async () => {
        second = await store.createCollection({ apiRoot: root, title: 'Second' });
      });

      test('same version in both', async () => {
        const object = objectVersion(stixId('indicator', 1), stixTime(1));
        const [inFirst] = await add(object);
        const [inSecond] = await store.addObjects(second.id, [object]);

        assert.equal(inFirst!.outcome, 'added');
        assert.equal(inSecond!.outcome, 'added');
        const page = await store.queryObjects({ collectionId: second.id, limit: 10 });
        assert.equal(page.items[0]!.json, object.json);
        assert.equal(page.items[0]!.dateAdded, inSecond!.dateAdded);
      });

      test('each keeps its own content', async () => {
        const id = stixId('indicator', 1);
        const original = objectVersion(id, stixTime(1), { extra: { name: 'original' } });
        const other = objectVersion(id, stixTime(1), { extra: { name: 'other' } });
        await add(original);
        const [result] = await store.addObjects(second.id, [other]);

        // Serving the first collection's content from the second would leak it to anyone
        // who can post a known id and version there.
        assert.equal(result!.outcome, 'added');
        const inSecond = await store.queryObjects({ collectionId: second.id, limit: 1 });
        assert.equal(inSecond.items[0]!.json, other.json);
        const inFirst = await store.queryObjects({ collectionId: collection.id, limit: 1 });
        assert.equal(inFirst.items[0]!.json, original.json);
      });

      test('first content wins within one', async () => {
        const id = stixId('indicator', 1);
        const original = objectVersion(id, stixTime(1), { extra: { name: 'original' } });
        await add(original);
        const [again] = await add(objectVersion(id, stixTime(1), { extra: { name: 'other' } }));

        assert.equal(again!.outcome, 'duplicate');
        const page = await store.queryObjects({ collectionId: collection.id, limit: 1 });
        assert.equal(page.items[0]!.json, original.json);
      });

      test('delete in one keeps other', async () => {
        const object = objectVersion(stixId('indicator', 1), stixTime(1));
        await add(object);
        await store.addObjects(second.id, [object]);

        assert.equal(await store.deleteObject(collection.id, object.id), 1);
        assert.equal(await store.hasObject(collection.id, object.id), false);
        assert.equal(await store.hasObject(second.id, object.id), true);
        const page = await store.queryObjects({ collectionId: second.id, limit: 10 });
        assert.equal(page.items[0]!.json, object.json);
      });

      test('versions tracked apart', async () => {
        const id = stixId('indicator', 1);
        await add(objectVersion(id, stixTime(1)), objectVersion(id, stixTime(2)));
        await store.addObjects(second.id, [objectVersion(id, stixTime(1))]);

        const lastInSecond = await store.queryManifest({ collectionId: second.id, limit: 10 });
        assert.deepEqual(versionsOf(lastInSecond.items), [`${id} ${stixTime(1)}`]);
        assert.deepEqual(await store.countCollection(second.id), { objects: 1, versions: 1 });
        assert.deepEqual(await store.countCollection(collection.id), { objects: 1, versions: 2 });
      });

      test('duplicate only per collection', async () => {
        const object = objectVersion(stixId('indicator', 1), stixTime(1));
        await add(object);
        const [again] = await store.addObjects(second.id, [object, object]);

        assert.equal(again!.outcome, 'added');
        const filtered = await store.queryManifest({
          collectionId: second.id,
          limit: 10,
          ids: [object.id],
        });
        assert.equal(filtered.items.length, 1);
      });
    });

    describe('queries', () => {
      /** Adds `count` objects of rotating types, each with `versions` versions. */
      async function addMany(count: number, versions = 1): Promise<PreparedObject[]> {
        const types = ['indicator', 'malware', 'report'];
        const objects: PreparedObject[] = [];
        for (let v = 0; v < versions; v++) {
          for (let n = 0; n < count; n++) {
            const id = stixId(types[n % types.length]!, n);
            objects.push(objectVersion(id, stixTime(v * 10_000 + n)));
          }
        }
        await add(...objects);
        return objects;
      }

      test('paging never splits or repeats', async () => {
        await addMany(50, 3);
        const everything = (await manifest({ versions: { all: true } })).items;
        assert.equal(everything.length, 150);

        for (const limit of [1, 7, 50, 149, 150, 151]) {
          const paged = await readAllPages(store, {
            collectionId: collection.id,
            limit,
            versions: { all: true },
          });
          assert.deepEqual(paged, everything, `pages of ${limit}`);
        }
      });

      test('paging with filters', async () => {
        await addMany(60, 2);
        const query = {
          collectionId: collection.id,
          types: ['malware', 'report'],
          versions: selector(true, true),
        };
        const everything = (await store.queryManifest({ ...query, limit: 1000 })).items;
        assert.equal(everything.length, 80);

        const paged = await readAllPages(store, { ...query, limit: 9 });
        assert.deepEqual(paged, everything);
      });

      test('more is exact', async () => {
        await addMany(5);

        assert.equal((await manifest({ limit: 5 })).more, false);
        assert.equal((await manifest({ limit: 4 })).more, true);
        assert.equal((await manifest({ limit: 6 })).more, false);
        const last = (await manifest({ limit: 5 })).items.at(-1)!;
        assert.deepEqual(await manifest({ addedAfter: last.dateAdded, limit: 1 }), {
          items: [],
          more: false,
        });
      });

      test('limit zero', async () => {
        assert.deepEqual(await manifest({ limit: 0 }), { items: [], more: false });
        await addMany(1);

        assert.deepEqual(await manifest({ limit: 0 }), { items: [], more: true });
        const objects = await store.queryObjects({ collectionId: collection.id, limit: 0 });
        assert.deepEqual(objects, { items: [], more: true });
      });

      test('invalid limit rejected', async () => {
        for (const limit of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
          await assert.rejects(manifest({ limit }), RangeError, `limit ${limit}`);
          await assert.rejects(
            store.queryObjects({ collectionId: collection.id, limit }),
            RangeError,
          );
        }
      });

      test('invalid addedAfter rejected', async () => {
        for (const addedAfter of [Number.NaN, Number.POSITIVE_INFINITY]) {
          await assert.rejects(manifest({ addedAfter }), RangeError, `addedAfter ${addedAfter}`);
        }
      });

      test('huge limit returns all', async () => {
        await addMany(10);

        const page = await manifest({ limit: Number.MAX_SAFE_INTEGER });
        assert.equal(page.items.length, 10);
        assert.equal(page.more, false);
      });

      test('addedAfter is strict', async () => {
        await addMany(3);
        const [a, b, c] = (await manifest()).items;

        assert.deepEqual(
          (await manifest({ addedAfter: a!.dateAdded })).items.map((i) => i.id),
          [b!.id, c!.id],
        );
        assert.deepEqual(
          (await manifest({ addedAfter: b!.dateAdded - 1 })).items.map((i) => i.id),
          [b!.id, c!.id],
        );
        assert.deepEqual((await manifest({ addedAfter: c!.dateAdded })).items, []);
      });

      test('types ORed', async () => {
        await addMany(9);

        const items = (await manifest({ types: ['malware', 'report'] })).items;
        assert.equal(items.length, 6);
        assert.ok(items.every((i) => i.type === 'malware' || i.type === 'report'));
        assertStrictlyIncreasing(
          items.map((i) => i.dateAdded),
          'date_added',
        );
      });

      test('many types', async () => {
        await addMany(9);
        const types = ['indicator', ...Array.from({ length: 20 }, (_, i) => `x-type-${i}`)];

        const items = (await manifest({ types })).items;
        assert.equal(items.length, 3);
        assert.ok(items.every((i) => i.type === 'indicator'));
      });

      test('repeated filter values', async () => {
        await addMany(6);
        const id = stixId('indicator', 0);

        assert.equal((await manifest({ types: ['malware', 'malware'] })).items.length, 2);
        assert.equal((await manifest({ ids: [id, id, id] })).items.length, 1);
        assert.equal((await manifest({ specVersions: ['2.1', '2.1'] })).items.length, 6);
      });

      test('unknown type is empty', async () => {
        await addMany(3);

        assert.deepEqual(await manifest({ types: ['x-unknown'] }), { items: [], more: false });
      });

      test('empty filter lists match nothing', async () => {
        await addMany(3);

        assert.deepEqual((await manifest({ ids: [] })).items, []);
        assert.deepEqual((await manifest({ types: [] })).items, []);
        assert.deepEqual((await manifest({ specVersions: [] })).items, []);
      });

      test('ids ORed', async () => {
        await addMany(6);
        const ids = [stixId('indicator', 3), stixId('report', 5), stixId('indicator', 99)];

        const items = (await manifest({ ids })).items;
        assert.deepEqual(
          items.map((i) => i.id),
          [stixId('indicator', 3), stixId('report', 5)],
        );
      });

      test('spec versions ORed', async () => {
        await add(
          objectVersion(stixId('indicator', 1), stixTime(1), { specVersion: '2.0' }),
          objectVersion(stixId('indicator', 2), stixTime(1), { specVersion: '2.1' }),
          objectVersion(stixId('indicator', 3), stixTime(1), { specVersion: '2.2' }),
        );

        const items = (await manifest({ specVersions: ['2.0', '2.2'] })).items;
        assert.deepEqual(
          items.map((i) => [i.id, i.specVersion, i.mediaType]),
          [
            [stixId('indicator', 1), '2.0', 'application/stix+json;version=2.0'],
            [stixId('indicator', 3), '2.2', 'application/stix+json;version=2.2'],
          ],
        );
      });

      test('filters ANDed', async () => {
        await addMany(9);
        const ids = [stixId('indicator', 0), stixId('malware', 1), stixId('report', 2)];

        const byIdAndType = await manifest({ ids, types: ['malware', 'report'] });
        assert.deepEqual(
          byIdAndType.items.map((i) => i.id),
          [stixId('malware', 1), stixId('report', 2)],
        );
        const byAll = await manifest({ ids, types: ['malware'], specVersions: ['2.0'] });
        assert.deepEqual(byAll.items, []);
        const byTypeAndSpec = await manifest({ types: ['report'], specVersions: ['2.1'] });
        assert.equal(byTypeAndSpec.items.length, 3);
      });

      test('type filter with versions', async () => {
        await addMany(6, 3);

        const first = await manifest({ types: ['malware'], versions: selector(true, false) });
        assert.deepEqual(
          first.items.map((i) => i.version),
          [stixTime(1), stixTime(4)],
        );
        const all = await manifest({ types: ['malware'], versions: { all: true } });
        assert.equal(all.items.length, 6);
        const both = await manifest({
          types: ['malware', 'report'],
          versions: selector(true, true),
        });
        assert.equal(both.items.length, 8);
      });

      test('40,000 ids', async () => {
        const objects = await addMany(1_000);
        const known = objects.filter((_, i) => i % 3 === 0).map((o) => o.id);
        const unknown = Array.from({ length: 40_000 - known.length }, (_, i) =>
          stixId('indicator', 1_000_000 + i),
        );
        const ids = [...unknown.slice(0, 20_000), ...known, ...unknown.slice(20_000)];
        assert.equal(ids.length, 40_000);

        const page = await manifest({ ids, limit: 10_000 });
        assert.deepEqual(
          page.items.map((i) => i.id),
          known,
        );
        const objectsPage = await store.queryObjects({
          collectionId: collection.id,
          ids,
          limit: 100,
        });
        assert.equal(objectsPage.items.length, 100);
        assert.equal(objectsPage.more, true);
      });

      test('manifest entry fields', async () => {
        const object = objectVersion(stixId('indicator', 1), '2024-02-03T04:05:06.789Z');
        const [result] = await add(object);

        const [entry] = (await manifest()).items;
        assert.deepEqual(entry, {
          id: object.id,
          type: 'indicator',
          specVersion: '2.1',
          version: '2024-02-03T04:05:06.789Z',
          versionKey: object.versionKey,
          dateAdded: result!.dateAdded,
          mediaType: STIX_21,
        });
      });

      test('unknown collection is empty', async () => {
        const query = { collectionId: '00000000-0000-4000-8000-00000000dead', limit: 10 };

        assert.deepEqual(await store.queryManifest(query), { items: [], more: false });
        assert.deepEqual(await store.queryObjects(query), { items: [], more: false });
        assert.deepEqual(await store.countCollection(query.collectionId), {
          objects: 0,
          versions: 0,
        });
        assert.equal(await store.hasObject(query.collectionId, stixId('indicator', 1)), false);
      });

      test('count and has', async () => {
        await addMany(4, 2);

        assert.deepEqual(await store.countCollection(collection.id), { objects: 4, versions: 8 });
        assert.equal(await store.hasObject(collection.id, stixId('indicator', 0)), true);
        assert.equal(await store.hasObject(collection.id, stixId('indicator', 1)), false);
      });
    });

    describe('statuses', () => {
      function status(id: string, expiresAt: number, pending = false): StatusRecord {
        return {
          id,
          apiRoot: root,
          ownerId: 'user-1',
          status: pending ? 'pending' : 'complete',
          requestTimestamp: 1_700_000_000_000_000,
          totalCount: 3,
          successCount: pending ? 1 : 2,
          failureCount: 1,
          pendingCount: pending ? 1 : 0,
          successes: [{ id: stixId('indicator', 1), version: stixTime(1) }],
          failures: [
            { id: stixId('indicator', 2), version: stixTime(2), message: 'invalid pattern' },
          ],
          pendings: pending ? [{ id: stixId('indicator', 3), version: stixTime(3) }] : [],
          expiresAt,
        };
      }

      test('save and get', async () => {
        const saved = status('5a1c9f0e-4d1b-4c8e-9f2a-1b2c3d4e5f60', 2_000_000_000_000_000);
        await store.saveStatus(saved);

        assert.deepEqual(await store.getStatus(root, saved.id), saved);
      });

      test('save again replaces', async () => {
        const id = '5a1c9f0e-4d1b-4c8e-9f2a-1b2c3d4e5f60';
        await store.saveStatus(status(id, 10, true));
        const complete = status(id, 20);
        await store.saveStatus(complete);

        assert.deepEqual(await store.getStatus(root, id), complete);
      });

      test('other root or id is undefined', async () => {
        await store.createApiRoot({ name: 'other', title: 'Other', maxContentLength: 1 });
        const saved = status('5a1c9f0e-4d1b-4c8e-9f2a-1b2c3d4e5f60', 10);
        await store.saveStatus(saved);

        assert.equal(await store.getStatus('other', saved.id), undefined);
        assert.equal(await store.getStatus(root, 'missing'), undefined);
      });

      test('purge by expiry', async () => {
        await store.saveStatus(status('expired', 99));
        await store.saveStatus(status('boundary', 100));
        await store.saveStatus(status('live', 101));

        assert.equal(await store.purgeStatuses(100), 1);
        assert.equal(await store.getStatus(root, 'expired'), undefined);
        assert.ok(await store.getStatus(root, 'boundary'));
        assert.ok(await store.getStatus(root, 'live'));
        assert.equal(await store.purgeStatuses(100), 0);
        assert.equal(await store.purgeStatuses(1_000), 2);
      });

      test('unknown root conflicts', async () => {
        await assert.rejects(
          store.saveStatus({ ...status('x', 10), apiRoot: 'missing' }),
          StoreConflictError,
        );
      });
    });

    describe('users', () => {
      const alice: UserRecord = {
        id: 'u-alice',
        name: 'alice',
        organisationId: 'o-1',
        role: 'platform-admin',
        createdAt: 1_700_000_000_000_000,
        disabled: false,
      };

      beforeEach(async () => {
        await store.createOrganisation(organisation('o-1', 'First'));
      });

      test('create and get', async () => {
        assert.deepEqual(await store.createUser(alice), alice);

        assert.deepEqual(await store.getUser('u-alice'), alice);
        assert.deepEqual(await store.getUserByName('alice'), alice);
      });

      test('disabled kept', async () => {
        const bob: UserRecord = {
          ...alice,
          id: 'u-bob',
          name: 'bob',
          role: 'analyst',
          disabled: true,
        };
        await store.createUser(bob);

        assert.deepEqual(await store.getUser('u-bob'), bob);
      });

      test('list holds every user', async () => {
        await store.createUser(alice);
        await store.createUser({ ...alice, id: 'u-bob', name: 'bob' });

        const names = (await store.listUsers()).map((u) => u.name);
        assert.deepEqual([...names].sort(), ['alice', 'bob']);
      });

      test('unknown user is undefined', async () => {
        assert.equal(await store.getUser('missing'), undefined);
        assert.equal(await store.getUserByName('missing'), undefined);
      });

      test('duplicate name conflicts', async () => {
        await store.createUser(alice);

        await assert.rejects(
          store.createUser({ ...alice, id: 'u-other' }),
          (error: unknown) => error instanceof StoreConflictError && /"alice"/.test(error.message),
        );
        assert.equal(await store.getUser('u-other'), undefined);
      });

      test('duplicate id conflicts', async () => {
        await store.createUser(alice);

        await assert.rejects(
          store.createUser({ ...alice, name: 'alice2' }),
          (error: unknown) => error instanceof StoreConflictError && /u-alice/.test(error.message),
        );
      });
    });

    describe('tokens', () => {
      const owner: UserRecord = {
        id: 'u-owner',
        name: 'owner',
        organisationId: 'o-1',
        role: 'analyst',
        createdAt: 1,
        disabled: false,
      };
      const token: TokenRecord = {
        id: 'tok-1',
        userId: 'u-owner',
        label: 'feed reader',
        secretHash: 'a'.repeat(64),
        scopes: ['read', 'write'],
        createdAt: 1_000,
      };

      beforeEach(async () => {
        await store.createOrganisation(organisation('o-1', 'First'));
        await store.createUser(owner);
      });

      test('create and get', async () => {
        assert.deepEqual(await store.createToken(token), token);

        const stored = await store.getToken('tok-1');
        assert.deepEqual(stored, token);
        assert.equal('expiresAt' in stored!, false);
        assert.equal('revokedAt' in stored!, false);
      });

      test('optional times kept', async () => {
        const full = { ...token, expiresAt: 5_000, lastUsedAt: 2_000, revokedAt: 3_000 };
        await store.createToken(full);

        assert.deepEqual(await store.getToken('tok-1'), full);
      });

      test('list all and by user', async () => {
        await store.createUser({ ...owner, id: 'u-other', name: 'other' });
        await store.createToken(token);
        await store.createToken({ ...token, id: 'tok-2', createdAt: 2_000 });
        await store.createToken({ ...token, id: 'tok-3', userId: 'u-other' });

        const ofOwner = (await store.listTokens('u-owner')).map((t) => t.id);
        assert.deepEqual([...ofOwner].sort(), ['tok-1', 'tok-2']);
        const everyone = (await store.listTokens()).map((t) => t.id);
        assert.deepEqual([...everyone].sort(), ['tok-1', 'tok-2', 'tok-3']);
        assert.deepEqual(await store.listTokens('u-nobody'), []);
      });

      test('revoke', async () => {
        await store.createToken(token);

        assert.equal(await store.revokeToken('tok-1', 7_000), true);
        assert.equal((await store.getToken('tok-1'))?.revokedAt, 7_000);
      });

      test('revoke twice keeps first time', async () => {
        await store.createToken(token);
        await store.revokeToken('tok-1', 7_000);

        assert.equal(await store.revokeToken('tok-1', 9_000), true);
        assert.equal((await store.getToken('tok-1'))?.revokedAt, 7_000);
      });

      test('revoke unknown is false', async () => {
        assert.equal(await store.revokeToken('missing', 1), false);
      });

      test('touch', async () => {
        await store.createToken(token);
        await store.touchToken('tok-1', 5_000);
        assert.equal((await store.getToken('tok-1'))?.lastUsedAt, 5_000);

        await store.touchToken('tok-1', 4_000);
        assert.equal((await store.getToken('tok-1'))?.lastUsedAt, 5_000, 'moved back');
        await store.touchToken('tok-1', 6_000);
        assert.equal((await store.getToken('tok-1'))?.lastUsedAt, 6_000);
      });

      test('touch unknown is harmless', async () => {
        await store.touchToken('missing', 1);

        assert.equal(await store.getToken('missing'), undefined);
      });

      test('duplicate id conflicts', async () => {
        await store.createToken(token);

        await assert.rejects(
          store.createToken({ ...token, label: 'again' }),
          (error: unknown) => error instanceof StoreConflictError && /tok-1/.test(error.message),
        );
      });

      test('unknown user conflicts', async () => {
        await assert.rejects(
          store.createToken({ ...token, userId: 'u-missing' }),
          (error: unknown) =>
            error instanceof StoreConflictError && /u-missing/.test(error.message),
        );
      });
    });

    runSharingCases(() => ({ store, root, collection }));
    runDocumentCases(() => ({ store }));
    runEventCases(() => ({ store, root, collection }));
    runConvertedCases(() => ({ store, root, collection }));
    runCorrelationCases(() => ({ store }));
    runHuntKeyCases(() => ({ store, root, collection }));

    describe('settings', () => {
      test('unknown key is undefined', async () => {
        assert.equal(await store.getSetting('cursor-key'), undefined);
      });

      test('first value wins', async () => {
        assert.equal(await store.setSettingIfAbsent('cursor-key', 'first'), 'first');
        assert.equal(await store.setSettingIfAbsent('cursor-key', 'second'), 'first');

        assert.equal(await store.getSetting('cursor-key'), 'first');
      });

      test('concurrent set agrees', async () => {
        const [a, b] = await Promise.all([
          store.setSettingIfAbsent('cursor-key', 'from-a'),
          store.setSettingIfAbsent('cursor-key', 'from-b'),
        ]);

        assert.equal(a, b);
        assert.ok(a === 'from-a' || a === 'from-b');
        assert.equal(await store.getSetting('cursor-key'), a);
      });

      test('empty and unicode values', async () => {
        assert.equal(await store.setSettingIfAbsent('empty', ''), '');
        assert.equal(await store.getSetting('empty'), '');
        assert.equal(await store.setSettingIfAbsent('ключ', '値 🔑'), '値 🔑');
      });
    });
  });
}
