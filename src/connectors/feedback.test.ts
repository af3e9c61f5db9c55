/**
 * Sightings that a connector stores count as feedback of the connector's organisation, in
 * the scope of its target collection only.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';

import { createLogger } from '../log/logger.ts';
import { feedbackScope } from '../scoring/feedback.ts';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { runConnector } from './runner.ts';
import { secretBoxFrom } from './secrets.ts';
import { sourceFor } from './sources.ts';
import { createConnector, defaultCollectionId, indicators, postObjects } from './testing.ts';

let remote: TestServer;
let local: TestServer;

before(async () => {
  remote = await startTestServer();
  local = await startTestServer({ connectors: { scheduler: false } });
});

after(async () => {
  await remote.dispose();
  await local.dispose();
});

test('connector sightings keep their scope', async () => {
  const [indicator] = indicators(1);
  const indicatorId = String(indicator!.id);
  await postObjects(remote, [
    indicator,
    {
      type: 'sighting',
      spec_version: '2.1',
      id: `sighting--${randomUUID()}`,
      created: '2024-05-02T10:00:00.000Z',
      modified: '2024-05-02T10:00:00.000Z',
      sighting_of_ref: indicatorId,
      count: 7,
    },
  ]);
  const target = await defaultCollectionId(local);
  const definition = await createConnector(local, {
    kind: 'taxii',
    url: `${remote.url}/default/collections/default/`,
    auth: { type: 'bearer', token: remote.adminToken },
    collection: target,
    intervalSeconds: 3600,
  });
  const deps = {
    store: local.server.store,
    logger: createLogger('silent'),
    sourceFor,
    secrets: secretBoxFrom(local.config)!,
  };
  const result = await runConnector(deps, definition, new AbortController().signal);
  assert.equal(result.health.outcome, 'succeeded', result.health.error);

  const { store } = local.server;
  const collection = await store.getCollectionById(target);
  assert.ok(collection);
  const scope = feedbackScope(collection);
  const reports = await store.getFeedback([indicatorId], [scope]);
  assert.equal(reports.length, 1);
  assert.equal(reports[0]!.sightings, 7);
  assert.equal(reports[0]!.organisationId, definition.organisationId);
  assert.equal(reports[0]!.falsePositive, false);
  assert.deepEqual(await store.getFeedback([indicatorId], [`collection:${target}`]), []);
});
