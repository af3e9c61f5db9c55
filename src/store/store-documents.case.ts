/**
 * Shared Store cases for documents: revisions, keys, listing and claims. runStoreSuite calls
 * runDocumentCases inside its own describe, so every store runs them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { StoreConflictError, type DocumentRecord, type NewDocument, type Store } from './store.ts';

const KIND = 'test-job';

function doc(id: string, extra: Partial<NewDocument> = {}): NewDocument {
  return { kind: KIND, id, body: JSON.stringify({ id }), ...extra };
}

function ids(documents: DocumentRecord[]): string[] {
  return documents.map((document) => document.id);
}

/** Adds the cases; `context` returns the suite's current store. */
export function runDocumentCases(context: () => { store: Store }): void {
  describe('documents', () => {
    describe('putDocument', () => {
      test('create and read back', async () => {
        const { store } = context();
        const before = Date.now() * 1000;
        const stored = await store.putDocument(
          doc('a', { owner: 'org-1', key: 'k-a', due: 5, body: '{"text":"é ✓ 𝄞"}' }),
        );
        assert.equal(stored.revision, 1);
        assert.ok(stored.updatedAt >= before - 1000, 'updatedAt is the time of the write');
        assert.deepEqual(await store.getDocument(KIND, 'a'), stored);
        assert.deepEqual(stored, {
          kind: KIND,
          id: 'a',
          owner: 'org-1',
          key: 'k-a',
          due: 5,
          body: '{"text":"é ✓ 𝄞"}',
          revision: 1,
          updatedAt: stored.updatedAt,
        });
      });

      test('absent optional fields stay absent', async () => {
        const { store } = context();
        const stored = await store.putDocument(doc('a'));
        assert.deepEqual(Object.keys(stored).sort(), [
          'body',
          'id',
          'kind',
          'revision',
          'updatedAt',
        ]);
        assert.equal(await store.getDocument(KIND, 'missing'), undefined);
      });

      test('replace increases the revision and drops omitted fields', async () => {
        const { store } = context();
        await store.putDocument(doc('a', { owner: 'o', key: 'k', due: 1 }));
        const second = await store.putDocument(doc('a', { body: '{"v":2}' }));
        assert.equal(second.revision, 2);
        assert.equal(second.body, '{"v":2}');
        assert.equal(second.owner, undefined);
        assert.equal(second.key, undefined);
        assert.equal(second.due, undefined);
        assert.equal(await store.getDocumentByKey(KIND, 'k'), undefined);
      });

      test('expectRevision 0 creates only when absent', async () => {
        const { store } = context();
        const created = await store.putDocument(doc('a', { body: '{"v":1}' }), 0);
        assert.equal(created.revision, 1);
        await assert.rejects(
          store.putDocument(doc('a', { body: '{"v":2}' }), 0),
          (error: unknown) =>
            error instanceof StoreConflictError &&
            /revision 1, not the expected 0/.test(error.message),
        );
        assert.equal((await store.getDocument(KIND, 'a'))?.body, '{"v":1}');
      });

      test('expectRevision applies only on that revision', async () => {
        const { store } = context();
        await store.putDocument(doc('a'));
        const second = await store.putDocument(doc('a', { body: '{"v":2}' }), 1);
        assert.equal(second.revision, 2);
        await assert.rejects(
          store.putDocument(doc('a', { body: '{"v":3}' }), 1),
          StoreConflictError,
        );
        await assert.rejects(store.putDocument(doc('b'), 4), StoreConflictError);
        assert.equal(await store.getDocument(KIND, 'b'), undefined);
        const stored = await store.getDocument(KIND, 'a');
        assert.equal(stored?.revision, 2);
        assert.equal(stored?.body, '{"v":2}');
      });

      test('two writers from the same revision: exactly one applies', async () => {
        const { store } = context();
        await store.putDocument(doc('a', { body: '{"n":0}' }));
        const results = await Promise.allSettled(
          [1, 2, 3, 4].map((n) => store.putDocument(doc('a', { body: `{"n":${n}}` }), 1)),
        );
        const applied = results.filter((result) => result.status === 'fulfilled');
        assert.equal(applied.length, 1);
        for (const result of results) {
          if (result.status === 'rejected') assert.ok(result.reason instanceof StoreConflictError);
        }
        const stored = await store.getDocument(KIND, 'a');
        assert.equal(stored?.revision, 2);
        assert.equal(
          stored?.body,
          (applied[0] as PromiseFulfilledResult<DocumentRecord>).value.body,
        );
      });

      test('invalid documents are rejected and nothing is stored', async () => {
        const { store } = context();
        await assert.rejects(
          store.putDocument(doc('a', { body: '{not json' })),
          /invalid body of document test-job\/a/,
        );
        await assert.rejects(
          store.putDocument(doc('a', { body: '"\ud800"' })),
          /lone UTF-16 surrogate/,
        );
        await assert.rejects(store.putDocument(doc('')), /invalid document id ""/);
        await assert.rejects(store.putDocument({ ...doc('a'), kind: '' }), /invalid document kind/);
        await assert.rejects(store.putDocument(doc('a'), -1), /invalid expected revision -1/);
        await assert.rejects(store.putDocument(doc('a', { due: 1.5 })), /invalid due time 1.5/);
        assert.equal(await store.getDocument(KIND, 'a'), undefined);
      });

      test('the same id in two kinds is two documents', async () => {
        const { store } = context();
        await store.putDocument(doc('a', { body: '{"k":1}' }));
        await store.putDocument({ kind: 'other', id: 'a', body: '{"k":2}' });
        assert.equal((await store.getDocument(KIND, 'a'))?.body, '{"k":1}');
        assert.equal((await store.getDocument('other', 'a'))?.body, '{"k":2}');
        assert.equal(await store.deleteDocument('other', 'a'), true);
        assert.ok(await store.getDocument(KIND, 'a'));
      });
    });

    describe('putDocuments', () => {
      test('writes every document in order', async () => {
        const { store } = context();
        await store.putDocument(doc('a', { body: '{"v":1}' }));
        const stored = await store.putDocuments([
          { document: doc('a', { body: '{"v":2}' }), expectRevision: 1 },
          { document: doc('b', { key: 'k-b' }), expectRevision: 0 },
          { document: doc('c') },
        ]);
        assert.deepEqual(ids(stored), ['a', 'b', 'c']);
        assert.deepEqual(
          stored.map((document) => document.revision),
          [2, 1, 1],
        );
        assert.equal((await store.getDocument(KIND, 'a'))?.body, '{"v":2}');
        assert.equal((await store.getDocumentByKey(KIND, 'k-b'))?.id, 'b');
        assert.deepEqual(await store.putDocuments([]), []);
      });

      test('a revision conflict stores none of them', async () => {
        const { store } = context();
        await store.putDocument(doc('a', { body: '{"v":1}' }));
        await store.putDocument(doc('taken'));
        await assert.rejects(
          store.putDocuments([
            { document: doc('a', { body: '{"v":2}' }), expectRevision: 1 },
            { document: doc('b'), expectRevision: 0 },
            { document: doc('taken', { body: '{"v":3}' }), expectRevision: 0 },
          ]),
          (error: unknown) => error instanceof StoreConflictError && /taken/.test(error.message),
        );
        const a = await store.getDocument(KIND, 'a');
        assert.equal(a?.body, '{"v":1}', 'the first write was rolled back');
        assert.equal(a?.revision, 1);
        assert.equal(await store.getDocument(KIND, 'b'), undefined, 'the second as well');
        assert.equal((await store.getDocument(KIND, 'taken'))?.revision, 1);
      });

      test('a key conflict stores none of them', async () => {
        const { store } = context();
        await store.putDocument(doc('holder', { key: 'k-1' }));
        await assert.rejects(
          store.putDocuments([
            { document: doc('a') },
            { document: doc('b', { key: 'k-1' }), expectRevision: 0 },
          ]),
          (error: unknown) => error instanceof StoreConflictError && /k-1/.test(error.message),
        );
        assert.equal(await store.getDocument(KIND, 'a'), undefined);
        assert.equal(await store.getDocument(KIND, 'b'), undefined);
        assert.equal((await store.getDocumentByKey(KIND, 'k-1'))?.id, 'holder');
      });

      test('an invalid document stores none of them', async () => {
        const { store } = context();
        await assert.rejects(
          store.putDocuments([{ document: doc('a') }, { document: doc('b', { body: '{x' }) }]),
          /invalid body of document test-job\/b/,
        );
        await assert.rejects(
          store.putDocuments([{ document: doc('a') }, { document: doc('b'), expectRevision: -1 }]),
          /invalid expected revision -1/,
        );
        assert.equal(await store.getDocument(KIND, 'a'), undefined);
      });

      test('concurrent writers of one slot: one applies whole', async () => {
        const { store } = context();
        const results = await Promise.allSettled(
          [1, 2, 3, 4].map((n) =>
            store.putDocuments([
              { document: doc(`own-${n}`) },
              { document: doc('slot', { body: `{"n":${n}}` }), expectRevision: 0 },
            ]),
          ),
        );
        const applied = results.filter((result) => result.status === 'fulfilled');
        assert.equal(applied.length, 1, 'one writer takes the slot');
        const slot = await store.getDocument(KIND, 'slot');
        const winner = (JSON.parse(slot!.body) as { n: number }).n;
        const own = ids(await store.listDocuments({ kind: KIND, limit: 10 })).filter((id) =>
          id.startsWith('own-'),
        );
        assert.deepEqual(own, [`own-${winner}`], 'only the winner wrote its other document');
      });
    });

    describe('keys', () => {
      test('a key is unique within its kind', async () => {
        const { store } = context();
        await store.putDocument(doc('a', { key: 'dedup-1' }));
        await assert.rejects(
          store.putDocument(doc('b', { key: 'dedup-1' })),
          (error: unknown) => error instanceof StoreConflictError && /dedup-1/.test(error.message),
        );
        assert.equal(await store.getDocument(KIND, 'b'), undefined);
        await store.putDocument({ kind: 'other', id: 'b', key: 'dedup-1', body: '{}' });
        assert.equal((await store.getDocumentByKey(KIND, 'dedup-1'))?.id, 'a');
        assert.equal((await store.getDocumentByKey('other', 'dedup-1'))?.id, 'b');
      });

      test('rewriting a document with its own key is allowed', async () => {
        const { store } = context();
        await store.putDocument(doc('a', { key: 'k' }));
        const second = await store.putDocument(doc('a', { key: 'k', body: '{"v":2}' }), 1);
        assert.equal(second.key, 'k');
        assert.equal((await store.getDocumentByKey(KIND, 'k'))?.revision, 2);
      });

      test('a changed or deleted document frees its key', async () => {
        const { store } = context();
        await store.putDocument(doc('a', { key: 'k1' }));
        await store.putDocument(doc('a', { key: 'k2' }));
        await store.putDocument(doc('b', { key: 'k1' }));
        assert.equal((await store.getDocumentByKey(KIND, 'k1'))?.id, 'b');
        assert.equal(await store.deleteDocument(KIND, 'a'), true);
        await store.putDocument(doc('c', { key: 'k2' }));
        assert.equal((await store.getDocumentByKey(KIND, 'k2'))?.id, 'c');
        assert.equal(await store.getDocumentByKey(KIND, 'missing'), undefined);
      });

      test('two creators of one key: exactly one succeeds', async () => {
        const { store } = context();
        const results = await Promise.allSettled(
          ['a', 'b', 'c'].map((id) => store.putDocument(doc(id, { key: 'shared' }), 0)),
        );
        assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
        assert.equal((await store.listDocuments({ kind: KIND, limit: 10 })).length, 1);
      });
    });

    describe('listDocuments and deleteDocument', () => {
      test('sorted by id, filtered by owner, paged by afterId', async () => {
        const { store } = context();
        for (const id of ['d', 'b', 'e', 'a', 'c']) {
          await store.putDocument(doc(id, { owner: id < 'c' ? 'o1' : 'o2' }));
        }
        await store.putDocument({ kind: 'other', id: 'z', owner: 'o1', body: '{}' });

        assert.deepEqual(ids(await store.listDocuments({ kind: KIND, limit: 100 })), [
          'a',
          'b',
          'c',
          'd',
          'e',
        ]);
        assert.deepEqual(ids(await store.listDocuments({ kind: KIND, owner: 'o1', limit: 100 })), [
          'a',
          'b',
        ]);
        assert.deepEqual(
          ids(await store.listDocuments({ kind: KIND, owner: 'o2', afterId: 'c', limit: 100 })),
          ['d', 'e'],
        );
        assert.deepEqual(ids(await store.listDocuments({ kind: KIND, afterId: 'a', limit: 2 })), [
          'b',
          'c',
        ]);
        assert.deepEqual(await store.listDocuments({ kind: KIND, limit: 0 }), []);
        assert.deepEqual(await store.listDocuments({ kind: 'none', limit: 10 }), []);
        await assert.rejects(store.listDocuments({ kind: KIND, limit: -1 }), /invalid limit -1/);
      });

      test('delete reports whether there was a document', async () => {
        const { store } = context();
        await store.putDocument(doc('a'));
        assert.equal(await store.deleteDocument(KIND, 'a'), true);
        assert.equal(await store.deleteDocument(KIND, 'a'), false);
        assert.equal(await store.getDocument(KIND, 'a'), undefined);
        const again = await store.putDocument(doc('a'), 0);
        assert.equal(again.revision, 1, 'a deleted document starts over at revision 1');
      });
    });

    describe('claimDocuments', () => {
      test('claims due documents, oldest due first, and leases them', async () => {
        const { store } = context();
        await store.putDocument(doc('late', { due: 300 }));
        await store.putDocument(doc('early', { due: 100 }));
        await store.putDocument(doc('middle', { due: 200 }));
        await store.putDocument(doc('future', { due: 1_000 }));
        await store.putDocument(doc('idle'));
        await store.putDocument({ kind: 'other', id: 'x', due: 1, body: '{}' });

        const claimed = await store.claimDocuments(KIND, 300, 500, 2);
        assert.deepEqual(ids(claimed).sort(), ['early', 'middle']);
        for (const document of claimed) {
          assert.equal(document.due, 500);
          assert.equal(document.revision, 2, 'a claim is a write');
          assert.deepEqual(await store.getDocument(KIND, document.id), document);
        }
        assert.deepEqual(ids(await store.claimDocuments(KIND, 300, 500, 10)), ['late']);
        assert.deepEqual(await store.claimDocuments(KIND, 400, 500, 10), []);
        assert.equal((await store.getDocument(KIND, 'idle'))?.due, undefined);
        assert.equal((await store.getDocument('other', 'x'))?.due, 1);
      });

      test('a lease that runs out makes the document due again', async () => {
        const { store } = context();
        await store.putDocument(doc('a', { due: 10 }));
        const [first] = await store.claimDocuments(KIND, 10, 20, 5);
        assert.equal(first?.due, 20);
        assert.deepEqual(await store.claimDocuments(KIND, 19, 40, 5), []);
        const [second] = await store.claimDocuments(KIND, 20, 40, 5);
        assert.equal(second?.due, 40);
        assert.equal(second?.revision, 3);
      });

      test('a claimer that lost its lease cannot write back', async () => {
        const { store } = context();
        await store.putDocument(doc('a', { due: 10 }));
        const [stale] = await store.claimDocuments(KIND, 10, 20, 1);
        const [fresh] = await store.claimDocuments(KIND, 25, 40, 1);
        assert.ok(stale && fresh);
        await store.putDocument(doc('a', { body: '{"done":"fresh"}' }), fresh.revision);
        await assert.rejects(
          store.putDocument(doc('a', { body: '{"done":"stale"}' }), stale.revision),
          StoreConflictError,
        );
        assert.equal((await store.getDocument(KIND, 'a'))?.body, '{"done":"fresh"}');
      });

      test('two concurrent claimers never claim the same document', async () => {
        const { store } = context();
        const total = 60;
        for (let i = 0; i < total; i++) {
          await store.putDocument(doc(`job-${String(i).padStart(3, '0')}`, { due: i % 7 }));
        }
        const seen = new Map<string, number>();
        const claimer = async (name: number) => {
          for (;;) {
            const batch = await store.claimDocuments(KIND, 100, 1_000_000, 4);
            if (batch.length === 0) return;
            for (const document of batch) {
              assert.equal(seen.get(document.id), undefined, `${document.id} claimed twice`);
              seen.set(document.id, name);
            }
          }
        };
        await Promise.all([claimer(1), claimer(2)]);
        assert.equal(seen.size, total);
      });

      test('bad arguments are rejected', async () => {
        const { store } = context();
        await assert.rejects(
          store.claimDocuments(KIND, 10, 10, 1),
          /lease end 10: it must be after/,
        );
        await assert.rejects(store.claimDocuments(KIND, 10, 20, -1), /invalid limit -1/);
        await assert.rejects(store.claimDocuments(KIND, Number.NaN, 20, 1), /invalid claim time/);
        assert.deepEqual(await store.claimDocuments(KIND, 10, 20, 0), []);
      });
    });
  });
}
