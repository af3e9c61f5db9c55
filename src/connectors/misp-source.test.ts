/**
 * MISP connectors on the published Infoblox MISP feed, served over HTTP by the test with a
 * manifest cut down to a few events plus one the feed lacks, and on a single ESET event
 * file: incremental runs, missing events, and a run resumed inside an event.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../log/logger.ts';
import { dataPath } from '../testing/data.ts';
import { startTestServer, type TestServer } from '../testing/server.ts';
import type { Connector, NewConnector } from './definition.ts';
import { MispSource, type MispCheckpoint } from './misp-source.ts';
import { runConnector, type RunnerDeps } from './runner.ts';
import type { ConnectorSource } from './source.ts';
import { sourceFor } from './sources.ts';
import { createConnector, defaultCollectionId } from './testing.ts';

const FEED = dataPath('infoblox-threat-intelligence/indicators/misp');
const SMALLEST = ['dad88707-beb8-4a14-94e2-5ffecf5a5f85', '24e799ca-aad8-4244-8005-90b3ceb44540'];
const ABSENT = '3493a2df-8c62-451b-99bf-312292104994';

let local: TestServer;
let deps: RunnerDeps;
let target: string;
let feed: Server;
let feedUrl: string;
/** The manifest the test feed serves; tests change it. */
let manifest: Record<string, unknown>;
const served: string[] = [];

