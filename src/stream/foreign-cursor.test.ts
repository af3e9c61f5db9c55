/**
 * A cursor of another deployment, sent to a stream: two servers with stores of their own,
 * one on SQLite and one on PostgreSQL (CAIRN_TEST_POSTGRES or 127.0.0.1:5432, which
 * CI=true requires). In Last-Event-ID, where a reconnecting EventSource puts it, the
 * cursor resyncs. In `from`, the client gets a 400 whose message names the cursor's origin.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createTestDatabase } from '../store/postgres/database.test-helper.ts';
import { indicator } from '../testing/stix.ts';
import { call, startTestServer, type TestServer } from '../testing/server.ts';
import {
  collect,
  eventCount,
  eventsOf,
  makeWorld,
  post,
  type World,
} from './streams.test-helper.ts';

const database = await createTestDatabase();
const STREAMS = '/api/v1/streams';
const FOREIGN = /is a cursor of another server, or of this one before its cursor key changed/;

interface Deployment {
  name: string;
  server: TestServer;
  world: World;
  /** The cursor of an event this deployment sent. */
  cursor: string;
}

function streamUrl(deployment: Deployment, query = ''): string {
  return `${deployment.server.url}${STREAMS}/collections/${deployment.world.collectionA.id}${query}`;
}

/** Starts a server, shares one object and reads its event's cursor from the stream. */
async function deploy(name: string, store?: string): Promise<Deployment> {
  const server = await startTestServer({
    streams: { heartbeatSeconds: 0.2, pollSeconds: 0.2 },
    ...(store === undefined ? {} : { store }),
  });
  const world = await makeWorld(server);
  const deployment: Deployment = { name, server, world, cursor: '' };
  const reading = collect(streamUrl(deployment, '?from=start'), world.alice.token, {
    until: (messages) => eventCount(messages) >= 1,
  });
  await post(server, world.alice.token, world.collectionA, [indicator()]);
  const [event] = eventsOf(await reading);
  deployment.cursor = event!.id!;
  return deployment;
}

describe('cursor of another deployment', { timeout: 120_000 }, () => {
  const skip = typeof database === 'string' ? database : false;
  const deployments: Deployment[] = [];

  before(async () => {
    if (typeof database === 'string') return;
    deployments.push(await deploy('SQLite'));
    deployments.push(await deploy('PostgreSQL', await database.freshSchema()));
  });

  after(async () => {
    await Promise.all(deployments.map((deployment) => deployment.server.dispose()));
    if (typeof database !== 'string') await database.drop();
  });

  test('Last-Event-ID from another deployment resyncs', { skip }, async () => {
    for (const [index, here] of deployments.entries()) {
      const there = deployments[1 - index]!;
      const messages = await collect(streamUrl(here), here.world.alice.token, {
        lastEventId: there.cursor,
        until: (received) => received.some((message) => message.event === 'replayed'),
      });
      assert.equal(messages[0]!.event, 'resync', here.name);
      assert.equal(messages[0]!.data.reason, 'cursor-unknown', here.name);
      assert.equal(
        messages.filter((message) => message.event === 'replay').length,
        1,
        `${here.name} replays its one object`,
      );
      const opened = here.server.logs.filter((line) => line.msg === 'stream opened').at(-1)!;
      assert.equal(opened.start, 'resync', here.name);
      assert.equal(opened.resyncReason, 'cursor-unknown', here.name);
    }
  });

  test('from with another deployment cursor rejected', { skip }, async () => {
    for (const [index, here] of deployments.entries()) {
      const there = deployments[1 - index]!;
      const refused = await call(here.server, streamUrl(here, `?from=${there.cursor}`), {
        token: here.world.alice.token,
        accept: null,
      });
      assert.equal(refused.status, 400, here.name);
      assert.equal(refused.json.error.code, 'invalid-parameter', here.name);
      assert.match(refused.json.error.message, FOREIGN, here.name);
      assert.ok(refused.json.error.message.includes(there.cursor), 'the message names the cursor');
    }
  });

  test('own cursor still resumes in from', { skip }, async () => {
    for (const here of deployments) {
      const later = indicator();
      const reading = collect(streamUrl(here, `?from=${here.cursor}`), here.world.alice.token, {
        until: (messages) => eventCount(messages) >= 1,
      });
      await post(here.server, here.world.alice.token, here.world.collectionA, [later]);
      const [event] = eventsOf(await reading);
      assert.equal(event!.data.id, later.id, here.name);
    }
  });

  test('Last-Event-ID wins over a foreign from', { skip }, async () => {
    const [here, there] = [deployments[0]!, deployments[1]!];
    const next = indicator();
    const reading = collect(streamUrl(here, `?from=${there.cursor}`), here.world.alice.token, {
      lastEventId: here.cursor,
      until: (messages) => eventsOf(messages).some((message) => message.data.id === next.id),
    });
    await post(here.server, here.world.alice.token, here.world.collectionA, [next]);
    const messages = await reading;
    assert.ok(
      messages.every((message) => message.event !== 'resync'),
      'the stream resynced although Last-Event-ID was its own cursor',
    );
  });

  test('malformed Last-Event-ID still rejected', { skip }, async () => {
    const here = deployments[0]!;
    for (const value of ['garbage', `${here.cursor}A`]) {
      const refused = await call(here.server, streamUrl(here), {
        token: here.world.alice.token,
        accept: null,
        headers: { 'Last-Event-ID': value },
      });
      assert.equal(refused.status, 400, value);
      assert.match(refused.json.error.message, /Last-Event-ID .* is not a cursor/, value);
    }
  });
});
