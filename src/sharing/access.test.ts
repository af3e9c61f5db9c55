import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { Caller } from '../auth/tokens.ts';
import { timestampKey } from '../stix/timestamp.ts';
import { SqliteStore } from '../store/sqlite/index.ts';
import {
  AUDIENCES,
  type Audience,
  type CollectionRecord,
  type CommunityRecord,
  type EntrySharing,
  type Role,
  type TokenScope,
  type UserRecord,
} from '../store/store.ts';
import {
  accessFilter,
  collectionRights,
  mayRead,
  type CollectionContext,
  type CollectionRights,
} from './access.ts';

function caller(role: Role, scopes: TokenScope[] = [], id = 'u-caller'): Caller {
  const user: UserRecord = {
    id,
    name: id,
    organisationId: 'o-caller',
    role,
    createdAt: 0,
    disabled: false,
  };
  return {
    user,
    token: { id: 't', userId: id, label: '', secretHash: '', scopes, createdAt: 0 },
  };
}

const community: CommunityRecord = {
  id: 'c-1',
  name: 'c',
  description: '',
  defaultTlp: 'green',
  allowAnonymous: false,
  publishClear: false,
  identity: '{}',
  createdAt: 0,
};
const collection: CollectionRecord = {
  id: 'col',
  apiRoot: 'r',
  title: 't',
  mediaTypes: [],
  createdAt: 0,
  communityId: 'c-1',
};

function context(relation: 'member' | 'client' | 'none', publishClear = false): CollectionContext {
  return {
    collection,
    community: { ...community, publishClear },
    relation: { member: relation === 'member', client: relation === 'client' },
  };
}

describe('collectionRights', () => {
  const cases: Array<[string, Caller, CollectionContext, CollectionRights]> = [
    [
      'platform admin, no relation',
      caller('platform-admin'),
      context('none'),
      { canRead: true, canWrite: true, widest: 'members' },
    ],
    [
      'member analyst',
      caller('analyst'),
      context('member'),
      { canRead: true, canWrite: true, widest: 'members' },
    ],
    [
      'member org admin',
      caller('org-admin'),
      context('member'),
      { canRead: true, canWrite: true, widest: 'members' },
    ],
    [
      'member read-only',
      caller('read-only'),
      context('member'),
      { canRead: true, canWrite: false, widest: 'members' },
    ],
    [
      'client of member',
      caller('analyst'),
      context('client'),
      { canRead: true, canWrite: false, widest: 'members-and-clients' },
    ],
    [
      'outsider, CLEAR published',
      caller('org-admin'),
      context('none', true),
      { canRead: true, canWrite: false, widest: 'everyone' },
    ],
    [
      'outsider',
      caller('org-admin'),
      context('none'),
      { canRead: false, canWrite: false, widest: 'none' },
    ],
    [
      'member with read scope',
      caller('analyst', ['read']),
      context('member'),
      { canRead: true, canWrite: false, widest: 'members' },
    ],
    [
      'member with write scope',
      caller('analyst', ['write']),
      context('member'),
      { canRead: false, canWrite: true, widest: 'none' },
    ],
    [
      'admin with read scope',
      caller('platform-admin', ['read']),
      context('none'),
      { canRead: true, canWrite: false, widest: 'members' },
    ],
    [
      'collection without community',
      caller('org-admin'),
      {
        collection: { ...collection, communityId: undefined },
        relation: { member: true, client: false },
      },
      { canRead: false, canWrite: false, widest: 'none' },
    ],
  ];
  for (const [name, who, where, expected] of cases) {
    test(name, () => {
      assert.deepEqual(collectionRights(who, where), expected);
    });
  }
});

