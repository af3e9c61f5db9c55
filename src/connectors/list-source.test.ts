/**
 * CSV and text connectors on real published lists: a local file, and the same data over
 * HTTP with an ETag, so an unchanged feed is not read again; a run stopped after one batch
 * resumes after it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../log/logger.ts';
import { createSharingServices } from '../sharing/service.ts';
import { dataPath } from '../testing/data.ts';
import { WarninglistMatcher, loadWarninglists } from '../warninglists/index.ts';
import { startTestServer, type TestServer } from '../testing/server.ts';
import type { Connector, NewConnector } from './definition.ts';
import { runConnector, type RunnerDeps } from './runner.ts';
import { sourceFor } from './sources.ts';
import { publicConnector, secretBoxFrom } from './secrets.ts';
import { connectorJson } from './views.ts';
import { ConnectorService } from './service.ts';
import { createConnector, defaultCollectionId, stoppingAfterFirstBatch } from './testing.ts';

const QUAD9 = dataPath('stalkerware-indicators/generated/quad9_blocklist.txt');
const NETWORK_CSV = dataPath('stalkerware-indicators/generated/network.csv');

let local: TestServer;
let deps: RunnerDeps;
let target: string;
let feed: Server;
let feedUrl: string;
let feedRequests: Array<string | undefined> = [];

before(async () => {
  local = await startTestServer({ connectors: { scheduler: false } });
  deps = { store: local.server.store, logger: createLogger('silent'), sourceFor };
  target = await defaultCollectionId(local);

  const csv = readFileSync(NETWORK_CSV);
  feed = createServer((request, response) => {
    feedRequests.push(request.headers['if-none-match']);
    if (request.headers['if-none-match'] === '"v1"') {
      response.writeHead(304).end();
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/csv', ETag: '"v1"' }).end(csv);
  });
  await new Promise<void>((resolve) => feed.listen(0, '127.0.0.1', resolve));
  feedUrl = `http://127.0.0.1:${(feed.address() as AddressInfo).port}/network.csv`;
});

after(async () => {
  await new Promise((resolve) => feed.close(resolve));
  await local.dispose();
});

function connector(extra: Partial<NewConnector>): Promise<Connector> {
  return createConnector(local, {
    kind: 'text',
    url: QUAD9,
    collection: target,
    intervalSeconds: 3600,
    warningLists: 'off',
    ...extra,
  });
}

/** Values of a list, one per line, and how many are distinct in lower case. */
function listValues(path: string): { lines: number; distinct: number } {
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => line.trim().toLowerCase())
    .filter((line) => line !== '' && !line.startsWith('#'));
  return { lines: lines.length, distinct: new Set(lines).size };
}

