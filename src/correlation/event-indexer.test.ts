import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createLogger } from '../log/logger.ts';
import { SqliteStore } from '../store/sqlite/index.ts';
import { objectVersion, stixId, stixTime } from '../store/store.case.ts';
import type { EntrySharing, PreparedObject } from '../store/store.ts';
import { EventIndexer } from './event-indexer.ts';

const SHARING: EntrySharing = {
  contributorOrganisationId: 'org-a',
  tlp: ['green'],
  audience: 'members',
  recipients: [],
  granularMarkings: false,
};

async function openStore() {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  await store.createApiRoot({ name: 'api1', title: 'API root 1', maxContentLength: 1000 });
  const collection = await store.createCollection({ apiRoot: 'api1', title: 'Main' });
  const indexer = new EventIndexer(store, createLogger('silent'));
  return { store, collectionId: collection.id, indexer };
}

function version(id: string, extra: Record<string, unknown>): PreparedObject {
  return { ...objectVersion(id, stixTime(1), { extra }), sharing: SHARING };
}

const INDICATOR = stixId('indicator', 1);
const DOMAIN = stixId('domain-name', 2);
const FILE = stixId('file', 3);
const REPORT = stixId('report', 4);
const NOTE = stixId('note', 5);

/** Versions of several types; the report and the note name no observable the index reads. */
const VERSIONS = [
  version(INDICATOR, { pattern: "[ipv4-addr:value = '203.0.113.9']", pattern_type: 'stix' }),
  version(DOMAIN, { value: 'Evil.Example' }),
  version(FILE, { hashes: { MD5: 'D41D8CD98F00B204E9800998ECF8427E' } }),
  version(REPORT, { name: 'evil.example report', object_refs: [DOMAIN] }),
  version(NOTE, { content: '198.51.100.1' }),
];

describe('correlation event indexer', () => {
  test('indexes the values of each type', async () => {
    const { store, collectionId, indexer } = await openStore();
    await store.addObjects(collectionId, VERSIONS);
    assert.equal(await indexer.pass(), VERSIONS.length);

    const refs = await store.objectRefs([INDICATOR, DOMAIN, FILE, REPORT, NOTE]);
    assert.deepEqual(
      refs.map((ref) => `${ref.objectId} ${ref.value} ${ref.source}`),
      [
        `${DOMAIN} domain:evil.example org:org-a`,
        `${FILE} md5:d41d8cd98f00b204e9800998ecf8427e org:org-a`,
        `${INDICATOR} ipv4:203.0.113.9 org:org-a`,
      ],
    );
    assert.equal(await indexer.pass(), 0, 'the cursor moved past the page');
    await store.close();
  });

  test('deleted object leaves the index', async () => {
    const { store, collectionId, indexer } = await openStore();
    await store.addObjects(collectionId, VERSIONS);
    await indexer.pass();
    await store.deleteObject(collectionId, DOMAIN);
    assert.equal(await indexer.pass(), 1);
    assert.deepEqual(await store.objectRefs([DOMAIN]), []);
    assert.equal((await store.objectRefs([INDICATOR])).length, 1);
    await store.close();
  });

  test('larger pages while behind', async () => {
    const { store, collectionId } = await openStore();
    const indexer = new EventIndexer(store, createLogger('silent'), {
      pageSize: 2,
      catchUpPageSize: 3,
    });
    const many = Array.from({ length: 7 }, (_, i) =>
      version(stixId('domain-name', 10 + i), { value: `host${i}.example` }),
    );
    await store.addObjects(collectionId, many);
    const pages = [];
    for (let pass = 0; pass < 5; pass++) pages.push(await indexer.pass());
    assert.deepEqual(pages, [2, 3, 2, 0, 0]);
    assert.equal((await store.objectRefs(many.map((object) => object.id))).length, 7);
    await store.close();
  });

  test('connector refs not counted again', async () => {
    const { store, collectionId, indexer } = await openStore();
    await store.addObjects(collectionId, VERSIONS.slice(0, 1));
    await store.addObservableRefs(
      [{ value: 'ipv4:203.0.113.9', objectId: INDICATOR, collectionId, source: 'connector:c1' }],
      1000,
    );
    await indexer.pass();
    const refs = await store.objectRefs([INDICATOR]);
    assert.deepEqual(
      refs.map((ref) => ref.source),
      ['connector:c1'],
    );
    await store.close();
  });
});
