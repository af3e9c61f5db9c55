/**
 * Shared Store cases for the sharing model: organisations, communities, invitations, the
 * sharing facts of entries with the access filter, and the audit log. runStoreSuite calls
 * runSharingCases inside its own describe, so every store runs them.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { timestampKey } from '../stix/timestamp.ts';
import {
  StoreConflictError,
  type AccessFilter,
  type CollectionRecord,
  type CommunityRecord,
  type EntrySharing,
  type OrganisationRecord,
  type PreparedObject,
  type Store,
  type UserRecord,
} from './store.ts';

export function organisation(id: string, name: string): OrganisationRecord {
  return { id, name, identity: JSON.stringify({ type: 'identity', name }), createdAt: 1 };
}

function user(id: string, organisationId: string): UserRecord {
  return { id, name: id, organisationId, role: 'analyst', createdAt: 1, disabled: false };
}

export function community(id: string, name: string): CommunityRecord {
  return {
    id,
    name,
    description: `${name} community`,
    defaultTlp: 'green',
    allowAnonymous: false,
    publishClear: false,
    identity: JSON.stringify({ type: 'identity', name, identity_class: 'group' }),
    createdAt: 2,
  };
}

function version(n: number, sharing: Partial<EntrySharing>, extra = ''): PreparedObject {
  const id = `indicator--00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
  const modified = new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString();
  return {
    id,
    type: 'indicator',
    specVersion: '2.1',
    version: modified,
    versionKey: timestampKey(modified)!,
    json: JSON.stringify({ type: 'indicator', spec_version: '2.1', id, modified, extra }),
    sharing: { tlp: [], audience: 'everyone', recipients: [], granularMarkings: false, ...sharing },
  };
}

/** Adds the cases; `context` returns the suite's current store, API root and collection. */
export function runSharingCases(
  context: () => { store: Store; root: string; collection: CollectionRecord },
): void {
  let store: Store;

  beforeEach(async () => {
    store = context().store;
    await store.createOrganisation(organisation('o-1', 'First'));
    await store.createOrganisation(organisation('o-2', 'Second'));
    await store.createOrganisation(organisation('o-3', 'Third'));
    for (const [id, org] of [
      ['u-1', 'o-1'],
      ['u-1b', 'o-1'],
      ['u-2', 'o-2'],
      ['u-3', 'o-3'],
    ] as const) {
      await store.createUser(user(id, org));
    }
  });

  describe('organisations', () => {
    test('get by id and name', async () => {
      assert.deepEqual(await store.getOrganisation('o-1'), organisation('o-1', 'First'));
      assert.equal((await store.getOrganisationByName('first'))?.id, 'o-1');
      assert.equal(await store.getOrganisation('o-9'), undefined);
    });

    test('duplicate name conflicts', async () => {
      await assert.rejects(
        store.createOrganisation(organisation('o-9', 'FIRST')),
        (error: unknown) => error instanceof StoreConflictError && /FIRST/.test(error.message),
      );
    });

    test('list sorted by name', async () => {
      const names = (await store.listOrganisations()).map((o) => o.name);
      assert.deepEqual(names, ['First', 'Second', 'Third']);
    });

    test('clients added and removed', async () => {
      await store.addClient('o-1', 'o-2');
      await store.addClient('o-1', 'o-2');
      assert.deepEqual(await store.listClients('o-1'), ['o-2']);
      assert.deepEqual(await store.listClients('o-2'), []);

      assert.equal(await store.removeClient('o-1', 'o-2'), true);
      assert.equal(await store.removeClient('o-1', 'o-2'), false);
      assert.deepEqual(await store.listClients('o-1'), []);
    });

    test('bad client relations conflict', async () => {
      await assert.rejects(store.addClient('o-1', 'o-1'), StoreConflictError);
      await assert.rejects(store.addClient('o-1', 'o-missing'), StoreConflictError);
    });

    test('user of unknown organisation conflicts', async () => {
      await assert.rejects(
        store.createUser(user('u-9', 'o-missing')),
        (error: unknown) => error instanceof StoreConflictError && /o-missing/.test(error.message),
      );
    });

    test('users listed by organisation', async () => {
      const ids = (await store.listUsers('o-1')).map((u) => u.id);
      assert.deepEqual(ids, ['u-1', 'u-1b']);
    });

    test('update user role and state', async () => {
      const changed = await store.updateUser('u-1', { role: 'read-only', disabled: true });
      assert.equal(changed?.role, 'read-only');
      assert.equal(changed?.disabled, true);
      assert.equal((await store.updateUser('u-1', {}))?.role, 'read-only');
      assert.equal(await store.updateUser('u-missing', { disabled: true }), undefined);
    });
  });

  describe('communities', () => {
    beforeEach(async () => {
      await store.createCommunity(community('c-1', 'Alpha'), 'o-1', 'u-1');
    });

    test('created with member and moderator', async () => {
      assert.deepEqual(await store.getCommunity('c-1'), community('c-1', 'Alpha'));
      assert.equal((await store.getCommunityByName('ALPHA'))?.id, 'c-1');
      assert.deepEqual(await store.listMembers('c-1'), ['o-1']);
      assert.deepEqual(await store.listModerators('c-1'), ['u-1']);
    });

    test('duplicate name leaves nothing', async () => {
      await assert.rejects(
        store.createCommunity(community('c-2', 'alpha'), 'o-2', 'u-2'),
        StoreConflictError,
      );
      assert.equal(await store.getCommunity('c-2'), undefined);
      assert.deepEqual(await store.listMembers('c-2'), []);
    });

    test('unknown first member conflicts', async () => {
      await assert.rejects(
        store.createCommunity(community('c-2', 'Beta'), 'o-missing', 'u-1'),
        StoreConflictError,
      );
      assert.equal(await store.getCommunity('c-2'), undefined);
    });

    test('listed by member', async () => {
      await store.createCommunity(community('c-2', 'Beta'), 'o-2', 'u-2');
      assert.deepEqual(
        (await store.listCommunities()).map((c) => c.id),
        ['c-1', 'c-2'],
      );
      assert.deepEqual(
        (await store.listCommunities('o-2')).map((c) => c.id),
        ['c-2'],
      );
      assert.deepEqual(await store.listCommunities('o-3'), []);
    });

    test('charter updated in part', async () => {
      const updated = await store.updateCharter('c-1', {
        defaultTlp: 'amber',
        publishClear: true,
        description: undefined,
      });
      assert.equal(updated?.defaultTlp, 'amber');
      assert.equal(updated?.publishClear, true);
      assert.equal(updated?.description, 'Alpha community');
      assert.deepEqual(await store.getCommunity('c-1'), updated);
      assert.equal(await store.updateCharter('c-missing', { publishClear: true }), undefined);
    });

    test('last moderator stays', async () => {
      await assert.rejects(store.removeModerator('c-1', 'u-1'), StoreConflictError);
      await store.addModerator('c-1', 'u-1b');
      assert.equal(await store.removeModerator('c-1', 'u-1'), true);
      assert.equal(await store.removeModerator('c-1', 'u-1'), false);
      assert.deepEqual(await store.listModerators('c-1'), ['u-1b']);
    });

    test('last member stays', async () => {
      await assert.rejects(store.removeMember('c-1', 'o-1'), StoreConflictError);
      assert.equal(await store.removeMember('c-1', 'o-2'), false);
    });

    test('member leaves with its moderators', async () => {
      await store.addMember('c-1', 'o-2');
      await store.addModerator('c-1', 'u-2');
      assert.equal(await store.removeMember('c-1', 'o-2'), true);
      assert.deepEqual(await store.listMembers('c-1'), ['o-1']);
      assert.deepEqual(await store.listModerators('c-1'), ['u-1']);
    });

    test('member with every moderator stays', async () => {
      await store.addMember('c-1', 'o-2');
      await assert.rejects(store.removeMember('c-1', 'o-1'), StoreConflictError);
      assert.deepEqual(await store.listMembers('c-1'), ['o-1', 'o-2']);
    });

    test('relation: member, client, none', async () => {
      await store.addClient('o-1', 'o-2');
      assert.deepEqual(await store.communityRelation('c-1', 'o-1'), {
        member: true,
        client: false,
      });
      assert.deepEqual(await store.communityRelation('c-1', 'o-2'), {
        member: false,
        client: true,
      });
      assert.deepEqual(await store.communityRelation('c-1', 'o-3'), {
        member: false,
        client: false,
      });
    });

    test('client of a client is none', async () => {
      await store.addClient('o-1', 'o-2');
      await store.addClient('o-2', 'o-3');
      assert.equal((await store.communityRelation('c-1', 'o-3')).client, false);
    });

    test('collections owned by community', async () => {
      const { root } = context();
      const owned = await store.createCollection({
        apiRoot: root,
        title: 'Owned',
        communityId: 'c-1',
      });
      assert.equal(owned.communityId, 'c-1');
      assert.deepEqual(
        (await store.listCommunityCollections('c-1')).map((c) => c.id),
        [owned.id],
      );
      assert.deepEqual(await store.getCollectionById(owned.id), owned);
      assert.equal(await store.getCollectionById('missing'), undefined);
      await assert.rejects(
        store.createCollection({ apiRoot: root, title: 'Orphan', communityId: 'c-missing' }),
        StoreConflictError,
      );
    });

    test('invitation accepted adds member', async () => {
      await store.createInvitation({
        id: 'i-1',
        kind: 'invitation',
        communityId: 'c-1',
        organisationId: 'o-2',
        state: 'pending',
        createdBy: 'u-1',
        createdAt: 5,
      });
      assert.equal((await store.listInvitations({ organisationId: 'o-2' })).length, 1);
      assert.equal((await store.listInvitations({ communityIds: ['c-1'] })).length, 1);
      assert.equal((await store.listInvitations({ communityIds: [] })).length, 0);

      const answered = await store.answerInvitation('i-1', 'accepted', 'u-2', 6);
      assert.equal(answered?.state, 'accepted');
      assert.equal(answered?.answeredBy, 'u-2');
      assert.deepEqual(await store.listMembers('c-1'), ['o-1', 'o-2']);
      assert.equal(await store.answerInvitation('i-1', 'declined', 'u-2', 7), undefined);
      assert.equal((await store.listInvitations({ state: 'pending' })).length, 0);
    });

    test('invitation declined adds nothing', async () => {
      await store.createInvitation({
        id: 'i-1',
        kind: 'request',
        communityId: 'c-1',
        organisationId: 'o-3',
        state: 'pending',
        createdBy: 'u-3',
        createdAt: 5,
      });
      assert.equal((await store.answerInvitation('i-1', 'declined', 'u-1', 6))?.state, 'declined');
      assert.deepEqual(await store.listMembers('c-1'), ['o-1']);
      assert.equal(await store.answerInvitation('i-missing', 'accepted', 'u-1', 6), undefined);
    });
  });

  describe('entry access', () => {
    let collectionId: string;
    const member: AccessFilter = { widest: 'members', userId: 'u-3' };

    beforeEach(async () => {
      collectionId = context().collection.id;
      await store.addObjects(collectionId, [
        version(1, { audience: 'everyone', tlp: ['clear'] }),
        version(2, { audience: 'members-and-clients', tlp: ['amber'] }),
        version(3, { audience: 'members', tlp: ['green'] }),
        version(4, {
          audience: 'recipients',
          tlp: ['red'],
          contributorId: 'u-1',
          recipients: ['u-2', 'u-2'],
        }),
        version(5, { audience: 'members', contributorId: 'u-3', granularMarkings: true }),
      ]);
    });

    async function visible(access: AccessFilter): Promise<number[]> {
      const page = await store.queryManifest({ collectionId, limit: 100, access });
      return page.items.map((item) => Number.parseInt(item.id.slice(-12), 16));
    }

    test('audience widths', async () => {
      assert.deepEqual(await visible({ widest: 'none', userId: 'u-9' }), []);
      assert.deepEqual(await visible({ widest: 'everyone', userId: 'u-9' }), [1]);
      assert.deepEqual(await visible({ widest: 'members-and-clients', userId: 'u-9' }), [1, 2]);
      assert.deepEqual(await visible({ widest: 'members', userId: 'u-9' }), [1, 2, 3, 5]);
    });

    test('recipients within an audience', async () => {
      await store.addObjects(collectionId, [
        version(6, {
          audience: 'recipients',
          recipients: ['u-8'],
          recipientsWithin: 'members-and-clients',
        }),
      ]);
      assert.deepEqual(await visible({ widest: 'everyone', userId: 'u-8' }), [1]);
      assert.deepEqual(await visible({ widest: 'members-and-clients', userId: 'u-8' }), [1, 2, 6]);
    });

    test('none sees nothing of others', async () => {
      await store.addObjects(collectionId, [version(6, { audience: 'members' })]);
      assert.deepEqual(await visible({ widest: 'none', userId: 'u-8' }), []);
    });

    test('recipients and contributor see red', async () => {
      assert.deepEqual(await visible({ widest: 'everyone', userId: 'u-2' }), [1, 4]);
      assert.deepEqual(await visible({ widest: 'members', userId: 'u-1' }), [1, 2, 3, 4, 5]);
      assert.deepEqual(await visible({ widest: 'everyone', userId: 'u-3' }), [1, 5]);
    });

    test('no filter sees all', async () => {
      const page = await store.queryManifest({ collectionId, limit: 100 });
      assert.equal(page.items.length, 5);
    });

    test('hidden object does not exist', async () => {
      const red = version(4, {}).id;
      assert.equal(await store.hasObject(collectionId, red), true);
      assert.equal(await store.hasObject(collectionId, red, member), false);
      assert.equal(
        await store.hasObject(collectionId, red, { widest: 'everyone', userId: 'u-2' }),
        true,
      );
    });

    test('limit and more count visible only', async () => {
      const access = { widest: 'everyone', userId: 'u-9' } as const;
      const page = await store.queryManifest({ collectionId, limit: 1, access });
      assert.equal(page.items.length, 1);
      assert.equal(page.more, false);
    });

    test('granular flag and named', async () => {
      const page = await store.queryObjects({ collectionId, limit: 100, access: member });
      const flagged = page.items.find((item) => item.granularMarkings);
      assert.equal(flagged?.id, version(5, {}).id);
      assert.equal(flagged?.contributed, true);
      assert.equal(flagged?.recipient, false);
      assert.equal(page.items.filter((item) => item.contributed).length, 1);

      const other = await store.queryObjects({
        collectionId,
        limit: 100,
        access: { widest: 'members', userId: 'u-9' },
      });
      assert.equal(other.items.find((item) => item.granularMarkings)?.contributed, false);
      assert.equal('contributorId' in other.items[0]!, false);
    });

    test('delete drops recipients', async () => {
      const red = version(4, { audience: 'recipients', contributorId: 'u-1' });
      await store.deleteObject(collectionId, red.id);
      await store.addObjects(collectionId, [red]);
      assert.equal(
        await store.hasObject(collectionId, red.id, { widest: 'everyone', userId: 'u-2' }),
        false,
      );
    });

    /** Creates community c-1 with member o-1, and a collection that it owns. */
    async function alphaCollection(): Promise<CollectionRecord> {
      await store.createCommunity(community('c-1', 'Alpha'), 'o-1', 'u-1');
      return store.createCollection({ apiRoot: context().root, title: 'A', communityId: 'c-1' });
    }

    test('restricted holders found', async () => {
      const owned = await alphaCollection();
      const amber = version(7, {
        tlp: ['amber'],
        audience: 'members-and-clients',
        contributorOrganisationId: 'o-1',
      });
      const green = version(8, { tlp: ['green'], contributorOrganisationId: 'o-1' });
      await store.addObjects(owned.id, [amber, green]);

      // o-2 reads nothing of c-1, so the check must not reveal that c-1 contains the object.
      assert.equal(await store.isHeldRestricted(amber.id, 'c-2', 'o-2'), false);
      assert.equal(await store.isHeldRestricted(amber.id, 'c-2', ''), false);

      await store.addMember('c-1', 'o-2');
      assert.equal(await store.isHeldRestricted(amber.id, 'c-2', 'o-2'), true);
      assert.equal(await store.isHeldRestricted(amber.id, 'c-1', 'o-2'), false);
      assert.equal(await store.isHeldRestricted(amber.id, 'c-2', 'o-1'), false);
      assert.equal(await store.isHeldRestricted(green.id, 'c-2', 'o-2'), false);
      assert.equal(await store.isHeldRestricted(version(9, {}).id, 'c-2', 'o-2'), false);
    });

    test('restricted holders only readable ones', async () => {
      const owned = await alphaCollection();
      const amber = version(7, {
        tlp: ['amber'],
        audience: 'members-and-clients',
        contributorOrganisationId: 'o-1',
      });
      const strict = version(8, {
        tlp: ['amber+strict'],
        audience: 'members',
        contributorOrganisationId: 'o-1',
      });
      const red = version(9, {
        tlp: ['red'],
        audience: 'recipients',
        recipients: ['u-2'],
        recipientsWithin: 'everyone',
        contributorId: 'u-1',
        contributorOrganisationId: 'o-1',
      });
      await store.addObjects(owned.id, [amber, strict, red]);
      const ids = [amber.id, strict.id, red.id];

      // An organisation that reads nothing of c-1, not even as a named recipient, finds none.
      assert.equal((await store.findHeldRestricted(ids, 'c-2', 'o-2')).size, 0);
      // A client of a member reads AMBER, and the RED version that names one of its users.
      await store.addClient('o-1', 'o-2');
      assert.deepEqual(
        [...(await store.findHeldRestricted(ids, 'c-2', 'o-2'))].sort(),
        [amber.id, red.id].sort(),
      );
      await store.addClient('o-1', 'o-3');
      assert.deepEqual([...(await store.findHeldRestricted(ids, 'c-2', 'o-3'))], [amber.id]);
      // An unrelated organisation reads none of them.
      await store.createOrganisation(organisation('o-4', 'Fourth'));
      assert.equal((await store.findHeldRestricted(ids, 'c-2', 'o-4')).size, 0);
      // A collection that no community owns is read by platform admins only.
      const unowned = await store.createCollection({ apiRoot: context().root, title: 'U' });
      const other = version(10, { tlp: ['amber'], contributorOrganisationId: 'o-1' });
      await store.addObjects(unowned.id, [other]);
      assert.equal(await store.isHeldRestricted(other.id, 'c-2', 'o-2'), false);
    });

    test('restricted holders found in batch', async () => {
      const owned = await alphaCollection();
      await store.addMember('c-1', 'o-2');
      const red = version(7, {
        tlp: ['red'],
        audience: 'recipients',
        recipients: ['u-2'],
        recipientsWithin: 'everyone',
        contributorOrganisationId: 'o-1',
      });
      const strict = version(8, {
        tlp: ['green', 'amber+strict'],
        audience: 'members',
        contributorOrganisationId: 'o-1',
      });
      const green = version(9, { tlp: ['green'], contributorOrganisationId: 'o-1' });
      await store.addObjects(owned.id, [red, strict, green]);
      const unknown = version(10, {}).id;
      const ids = [red.id, green.id, unknown, strict.id, red.id];

      assert.deepEqual(
        [...(await store.findHeldRestricted(ids, 'c-2', 'o-2'))].sort(),
        [red.id, strict.id].sort(),
      );
      assert.equal((await store.findHeldRestricted(ids, 'c-1', 'o-2')).size, 0);
      assert.equal((await store.findHeldRestricted(ids, 'c-2', 'o-1')).size, 0);
      assert.equal((await store.findHeldRestricted(ids, 'c-2', 'o-3')).size, 0);
      assert.equal((await store.findHeldRestricted([], 'c-2', 'o-2')).size, 0);
      assert.equal((await store.findHeldRestricted([unknown], 'c-2', 'o-2')).size, 0);
    });
  });

  describe('audit log', () => {
    beforeEach(async () => {
      const base = { details: {}, anonymous: false };
      await store.appendAudit({ ...base, at: 10, action: 'login-failed', sourceAddress: '::1' });
      await store.appendAudit({
        ...base,
        at: 20,
        action: 'share',
        actorId: 'u-1',
        actorName: 'u-1',
        organisationId: 'o-1',
        target: 'collection-1',
        details: { objects: 2 },
      });
      await store.appendAudit({
        ...base,
        at: 30,
        action: 'share',
        actorId: 'u-1',
        organisationId: 'o-1',
        anonymous: true,
      });
      await store.appendAudit({
        ...base,
        at: 40,
        action: 'share',
        actorId: 'u-2',
        organisationId: 'o-2',
      });
    });

    test('newest first with limit', async () => {
      const entries = await store.queryAudit({ limit: 2 });
      assert.deepEqual(
        entries.map((e) => e.at),
        [40, 30],
      );
      const older = await store.queryAudit({ limit: 10, beforeSeq: entries[1]!.seq });
      assert.deepEqual(
        older.map((e) => e.at),
        [20, 10],
      );
    });

    test('filters combine', async () => {
      const own = await store.queryAudit({
        limit: 10,
        organisationId: 'o-1',
        withoutAnonymous: true,
      });
      assert.deepEqual(
        own.map((e) => e.at),
        [20],
      );
      assert.deepEqual(own[0]!.details, { objects: 2 });
      assert.equal(own[0]!.target, 'collection-1');
      const timed = await store.queryAudit({ limit: 10, after: 20, before: 40, action: 'share' });
      assert.deepEqual(
        timed.map((e) => e.at),
        [30, 20],
      );
      const byActor = await store.queryAudit({ limit: 10, actorId: 'u-2' });
      assert.deepEqual(
        byActor.map((e) => e.at),
        [40],
      );
    });

    test('optional fields omitted', async () => {
      const [failed] = await store.queryAudit({ limit: 1, action: 'login-failed' });
      assert.equal(failed?.sourceAddress, '::1');
      assert.equal('actorId' in failed!, false);
      assert.equal(failed?.anonymous, false);
    });
  });
}
