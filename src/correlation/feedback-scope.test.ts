/**
 * Feedback across communities over the HTTP API, on SQLite and on PostgreSQL. Acme (ring A)
 * and Beta (ring B) share no community but hold the same indicator id, as two connectors
 * on one feed would. Sightings and false-positive reports by Acme must not reach Beta's
 * correlation view or export, one organisation's sightings count only up to the cap, and
 * a reader who is not a member may not give feedback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createSharingServices } from '../sharing/service.ts';
import { DEFAULT_POLICY } from '../scoring/score.ts';
import { createTestDatabase } from '../store/postgres/database.test-helper.ts';
import { call, startTestServer, type TestServer } from '../testing/server.ts';

const SHARED_ID = 'indicator--5a5a5a5a-0000-4000-8000-000000000001';
const PUBLIC_ID = 'indicator--5a5a5a5a-0000-4000-8000-000000000002';
const UNKNOWN_ID = 'indicator--5a5a5a5a-0000-4000-8000-000000000003';
const TLP_CLEAR = 'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487';

function indicator(id: string, value: string, markings: string[] = []) {
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
    confidence: 80,
    ...(markings.length > 0 ? { object_marking_refs: markings } : {}),
  };
}

interface World {
  server: TestServer;
  alice: string;
  olga: string;
  acme: string;
  ringA: string;
  ringB: string;
  collectionB: string;
}

async function buildWorld(store?: string): Promise<World> {
  const server = await startTestServer({
    connectors: { scheduler: false },
    ...(store ? { store } : {}),
  });
  const services = createSharingServices(server.server.store, { defaultApiRoot: 'default' });
  const admin = (await server.server.store.listUsers()).find(
    (user) => user.role === 'platform-admin',
  )!;
  const root = { userId: admin.id };
  const made: Array<{ token: string; org: string; ring: string; collection: string }> = [];
  for (const [name, user] of [
    ['Acme', 'alice'],
    ['Beta', 'olga'],
  ] as const) {
    const organisation = await services.createOrganisation(root, { name });
    const member = await services.createUser(root, organisation.id, {
      name: user,
      role: 'org-admin',
    });
    const { token } = await services.createToken(root, member.id, {});
    const ring = await services.createCommunity({ userId: member.id }, { name: `${name} ring` });
    const collection = await services.createCollection({ userId: member.id }, ring.id, {
      title: `${name} feed`,
      alias: name.toLowerCase(),
    });
    const shared = await services.share({ userId: member.id }, collection.id, [
      indicator(SHARED_ID, 'same-feed.example'),
    ]);
    assert.equal(shared.failures.length, 0, JSON.stringify(shared.failures));
    made.push({ token, org: organisation.id, ring: ring.id, collection: collection.id });
  }
  const [a, b] = made as [(typeof made)[0], (typeof made)[0]];

  // A community of Acme that publishes its CLEAR objects: Olga reads them as the public.
  const aliceId = (await server.server.store.listUsers()).find((u) => u.name === 'alice')!.id;
  const open = await services.createCommunity(
    { userId: aliceId },
    { name: 'Acme open', publishClear: true },
  );
  const openFeed = await services.createCollection({ userId: aliceId }, open.id, {
    title: 'Acme open feed',
    alias: 'acme-open',
  });
  const published = await services.share({ userId: aliceId }, openFeed.id, [
    indicator(PUBLIC_ID, 'published.example', [TLP_CLEAR]),
  ]);
  assert.equal(published.failures.length, 0, JSON.stringify(published.failures));

  return {
    server,
    alice: a.token,
    olga: b.token,
    acme: a.org,
    ringA: a.ring,
    ringB: b.ring,
    collectionB: b.collection,
  };
}

function api(
  world: World,
  path: string,
  token: string,
  init: { method?: string; body?: object } = {},
) {
  return call(world.server, `${world.server.url}/api/v1${path}`, {
    token,
    accept: null,
    ...(init.method ? { method: init.method } : {}),
    ...(init.body ? { body: init.body, contentType: 'application/json' } : {}),
  });
}

/** Returns the score of SHARED_ID in Beta's CSV export, read as Olga. */
async function exportedScore(world: World): Promise<number> {
  const result = await api(world, `/exports/collections/${world.collectionB}/csv`, world.olga);
  assert.equal(result.status, 200, result.text);
  const row = result.text.split('\n').find((line) => line.startsWith(SHARED_ID));
  assert.ok(row, `no row for ${SHARED_ID} in ${result.text}`);
  return Number(row.split(',')[3]);
}

