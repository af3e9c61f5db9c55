import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { indicator } from '../testing/stix.ts';

// Every route of docs/api.md against a real server and SQLite store, for each role:
// platform admin, org admin, analyst, read-only user, and an outsider whose organisation
// belongs to no community of the others.

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

let server: TestServer;

async function api(
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<Reply> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

function expectStatus(reply: Reply, status: number, what: string): void {
  assert.equal(reply.status, status, `${what}: ${reply.text.slice(0, 300)}`);
}

function expectError(reply: Reply, status: number, code: string, what: string): void {
  expectStatus(reply, status, what);
  assert.equal(reply.json?.error?.code, code, what);
  assert.equal(typeof reply.json?.error?.message, 'string', what);
}

/** The world the tests share, built through the API itself. */
const world = {
  admin: '',
  orgs: {} as Record<'acme' | 'beta' | 'client' | 'delta', string>,
  users: {} as Record<string, { id: string; token: string }>,
  community: '',
  collection: '',
};

async function createOrganisation(name: string): Promise<string> {
  const reply = await api(world.admin, 'POST', '/organisations', { name, sectors: ['technology'] });
  expectStatus(reply, 201, `create ${name}`);
  return reply.json.id as string;
}

async function createUser(orgId: string, name: string, role: string): Promise<void> {
  const created = await api(world.admin, 'POST', `/organisations/${orgId}/users`, { name, role });
  expectStatus(created, 201, `create user ${name}`);
  const issued = await api(world.admin, 'POST', `/users/${created.json.id}/tokens`, {
    label: 'test',
  });
  expectStatus(issued, 201, `token for ${name}`);
  world.users[name] = { id: created.json.id as string, token: issued.json.token as string };
}

function token(name: string): string {
  const user = world.users[name];
  assert.ok(user, `user ${name} exists`);
  return user.token;
}

function userId(name: string): string {
  const user = world.users[name];
  assert.ok(user, `user ${name} exists`);
  return user.id;
}

const UNKNOWN = '00000000-0000-4000-8000-00000000abcd';

before(async () => {
  server = await startTestServer();
  world.admin = server.adminToken;
  world.orgs.acme = await createOrganisation('Acme');
  world.orgs.beta = await createOrganisation('Beta');
  world.orgs.client = await createOrganisation('Client Co');
  world.orgs.delta = await createOrganisation('Delta');
  await createUser(world.orgs.acme, 'alice', 'org-admin');
  await createUser(world.orgs.acme, 'bob', 'analyst');
  await createUser(world.orgs.acme, 'rita', 'read-only');
  await createUser(world.orgs.beta, 'olga', 'org-admin');
  await createUser(world.orgs.client, 'carl', 'analyst');
  await createUser(world.orgs.delta, 'dora', 'org-admin');
  await createUser(world.orgs.delta, 'oscar', 'analyst');

  const community = await api(token('alice'), 'POST', '/communities', {
    name: 'Ring',
    description: 'finance sharing ring',
    defaultTlp: 'green',
    allowAnonymous: true,
  });
  expectStatus(community, 201, 'create community');
  world.community = community.json.id as string;
  const collection = await api(
    token('alice'),
    'POST',
    `/communities/${world.community}/collections`,
    {
      title: 'Ring feed',
      alias: 'ring',
    },
  );
  expectStatus(collection, 201, 'create collection');
  world.collection = collection.json.id as string;
});

after(async () => {
  await server?.dispose();
});

describe('GET /me', () => {
  test('each role', async () => {
    for (const name of ['alice', 'bob', 'rita', 'oscar']) {
      const reply = await api(token(name), 'GET', '/me');
      expectStatus(reply, 200, name);
      assert.equal(reply.json.user.name, name);
      assert.equal(reply.json.user.id, userId(name));
    }
    const alice = await api(token('alice'), 'GET', '/me');
    assert.equal(alice.json.organisation.id, world.orgs.acme);
    assert.deepEqual(
      alice.json.communities.map((item: { id: string }) => item.id),
      [world.community],
    );
    const oscar = await api(token('oscar'), 'GET', '/me');
    assert.deepEqual(oscar.json.communities, []);
  });

  test('no token', async () => {
    expectError(await api(null, 'GET', '/me'), 401, 'unauthenticated', 'no token');
  });

  test('bad token', async () => {
    const reply = await api('cairn_nope', 'GET', '/me');
    expectError(reply, 401, 'unauthenticated', 'bad token');
  });

  test('request logged without secrets', () => {
    const line = server.logs.find(
      (entry) => entry.msg === 'request' && entry.path === '/api/v1/me' && entry.status === 200,
    );
    assert.ok(line, 'a request line for /api/v1/me');
    const all = JSON.stringify(server.logs);
    assert.ok(!all.includes(token('alice')), 'no token in logs');
  });
});

describe('organisations', () => {
  test('create by platform admin', async () => {
    const reply = await api(world.admin, 'POST', '/organisations', {
      name: 'Echo',
      sectors: ['financial-services'],
      contact: 'soc@echo.example',
    });
    expectStatus(reply, 201, 'create');
    assert.equal(reply.json.name, 'Echo');
    assert.deepEqual(reply.json.sectors, ['financial-services']);
    assert.equal(reply.json.contact, 'soc@echo.example');
    assert.equal(reply.json.identity.type, 'identity');
    assert.equal(reply.json.identity.identity_class, 'organization');
    assert.match(reply.json.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  test('create by others', async () => {
    for (const name of ['alice', 'bob', 'rita', 'oscar']) {
      const reply = await api(token(name), 'POST', '/organisations', { name: `By ${name}` });
      expectError(reply, 403, 'forbidden', name);
    }
  });

  test('duplicate name', async () => {
    const reply = await api(world.admin, 'POST', '/organisations', { name: 'Acme' });
    expectError(reply, 409, 'conflict', 'duplicate');
    assert.match(reply.json.error.message, /Acme/);
  });

  test('list', async () => {
    const all = await api(world.admin, 'GET', '/organisations');
    expectStatus(all, 200, 'admin');
    const names = all.json.map((item: { name: string }) => item.name);
    for (const name of ['Acme', 'Beta', 'Client Co', 'Delta']) assert.ok(names.includes(name));
    const own = await api(token('bob'), 'GET', '/organisations');
    expectStatus(own, 200, 'bob');
    assert.deepEqual(
      own.json.map((item: { id: string }) => item.id),
      [world.orgs.acme],
    );
  });

  test('get', async () => {
    expectStatus(await api(world.admin, 'GET', `/organisations/${world.orgs.beta}`), 200, 'admin');
    expectStatus(await api(token('rita'), 'GET', `/organisations/${world.orgs.acme}`), 200, 'rita');
    expectError(
      await api(token('alice'), 'GET', `/organisations/${world.orgs.beta}`),
      404,
      'not-found',
      'other organisation',
    );
    expectError(
      await api(world.admin, 'GET', `/organisations/${UNKNOWN}`),
      404,
      'not-found',
      'unknown id',
    );
  });

  test('clients', async () => {
    const path = `/organisations/${world.orgs.acme}/clients`;
    expectError(
      await api(token('alice'), 'POST', path, { clientId: world.orgs.client }),
      403,
      'forbidden',
      'org admin',
    );
    expectStatus(await api(world.admin, 'POST', path, { clientId: world.orgs.client }), 204, 'add');
    const acme = await api(world.admin, 'GET', `/organisations/${world.orgs.acme}`);
    assert.deepEqual(acme.json.clients, [world.orgs.client]);
    expectError(
      await api(world.admin, 'POST', path, { clientId: UNKNOWN }),
      404,
      'not-found',
      'unknown client',
    );

    const end = `${path}/${world.orgs.client}`;
    expectError(await api(token('bob'), 'DELETE', end), 403, 'forbidden', 'analyst');
    expectStatus(await api(world.admin, 'DELETE', end), 204, 'remove');
    expectError(await api(world.admin, 'DELETE', end), 404, 'not-found', 'removed twice');
    expectStatus(
      await api(world.admin, 'POST', path, { clientId: world.orgs.client }),
      204,
      'again',
    );
  });
});

describe('users', () => {
  test('create by org admin', async () => {
    const reply = await api(token('alice'), 'POST', `/organisations/${world.orgs.acme}/users`, {
      name: 'ann',
      role: 'analyst',
    });
    expectStatus(reply, 201, 'create');
    assert.equal(reply.json.organisationId, world.orgs.acme);
    assert.equal(reply.json.role, 'analyst');
    assert.equal(reply.json.disabled, false);
  });

  test('create platform admin', async () => {
    const path = `/organisations/${world.orgs.acme}/users`;
    const body = { name: 'root2', role: 'platform-admin' };
    expectError(await api(token('alice'), 'POST', path, body), 403, 'forbidden', 'org admin');
  });

  test('create by others', async () => {
    const path = `/organisations/${world.orgs.acme}/users`;
    for (const name of ['bob', 'rita']) {
      const reply = await api(token(name), 'POST', path, { name: `x-${name}`, role: 'analyst' });
      expectError(reply, 403, 'forbidden', name);
    }
    const outsider = await api(token('olga'), 'POST', path, { name: 'x-olga', role: 'analyst' });
    expectError(outsider, 404, 'not-found', 'org admin of another organisation');
  });

  test('duplicate name', async () => {
    const reply = await api(world.admin, 'POST', `/organisations/${world.orgs.beta}/users`, {
      name: 'alice',
      role: 'analyst',
    });
    expectError(reply, 409, 'conflict', 'duplicate');
  });

  test('list', async () => {
    const path = `/organisations/${world.orgs.acme}/users`;
    const listed = await api(token('alice'), 'GET', path);
    expectStatus(listed, 200, 'org admin');
    const names = listed.json.map((item: { name: string }) => item.name);
    assert.ok(names.includes('bob'));
    assert.ok(!names.includes('olga'));
    expectStatus(await api(world.admin, 'GET', path), 200, 'platform admin');
    expectError(await api(token('bob'), 'GET', path), 403, 'forbidden', 'analyst');
    expectError(await api(token('oscar'), 'GET', path), 404, 'not-found', 'outsider');
  });

  test('change', async () => {
    const path = `/users/${userId('rita')}`;
    const changed = await api(token('alice'), 'PATCH', path, { role: 'analyst' });
    expectStatus(changed, 200, 'org admin');
    assert.equal(changed.json.role, 'analyst');
    expectStatus(await api(token('alice'), 'PATCH', path, { role: 'read-only' }), 200, 'back');
    expectError(
      await api(token('bob'), 'PATCH', path, { role: 'analyst' }),
      403,
      'forbidden',
      'analyst',
    );
    expectError(
      await api(token('olga'), 'PATCH', path, { disabled: true }),
      404,
      'not-found',
      'outsider',
    );
    expectError(
      await api(world.admin, 'PATCH', `/users/${UNKNOWN}`, {}),
      404,
      'not-found',
      'unknown',
    );
  });

  test('disable stops tokens', async () => {
    await createUser(world.orgs.acme, 'dave', 'analyst');
    expectStatus(await api(token('dave'), 'GET', '/me'), 200, 'before');
    const path = `/users/${userId('dave')}`;
    expectStatus(await api(token('alice'), 'PATCH', path, { disabled: true }), 200, 'disable');
    expectError(await api(token('dave'), 'GET', '/me'), 401, 'unauthenticated', 'disabled');
    expectStatus(await api(token('alice'), 'PATCH', path, { disabled: false }), 200, 'enable');
    expectStatus(await api(token('dave'), 'GET', '/me'), 200, 'after');
  });
});

describe('tokens', () => {
  test('own token', async () => {
    const issued = await api(token('bob'), 'POST', `/users/${userId('bob')}/tokens`, {
      label: 'script',
      scopes: ['read'],
      expiresInDays: 30,
    });
    expectStatus(issued, 201, 'create');
    assert.match(issued.json.token, /^cairn_/);
    assert.equal(issued.json.record.label, 'script');
    assert.deepEqual(issued.json.record.scopes, ['read']);
    assert.ok(issued.json.record.expiresAt);

    const listed = await api(token('bob'), 'GET', `/users/${userId('bob')}/tokens`);
    expectStatus(listed, 200, 'list');
    assert.ok(listed.json.some((item: { id: string }) => item.id === issued.json.record.id));
    assert.ok(!listed.text.includes(issued.json.token), 'no secret in the list');

    const scoped = issued.json.token as string;
    expectStatus(await api(scoped, 'GET', '/me'), 200, 'new token works');
    const revoked = await api(token('bob'), 'DELETE', `/tokens/${issued.json.record.id}`);
    expectStatus(revoked, 204, 'revoke');
    expectError(await api(scoped, 'GET', '/me'), 401, 'unauthenticated', 'revoked token');
  });

  test('org admin for a user', async () => {
    const issued = await api(token('alice'), 'POST', `/users/${userId('rita')}/tokens`, {});
    expectStatus(issued, 201, 'org admin');
    expectStatus(await api(world.admin, 'GET', `/users/${userId('rita')}/tokens`), 200, 'admin');
  });

  test('others refused', async () => {
    const path = `/users/${userId('bob')}/tokens`;
    const peer = await api(token('rita'), 'POST', path, {});
    expectError(peer, 403, 'forbidden', 'peer in the same organisation');
    expectError(await api(token('oscar'), 'POST', path, {}), 404, 'not-found', 'outsider');
    expectError(await api(token('oscar'), 'GET', path), 404, 'not-found', 'outsider list');
    expectError(
      await api(token('oscar'), 'DELETE', `/tokens/${'0'.repeat(32)}`),
      404,
      'not-found',
      'unknown token',
    );
  });
});

describe('communities', () => {
  test('created with creator', async () => {
    const shown = await api(token('alice'), 'GET', `/communities/${world.community}`);
    expectStatus(shown, 200, 'show');
    assert.equal(shown.json.name, 'Ring');
    assert.equal(shown.json.defaultTlp, 'green');
    assert.equal(shown.json.allowAnonymous, true);
    assert.equal(shown.json.publishClear, false);
    assert.equal(shown.json.identity.identity_class, 'group');
    assert.deepEqual(shown.json.members, [world.orgs.acme]);
    assert.deepEqual(shown.json.moderators, [userId('alice')]);
    assert.equal(shown.json.collections[0].id, world.collection);
    assert.equal(shown.json.collections[0].alias, 'ring');
  });

  test('create by analyst', async () => {
    const reply = await api(token('bob'), 'POST', '/communities', { name: 'Bobs' });
    expectError(reply, 403, 'forbidden', 'analyst');
  });

  test('duplicate name', async () => {
    const reply = await api(token('dora'), 'POST', '/communities', { name: 'Ring' });
    expectError(reply, 409, 'conflict', 'duplicate');
  });

  test('list', async () => {
    const own = await api(token('rita'), 'GET', '/communities');
    expectStatus(own, 200, 'member');
    assert.deepEqual(
      own.json.map((item: { id: string }) => item.id),
      [world.community],
    );
    const outsider = await api(token('oscar'), 'GET', '/communities');
    expectStatus(outsider, 200, 'outsider');
    assert.ok(!outsider.text.includes(world.community));
    const all = await api(world.admin, 'GET', '/communities');
    assert.ok(all.text.includes(world.community));
  });

  test('hidden from outsiders', async () => {
    const path = `/communities/${world.community}`;
    expectError(await api(token('oscar'), 'GET', path), 404, 'not-found', 'get');
    expectError(
      await api(token('oscar'), 'PATCH', path, { publishClear: true }),
      404,
      'not-found',
      'patch',
    );
    expectError(
      await api(token('oscar'), 'POST', `${path}/collections`, { title: 'x' }),
      404,
      'not-found',
      'collection',
    );
    expectError(
      await api(token('oscar'), 'POST', `${path}/invitations`, {
        organisationId: world.orgs.delta,
      }),
      404,
      'not-found',
      'invite',
    );
    expectError(
      await api(world.admin, 'GET', `/communities/${UNKNOWN}`),
      404,
      'not-found',
      'unknown',
    );
  });

  test('charter', async () => {
    const path = `/communities/${world.community}`;
    expectError(
      await api(token('bob'), 'PATCH', path, { defaultTlp: 'amber' }),
      403,
      'forbidden',
      'member',
    );
    const changed = await api(token('alice'), 'PATCH', path, { description: 'changed' });
    expectStatus(changed, 200, 'moderator');
    assert.equal(changed.json.description, 'changed');
    assert.equal(changed.json.defaultTlp, 'green');
    const red = await api(token('alice'), 'PATCH', path, { defaultTlp: 'red' });
    expectError(red, 400, 'invalid-parameter', 'red default');
  });

  test('collection rights', async () => {
    const path = `/communities/${world.community}/collections`;
    expectError(
      await api(token('bob'), 'POST', path, { title: 'Bob feed' }),
      403,
      'forbidden',
      'member',
    );
    const duplicate = await api(token('alice'), 'POST', path, { title: 'Again', alias: 'ring' });
    expectError(duplicate, 409, 'conflict', 'duplicate alias');
  });

  test('moderators', async () => {
    const path = `/communities/${world.community}/moderators`;
    expectError(
      await api(token('bob'), 'POST', path, { userId: userId('bob') }),
      403,
      'forbidden',
      'member adds',
    );
    const outsider = await api(token('alice'), 'POST', path, { userId: userId('oscar') });
    expectError(outsider, 422, 'rule-broken', 'user of a non-member organisation');
    expectError(
      await api(token('alice'), 'DELETE', `${path}/${userId('alice')}`),
      409,
      'conflict',
      'last moderator',
    );
    expectStatus(await api(token('alice'), 'POST', path, { userId: userId('bob') }), 204, 'add');
    const shown = await api(token('bob'), 'GET', `/communities/${world.community}`);
    assert.ok(shown.json.moderators.includes(userId('bob')));
    expectStatus(await api(token('bob'), 'DELETE', `${path}/${userId('bob')}`), 204, 'remove');
  });

  test('last member', async () => {
    const created = await api(token('dora'), 'POST', '/communities', { name: 'Solo' });
    expectStatus(created, 201, 'create');
    const path = `/communities/${created.json.id}/members/${world.orgs.delta}`;
    expectError(await api(token('dora'), 'DELETE', path), 409, 'conflict', 'last member');
  });
});

describe('invitations', () => {
  let invitation = '';

  test('invite and accept', async () => {
    const sent = await api(token('alice'), 'POST', `/communities/${world.community}/invitations`, {
      organisationId: world.orgs.beta,
    });
    expectStatus(sent, 201, 'invite');
    assert.equal(sent.json.kind, 'invitation');
    assert.equal(sent.json.state, 'pending');
    invitation = sent.json.id as string;

    const pending = await api(token('olga'), 'GET', '/invitations');
    expectStatus(pending, 200, 'list');
    assert.ok(pending.json.some((item: { id: string }) => item.id === invitation));
    const outsider = await api(token('oscar'), 'GET', '/invitations');
    assert.ok(!outsider.text.includes(invitation));

    expectError(
      await api(token('oscar'), 'POST', `/invitations/${invitation}/accept`),
      404,
      'not-found',
      'outsider accepts',
    );
    const accepted = await api(token('olga'), 'POST', `/invitations/${invitation}/accept`);
    expectStatus(accepted, 200, 'accept');
    assert.equal(accepted.json.state, 'accepted');
    assert.equal(accepted.json.answeredBy, userId('olga'));

    const shown = await api(token('olga'), 'GET', `/communities/${world.community}`);
    expectStatus(shown, 200, 'member now');
    assert.ok(shown.json.members.includes(world.orgs.beta));
  });

  test('answered twice', async () => {
    const again = await api(token('olga'), 'POST', `/invitations/${invitation}/decline`);
    expectError(again, 409, 'conflict', 'answered twice');
  });

  test('request and decline', async () => {
    const path = `/communities/${world.community}/requests`;
    expectError(await api(token('oscar'), 'POST', path), 403, 'forbidden', 'analyst requests');
    const asked = await api(token('dora'), 'POST', path);
    expectStatus(asked, 201, 'request');
    assert.equal(asked.json.kind, 'request');
    const id = asked.json.id as string;
    expectError(
      await api(token('dora'), 'POST', `/invitations/${id}/accept`),
      403,
      'forbidden',
      'requester accepts own',
    );
    const declined = await api(token('alice'), 'POST', `/invitations/${id}/decline`);
    expectStatus(declined, 200, 'moderator declines');
    assert.equal(declined.json.state, 'declined');
  });

  test('unknown invitation', async () => {
    const reply = await api(token('alice'), 'POST', `/invitations/${UNKNOWN}/accept`);
    expectError(reply, 404, 'not-found', 'unknown');
  });
});

describe('shares', () => {
  test('anonymous share', async () => {
    const object = indicator({ created_by_ref: `identity--${crypto.randomUUID()}` });
    const reply = await api(token('bob'), 'POST', `/collections/${world.collection}/shares`, {
      objects: [object],
      anonymous: true,
    });
    expectStatus(reply, 200, 'share');
    assert.equal(reply.json.successes.length, 1);
    assert.equal(reply.json.successes[0].id, object.id);
    assert.equal(reply.json.successes[0].outcome, 'added');
    assert.deepEqual(reply.json.failures, []);

    const taxii = await fetch(
      `${server.root}collections/${world.collection}/objects/${object.id}/`,
      {
        headers: {
          Authorization: `Bearer ${token('olga')}`,
          Accept: 'application/taxii+json;version=2.1',
        },
      },
    );
    assert.equal(taxii.status, 200);
    const envelope = (await taxii.json()) as { objects: Array<{ created_by_ref: string }> };
    const community = await api(token('olga'), 'GET', `/communities/${world.community}`);
    assert.equal(envelope.objects[0]?.created_by_ref, community.json.identity.id);
  });

  test('bad object fails alone', async () => {
    const good = indicator();
    const reply = await api(token('bob'), 'POST', `/collections/${world.collection}/shares`, {
      objects: [good, { type: 'indicator', id: 'nonsense' }],
    });
    expectStatus(reply, 200, 'share');
    assert.equal(reply.json.successes.length, 1);
    assert.equal(reply.json.failures.length, 1);
    assert.equal(typeof reply.json.failures[0].message, 'string');
  });

  test('red without recipients', async () => {
    const red = indicator({
      object_marking_refs: ['marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1'],
    });
    const reply = await api(token('bob'), 'POST', `/collections/${world.collection}/shares`, {
      objects: [red],
    });
    expectStatus(reply, 200, 'red');
    assert.deepEqual(reply.json.successes, []);
    assert.equal(reply.json.failures.length, 1);
    assert.match(reply.json.failures[0].message, /recipient/i);
  });

  test('red to named recipients', async () => {
    const red = indicator({
      object_marking_refs: ['marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1'],
    });
    const reply = await api(token('bob'), 'POST', `/collections/${world.collection}/shares`, {
      objects: [red],
      recipients: [userId('olga')],
    });
    expectStatus(reply, 200, 'red');
    assert.equal(reply.json.successes.length, 1);
    const read = async (name: string) =>
      fetch(`${server.root}collections/${world.collection}/objects/${red.id}/`, {
        headers: {
          Authorization: `Bearer ${token(name)}`,
          Accept: 'application/taxii+json;version=2.1',
        },
      });
    assert.equal((await read('olga')).status, 200, 'named recipient');
    assert.equal((await read('bob')).status, 200, 'contributor');
    assert.equal((await read('rita')).status, 404, 'member not named');
  });

  test('roles', async () => {
    const path = `/collections/${world.collection}/shares`;
    const body = { objects: [indicator()] };
    expectError(await api(token('rita'), 'POST', path, body), 403, 'forbidden', 'read-only');
    expectError(await api(token('oscar'), 'POST', path, body), 404, 'not-found', 'outsider');
    expectError(
      await api(token('bob'), 'POST', `/collections/${UNKNOWN}/shares`, body),
      404,
      'not-found',
      'unknown',
    );
    expectStatus(await api(world.admin, 'POST', path, { objects: [indicator()] }), 200, 'admin');
  });
});

describe('audit', () => {
  test('platform admin reads all', async () => {
    const page = await api(world.admin, 'GET', '/audit?limit=5');
    expectStatus(page, 200, 'admin');
    assert.equal(page.json.entries.length, 5);
    assert.equal(typeof page.json.next, 'string');
    const times = page.json.entries.map((entry: { at: string }) => entry.at);
    assert.deepEqual([...times].sort().reverse(), times, 'newest first');
    const next = await api(
      world.admin,
      'GET',
      `/audit?limit=5&cursor=${encodeURIComponent(page.json.next)}`,
    );
    expectStatus(next, 200, 'next page');
    const first = new Set(page.json.entries.map((entry: { id: number }) => entry.id));
    for (const entry of next.json.entries) assert.ok(!first.has(entry.id), 'no repeat');
  });

  test('org admin reads own', async () => {
    const page = await api(token('alice'), 'GET', '/audit?limit=1000');
    expectStatus(page, 200, 'org admin');
    for (const entry of page.json.entries) {
      assert.equal(entry.organisationId, world.orgs.acme);
    }
    assert.ok(!page.text.includes('"anonymous":true'));
  });

  test('others refused', async () => {
    expectError(await api(token('bob'), 'GET', '/audit'), 403, 'forbidden', 'analyst');
    expectError(await api(token('rita'), 'GET', '/audit/export'), 403, 'forbidden', 'read-only');
  });

  test('export as JSON lines', async () => {
    const reply = await api(
      world.admin,
      'GET',
      '/audit/export?action=community.invitation.accepted',
    );
    expectStatus(reply, 200, 'export');
    assert.match(reply.headers.get('content-type') ?? '', /application\/x-ndjson/);
    const lines = reply.text.trim().split('\n');
    assert.ok(lines.length >= 1);
    for (const line of lines)
      assert.equal(JSON.parse(line).action, 'community.invitation.accepted');
  });
});

describe('hostile input', () => {
  test('__proto__ body', async () => {
    const reply = await api(
      world.admin,
      'POST',
      '/organisations',
      '{"name":"Proto","__proto__":{"isAdmin":true}}',
    );
    expectError(reply, 400, 'invalid-parameter', 'proto');
    const listed = await api(world.admin, 'GET', '/organisations');
    assert.ok(!listed.text.includes('Proto'));
  });

  test('proto key in shared object', async () => {
    const object = JSON.stringify(indicator()).replace('{', '{"__proto__":{"x":1},');
    const reply = await api(
      token('bob'),
      'POST',
      `/collections/${world.collection}/shares`,
      `{"objects":[${object}]}`,
    );
    expectStatus(reply, 200, 'share');
    assert.equal(reply.json.successes.length, 0);
    assert.equal(reply.json.failures.length, 1);
    assert.match(reply.json.failures[0].message, /__proto__/);
  });

  test('deep nesting is 400', async () => {
    const depth = 200_000;
    const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const share = await api(
      token('bob'),
      'POST',
      `/collections/${world.collection}/shares`,
      nested,
    );
    assert.equal(share.status, 400, share.text);
    const name = await api(
      world.admin,
      'POST',
      '/communities',
      `{"name":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
    );
    assert.equal(name.status, 400, name.text);
    assert.match(name.json.error.message, /deeply nested/);
  });

  test('oversized share', async () => {
    const limit = server.config.taxii.maxContentLength;
    const reply = await api(token('bob'), 'POST', `/collections/${world.collection}/shares`, {
      objects: [indicator({ description: 'x'.repeat(limit) })],
    });
    expectError(reply, 413, 'payload-too-large', 'share');
  });

  test('TAXII still served', async () => {
    const discovery = await fetch(`${server.url}/taxii2/`, {
      headers: {
        Authorization: `Bearer ${world.admin}`,
        Accept: 'application/taxii+json;version=2.1',
      },
    });
    assert.equal(discovery.status, 200);
    assert.match(discovery.headers.get('content-type') ?? '', /taxii/);
  });

  test('openapi over HTTP', async () => {
    const reply = await api(null, 'GET', '/openapi.json');
    expectStatus(reply, 200, 'openapi');
    assert.equal(reply.json.openapi, '3.1.0');
    assert.ok(reply.json.paths['/api/v1/communities/{id}/invitations']);
  });
});
