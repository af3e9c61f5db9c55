import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';

import { CairnError } from '../../errors.ts';
import { nowMicros } from '../../stix/timestamp.ts';
import { openStore } from '../../store/index.ts';
import {
  createTestDatabase,
  type TestDatabase,
} from '../../store/postgres/database.test-helper.ts';
import { objectVersion, stixId, stixTime } from '../../store/store.case.ts';
import type { AccessFilter, EntrySharing, Store } from '../../store/store.ts';
import { copyStore } from './migrate.ts';

const created = await createTestDatabase();
const skip = typeof created === 'string' ? created : false;
const database = created as TestDatabase;
const directory = mkdtempSync(join(tmpdir(), 'cairn-migrate-'));
const main = fileURLToPath(new URL('../main.ts', import.meta.url));

after(async () => {
  rmSync(directory, { recursive: true, force: true });
  if (typeof created !== 'string') await created.drop();
});

/** Runs the CLI with a 2-minute limit and returns its exit code and standard error. */
function cairn(...args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 120_000,
      env: { ...process.env, CAIRN_CONFIG: '', CAIRN_STORE: '' },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

const RED: EntrySharing = {
  contributorId: 'u-1',
  contributorOrganisationId: 'o-1',
  tlp: ['red'],
  audience: 'recipients',
  recipients: ['u-2'],
  recipientsWithin: 'members',
  granularMarkings: true,
};

/** Fills a SQLite store with something in every table; returns the collection ids. */
async function fill(store: Store): Promise<string[]> {
  await store.createApiRoot({ name: 'default', title: 'Default', maxContentLength: 1 << 20 });
  await store.createApiRoot({
    name: 'intel',
    title: 'Intel',
    description: 'd',
    maxContentLength: 9,
  });
  for (const [id, name] of [
    ['o-1', 'First'],
    ['o-2', 'second'],
  ]) {
    await store.createOrganisation({
      id: id!,
      name: name!,
      identity: `{"n":"${name}"}`,
      createdAt: 1,
    });
  }
  await store.addClient('o-1', 'o-2');
  for (const [id, organisationId, role] of [
    ['u-1', 'o-1', 'platform-admin'],
    ['u-2', 'o-2', 'analyst'],
  ] as const) {
    await store.createUser({ id, name: id, organisationId, role, createdAt: 2, disabled: false });
  }
  await store.updateUser('u-2', { disabled: true });
  await store.createToken({
    id: 't-1',
    userId: 'u-1',
    label: 'reader',
    secretHash: 'a'.repeat(64),
    scopes: ['read', 'write'],
    createdAt: 3,
    expiresAt: 9,
  });
  await store.revokeToken('t-1', 7);
  await store.createCommunity(
    {
      id: 'c-1',
      name: 'Ring',
      description: 'ring',
      defaultTlp: 'amber',
      allowAnonymous: true,
      publishClear: false,
      identity: '{}',
      createdAt: 4,
    },
    'o-1',
    'u-1',
  );
  await store.createInvitation({
    id: 'i-1',
    kind: 'invitation',
    communityId: 'c-1',
    organisationId: 'o-2',
    state: 'pending',
    createdBy: 'u-1',
    createdAt: 5,
  });
  await store.answerInvitation('i-1', 'accepted', 'u-2', 6);

  const main = await store.createCollection({ apiRoot: 'default', title: 'Main', alias: 'main' });
  const owned = await store.createCollection({
    apiRoot: 'default',
    title: 'Ring feed',
    communityId: 'c-1',
    mediaTypes: ['application/stix+json;version=2.1', 'application/stix+json;version=2.0'],
  });
  const other = await store.createCollection({ apiRoot: 'intel', title: 'Other' });
  const id = stixId('indicator', 1);
  await store.addObjects(main.id, [objectVersion(id, stixTime(3)), objectVersion(id, stixTime(1))]);
  await store.addObjects(main.id, [
    { ...objectVersion(stixId('malware', 2), stixTime(1)), sharing: RED },
    objectVersion(stixId('tool', 3), stixTime(1), { specVersion: '2.0' }),
    objectVersion(id, stixTime(2), { extra: { revoked: true } }),
  ]);
  await store.deleteObject(main.id, id, { first: false, last: false, exact: [] });
  await store.deleteObject(main.id, stixId('tool', 3));
  for (let n = 0; n < 2_500; n++) {
    if (n % 500 === 0) {
      const batch = Array.from({ length: 500 }, (_, i) =>
        objectVersion(stixId('report', n + i), stixTime(n + i), { extra: { n: n + i } }),
      );
      await store.addObjects(owned.id, batch);
      await store.addObjects(other.id, batch.slice(0, 50));
    }
  }
  await store.saveStatus({
    id: 's-1',
    apiRoot: 'default',
    ownerId: 'u-1',
    status: 'complete',
    requestTimestamp: 1,
    totalCount: 1,
    successCount: 1,
    failureCount: 0,
    pendingCount: 0,
    successes: [{ id, version: stixTime(1) }],
    failures: [],
    pendings: [],
    expiresAt: nowMicros() + 1_000_000_000,
  });
  await store.appendAudit({
    at: 10,
    action: 'share',
    actorId: 'u-1',
    details: { n: 1 },
    anonymous: true,
  });
  await store.appendAudit({ at: 11, action: 'login', details: {}, anonymous: false });
  await store.setSettingIfAbsent('taxii.cursor_signing_key', 'c2VjcmV0');
  await store.putDocument({
    kind: 'webhook',
    id: 'w-1',
    owner: 'o-1',
    key: 'k',
    due: 5,
    body: '{"a":1}',
  });
  await store.putDocument({ kind: 'webhook', id: 'w-1', owner: 'o-1', key: 'k', body: '{"a":2}' });
  await store.addObservableRefs(
    [
      { value: 'ipv4:198.51.100.7', objectId: id, collectionId: main.id, source: 'operator' },
      {
        value: 'ipv4:198.51.100.7',
        objectId: stixId('malware', 2),
        collectionId: main.id,
        source: 'org:o-1',
      },
      { value: 'domain:x.example', objectId: id, collectionId: main.id, source: 'operator' },
    ],
    1,
  );
  await store.addFeedback({
    objectId: id,
    scope: 'c-1',
    organisationId: 'o-1',
    sightings: 2,
    falsePositive: true,
    at: 77,
  });
  return [main.id, owned.id, other.id];
}

const READERS: (AccessFilter | undefined)[] = [
  undefined,
  { widest: 'everyone', userId: 'u-2' },
  { widest: 'members', userId: 'u-9' },
  { widest: 'none', userId: 'u-1' },
];

/** Reads everything through the Store interface, as comparable values. */
async function snapshot(store: Store, collections: string[]): Promise<Record<string, unknown>> {
  const view: Record<string, unknown> = {
    roots: await store.listApiRoots(),
    collections: [
      ...(await store.listCollections('default')),
      ...(await store.listCollections('intel')),
    ],
    organisations: await store.listOrganisations(),
    clients: await store.listClients('o-1'),
    users: await store.listUsers(),
    tokens: await store.listTokens(),
    communities: await store.listCommunities(),
    members: await store.listMembers('c-1'),
    moderators: await store.listModerators('c-1'),
    invitations: await store.listInvitations({}),
    audit: await store.queryAudit({ limit: 100 }),
    status: await store.getStatus('default', 's-1'),
    setting: await store.getSetting('taxii.cursor_signing_key'),
    documents: await store.listDocuments({ kind: 'webhook', limit: 10 }),
    byKey: await store.getDocumentByKey('webhook', 'k'),
    events: await store.readEvents({ afterSeq: 0, limit: 100_000 }),
    bounds: await store.eventBounds(),
    refs: await store.findObservableRefs('ipv4:198.51.100.7', 10),
    stats: await store.observableStats(['ipv4:198.51.100.7', 'domain:x.example']),
    feedback: await store.getFeedback([stixId('indicator', 1)], ['c-1']),
  };
  for (const collectionId of collections) {
    view[`count ${collectionId}`] = await store.countCollection(collectionId);
    view[`all ${collectionId}`] = await store.queryObjects({
      collectionId,
      limit: 10_000,
      versions: { all: true },
    });
    for (const [i, access] of READERS.entries()) {
      view[`first ${collectionId} ${i}`] = await store.queryManifest({
        collectionId,
        limit: 10_000,
        versions: { first: true, last: false, exact: [] },
        ...(access ? { access } : {}),
      });
    }
  }
  return view;
}

describe('cairn migrate', { skip }, () => {
  const sqliteFile = join(directory, 'source.db');
  let collections: string[];
  let expected: Record<string, unknown>;

  before(async () => {
    if (skip) return;
    const source = await openStore(`sqlite:${sqliteFile}`);
    collections = await fill(source);
    expected = await snapshot(source, collections);
    await source.close();
  });

  test('copies every table', { timeout: 180_000 }, async () => {
    const target = await database.freshSchema();
    const result = await cairn('--store', target, 'migrate', '--from', `sqlite:${sqliteFile}`);

    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /copied \d+ rows from sqlite:.*source\.db/);
    assert.match(result.stderr, /copying: \d+ of \d+ rows/);
    const store = await openStore(target);
    const copied = await snapshot(store, collections);
    for (const key of Object.keys(expected)) assert.deepEqual(copied[key], expected[key], key);

    // New rows continue after the copied keys and times.
    const [main] = collections;
    const lastAdded = (await store.queryManifest({ collectionId: main!, limit: 1 })).items;
    const [added] = await store.addObjects(main!, [objectVersion(stixId('note', 9), stixTime(9))]);
    assert.ok(added!.dateAdded > (lastAdded[0]?.dateAdded ?? 0));
    const audit = await store.appendAudit({ at: 12, action: 'x', details: {}, anonymous: false });
    assert.ok(audit.seq > Math.max(...(expected.audit as { seq: number }[]).map((e) => e.seq)));
    const bounds = await store.eventBounds();
    assert.ok(bounds.last > (expected.bounds as { last: number }).last);
    const fresh = await store.createCollection({ apiRoot: 'intel', title: 'New' });
    assert.equal((await store.getCollectionById(fresh.id))?.title, 'New');
    assert.equal(
      await store.addObservableRefs(
        [{ value: 'url:http://new.example/', objectId: 'x', collectionId: fresh.id, source: 's' }],
        5,
      ),
      1,
    );
    await store.close();
  });

  test('non-empty target needs --force', { timeout: 180_000 }, async () => {
    const target = await database.freshSchema();
    const store = await openStore(target);
    await store.createApiRoot({ name: 'keep', title: 'Keep', maxContentLength: 1 });
    await store.close();

    const rejected = await cairn('--store', target, 'migrate', '--from', sqliteFile, '--quiet');
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /is not empty \(rows in api_roots\).*--force/);
    const untouched = await openStore(target);
    assert.deepEqual(
      (await untouched.listApiRoots()).map((root) => root.name),
      ['keep'],
    );
    await untouched.close();

    const forced = await cairn('--store', target, 'migrate', '--from', sqliteFile, '--force', '-q');
    assert.equal(forced.code, 0, forced.stderr);
    assert.doesNotMatch(forced.stderr, /copying:/);
    const replaced = await openStore(target);
    assert.deepEqual(
      (await replaced.listApiRoots()).map((root) => root.name),
      ['default', 'intel'],
    );
    await replaced.close();
  });

  test('bad sources rejected', { timeout: 60_000 }, async () => {
    const target = await database.freshSchema();
    const behind = join(directory, 'behind.db');
    copyFileSync(sqliteFile, behind);
    const raw = new Database(behind);
    raw.pragma('user_version = 1');
    raw.close();
    const extra = join(directory, 'extra.db');
    copyFileSync(sqliteFile, extra);
    const withTable = new Database(extra);
    withTable.exec('CREATE TABLE watch_lists (id TEXT)');
    withTable.close();

    const cases: [string, string, RegExp][] = [
      [behind, target, /schema version 1 .*cairn --store sqlite:.*behind\.db migrate/],
      [extra, target, /tables this copy does not expect \(unknown: watch_lists; missing: none\)/],
      [join(directory, 'absent.db'), target, /cannot open the SQLite store/],
      [target, target, /--from takes a SQLite store/],
      [sqliteFile, sqliteFile, /is not PostgreSQL: set --store or CAIRN_STORE/],
    ];
    for (const [from, to, message] of cases) {
      await assert.rejects(
        copyStore(from, to, { quiet: true }),
        (error: unknown) => error instanceof CairnError && message.test(error.message),
        from,
      );
    }
    const store = await openStore(target);
    assert.deepEqual(await store.listApiRoots(), [], 'a rejected copy wrote nothing');
    await store.close();
  });

  test('without --from applies migrations', { timeout: 60_000 }, async () => {
    // Trust authentication accepts any password, so the URL can carry one to hide.
    const target = (await database.freshSchema()).replace('://postgres@', '://postgres:hunter2@');
    assert.match(target, /hunter2/, 'CAIRN_TEST_POSTGRES names another user');
    const result = await cairn('--store', target, 'migrate');

    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /is up to date/);
    assert.doesNotMatch(result.stderr, /hunter2/);
    const store = await openStore(target, { migrate: false });
    await store.close();
  });
});
