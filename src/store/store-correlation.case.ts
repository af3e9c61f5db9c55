/**
 * Shared Store cases for the correlation index and feedback reports. runStoreSuite
 * calls runCorrelationCases inside its own describe, so every store runs them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { ObservableRef, Store } from './store.ts';

const IND_A = 'indicator--00000000-0000-4000-8000-00000000000a';
const IND_B = 'indicator--00000000-0000-4000-8000-00000000000b';
const IND_C = 'indicator--00000000-0000-4000-8000-00000000000c';
const COL_1 = '00000000-0000-4000-8000-000000000001';
const COL_2 = '00000000-0000-4000-8000-000000000002';

function ref(value: string, objectId: string, collectionId = COL_1, source = 'operator') {
  return { value, objectId, collectionId, source } satisfies ObservableRef;
}

/** Adds the cases; `context` returns the suite's current store. */
export function runCorrelationCases(context: () => { store: Store }): void {
  describe('correlation', () => {
    test('refs are found by value and by object', async () => {
      const { store } = context();
      const added = await store.addObservableRefs(
        [
          ref('domain:evil.example', IND_A, COL_1, 'connector:x'),
          ref('domain:evil.example', IND_B, COL_2, 'org:o1'),
          ref('ipv4:198.51.100.7', IND_A, COL_1, 'connector:x'),
        ],
        100,
      );
      assert.equal(added, 3);

      const byValue = await store.findObservableRefs('domain:evil.example', 10);
      assert.deepEqual(byValue, [
        ref('domain:evil.example', IND_A, COL_1, 'connector:x'),
        ref('domain:evil.example', IND_B, COL_2, 'org:o1'),
      ]);
      const byObject = await store.objectRefs([IND_A]);
      assert.deepEqual(byObject, [
        ref('domain:evil.example', IND_A, COL_1, 'connector:x'),
        ref('ipv4:198.51.100.7', IND_A, COL_1, 'connector:x'),
      ]);
      assert.deepEqual(await store.findObservableRefs('domain:other.example', 10), []);
    });

    test('adding a ref twice counts it once', async () => {
      const { store } = context();
      const one = ref('md5:d41d8cd98f00b204e9800998ecf8427e', IND_A);
      assert.equal(await store.addObservableRefs([one, one], 100), 1);
      assert.equal(await store.addObservableRefs([one], 100), 0);
      assert.deepEqual(await store.observableStats([one.value]), [
        { value: one.value, refs: 1, capped: false },
      ]);
    });

    test('a value stops growing at the cap', async () => {
      const { store } = context();
      const refs = [IND_A, IND_B, IND_C].map((id) => ref('ipv4:8.8.8.8', id));
      assert.equal(await store.addObservableRefs(refs, 2), 2);

      const stats = await store.observableStats(['ipv4:8.8.8.8', 'ipv4:unknown']);
      assert.deepEqual(stats, [{ value: 'ipv4:8.8.8.8', refs: 2, capped: true }]);
      assert.equal((await store.findObservableRefs('ipv4:8.8.8.8', 10)).length, 2);
    });

    test('value at the cap not yet capped', async () => {
      const { store } = context();
      const [first, second, third] = [IND_A, IND_B, IND_C].map((id) => ref('ipv4:8.8.4.4', id));
      assert.equal(await store.addObservableRefs([first!, second!], 2), 2);
      assert.deepEqual(await store.observableStats(['ipv4:8.8.4.4']), [
        { value: 'ipv4:8.8.4.4', refs: 2, capped: false },
      ]);
      assert.equal(await store.addObservableRefs([third!], 2), 0);
      assert.deepEqual(await store.observableStats(['ipv4:8.8.4.4']), [
        { value: 'ipv4:8.8.4.4', refs: 2, capped: true },
      ]);
    });

    test('counts add up over calls and values', async () => {
      const { store } = context();
      assert.equal(await store.addObservableRefs([ref('domain:a.example', IND_A)], 10), 1);
      const refs = [
        ref('domain:a.example', IND_A),
        ref('domain:a.example', IND_B),
        ref('domain:b.example', IND_A),
        ref('domain:a.example', IND_C),
      ];
      assert.equal(await store.addObservableRefs(refs, 10), 3);
      assert.deepEqual(await store.observableStats(['domain:a.example', 'domain:b.example']), [
        { value: 'domain:a.example', refs: 3, capped: false },
        { value: 'domain:b.example', refs: 1, capped: false },
      ]);
    });

    test('findObservableRefs honours the limit', async () => {
      const { store } = context();
      await store.addObservableRefs(
        [IND_A, IND_B, IND_C].map((id) => ref('domain:a.example', id)),
        100,
      );
      const page = await store.findObservableRefs('domain:a.example', 2);
      assert.deepEqual(
        page.map((item) => item.objectId),
        [IND_A, IND_B],
      );
    });

    test('removeObjectRefs removes one collection only', async () => {
      const { store } = context();
      await store.addObservableRefs(
        [
          ref('domain:a.example', IND_A, COL_1),
          ref('domain:a.example', IND_A, COL_2),
          ref('domain:b.example', IND_A, COL_1),
        ],
        100,
      );
      assert.equal(await store.removeObjectRefs(COL_1, IND_A), 2);
      assert.deepEqual(await store.objectRefs([IND_A]), [ref('domain:a.example', IND_A, COL_2)]);
      assert.deepEqual(await store.observableStats(['domain:a.example', 'domain:b.example']), [
        { value: 'domain:a.example', refs: 1, capped: false },
        { value: 'domain:b.example', refs: 0, capped: false },
      ]);
      assert.equal(await store.removeObjectRefs(COL_1, IND_A), 0);
    });

    test('values with quotes and non-ASCII text round-trip', async () => {
      const { store } = context();
      const odd = ref("url:http://xn--e1afmkfd.example/'a\"b'?q=✓", IND_A);
      await store.addObservableRefs([odd], 10);
      assert.deepEqual(await store.findObservableRefs(odd.value, 10), [odd]);
    });

    test('rejects a cap below 1', async () => {
      const { store } = context();
      await assert.rejects(store.addObservableRefs([ref('ipv4:1.2.3.4', IND_A)], 0), RangeError);
    });
  });

  describe('feedback', () => {
    const ORG_1 = '00000000-0000-4000-8000-0000000000e1';
    const ORG_2 = '00000000-0000-4000-8000-0000000000e2';
    const RING_A = '00000000-0000-4000-8000-0000000000a1';
    const RING_B = '00000000-0000-4000-8000-0000000000b1';
    const base = { objectId: IND_A, scope: RING_A, organisationId: ORG_1 };

    test('reports add up and remember the last sighting', async () => {
      const { store } = context();
      assert.deepEqual(await store.addFeedback({ ...base, sightings: 2, at: 100 }), {
        ...base,
        sightings: 2,
        falsePositive: false,
        lastSightingAt: 100,
      });
      await store.addFeedback({ ...base, falsePositive: true, at: 300 });
      await store.addFeedback({ ...base, falsePositive: false, at: 400 });
      const latest = await store.addFeedback({ ...base, sightings: 1, at: 200 });
      assert.deepEqual(latest, {
        ...base,
        sightings: 3,
        falsePositive: true,
        lastSightingAt: 200,
      });
    });

    test('reports are kept per scope and organisation', async () => {
      const { store } = context();
      await store.addFeedback({ ...base, sightings: 5, at: 10 });
      await store.addFeedback({ ...base, organisationId: ORG_2, sightings: 1, at: 20 });
      await store.addFeedback({ ...base, scope: RING_B, falsePositive: true, at: 30 });
      const inA = await store.getFeedback([IND_A, IND_B], [RING_A]);
      assert.deepEqual(
        inA.map((report) => [report.organisationId, report.sightings]),
        [
          [ORG_1, 5],
          [ORG_2, 1],
        ],
      );
      const inB = await store.getFeedback([IND_A], [RING_B]);
      assert.equal(inB.length, 1);
      assert.equal(inB[0]!.falsePositive, true);
      assert.equal(inB[0]!.sightings, 0);
      assert.deepEqual(await store.getFeedback([IND_A], []), []);
      assert.deepEqual(await store.getFeedback([IND_A], ['collection:' + COL_1]), []);
    });

    test('sightings stop at the largest safe integer', async () => {
      const { store } = context();
      await store.addFeedback({ ...base, sightings: Number.MAX_SAFE_INTEGER - 1, at: 1 });
      const capped = await store.addFeedback({ ...base, sightings: 1_000_000, at: 2 });
      assert.equal(capped.sightings, Number.MAX_SAFE_INTEGER);
    });

    test('false positives alone leave no sighting time', async () => {
      const { store } = context();
      const counted = await store.addFeedback({
        ...base,
        objectId: IND_B,
        falsePositive: true,
        at: 50,
      });
      assert.equal(counted.lastSightingAt, undefined);
      assert.deepEqual(await store.getFeedback([IND_B, IND_C], [RING_A]), [
        { ...base, objectId: IND_B, sightings: 0, falsePositive: true },
      ]);
    });

    test('rejects negative changes', async () => {
      const { store } = context();
      await assert.rejects(store.addFeedback({ ...base, sightings: -1, at: 1 }), RangeError);
      assert.deepEqual(await store.getFeedback([IND_A], [RING_A]), []);
    });
  });
}