describe('list connectors', () => {
  test('text list from a file', async () => {
    const definition = await connector({ kind: 'text', url: QUAD9 });
    const result = await runConnector(deps, definition, new AbortController().signal);

    assert.equal(result.health.outcome === 'failed', false, result.health.error);
    // One SCO per distinct domain and one indicator per line; a repeated line repeats its
    // indicator, which the store counts as a duplicate. The list has no invalid line.
    const { lines, distinct } = listValues(QUAD9);
    assert.equal(result.health.rejected, 0);
    assert.equal(result.health.objectsIn, distinct + lines);
    assert.equal(result.health.added, 2 * distinct);
    assert.equal(result.health.duplicates, lines - distinct);
    const indicators = await local.server.store.queryObjects({
      collectionId: target,
      types: ['indicator'],
      limit: 5,
    });
    assert.ok(indicators.items.length > 0);
    const first = JSON.parse(indicators.items[0]!.json) as Record<string, unknown>;
    assert.match(String(first.pattern), /^\[domain-name:value = '/);

    // An unchanged file is not read again, and the counts of the run that read it stay.
    const again = await runConnector(deps, definition, new AbortController().signal);
    assert.equal(again.health.objectsIn, 0);
    assert.equal(again.health.outcome, 'succeeded');
    assert.equal(again.state.lastRun?.objectsIn, 0);
    assert.deepEqual(again.state.lastRunWithData, result.health);
    const shown = connectorJson({
      connector: publicConnector(definition),
      state: again.state,
      running: false,
    });
    const health = shown.health as Record<string, { objectsIn: number; startedAt: string }>;
    assert.equal(health.lastRunWithData!.objectsIn, distinct + lines);
    assert.equal(typeof health.lastRunWithData!.startedAt, 'string');
    assert.equal(health.lastRun!.objectsIn, 0);
  });

  test('CSV over HTTP honours the ETag', async () => {
    feedRequests = [];
    const definition = await connector({
      kind: 'csv',
      url: feedUrl,
      csvMapping: 'value=indicator,type=type',
    });
    const first = await runConnector(deps, definition, new AbortController().signal);

    assert.notEqual(first.health.outcome, 'failed', first.health.error);
    assert.ok(first.health.added > 0);
    assert.deepEqual(first.state.checkpoint, {
      validator: 'etag:"v1"',
      position: first.health.objectsIn - first.health.rejected,
      complete: true,
    });

    const second = await runConnector(deps, definition, new AbortController().signal);
    assert.equal(second.health.outcome, 'succeeded');
    assert.equal(second.health.objectsIn, 0);
    assert.deepEqual(feedRequests, [undefined, '"v1"']);
  });

  test('a stopped run resumes after its last batch', async () => {
    const definition = await connector({
      kind: 'text',
      url: QUAD9,
      batchSize: 100,
      name: 'resume',
    });
    const stop = new AbortController();
    const stopping = stoppingAfterFirstBatch(deps, stop);
    const broken = await runConnector(stopping, definition, stop.signal);
    assert.equal(broken.health.outcome, 'failed');
    assert.match(broken.health.error ?? '', /test stop/);
    assert.equal((broken.state.checkpoint as { position: number }).position, 100);

    const resumed = await runConnector(deps, definition, new AbortController().signal);
    assert.notEqual(resumed.health.outcome, 'failed', resumed.health.error);
    const { lines, distinct } = listValues(QUAD9);
    assert.equal(resumed.health.objectsIn, distinct + lines - 100);
  });

  test('warning lists drop known-benign values', async () => {
    const matcher = new WarninglistMatcher(
      await loadWarninglists(dataPath('misp-warninglists/lists')),
    );
    const dir = mkdtempSync(join(tmpdir(), 'cairn-list-'));
    const file = join(dir, 'mixed.txt');
    writeFileSync(file, 'google.com\n8.8.8.8\nunlisted-c2.example\n');
    try {
      const definition = await connector({
        kind: 'text',
        url: file,
        warningLists: 'drop',
        name: 'benign',
      });
      const result = await runConnector(
        { ...deps, warninglists: matcher },
        definition,
        new AbortController().signal,
      );
      assert.notEqual(result.health.outcome, 'failed', result.health.error);
      assert.equal(result.health.rejectedByReason.warninglist, 2);
      // The SCO and the indicator of the one unlisted value.
      assert.equal(result.health.added, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('label and lower count flagged values', async () => {
    const matcher = new WarninglistMatcher(
      await loadWarninglists(dataPath('misp-warninglists/lists')),
    );
    const dir = mkdtempSync(join(tmpdir(), 'cairn-list-'));
    try {
      for (const policy of ['label', 'lower'] as const) {
        // A file per policy: a second connector of the same URL and collection would find
        // the indicators of the first stored and add nothing.
        const file = join(dir, `flagged-${policy}.txt`);
        writeFileSync(file, 'google.com\n8.8.8.8\nunlisted-c2.example\n');
        const definition = await connector({
          kind: 'text',
          url: file,
          warningLists: policy,
          name: `flagged ${policy}`,
        });
        const result = await runConnector(
          { ...deps, warninglists: matcher },
          definition,
          new AbortController().signal,
        );
        assert.notEqual(result.health.outcome, 'failed', result.health.error);
        assert.equal(result.health.rejected, 0, policy);
        // The SCO and the indicator of each of the two listed values. The second run finds
        // the SCOs that the first stored, so it stores and flags only the indicators.
        assert.equal(result.health.flagged, policy === 'label' ? 4 : 2, policy);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an org admin's connector reaches public addresses only", async () => {
    const { store } = local.server;
    const services = createSharingServices(store, { defaultApiRoot: 'default' });
    const admin = (await store.listUsers()).find((user) => user.role === 'platform-admin')!;
    const oscar = await services.createUser({ userId: admin.id }, admin.organisationId, {
      name: 'oscar',
      role: 'org-admin',
    });
    // Only a service with connectors.allowPrivateTargets lets oscar save such URLs.
    const allowing = new ConnectorService(store, secretBoxFrom(local.config), {
      allowPrivateTargets: true,
    });
    const stored = async (name: string, url: string): Promise<Connector> => {
      const view = await allowing.create(
        { userId: oscar.id },
        { name, kind: 'csv', url, collection: target, intervalSeconds: 3600, warningLists: 'off' },
      );
      const document = await store.getDocument('connector', view.connector.id);
      return JSON.parse(document!.body) as Connector;
    };
    const run = (definition: Connector, extra: Partial<RunnerDeps> = {}) =>
      runConnector({ ...deps, ...extra }, definition, new AbortController().signal);

    feedRequests = [];
    const literal = await stored('inward literal', feedUrl);
    const refused = await run(literal);
    assert.equal(refused.health.outcome, 'failed');
    assert.match(refused.health.error ?? '', /127\.0\.0\.1 is a loopback, private/);
    assert.deepEqual(feedRequests, []);
    const allowed = await run(literal, { allowPrivateTargets: true });
    assert.notEqual(allowed.health.outcome, 'failed', allowed.health.error);
    assert.equal(feedRequests.length, 1);

    // A name is checked on the address it resolves to, when the run connects.
    const port = new URL(feedUrl).port;
    const named = await stored('inward name', `http://localhost:${port}/network.csv`);
    const resolved = await run(named);
    assert.equal(resolved.health.outcome, 'failed');
    assert.match(resolved.health.error ?? '', /localhost resolves to the non-public address/);
    assert.equal(feedRequests.length, 1);

    // A URL that a platform admin gives may be private: the admin operates the server.
    const changed = await new ConnectorService(store, secretBoxFrom(local.config)).update(
      { userId: admin.id },
      named.id,
      { url: feedUrl },
    );
    assert.equal(changed.connector.urlSetBy, admin.id);
    const document = await store.getDocument('connector', named.id);
    const byAdmin = await run(JSON.parse(document!.body) as Connector);
    assert.notEqual(byAdmin.health.outcome, 'failed', byAdmin.health.error);
    assert.equal(feedRequests.length, 2);
  });

  test('a missing file fails the run with its path', async () => {
    const definition = await connector({ kind: 'text', url: '/nonexistent/list.txt' });
    const result = await runConnector(deps, definition, new AbortController().signal);
    assert.equal(result.health.outcome, 'failed');
    assert.match(result.health.error ?? '', /\/nonexistent\/list\.txt: ENOENT/);
  });
});
