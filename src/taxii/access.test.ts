import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issueToken } from '../auth/tokens.ts';
import { addUser } from '../auth/users.ts';
import { makeCommunity, makeOrganisation, makeUser } from '../sharing/fixtures.test-helper.ts';
import { nowMicros } from '../stix/timestamp.ts';
import type { CollectionRecord, OrganisationRecord } from '../store/store.ts';
import { call, startTestServer, type TestServer } from '../testing/server.ts';
import { indicator } from '../testing/stix.ts';

describe('TAXII access control', () => {
  let server: TestServer;
  let secret: CollectionRecord;
  let shared: CollectionRecord;
  let partner: OrganisationRecord;
  const tokens: Record<string, string> = {};
  const object = indicator();

  before(async () => {
    server = await startTestServer();
    const store = server.server.store;
    const admin = (await store.getUserByName('admin'))!;
    const local = (await store.getOrganisation(admin.organisationId))!;
    partner = await makeOrganisation(store, 'Partner');
    const outsiders = await makeOrganisation(store, 'Outsiders');
    secret = (await makeCommunity(store, 'secret', [local], admin)).collection;
    shared = (await makeCommunity(store, 'shared', [local, partner], admin)).collection;
    await call(server, `collections/${secret.id}/objects/`, {
      method: 'POST',
      body: { objects: [object] },
    });
    await call(server, `collections/${shared.id}/objects/`, {
      method: 'POST',
      body: { objects: [object] },
    });
    tokens.reader = (await makeUser(store, partner, 'reader', 'read-only')).token;
    tokens.writer = (await makeUser(store, partner, 'writer', 'analyst', ['write'])).token;
    tokens.outsider = (await makeUser(store, outsiders, 'outsider')).token;
    tokens.scoped = (await makeUser(store, partner, 'scoped', 'analyst', ['read'])).token;
  });
  after(async () => server.dispose());

  test('collections list only visible ones', async () => {
    const reader = await call(server, 'collections/', { token: tokens.reader! });
    assert.deepEqual(
      reader.json.collections.map((c: { id: string }) => c.id),
      [shared.id],
    );
    assert.equal(reader.json.collections[0].can_read, true);
    assert.equal(reader.json.collections[0].can_write, false);
    const outsider = await call(server, 'collections/', { token: tokens.outsider! });
    assert.deepEqual(outsider.json, {});
  });

  test('hidden collection looks absent', async () => {
    const hidden = await call(server, `collections/${secret.id}/objects/`, {
      token: tokens.reader!,
    });
    const absent = await call(server, 'collections/2f0e4bd4-7c8e-4d55-8c7c-2d5b8c21b9a1/objects/', {
      token: tokens.reader!,
    });
    assert.equal(hidden.status, 404);
    assert.equal(absent.status, 404);
    assert.equal(
      hidden.json.description.replace(secret.id, 'X'),
      absent.json.description.replace('2f0e4bd4-7c8e-4d55-8c7c-2d5b8c21b9a1', 'X'),
    );
    for (const path of [
      '',
      'manifest/',
      `objects/${object.id}/`,
      `objects/${object.id}/versions/`,
    ]) {
      const result = await call(server, `collections/${secret.id}/${path}`, {
        token: tokens.reader!,
      });
      assert.equal(result.status, 404, path);
    }
  });

  test('read-only user cannot post', async () => {
    const result = await call(server, `collections/${shared.id}/objects/`, {
      method: 'POST',
      body: { objects: [indicator()] },
      token: tokens.reader!,
    });
    assert.equal(result.status, 403);
    const read = await call(server, `collections/${shared.id}/objects/`, { token: tokens.reader! });
    assert.equal(read.status, 200);
    assert.equal(read.json.objects.length, 1);
  });

  test('write-only user cannot read', async () => {
    const posted = await call(server, `collections/${shared.id}/objects/`, {
      method: 'POST',
      body: { objects: [indicator()] },
      token: tokens.writer!,
    });
    assert.equal(posted.status, 202);
    for (const path of [
      'objects/',
      'manifest/',
      `objects/${object.id}/`,
      `objects/${object.id}/versions/`,
    ]) {
      const result = await call(server, `collections/${shared.id}/${path}`, {
        token: tokens.writer!,
      });
      assert.equal(result.status, 403, path);
    }
  });

  test('delete needs both rights', async () => {
    const reader = await call(server, `collections/${shared.id}/objects/${object.id}/`, {
      method: 'DELETE',
      token: tokens.reader!,
    });
    assert.equal(reader.status, 403);
    // A caller without can_read sees no object, so for them it does not exist.
    for (const name of ['writer', 'outsider']) {
      const result = await call(server, `collections/${shared.id}/objects/${object.id}/`, {
        method: 'DELETE',
        token: tokens[name]!,
      });
      assert.equal(result.status, 404, name);
    }
    const still = await call(server, `collections/${shared.id}/objects/${object.id}/`);
    assert.equal(still.status, 200);
  });

  test('token scopes narrow rights', async () => {
    const list = await call(server, 'collections/', { token: tokens.scoped! });
    assert.equal(list.json.collections[0].can_write, false);
    const posted = await call(server, `collections/${shared.id}/objects/`, {
      method: 'POST',
      body: { objects: [indicator()] },
      token: tokens.scoped!,
    });
    assert.equal(posted.status, 403);
  });

  test('status readable by owner only', async () => {
    const posted = await call(server, `collections/${shared.id}/objects/`, {
      method: 'POST',
      body: { objects: [indicator()] },
      token: tokens.writer!,
    });
    const own = await call(server, `status/${posted.json.id}`, { token: tokens.writer! });
    assert.equal(own.status, 200);
    const other = await call(server, `status/${posted.json.id}/`, { token: tokens.reader! });
    assert.equal(other.status, 404);
    const admin = await call(server, `status/${posted.json.id}/`);
    assert.equal(admin.status, 200);
    const store = server.server.store;
    const adminUser = (await store.listUsers()).find((user) => user.role === 'platform-admin')!;
    const writeOnly = await issueToken(store, adminUser, { scopes: ['write'] });
    const narrowed = await call(server, `status/${posted.json.id}/`, { token: writeOnly.token });
    assert.equal(narrowed.status, 404);
  });

  test('basic auth with user and token', async () => {
    const basic = (user: string, token: string) => ({
      token: null,
      headers: { Authorization: `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}` },
    });
    assert.equal((await call(server, 'collections/', basic('reader', tokens.reader!))).status, 200);
    assert.equal((await call(server, 'collections/', basic('writer', tokens.reader!))).status, 401);
    assert.equal((await call(server, 'collections/', basic('reader', 'wrong'))).status, 401);
  });

  test('bad tokens are 401', async () => {
    const store = server.server.store;
    const user = await addUser(store, 'temporary', 'analyst', partner.id);
    const revoked = await issueToken(store, user);
    await store.revokeToken(revoked.record.id, nowMicros());
    const expired = await issueToken(store, user, { expiresAt: nowMicros() - 1 });
    const valid = await issueToken(store, user);
    const tampered = `${valid.token.slice(0, -2)}${valid.token.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const token of [
      revoked.token,
      expired.token,
      tampered,
      'cairn_nothing',
      '',
      'x'.repeat(10_000),
    ]) {
      const result = await call(server, `${server.url}/taxii2/`, { token });
      assert.equal(result.status, 401, token.slice(0, 20));
      assert.ok(result.headers.get('www-authenticate'));
    }
    assert.equal((await call(server, `${server.url}/taxii2/`, { token: valid.token })).status, 200);
  });

  test('token use is recorded', async () => {
    const before = nowMicros();
    await call(server, 'collections/', { token: tokens.reader! });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const listed = await server.server.store.listTokens();
    const users = await server.server.store.listUsers();
    const reader = users.find((user) => user.name === 'reader')!;
    const token = listed.find((item) => item.userId === reader.id)!;
    assert.ok((token.lastUsedAt ?? 0) >= before - 60_000_000);
  });
});