function runFeedbackScopes(label: string, storeUrl: () => Promise<string | undefined>): void {
  describe(`feedback scopes on ${label}`, { timeout: 120_000 }, () => {
    let world: World;
    before(async () => {
      world = await buildWorld(await storeUrl());
    });
    after(async () => {
      await world?.server.stop();
    });

    test('sightings of another community stay out', async () => {
      const olgaBefore = await api(world, `/objects/${SHARED_ID}/correlation`, world.olga);
      assert.equal(olgaBefore.status, 200, olgaBefore.text);
      const scoreBefore = olgaBefore.json.score.score as number;
      const exportBefore = await exportedScore(world);

      const sighted = await api(world, `/objects/${SHARED_ID}/sightings`, world.alice, {
        method: 'POST',
        body: { count: 1_000_000 },
      });
      assert.equal(sighted.status, 200, sighted.text);
      assert.equal(sighted.json.sightings, 1_000_000);
      assert.equal(sighted.json.countedSightings, DEFAULT_POLICY.sightingsPerOrganisation);
      const reported = await api(world, `/objects/${SHARED_ID}/false-positive`, world.alice, {
        method: 'POST',
        body: { note: 'lab host' },
      });
      assert.equal(reported.status, 200, reported.text);
      assert.equal(reported.json.falsePositives, 1);

      const olgaAfter = await api(world, `/objects/${SHARED_ID}/correlation`, world.olga);
      assert.equal(olgaAfter.status, 200, olgaAfter.text);
      assert.equal(olgaAfter.json.feedback.sightings, 0);
      assert.equal(olgaAfter.json.feedback.falsePositives, 0);
      assert.equal(olgaAfter.json.feedback.organisations, 0);
      assert.equal(olgaAfter.json.feedback.lastSightingAt, undefined);
      assert.equal(olgaAfter.json.score.base, olgaBefore.json.score.base);
      assert.ok(
        Math.abs(olgaAfter.json.score.score - scoreBefore) < 0.2,
        `${olgaAfter.json.score.score} vs ${scoreBefore}`,
      );
      const exportAfter = await exportedScore(world);
      assert.ok(Math.abs(exportAfter - exportBefore) < 0.2, `${exportAfter} vs ${exportBefore}`);
    });

    test('reports are stored with organisation and community', async () => {
      const { store } = world.server.server;
      const inA = await store.getFeedback([SHARED_ID], [world.ringA]);
      assert.equal(inA.length, 1);
      assert.equal(inA[0]!.organisationId, world.acme);
      assert.equal(inA[0]!.sightings, 1_000_000);
      assert.equal(inA[0]!.falsePositive, true);
      assert.deepEqual(await store.getFeedback([SHARED_ID], [world.ringB]), []);
    });

    test('repeated reports of one organisation count once', async () => {
      const again = await api(world, `/objects/${SHARED_ID}/false-positive`, world.alice, {
        method: 'POST',
        body: {},
      });
      assert.equal(again.status, 409, again.text);
      const more = await api(world, `/objects/${SHARED_ID}/sightings`, world.alice, {
        method: 'POST',
        body: { count: 1_000_000 },
      });
      assert.equal(more.status, 200, more.text);
      assert.equal(more.json.sightings, 2_000_000);
      assert.equal(more.json.countedSightings, DEFAULT_POLICY.sightingsPerOrganisation);
      assert.equal(more.json.falsePositives, 1);
      assert.equal(more.json.organisations, 1);
    });

    test('public readers may not give feedback', async () => {
      const read = await api(world, `/objects/${PUBLIC_ID}/correlation`, world.olga);
      assert.equal(read.status, 200, read.text);
      assert.equal(read.json.feedback.sightings, 0);

      const onPublic = await api(world, `/objects/${PUBLIC_ID}/sightings`, world.olga, {
        method: 'POST',
        body: { count: 5 },
      });
      const onUnknown = await api(world, `/objects/${UNKNOWN_ID}/sightings`, world.olga, {
        method: 'POST',
        body: { count: 5 },
      });
      assert.equal(onPublic.status, 404, onPublic.text);
      assert.equal(onUnknown.status, 404, onUnknown.text);
      assert.equal(
        onPublic.text.replaceAll(PUBLIC_ID, 'ID'),
        onUnknown.text.replaceAll(UNKNOWN_ID, 'ID'),
      );
      const falsePositive = await api(world, `/objects/${PUBLIC_ID}/false-positive`, world.olga, {
        method: 'POST',
        body: {},
      });
      assert.equal(falsePositive.status, 404, falsePositive.text);
      const { store } = world.server.server;
      const all = await store.getFeedback([PUBLIC_ID], [world.ringA, world.ringB]);
      assert.deepEqual(all, []);
    });
  });
}

runFeedbackScopes('SQLite', async () => undefined);

const database = await createTestDatabase();
if (typeof database === 'string') {
  describe('feedback scopes on PostgreSQL', { skip: database }, () => {
    test('needs PostgreSQL', () => undefined);
  });
} else {
  after(async () => {
    await database.drop();
  });
  runFeedbackScopes('PostgreSQL', () => database.freshSchema());
}
