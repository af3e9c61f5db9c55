/**
 * Events that SQLite writes hand to listeners of this process once committed: they must be
 * exactly what readEvents returns, and never events of a write that rolled back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { community, organisation } from '../store-sharing.case.ts';
import { objectVersion, stixId, stixTime } from '../store.case.ts';
import type { CommittedEvents, EntrySharing, PreparedObject } from '../store.ts';
import { SqliteStore } from './index.ts';

const directory = mkdtempSync(join(tmpdir(), 'cairn-event-log-test-'));
let fileCount = 0;

after(() => {
  rmSync(directory, { recursive: true, force: true });
});

const SHARED: EntrySharing = {
  contributorId: 'user-1',
  contributorOrganisationId: 'org-a',
  tlp: ['amber'],
  audience: 'recipients',
  recipients: ['user-2', 'user-3'],
  recipientsWithin: 'members',
  granularMarkings: false,
};

/** Opens a migrated store on a new file, with a collection owned by a community. */
async function openStore(path = join(directory, `events-${++fileCount}.db`)) {
  const store = new SqliteStore(path);
  await store.migrate();
  await store.createApiRoot({ name: 'api1', title: 'API root 1', maxContentLength: 1000 });
  await store.createOrganisation(organisation('org-a', 'Org A'));
  await store.createCommunity(community('community-a', 'A'), 'org-a', undefined);
  const collection = await store.createCollection({
    apiRoot: 'api1',
    title: 'Owned',
    communityId: 'community-a',
  });
  const committed: CommittedEvents[] = [];
  const unlisten = store.listenCommittedEvents((batch) => committed.push(batch));
  return { store, path, collectionId: collection.id, committed, unlisten };
}

function shared(object: PreparedObject): PreparedObject {
  return { ...object, sharing: SHARED };
}

describe('committed events on SQLite', () => {
  test('equal what the log returns', async () => {
    const { store, collectionId, committed } = await openStore();
    const first = stixId('indicator', 1);
    await store.addObjects(collectionId, [
      shared(objectVersion(first, stixTime(1))),
      objectVersion(stixId('malware', 2), stixTime(1), { extra: { revoked: true } }),
    ]);
    await store.addObjects(collectionId, [objectVersion(first, stixTime(2))]);
    // A duplicate appends nothing, so it reports nothing.
    await store.addObjects(collectionId, [objectVersion(first, stixTime(2))]);
    await store.deleteObject(collectionId, first);

    const log = await store.readEvents({ afterSeq: 0, limit: 100 });
    assert.deepEqual(
      log.map((event) => event.kind),
      ['created', 'revoked', 'updated', 'deleted', 'deleted'],
    );
    assert.equal(committed.length, 3);
    assert.deepEqual(
      committed.flatMap((batch) => batch.events),
      log,
    );
    assert.equal(log[0]!.communityId, 'community-a');
    assert.deepEqual(log[0]!.sharing, SHARED);
    await store.close();
  });

  test('each batch starts where the last ended', async () => {
    const { store, collectionId, committed } = await openStore();
    for (let round = 0; round < 3; round++) {
      const objects = Array.from({ length: 4 }, (_, i) =>
        objectVersion(stixId('indicator', round * 10 + i), stixTime(1)),
      );
      await store.addObjects(collectionId, objects);
    }
    assert.deepEqual(
      committed.map((batch) => batch.afterSeq),
      [0, 4, 8],
    );
    for (const batch of committed) {
      const seqs = batch.events.map((event) => event.seq);
      assert.deepEqual(
        seqs,
        [1, 2, 3, 4].map((n) => batch.afterSeq + n),
      );
    }
    await store.close();
  });

  test('rolled back write reports nothing', async () => {
    const { store, collectionId, committed } = await openStore();
    await store.addObjects(collectionId, [objectVersion(stixId('indicator', 1), stixTime(1))]);
    // The trigger fails the transaction after the events of its first objects were appended.
    const failing = stixId('indicator', 99);
    store.database.exec(
      `CREATE TEMP TRIGGER fail_event AFTER INSERT ON events WHEN NEW.object_id = '${failing}'` +
        " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    );
    await assert.rejects(
      store.addObjects(collectionId, [
        objectVersion(stixId('indicator', 2), stixTime(1)),
        objectVersion(failing, stixTime(1)),
      ]),
      /refused by the test/,
    );
    await store.addObjects(collectionId, [objectVersion(stixId('indicator', 3), stixTime(1))]);

    assert.equal(committed.length, 2);
    assert.equal(committed[1]!.afterSeq, committed[0]!.events.at(-1)!.seq);
    assert.deepEqual(
      committed.flatMap((batch) => batch.events),
      await store.readEvents({ afterSeq: 0, limit: 100 }),
    );
    await store.close();
  });

  test('write in an outer transaction reports nothing', async () => {
    const { store, collectionId, committed } = await openStore();
    store.database.exec('BEGIN');
    await store.addObjects(collectionId, [objectVersion(stixId('indicator', 1), stixTime(1))]);
    store.database.exec('ROLLBACK');

    assert.deepEqual(committed, []);
    assert.deepEqual(await store.readEvents({ afterSeq: 0, limit: 100 }), []);
    await store.close();
  });

  test('failing listener keeps the write', async () => {
    const { store, collectionId, committed } = await openStore();
    store.listenCommittedEvents(() => {
      throw new Error('listener failed');
    });
    const [result] = await store.addObjects(collectionId, [
      objectVersion(stixId('indicator', 1), stixTime(1)),
    ]);
    assert.equal(result!.outcome, 'added');
    assert.equal(committed.length, 1, 'the other listener still gets the events');
    await store.close();
  });

  test('stopped listener gets nothing', async () => {
    const { store, collectionId, committed, unlisten } = await openStore();
    unlisten();
    await store.addObjects(collectionId, [objectVersion(stixId('indicator', 1), stixTime(1))]);
    assert.deepEqual(committed, []);
    await store.close();
  });

  test('converted objects reported too', async () => {
    const { store, collectionId, committed } = await openStore();
    const object = shared(objectVersion(stixId('indicator', 5), stixTime(1)));
    await store.addConverted(collectionId, [object]);
    assert.equal(committed.length, 1);
    assert.equal(committed[0]!.events[0]!.json, object.json);
    await store.close();
  });

  test('writes of another connection not reported', async () => {
    const { store, path, collectionId, committed } = await openStore();
    const other = new SqliteStore(path);
    await other.addObjects(collectionId, [objectVersion(stixId('indicator', 1), stixTime(1))]);
    await store.addObjects(collectionId, [objectVersion(stixId('indicator', 2), stixTime(1))]);

    assert.equal(committed.length, 1);
    assert.equal(committed[0]!.afterSeq, 1, 'the batch starts after the other write');
    assert.equal(committed[0]!.events[0]!.seq, 2);
    await other.close();
    await store.close();
  });
});