before(async () => {
  local = await startTestServer({ connectors: { scheduler: false } });
  deps = { store: local.server.store, logger: createLogger('silent'), sourceFor };
  target = await defaultCollectionId(local);

  const full = JSON.parse(readFileSync(join(FEED, 'manifest.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  manifest = Object.fromEntries([...SMALLEST, ABSENT].map((uuid) => [uuid, full[uuid]]));
  feed = createServer((request, response) => {
    const name = (request.url ?? '').split('/').pop() ?? '';
    served.push(name);
    if (name === 'manifest.json') {
      response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(manifest));
      return;
    }
    if (!/^[0-9a-f-]{36}\.json$/.test(name)) {
      response.writeHead(404).end();
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(join(FEED, name));
    } catch {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => feed.listen(0, '127.0.0.1', resolve));
  feedUrl = `http://127.0.0.1:${(feed.address() as AddressInfo).port}/feed/`;
});

after(async () => {
  await new Promise((resolve) => feed.close(resolve));
  await local.dispose();
});

function connector(extra: Partial<NewConnector>): Promise<Connector> {
  return createConnector(local, {
    kind: 'misp-feed',
    url: feedUrl,
    collection: target,
    intervalSeconds: 3600,
    warningLists: 'off',
    ...extra,
  });
}

function run(definition: Connector, runner = deps) {
  return runConnector(runner, definition, new AbortController().signal);
}

describe('MISP connectors', () => {
  test('feed over HTTP, then only changed events', async () => {
    const definition = await connector({});
    served.length = 0;
    const first = await run(definition);

    assert.equal(first.health.outcome, 'partial', first.health.error);
    assert.equal(first.health.rejectedByReason['missing-event'], 1);
    assert.ok(first.health.added > 0);
    const checkpoint = first.state.checkpoint as MispCheckpoint;
    assert.deepEqual(Object.keys(checkpoint.events).sort(), [...SMALLEST].sort());
    assert.equal(checkpoint.current, undefined);
    assert.ok(served.includes(`${SMALLEST[0]}.json`));

    // Nothing changed: only the manifest and the absent event are asked for again.
    served.length = 0;
    const second = await run(definition);
    assert.equal(second.health.added, 0);
    assert.deepEqual(served.sort(), [`${ABSENT}.json`, 'manifest.json']);

    // A newer timestamp makes the event fetched again; its objects are duplicates.
    const entry = manifest[SMALLEST[1]!] as { timestamp: string };
    manifest[SMALLEST[1]!] = { ...entry, timestamp: String(Number(entry.timestamp) + 1) };
    served.length = 0;
    const third = await run(definition);
    assert.ok(served.includes(`${SMALLEST[1]}.json`));
    assert.equal(third.health.added, 0);
    assert.ok(third.health.duplicates > 0);
  });

  test('a run stopped inside an event resumes there', async () => {
    const definition = await connector({ batchSize: 5, name: 'misp resume' });
    const stop = new AbortController();
    let batches = 0;
    const stopping: RunnerDeps = {
      ...deps,
      sourceFor: (connector): ConnectorSource => ({
        async *read(context) {
          for await (const batch of sourceFor(connector).read(context)) {
            if (++batches === 2) stop.abort(new Error('test stop'));
            yield batch;
          }
        },
      }),
    };
    const broken = await runConnector(stopping, definition, stop.signal);
    assert.equal(broken.health.outcome, 'failed');
    const stored = broken.state.checkpoint as MispCheckpoint;
    assert.equal(stored.current?.position, 10);
    const storedIn = broken.health.objectsIn;

    const resumed = await run(definition);
    assert.notEqual(resumed.health.outcome, 'failed', resumed.health.error);
    const full = await run(await connector({ name: 'misp full' }));
    // The two partial runs together read what one whole run reads.
    assert.equal(storedIn + resumed.health.objectsIn, full.health.objectsIn);
  });

  test('invalid manifest keys are reported', async () => {
    const definition = await connector({ name: 'misp bad keys' });
    const keys = ['../../etc/passwd', `${'x'.repeat(300)}\u0007`];
    for (const key of keys) manifest[key] = { timestamp: '1' };
    try {
      const result = await run(definition);
      assert.equal(result.health.outcome, 'partial', result.health.error);
      assert.equal(result.health.rejectedByReason['invalid-manifest'], 2);
      const failures = result.health.failures.filter((failure) =>
        failure.id.startsWith('manifest entry'),
      );
      assert.equal(failures[0]?.id, 'manifest entry "../../etc/passwd"');
      assert.ok(failures[1]!.id.length < 130, failures[1]!.id);
      assert.ok(!failures[1]!.id.includes(String.fromCharCode(7)), 'no control character');
      assert.ok(result.health.added + result.health.duplicates > 0, 'the valid events are read');
      assert.ok(!served.some((name) => name.includes('passwd')));
    } finally {
      for (const key of keys) delete manifest[key];
    }
  });

  test('an event larger than the limit is skipped', async () => {
    const definition = await connector({ name: 'misp small limit' });
    // Between the sizes of the two events, so only the larger one is too large.
    const sizes = SMALLEST.map((uuid) => readFileSync(join(FEED, `${uuid}.json`)).length);
    const limit = Math.min(...sizes) + 1;
    const limited: RunnerDeps = {
      ...deps,
      sourceFor: () => new MispSource('misp-feed', limit),
    };
    const result = await run(definition, limited);
    assert.equal(result.health.outcome, 'partial', result.health.error);
    assert.equal(result.health.rejectedByReason['too-large'], 1);
    const larger = SMALLEST[sizes[0]! > sizes[1]! ? 0 : 1]!;
    const failure = result.health.failures.find((entry) => entry.id === `event ${larger}`);
    assert.match(failure?.message ?? '', /larger than \d+ bytes/);
    const checkpoint = result.state.checkpoint as MispCheckpoint;
    assert.equal(Object.keys(checkpoint.events).length, 1, 'the smaller event is stored');
  });

  test('single ESET event from a file', async () => {
    const file = dataPath('eset-malware-ioc/winnti_group/gaming_supply_chain.misp_event.json');
    const definition = await connector({ kind: 'misp-event', url: file, name: 'eset event' });
    const result = await run(definition);
    assert.notEqual(result.health.outcome, 'failed', result.health.error);
    assert.ok(result.health.added > 0);
    const again = await run(definition);
    assert.equal(again.health.objectsIn, 0, 'an unchanged file is not read again');
  });

  test('a folder without a manifest fails clearly', async () => {
    const definition = await connector({ url: dataPath('eset-malware-ioc'), name: 'no manifest' });
    const result = await run(definition);
    assert.equal(result.health.outcome, 'failed');
    assert.match(result.health.error ?? '', /manifest\.json: ENOENT/);
  });
});
