/**
 * Correlation over the HTTP API with two organisations in two communities: a value both
 * share is "seen in" as many sources as the caller may read, sightings and false-positive
 * reports move an indicator's score, and the index follows the event log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSharingServices } from '../sharing/service.ts';
import { call, startTestServer, type TestServer } from '../testing/server.ts';
import { waitFor } from '../connectors/testing.ts';

let server: TestServer;
const tokens: Record<'alice' | 'bob', string> = { alice: '', bob: '' };
const orgs: Record<'acme' | 'beta', string> = { acme: '', beta: '' };

const ACME_ID = 'indicator--0a0a0a0a-0000-4000-8000-000000000001';
const BETA_ID = 'indicator--0b0b0b0b-0000-4000-8000-000000000002';
const VALUE = 'shared-c2.example';

function indicator(id: string, value: string) {
  const now = new Date().toISOString();
  return {
    type: 'indicator',
    spec_version: '2.1',
    id,
    created: now,
    modified: now,
    pattern_type: 'stix',
    pattern: `[domain-name:value = '${value}']`,
    valid_from: now,
    confidence: 60,
  };
}

function api(path: string, token: string, init: { method?: string; body?: object } = {}) {
  return call(server, `${server.url}/api/v1${path}`, {
    token,
    accept: null,
    ...(init.method ? { method: init.method } : {}),
    ...(init.body ? { body: init.body, contentType: 'application/json' } : {}),
  });
}

before(async () => {
  server = await startTestServer({ connectors: { scheduler: false } });
  const { store } = server.server;
  const services = createSharingServices(store, { defaultApiRoot: 'default' });
  const admin = (await store.listUsers()).find((user) => user.role === 'platform-admin')!;
  const root = { userId: admin.id };
  for (const [key, name, user] of [
    ['acme', 'Acme', 'alice'],
    ['beta', 'Beta', 'bob'],
  ] as const) {
    const organisation = await services.createOrganisation(root, { name });
    orgs[key] = organisation.id;
    const member = await services.createUser(root, organisation.id, {
      name: user,
      role: 'org-admin',
    });
    tokens[user] = (await services.createToken(root, member.id, {})).token;
    const community = await services.createCommunity(
      { userId: member.id },
      { name: `${name} ring` },
    );
    const collection = await services.createCollection({ userId: member.id }, community.id, {
      title: `${name} feed`,
      alias: key,
    });
    const id = key === 'acme' ? ACME_ID : BETA_ID;
    const result = await services.share({ userId: member.id }, collection.id, [
      indicator(id, VALUE),
    ]);
    assert.equal(result.failures.length, 0, JSON.stringify(result.failures));
  }
  // The server's indexer follows the event log; wait until both shares are indexed.
  await waitFor(
    async () =>
      (await store.findObservableRefs(`domain:${VALUE}`, 10)).length === 2 ? true : undefined,
    10_000,
    'the event indexer',
  );
});

after(async () => {
  await server.dispose();
});

describe('correlation API', () => {
  test('a member counts only sources it reads', async () => {
    const seen = await api(`/objects/${ACME_ID}/correlation`, tokens.alice);
    assert.equal(seen.status, 200, seen.text);
    assert.equal(seen.json.seenInSources, 1);
    assert.deepEqual(seen.json.sources, [`org:${orgs.acme}`]);
    assert.equal(seen.json.values[0].objects, 1);
  });

  test('the platform admin counts both', async () => {
    const seen = await api(`/objects/${ACME_ID}/correlation`, server.adminToken);
    assert.equal(seen.status, 200, seen.text);
    assert.equal(seen.json.seenInSources, 2);
    assert.equal(seen.json.values[0].objects, 2);
    assert.equal(seen.json.values[0].communities.length, 2);
  });

  test('another community object is not found', async () => {
    const hidden = await api(`/objects/${BETA_ID}/correlation`, tokens.alice);
    assert.equal(hidden.status, 404);
    assert.doesNotMatch(hidden.text, /Beta/);
  });

  test('value lookup normalises and respects access', async () => {
    const mixed = encodeURIComponent(`domain:Shared-C2.Example.`);
    const forAlice = await api(`/correlation?value=${mixed}`, tokens.alice);
    assert.equal(forAlice.status, 200, forAlice.text);
    assert.equal(forAlice.json.objects, 1);
    const forAdmin = await api(`/correlation?value=${mixed}`, server.adminToken);
    assert.equal(forAdmin.json.objects, 2);
    const bad = await api(`/correlation?value=fqdn:x`, tokens.alice);
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /with a type among ip, hash, ipv4, ipv6/);
    // `ip` is the blocklist export's name for both address types.
    const address = await api(`/correlation?value=ip:198.51.100.7`, tokens.alice);
    assert.equal(address.status, 200, address.text);
    assert.equal(address.json.value, 'ipv4:198.51.100.7');
  });

  test('sightings raise and false positives lower the score', async () => {
    const before = (await api(`/objects/${ACME_ID}/correlation`, tokens.alice)).json.score.score;
    const sighted = await api(`/objects/${ACME_ID}/sightings`, tokens.alice, {
      method: 'POST',
      body: { count: 3 },
    });
    assert.equal(sighted.status, 200, sighted.text);
    assert.equal(sighted.json.sightings, 3);
    const raised = (await api(`/objects/${ACME_ID}/correlation`, tokens.alice)).json.score.score;
    assert.ok(raised > before, `${raised} > ${before}`);

    const reported = await api(`/objects/${ACME_ID}/false-positive`, tokens.alice, {
      method: 'POST',
      body: { note: 'internal test host' },
    });
    assert.equal(reported.status, 200, reported.text);
    assert.equal(reported.json.falsePositives, 1);
    const lowered = (await api(`/objects/${ACME_ID}/correlation`, tokens.alice)).json.score.score;
    assert.ok(lowered < raised, `${lowered} < ${raised}`);

    const twice = await api(`/objects/${ACME_ID}/false-positive`, tokens.alice, {
      method: 'POST',
      body: {},
    });
    assert.equal(twice.status, 409);
  });

  test('feedback on a hidden object is not found', async () => {
    const result = await api(`/objects/${BETA_ID}/sightings`, tokens.alice, {
      method: 'POST',
      body: { count: 1 },
    });
    assert.equal(result.status, 404);
    const { store } = server.server;
    const communities = (await store.listCommunities()).map((community) => community.id);
    assert.deepEqual(await store.getFeedback([BETA_ID], communities), []);
  });

  test('organisation grades need a platform admin', async () => {
    const refused = await api(`/reliability/organisations/${orgs.acme}`, tokens.alice, {
      method: 'PUT',
      body: { grade: 'A' },
    });
    assert.equal(refused.status, 403);
    const before = (await api(`/objects/${ACME_ID}/correlation`, tokens.alice)).json.score.base;
    const graded = await api(`/reliability/organisations/${orgs.acme}`, server.adminToken, {
      method: 'PUT',
      body: { grade: 'A' },
    });
    assert.equal(graded.status, 204, graded.text);
    const after = (await api(`/objects/${ACME_ID}/correlation`, tokens.alice)).json.score.base;
    assert.ok(after > before, `${after} > ${before}`);
  });
});