describe('mayRead', () => {
  const member = collectionRights(caller('analyst'), context('member'));
  const client = collectionRights(caller('analyst'), context('client'));
  const reader = caller('analyst');

  test('own contribution always', () => {
    const entry = { audience: 'members' as const, contributorId: 'u-caller', recipients: [] };
    assert.equal(mayRead(reader, client, entry), true);
  });

  test('red needs naming', () => {
    const entry = { audience: 'recipients' as const, contributorId: 'u-x', recipients: ['u-y'] };
    assert.equal(mayRead(reader, member, entry), false);
    assert.equal(mayRead(reader, member, { ...entry, recipients: ['u-caller'] }), true);
  });

  test('red recipient meets other levels', () => {
    const entry = {
      audience: 'recipients' as const,
      recipients: ['u-caller'],
      recipientsWithin: 'members' as const,
    };
    assert.equal(mayRead(reader, member, entry), true);
    assert.equal(mayRead(reader, client, entry), false);
  });

  test('no read right sees nothing', () => {
    const entry = { audience: 'everyone' as const, contributorId: 'u-caller', recipients: [] };
    assert.equal(mayRead(reader, { ...member, canRead: false, widest: 'none' }, entry), false);
  });
});

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('predicate and SQL agree', () => {
  const store = new SqliteStore(':memory:');
  const users = ['u-0', 'u-1', 'u-2', 'u-3', 'u-4'];
  const entries = new Map<string, EntrySharing>();
  let collectionId: string;

  before(async () => {
    await store.migrate();
    await store.createApiRoot({ name: 'r', title: 'r', maxContentLength: 1 });
    collectionId = (await store.createCollection({ apiRoot: 'r', title: 'generated' })).id;

    const next = random(20_261_204);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
    const objects = [];
    for (let n = 0; n < 600; n++) {
      // 200 objects with up to 3 versions each, so first/last flags vary.
      const object = n % 200;
      const id = `indicator--00000000-0000-4000-8000-${object.toString(16).padStart(12, '0')}`;
      const modified = new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString();
      const audience = pick(AUDIENCES);
      const contributor = next() < 0.7 ? pick(users) : undefined;
      const sharing: EntrySharing = {
        tlp: [],
        audience,
        recipients: audience === 'recipients' ? users.filter(() => next() < 0.3) : [],
        recipientsWithin: pick(['everyone', 'members-and-clients', 'members'] as const),
        granularMarkings: false,
        ...(contributor ? { contributorId: contributor } : {}),
      };
      entries.set(`${id}|${timestampKey(modified)}`, sharing);
      objects.push({
        id,
        type: 'indicator',
        specVersion: '2.1',
        version: modified,
        versionKey: timestampKey(modified)!,
        json: JSON.stringify({ id, modified }),
        sharing,
      });
    }
    await store.addObjects(collectionId, objects);
  });
  after(() => store.close());

  const widths: Array<Audience | 'none'> = ['everyone', 'members-and-clients', 'members'];

  test('every caller, every version', async () => {
    let compared = 0;
    for (const userId of [...users, 'u-nobody']) {
      for (const widest of widths) {
        const who = caller('analyst', [], userId);
        const rights: CollectionRights = { canRead: true, canWrite: false, widest };
        const page = await store.queryManifest({
          collectionId,
          versions: { all: true },
          limit: 10_000,
          access: accessFilter(who, rights),
        });
        const fromSql = new Set(page.items.map((item) => `${item.id}|${item.versionKey}`));
        for (const [key, sharing] of entries) {
          const expected = mayRead(who, rights, sharing);
          assert.equal(fromSql.has(key), expected, `${userId} ${widest} ${key}`);
          compared++;
        }
      }
    }
    assert.equal(compared, 6 * 3 * 600);
  });

  test('paged reads agree', async () => {
    const who = caller('analyst', [], 'u-2');
    const rights: CollectionRights = { canRead: true, canWrite: false, widest: 'everyone' };
    const access = accessFilter(who, rights);
    const seen: string[] = [];
    let addedAfter: number | undefined;
    for (;;) {
      const page = await store.queryManifest({
        collectionId,
        versions: { all: true },
        limit: 7,
        access,
        ...(addedAfter !== undefined ? { addedAfter } : {}),
      });
      seen.push(...page.items.map((item) => `${item.id}|${item.versionKey}`));
      if (!page.more) break;
      assert.equal(page.items.length, 7);
      addedAfter = page.items.at(-1)!.dateAdded;
    }
    const expected = [...entries].filter(([, sharing]) => mayRead(who, rights, sharing));
    assert.deepEqual(
      seen,
      expected.map(([key]) => key),
    );
  });

  test('first is oldest visible', async () => {
    for (const userId of ['u-0', 'u-nobody']) {
      const who = caller('analyst', [], userId);
      const rights: CollectionRights = { canRead: true, canWrite: false, widest: 'everyone' };
      const page = await store.queryManifest({
        collectionId,
        versions: { first: true, last: false, exact: [] },
        limit: 10_000,
        access: accessFilter(who, rights),
      });
      const oldest = new Map<string, string>();
      for (const [key, sharing] of entries) {
        const [id, versionKey] = key.split('|') as [string, string];
        if (!mayRead(who, rights, sharing)) continue;
        if (!oldest.has(id) || versionKey < oldest.get(id)!) oldest.set(id, versionKey);
      }
      const served = new Map(page.items.map((item) => [item.id, item.versionKey]));
      assert.equal(page.items.length, served.size, 'one first version per object');
      assert.deepEqual(served, oldest);
    }
  });

  test('hasObject agrees', async () => {
    const who = caller('analyst', [], 'u-1');
    const rights: CollectionRights = { canRead: true, canWrite: false, widest: 'everyone' };
    for (let object = 0; object < 200; object++) {
      const id = `indicator--00000000-0000-4000-8000-${object.toString(16).padStart(12, '0')}`;
      const expected = [...entries].some(
        ([key, sharing]) => key.startsWith(`${id}|`) && mayRead(who, rights, sharing),
      );
      assert.equal(
        await store.hasObject(collectionId, id, accessFilter(who, rights)),
        expected,
        id,
      );
    }
  });

  test('latest hidden shows no last', async () => {
    const who = caller('analyst', [], 'u-nobody');
    const rights: CollectionRights = { canRead: true, canWrite: false, widest: 'everyone' };
    const page = await store.queryManifest({
      collectionId,
      limit: 10_000,
      access: accessFilter(who, rights),
    });
    const all = await store.queryManifest({ collectionId, limit: 10_000 });
    const visibleLast = all.items.filter((item) =>
      mayRead(who, rights, entries.get(`${item.id}|${item.versionKey}`)!),
    );
    assert.deepEqual(page.items, visibleLast);
  });
});
