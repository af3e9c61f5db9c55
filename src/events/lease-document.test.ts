/**
 * The lease document of background passes, on a real SQLite file and on real PostgreSQL.
 * Cases: creation on first claim, one holder at a time, release with a new body, and a
 * release after the lease ran out and another node claimed the document.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { nodePairBackends } from '../store/node-pairs.test-helper.ts';
import { createTestDatabase } from '../store/postgres/database.test-helper.ts';
import type { Store } from '../store/store.ts';
import { claimLease, releaseLease, type LeaseDocument } from './lease-document.ts';

const directory = mkdtempSync(join(tmpdir(), 'cairn-lease-'));
const database = await createTestDatabase();
const stores: Store[] = [];

after(async () => {
  await Promise.all(stores.map((store) => store.close()));
  rmSync(directory, { recursive: true, force: true });
  if (typeof database !== 'string') await database.drop();
});

function leaseOf(leaseMs = 60_000): LeaseDocument {
  return { kind: `test-lease-${randomUUID()}`, id: 'lease', initialBody: '{"n":0}', leaseMs };
}

const backends = nodePairBackends(directory, database, stores);

for (const { name, open: openPair, skip } of backends) {
  describe(`lease document on ${name}`, { skip }, () => {
    test('first claim creates the document', async () => {
      const [store] = await openPair();
      const lease = leaseOf();
      const claimed = await claimLease(store!, lease);
      assert.ok(claimed, 'the first pass holds the lease');
      assert.equal(claimed.body, '{"n":0}');
      assert.ok(claimed.due! > Date.now() * 1000, 'due at the end of the lease');
    });

    test('one holder among two nodes', async () => {
      const [first, second] = await openPair();
      const lease = leaseOf();
      const claims = await Promise.all([claimLease(first!, lease), claimLease(second!, lease)]);
      const holders = claims.filter((claimed) => claimed !== undefined);
      assert.equal(holders.length, 1, 'exactly one node holds the lease');
      assert.equal(await claimLease(first!, lease), undefined, 'held until released');
      assert.equal(await claimLease(second!, lease, true), undefined, 'held for every node');
      const documents = await first!.listDocuments({ kind: lease.kind, limit: 10 });
      assert.equal(documents.length, 1, 'one document for both nodes');
    });

    test('release passes the body on', async () => {
      const [first, second] = await openPair();
      const lease = leaseOf();
      const claimed = await claimLease(first!, lease);
      assert.ok(claimed);
      assert.equal(await releaseLease(first!, lease, claimed, '{"n":1}'), true);
      const next = await claimLease(second!, lease, true);
      assert.ok(next, 'the other node claims it after the release');
      assert.equal(next.body, '{"n":1}');
    });

    test('late release writes nothing', async () => {
      const [first, second] = await openPair();
      const lease = leaseOf(1);
      const stale = await claimLease(first!, lease);
      assert.ok(stale);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const current = await claimLease(second!, lease);
      assert.ok(current, 'the lease ran out, so another node claims it');
      assert.equal(await releaseLease(first!, lease, stale, '{"n":"stale"}'), false);
      const stored = await second!.getDocument(lease.kind, lease.id);
      assert.equal(stored?.body, '{"n":0}', 'the late release left the body alone');
      assert.equal(stored?.revision, current.revision, 'and the revision');
      assert.equal(await releaseLease(second!, lease, current, '{"n":2}'), true);
    });
  });
}
