import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { issueToken } from '../auth/tokens.ts';
import { CairnError } from '../errors.ts';
import {
  TLP_2_AMBER,
  TLP_2_AMBER_STRICT,
  TLP_2_CLEAR,
  TLP_2_GREEN,
  TLP_2_RED,
} from '../stix/tlp.ts';
import { deterministicScoId } from '../stix/ids.ts';
import { nowMicros } from '../stix/timestamp.ts';
import type { UserRecord } from '../store/store.ts';
import { call, startTestServer, type TestServer } from '../testing/server.ts';
import { indicator, type StixFixture } from '../testing/stix.ts';
import { createSharingServices, type Actor, type SharingServices } from './service.ts';

function rejectsWith(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof CairnError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  };
}

function marked(...refs: string[]): StixFixture {
  return indicator({ object_marking_refs: refs });
}

describe('sharing services', () => {
  let server: TestServer;
  let services: SharingServices;
  let platform: Actor;
  const actors: Record<string, Actor> = {};
  const users: Record<string, UserRecord> = {};
  const tokens: Record<string, string> = {};
  const orgs: Record<string, string> = {};
  let trust: { id: string; collection: string };

  /** Creates an organisation with an org admin, an analyst and a read-only user. */
  async function organisation(name: string): Promise<void> {
    const created = await services.createOrganisation(platform, { name, sectors: ['technology'] });
    orgs[name] = created.id;
    for (const role of ['org-admin', 'analyst', 'read-only'] as const) {
      const userName = `${name}-${role}`;
      const user = await services.createUser(platform, created.id, { name: userName, role });
      users[userName] = (await server.server.store.getUser(user.id))!;
      const issued = await issueToken(server.server.store, users[userName]);
      tokens[userName] = issued.token;
      actors[userName] = { userId: user.id, tokenId: issued.record.id, sourceAddress: '127.0.0.1' };
    }
  }

  before(async () => {
    server = await startTestServer();
    services = createSharingServices(server.server.store);
    const admin = (await server.server.store.getUserByName('admin'))!;
    platform = { userId: admin.id, sourceAddress: '127.0.0.1' };
    for (const name of ['alpha', 'beta', 'client', 'outsider']) await organisation(name);
    await services.addClient(platform, orgs.alpha!, orgs.client!);

    const community = await services.createCommunity(actors['alpha-org-admin']!, {
      name: 'Trust',
      defaultTlp: 'green',
    });
    const invitation = await services.invite(actors['alpha-org-admin']!, community.id, orgs.beta!);
    await services.acceptInvitation(actors['beta-org-admin']!, invitation.id);
    const collection = await services.createCollection(actors['alpha-org-admin']!, community.id, {
      title: 'Trust feed',
      alias: 'trust',
    });
    trust = { id: community.id, collection: collection.id };
  });
  after(async () => server.dispose());

  async function post(user: string, objects: unknown[], collection = trust.collection) {
    const result = await call(server, `collections/${collection}/objects/`, {
      method: 'POST',
      body: { objects },
      token: tokens[user]!,
    });
    assert.equal(result.status, 202, result.text);
    return result.json;
  }

  async function read(user: string, id: string, collection = trust.collection) {
    return call(server, `collections/${collection}/objects/${id}/`, { token: tokens[user]! });
  }

  describe('organisations and users', () => {
    test('duplicate organisation name', async () => {
      await assert.rejects(
        services.createOrganisation(platform, { name: 'ALPHA' }),
        rejectsWith('conflict'),
      );
    });

    test('duplicate user name', async () => {
      await assert.rejects(
        services.createUser(platform, orgs.beta!, { name: 'alpha-analyst', role: 'analyst' }),
        rejectsWith('conflict'),
      );
    });

    test('unknown organisation', async () => {
      const missing = randomUUID();
      await assert.rejects(
        services.createUser(platform, missing, { name: 'ghost', role: 'analyst' }),
        rejectsWith('not-found'),
      );
      await assert.rejects(
        services.addClient(platform, orgs.alpha!, missing),
        rejectsWith('not-found'),
      );
      await assert.rejects(services.getOrganisation(platform, missing), rejectsWith('not-found'));
    });

    test('org admin bounded to own organisation', async () => {
      const alphaAdmin = actors['alpha-org-admin']!;
      await assert.rejects(
        services.createUser(alphaAdmin, orgs.beta!, { name: 'intruder', role: 'analyst' }),
        rejectsWith('not-found'),
      );
      await assert.rejects(
        services.createUser(alphaAdmin, orgs.alpha!, { name: 'boss', role: 'platform-admin' }),
        rejectsWith('forbidden'),
      );
      await assert.rejects(
        services.createOrganisation(alphaAdmin, { name: 'Mine' }),
        rejectsWith('forbidden'),
      );
      const listed = await services.listOrganisations(alphaAdmin);
      assert.deepEqual(
        listed.map((o) => o.id),
        [orgs.alpha],
      );
    });

    test('organisation identity is STIX', async () => {
      const view = await services.getOrganisation(platform, orgs.alpha!);
      assert.equal(view.identity.type, 'identity');
      assert.equal(view.identity.identity_class, 'organization');
      assert.deepEqual(view.sectors, ['technology']);
      assert.deepEqual(view.clients, [orgs.client]);
    });

    test('token scopes narrow services', async () => {
      const user = users['alpha-org-admin']!;
      const scoped = await issueToken(server.server.store, user, { scopes: ['read'] });
      await assert.rejects(
        services.createUser({ userId: user.id, tokenId: scoped.record.id }, orgs.alpha!, {
          name: 'scoped-made',
          role: 'analyst',
        }),
        rejectsWith('forbidden'),
      );
    });

    test('revoked token stops services', async () => {
      const user = users['alpha-analyst']!;
      const issued = await issueToken(server.server.store, user);
      await services.revokeToken(actors['alpha-org-admin']!, issued.record.id);
      await assert.rejects(
        services.me({ userId: user.id, tokenId: issued.record.id }),
        rejectsWith('unauthenticated'),
      );
    });

    test('tokens of other organisations hidden', async () => {
      const issued = await issueToken(server.server.store, users['beta-analyst']!);
      await assert.rejects(
        services.revokeToken(actors['alpha-org-admin']!, issued.record.id),
        rejectsWith('not-found'),
      );
      const listed = await services.listTokens(actors['beta-analyst']!, users['beta-analyst']!.id);
      assert.ok(listed.every((token) => !('secretHash' in token)));
    });
  });

  describe('communities', () => {
    test('bad collection aliases', async () => {
      const aliases = [
        '..',
        'has space',
        'a/b',
        '',
        '-lead',
        '2f0e4bd4-7c8e-4d55-8c7c-2d5b8c21b9a1',
      ];
      for (const alias of aliases) {
        await assert.rejects(
          services.createCollection(actors['alpha-org-admin']!, trust.id, { title: 'x', alias }),
          rejectsWith('invalid-parameter'),
          alias,
        );
      }
    });

    test('duplicate community name', async () => {
      await assert.rejects(
        services.createCommunity(actors['beta-org-admin']!, { name: 'trust' }),
        rejectsWith('conflict'),
      );
    });

    test('red default rejected', async () => {
      await assert.rejects(
        services.createCommunity(actors['beta-org-admin']!, {
          name: 'Red',
          defaultTlp: 'red' as 'green',
        }),
        rejectsWith('invalid-parameter'),
      );
    });

    test('last moderator stays', async () => {
      const detail = await services.getCommunity(platform, trust.id);
      assert.deepEqual(detail.moderators, [users['alpha-org-admin']!.id]);
      await assert.rejects(
        services.removeModerator(
          actors['alpha-org-admin']!,
          trust.id,
          users['alpha-org-admin']!.id,
        ),
        rejectsWith('conflict'),
      );
    });

    test('moderator must be of member', async () => {
      await assert.rejects(
        services.addModerator(actors['alpha-org-admin']!, trust.id, users['outsider-analyst']!.id),
        rejectsWith('rule-broken'),
      );
    });

    test('non-member sees no community', async () => {
      await assert.rejects(
        services.getCommunity(actors['outsider-org-admin']!, trust.id),
        rejectsWith('not-found'),
      );
      await assert.rejects(
        services.updateCharter(actors['beta-analyst']!, trust.id, { publishClear: true }),
        rejectsWith('forbidden'),
      );
    });

    test('join request and last member', async () => {
      const community = await services.createCommunity(actors['beta-org-admin']!, { name: 'Solo' });
      await assert.rejects(
        services.removeMember(actors['beta-org-admin']!, community.id, orgs.beta!),
        rejectsWith('conflict'),
      );
      const request = await services.requestToJoin(actors['outsider-org-admin']!, community.id);
      await assert.rejects(
        services.requestToJoin(actors['outsider-org-admin']!, community.id),
        rejectsWith('conflict'),
      );
      await assert.rejects(
        services.acceptInvitation(actors['outsider-org-admin']!, request.id),
        rejectsWith('forbidden'),
      );
      const pending = await services.listInvitations(actors['beta-org-admin']!);
      assert.ok(pending.some((item) => item.id === request.id));
      await services.acceptInvitation(actors['beta-org-admin']!, request.id);
      await assert.rejects(
        services.declineInvitation(actors['beta-org-admin']!, request.id),
        rejectsWith('conflict'),
      );
      // The outsider organisation now leaves on its own.
      await services.removeMember(actors['outsider-org-admin']!, community.id, orgs.outsider!);
      const detail = await services.getCommunity(platform, community.id);
      assert.deepEqual(detail.members, [orgs.beta]);
    });
  });

  describe('sharing rules', () => {
    test('red without recipients fails', async () => {
      const red = marked(TLP_2_RED.id);
      const status = await post('alpha-analyst', [red]);
      assert.equal(status.failure_count, 1);
      assert.match(status.failures[0].message, /TLP:RED.*recipient/);
      const shared = await services.share(actors['alpha-analyst']!, trust.collection, [red]);
      assert.equal(shared.failures.length, 1);
    });

    test('red reaches recipients only', async () => {
      const red = marked(TLP_2_RED.id);
      const shared = await services.share(actors['alpha-analyst']!, trust.collection, [red], {
        recipients: [users['beta-analyst']!.id],
      });
      assert.equal(shared.successes.length, 1, JSON.stringify(shared.failures));
      assert.equal((await read('beta-analyst', red.id)).status, 200);
      assert.equal((await read('alpha-analyst', red.id)).status, 200);
      assert.equal((await read('beta-read-only', red.id)).status, 404);
      assert.equal(
        (await call(server, `collections/${trust.collection}/objects/${red.id}/`)).status,
        404,
      );
    });

    test('red recipient must read the rest', async () => {
      const object = marked(TLP_2_RED.id, TLP_2_GREEN.id);
      const shared = await services.share(actors['alpha-analyst']!, trust.collection, [object], {
        recipients: [users['client-analyst']!.id],
      });
      assert.equal(shared.failures.length, 1);
      assert.match(shared.failures[0]!.message, /recipient/);
    });

    test('unknown recipient fails', async () => {
      const shared = await services.share(
        actors['alpha-analyst']!,
        trust.collection,
        [marked(TLP_2_RED.id)],
        {
          recipients: [randomUUID()],
        },
      );
      assert.match(shared.failures[0]!.message, /not a known/);
    });

    test('amber not re-shared', async () => {
      const other = await services.createCommunity(actors['beta-org-admin']!, { name: 'Other' });
      const collection = await services.createCollection(actors['beta-org-admin']!, other.id, {
        title: 'Other feed',
      });
      const amber = marked(TLP_2_AMBER.id);
      const green = marked(TLP_2_GREEN.id);
      await post('alpha-analyst', [amber, green]);
      const status = await post('beta-analyst', [amber, green], collection.id);
      assert.equal(status.failure_count, 1);
      assert.equal(status.failures[0].id, amber.id);
      assert.match(status.failures[0].message, /re-shared/);
      // A later version of the AMBER object is refused too: the rule is about the id.
      const later = { ...amber, modified: '2024-06-01T00:00:00.000Z' };
      assert.equal((await post('beta-analyst', [later], collection.id)).failure_count, 1);
      // The contributing organisation may post its own object elsewhere.
      const alphaCommunity = await services.createCommunity(actors['alpha-org-admin']!, {
        name: 'Alpha only',
      });
      const own = await services.createCollection(actors['alpha-org-admin']!, alphaCommunity.id, {
        title: 'Alpha feed',
      });
      assert.equal((await post('alpha-analyst', [amber], own.id)).failure_count, 0);
    });

    test('unreadable AMBER copy not reported', async () => {
      // Ring B has beta alone and makes unmarked objects AMBER; Ring A has the prober alone.
      await organisation('prober');
      const ringB = await services.createCommunity(actors['beta-org-admin']!, {
        name: 'Ring B',
        defaultTlp: 'amber',
      });
      const feedB = await services.createCollection(actors['beta-org-admin']!, ringB.id, {
        title: 'Ring B feed',
      });
      const ringA = await services.createCommunity(actors['prober-org-admin']!, {
        name: 'Ring A',
      });
      const feedA = await services.createCollection(actors['prober-org-admin']!, ringA.id, {
        title: 'Ring A feed',
      });
      const value = { type: 'domain-name', spec_version: '2.1', value: 'only-beta.example' };
      const domain = { ...value, id: deterministicScoId(value)! };
      assert.equal((await post('beta-analyst', [domain], feedB.id)).failure_count, 0);

      // The prober computes the same id and shares its own copy, and no failure reveals
      // that Ring B contains the value.
      const status = await post('prober-analyst', [domain], feedA.id);
      assert.equal(status.failure_count, 0, JSON.stringify(status.failures));
      assert.equal(status.success_count, 1);

      // Each community's readers see only their own copy.
      assert.equal((await read('prober-analyst', domain.id, feedB.id)).status, 404);
      assert.equal((await read('prober-analyst', domain.id, feedA.id)).status, 200);
      assert.equal((await read('beta-analyst', domain.id, feedB.id)).status, 200);
      assert.equal((await read('beta-analyst', domain.id, feedA.id)).status, 404);
      // Each copy keeps the TLP of its own share, and Ring B's copy is unchanged.
      const events = await server.server.store.readEvents({ afterSeq: 0, limit: 100_000 });
      const copies = events.filter((event) => event.objectId === domain.id);
      assert.deepEqual(
        copies.map((event) => [event.collectionId, event.sharing.tlp]),
        [
          [feedB.id, ['amber']],
          [feedA.id, ['green']],
        ],
      );
      assert.equal(copies[1]!.sharing.contributorOrganisationId, orgs.prober);

      // Once the prober reads Ring B, posting the value into Ring A fails, without naming
      // Ring B.
      const invitation = await services.invite(actors['beta-org-admin']!, ringB.id, orgs.prober!);
      await services.acceptInvitation(actors['prober-org-admin']!, invitation.id);
      const second = await services.createCollection(actors['prober-org-admin']!, ringA.id, {
        title: 'Ring A second feed',
      });
      const refused = await post('prober-analyst', [domain], second.id);
      assert.equal(refused.failure_count, 1);
      assert.match(refused.failures[0].message, /re-shared/);
      assert.doesNotMatch(refused.failures[0].message, /Ring B/);
    });

    test('share needs a visible writable collection', async () => {
      await assert.rejects(
        services.share(actors['outsider-analyst']!, trust.collection, [indicator()]),
        rejectsWith('not-found'),
      );
      await assert.rejects(
        services.share(actors['alpha-read-only']!, trust.collection, [indicator()]),
        rejectsWith('forbidden'),
      );
      await assert.rejects(
        services.share(actors['alpha-analyst']!, randomUUID(), [indicator()]),
        rejectsWith('not-found'),
      );
      await assert.rejects(
        services.share(actors['alpha-analyst']!, trust.collection, [indicator()], {
          recipients: 'everyone' as unknown as string[],
        }),
        rejectsWith('invalid-parameter'),
      );
    });

    test('anonymous needs the charter', async () => {
      await assert.rejects(
        services.share(actors['alpha-analyst']!, trust.collection, [indicator()], {
          anonymous: true,
        }),
        rejectsWith('rule-broken'),
      );
    });

    test('anonymous share hides contributor', async () => {
      const community = await services.createCommunity(actors['alpha-org-admin']!, {
        name: 'Anonymous',
        allowAnonymous: true,
      });
      const collection = await services.createCollection(actors['alpha-org-admin']!, community.id, {
        title: 'Anonymous feed',
      });
      const object = indicator({
        created_by_ref: (await services.getOrganisation(platform, orgs.alpha!)).identity.id,
      });
      const shared = await services.share(actors['alpha-analyst']!, collection.id, [object], {
        anonymous: true,
      });
      assert.equal(shared.successes.length, 1);

      const served = await read('alpha-org-admin', object.id, collection.id);
      assert.equal(served.json.objects[0].created_by_ref, community.identity.id);
      const again = await services.share(actors['alpha-analyst']!, collection.id, [object]);
      assert.equal(again.successes[0]!.outcome, 'duplicate');

      const all = await services.queryAudit(platform, { action: 'share', limit: 1000 });
      const entry = all.entries.find((e) => e.target === collection.id && e.details.anonymous);
      assert.equal(entry?.actorId, users['alpha-analyst']!.id);
      const own = await services.queryAudit(actors['alpha-org-admin']!, {
        action: 'share',
        limit: 1000,
      });
      assert.equal(
        own.entries.some((e) => e.target === collection.id && e.details.anonymous),
        false,
      );
      assert.ok(own.entries.every((e) => e.organisationId === orgs.alpha));
    });

    test('default tlp applies', async () => {
      const unmarked = indicator();
      await post('alpha-analyst', [unmarked]);
      assert.equal((await read('beta-read-only', unmarked.id)).status, 200);
      assert.equal((await read('client-analyst', unmarked.id)).status, 404);
    });
  });

  describe('readers', () => {
    let clear: StixFixture;
    let amber: StixFixture;
    let green: StixFixture;
    let strict: StixFixture;

    before(async () => {
      clear = marked(TLP_2_CLEAR.id);
      amber = marked(TLP_2_AMBER.id);
      green = marked(TLP_2_GREEN.id);
      strict = marked(TLP_2_AMBER_STRICT.id);
      await post('beta-analyst', [clear, amber, green, strict]);
    });

    test('client reads clear and amber', async () => {
      assert.equal((await read('client-analyst', clear.id)).status, 200);
      assert.equal((await read('client-analyst', amber.id)).status, 200);
      assert.equal((await read('client-analyst', green.id)).status, 404);
      assert.equal((await read('client-analyst', strict.id)).status, 404);
      const list = await call(server, 'collections/', { token: tokens['client-analyst']! });
      const listed = list.json.collections.find((c: { id: string }) => c.id === trust.collection);
      assert.equal(listed.can_read, true);
      assert.equal(listed.can_write, false);
      const posted = await call(server, `collections/${trust.collection}/objects/`, {
        method: 'POST',
        body: { objects: [indicator()] },
        token: tokens['client-analyst']!,
      });
      assert.equal(posted.status, 403);
    });

    test('outsider sees nothing', async () => {
      assert.equal((await read('outsider-analyst', clear.id)).status, 404);
      const list = await call(server, 'collections/', { token: tokens['outsider-analyst']! });
      assert.deepEqual(list.json, {});
      const discovery = await call(server, `${server.url}/taxii2/`, {
        token: tokens['outsider-analyst']!,
      });
      assert.equal(discovery.json.api_roots, undefined);
    });

    test('published clear for everyone', async () => {
      const community = await services.createCommunity(actors['beta-org-admin']!, {
        name: 'Public',
        publishClear: true,
      });
      const collection = await services.createCollection(actors['beta-org-admin']!, community.id, {
        title: 'Public feed',
      });
      const open = marked(TLP_2_CLEAR.id);
      const closed = marked(TLP_2_GREEN.id);
      await post('beta-analyst', [open, closed], collection.id);
      const page = await call(server, `collections/${collection.id}/objects/`, {
        token: tokens['outsider-analyst']!,
      });
      assert.equal(page.status, 200);
      assert.deepEqual(
        page.json.objects.map((o: StixFixture) => o.id),
        [open.id],
      );
      const manifest = await call(server, `collections/${collection.id}/manifest/`, {
        token: tokens['outsider-analyst']!,
      });
      assert.equal(manifest.json.objects.length, 1);
    });

    test('hidden latest shows no last', async () => {
      const first = marked(TLP_2_CLEAR.id);
      const second = {
        ...first,
        modified: '2024-03-01T00:00:00.000Z',
        object_marking_refs: [TLP_2_GREEN.id],
      };
      await post('beta-analyst', [first, second]);
      const last = await read('client-analyst', first.id);
      assert.equal(last.status, 200);
      assert.equal(last.json.objects, undefined);
      const all = await call(
        server,
        `collections/${trust.collection}/objects/${first.id}/?match[version]=all`,
        {
          token: tokens['client-analyst']!,
        },
      );
      assert.deepEqual(
        all.json.objects.map((o: StixFixture) => o.modified),
        [first.modified],
      );
      const versions = await call(
        server,
        `collections/${trust.collection}/objects/${first.id}/versions/`,
        {
          token: tokens['client-analyst']!,
        },
      );
      assert.deepEqual(versions.json.versions, [first.modified]);
    });

    test('granular markings redacted', async () => {
      const object = indicator({
        description: 'only for members',
        granular_markings: [{ marking_ref: TLP_2_AMBER_STRICT.id, selectors: ['description'] }],
        object_marking_refs: [TLP_2_CLEAR.id],
      });
      await post('beta-analyst', [object]);
      const client = await read('client-analyst', object.id);
      assert.equal(client.json.objects[0].description, undefined);
      assert.equal(client.json.objects[0].name, object.name);
      const member = await read('alpha-read-only', object.id);
      assert.equal(member.json.objects[0].description, 'only for members');
    });

    test('hidden object cannot be deleted', async () => {
      const secret = marked(TLP_2_GREEN.id);
      await post('beta-analyst', [secret]);
      const attempt = await call(server, `collections/${trust.collection}/objects/${secret.id}/`, {
        method: 'DELETE',
        token: tokens['client-analyst']!,
      });
      assert.equal(attempt.status, 404);
      const visible = marked(TLP_2_AMBER.id);
      await post('beta-analyst', [visible]);
      const refused = await call(server, `collections/${trust.collection}/objects/${visible.id}/`, {
        method: 'DELETE',
        token: tokens['client-analyst']!,
      });
      assert.equal(refused.status, 403);
      assert.equal((await read('alpha-read-only', secret.id)).status, 200);
    });

    test('delete leaves hidden versions', async () => {
      const base = marked(TLP_2_GREEN.id);
      const red = {
        ...base,
        modified: '2024-05-01T00:00:00.000Z',
        object_marking_refs: [TLP_2_RED.id],
      };
      await post('beta-analyst', [base]);
      await services.share(actors['beta-analyst']!, trust.collection, [red], {
        recipients: [users['beta-read-only']!.id],
      });
      const removed = await call(server, `collections/${trust.collection}/objects/${base.id}/`, {
        method: 'DELETE',
        token: tokens['alpha-analyst']!,
      });
      assert.equal(removed.status, 200);
      assert.equal((await read('alpha-analyst', base.id)).status, 404);
      const recipient = await call(
        server,
        `collections/${trust.collection}/objects/${base.id}/?match[version]=all`,
        {
          token: tokens['beta-read-only']!,
        },
      );
      assert.deepEqual(
        recipient.json.objects.map((o: StixFixture) => o.modified),
        [red.modified],
      );
    });
  });

  describe('paging and timing', () => {
    test('revoked token mid-paging', async () => {
      const objects = Array.from({ length: 6 }, () => marked(TLP_2_GREEN.id));
      await post('alpha-analyst', objects);
      const issued = await issueToken(server.server.store, users['beta-analyst']!);
      const first = await call(server, `collections/${trust.collection}/objects/?limit=2`, {
        token: issued.token,
      });
      assert.equal(first.status, 200);
      assert.ok(first.json.next);
      await services.revokeToken(actors['beta-analyst']!, issued.record.id);
      const next = await call(
        server,
        `collections/${trust.collection}/objects/?limit=2&next=${encodeURIComponent(first.json.next)}`,
        { token: issued.token },
      );
      assert.equal(next.status, 401);
    });

    test('hidden and absent 404 alike', async () => {
      const hidden = marked(TLP_2_GREEN.id);
      await post('alpha-analyst', [hidden]);
      const absent = indicator().id;
      const url = (id: string) => `collections/${trust.collection}/objects/${id}/`;
      const hiddenAnswer = await read('client-analyst', hidden.id);
      const absentAnswer = await read('client-analyst', absent);
      assert.equal(hiddenAnswer.status, 404);
      assert.equal(
        hiddenAnswer.json.description.replace(hidden.id, 'X'),
        absentAnswer.json.description.replace(absent, 'X'),
      );

      // Requests alternate, so drift in machine load affects both sides alike.
      const times: Record<'hidden' | 'absent', number[]> = { hidden: [], absent: [] };
      for (let i = 0; i < 50; i++) {
        for (const [side, id] of [
          ['hidden', hidden.id],
          ['absent', absent],
        ] as const) {
          const start = performance.now();
          await call(server, url(id), { token: tokens['client-analyst']! });
          if (i >= 10) times[side].push(performance.now() - start);
        }
      }
      // The lower quartile, because load from other processes only adds spikes of several
      // milliseconds on top of the cost of the request itself.
      const quartile = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 2]!;
      const hiddenTime = quartile(times.hidden);
      const absentTime = quartile(times.absent);
      assert.ok(
        Math.abs(hiddenTime - absentTime) < Math.max(1, 0.5 * absentTime),
        `hidden ${hiddenTime.toFixed(2)} ms, absent ${absentTime.toFixed(2)} ms`,
      );
    });
  });

  describe('audit', () => {
    test('writes are recorded', async () => {
      const object = indicator();
      await post('alpha-analyst', [object]);
      const page = await services.queryAudit(platform, { action: 'objects.add', limit: 1 });
      const [entry] = page.entries;
      assert.equal(entry?.actorId, users['alpha-analyst']!.id);
      assert.equal(entry?.organisationId, orgs.alpha);
      assert.equal(entry?.target, trust.collection);
      assert.ok(entry?.sourceAddress);
      assert.deepEqual(entry?.details.added, [object.id]);
    });

    test('membership changes recorded', async () => {
      const page = await services.queryAudit(platform, {
        action: 'community.invitation.accepted',
        limit: 10,
      });
      assert.ok(page.entries.length >= 1);
      assert.equal(page.entries.at(-1)?.actorId, users['beta-org-admin']!.id);
    });

    test('pages with cursor', async () => {
      const first = await services.queryAudit(platform, { limit: 3 });
      assert.equal(first.entries.length, 3);
      assert.ok(first.next);
      const second = await services.queryAudit(platform, { limit: 3, cursor: first.next });
      assert.ok(second.entries[0]!.id < first.entries[2]!.id);
      await assert.rejects(
        services.queryAudit(platform, { limit: 3, cursor: 'not a cursor' }),
        rejectsWith('invalid-parameter'),
      );
    });

    test('analysts may not read', async () => {
      await assert.rejects(
        services.queryAudit(actors['alpha-analyst']!, {}),
        rejectsWith('forbidden'),
      );
    });

    test('export streams every entry', async () => {
      let count = 0;
      for await (const entry of services.exportAudit(platform, { before: nowMicros() + 1 })) {
        assert.ok(entry.id > 0);
        count++;
      }
      const all = await services.queryAudit(platform, { limit: 1000 });
      assert.equal(count, all.entries.length);
    });
  });
});
