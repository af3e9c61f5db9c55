/**
 * TAXII connectors against a second Cairn started in the test, through a proxy that
 * records every request and misbehaves on purpose: paging with next, paging with
 * added_after only, 500 and 429 answers, a crash in the middle of a run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { LOWERED_CONFIDENCE } from '../ingest/formats/index.ts';
import { createLogger } from '../log/logger.ts';
import { deterministicScoId } from '../stix/ids.ts';
import { call, startTestServer, type TestServer } from '../testing/server.ts';
import { WarninglistMatcher } from '../warninglists/index.ts';
import type { Connector, NewConnector } from './definition.ts';
import { runConnector, type RunnerDeps } from './runner.ts';
import { ConnectorScheduler } from './scheduler.ts';
import { SecretBox, secretBoxFrom } from './secrets.ts';
import { sourceFor } from './sources.ts';
import type { TaxiiCheckpoint } from './taxii-source.ts';
import {
  createConnector,
  defaultCollectionId,
  indicators,
  postObjects,
  startProxy,
  type ProxyAction,
  type TaxiiProxy,
} from './testing.ts';

/** Objects on the remote server, and its page size: 30 objects come in 5 pages. */
const REMOTE_OBJECTS = 30;
const REMOTE_PAGE = 7;

let remote: TestServer;
let local: TestServer;
let deps: RunnerDeps;
let target: string;
const proxies: TaxiiProxy[] = [];
/** Objects on the remote server now; a test adds some. */
let remoteTotal = REMOTE_OBJECTS;

before(async () => {
  remote = await startTestServer({ taxii: { pageSize: REMOTE_PAGE } });
  local = await startTestServer({ connectors: { scheduler: false } });
  await postObjects(remote, indicators(REMOTE_OBJECTS));
  deps = {
    store: local.server.store,
    logger: createLogger('silent'),
    sourceFor,
    secrets: secretBoxFrom(local.config)!,
  };
  target = await defaultCollectionId(local);
});

after(async () => {
  for (const proxy of proxies) await proxy.close();
  await remote.dispose();
  await local.dispose();
});

async function proxy(decide: (url: URL, n: number) => ProxyAction): Promise<TaxiiProxy> {
  const started = await startProxy(remote.url, decide);
  proxies.push(started);
  return started;
}

const forward = (): ProxyAction => ({ forward: true });

/** Creates a connector on the local server towards the remote default collection. */
function connector(proxyUrl: string, extra: Partial<NewConnector> = {}): Promise<Connector> {
  return createConnector(local, {
    kind: 'taxii',
    url: `${proxyUrl}/default/collections/default/`,
    auth: { type: 'bearer', token: remote.adminToken },
    collection: target,
    intervalSeconds: 3600,
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 2000 },
    ...extra,
  });
}

function run(definition: Connector) {
  return runConnector(deps, definition, new AbortController().signal);
}

describe('TAXII connector', () => {
  test('pages with next, repeating the original query', async () => {
    const seen = await proxy(forward);
    const definition = await connector(seen.url);
    const first = await run(definition);

    assert.equal(first.health.outcome, 'succeeded', first.health.error);
    assert.equal(first.health.objectsIn, REMOTE_OBJECTS);
    assert.equal(first.health.added + first.health.duplicates, REMOTE_OBJECTS);
    assert.equal(seen.requests.length, Math.ceil(REMOTE_OBJECTS / REMOTE_PAGE));
    assert.equal(seen.requests[0]!.url.searchParams.has('next'), false);
    for (const request of seen.requests.slice(1)) {
      assert.ok(request.url.searchParams.has('next'), `${request.url} carries next`);
      assert.equal(request.url.searchParams.has('added_after'), false, 'no added_after mixed in');
    }
    const checkpoint = first.state.checkpoint as TaxiiCheckpoint;
    assert.equal(checkpoint.paging, undefined);
    assert.match(checkpoint.addedAfter ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    // The next run asks only for what was added since, with the stored high-water mark.
    const fresh = indicators(3, 1000);
    await postObjects(remote, fresh);
    remoteTotal += fresh.length;
    const second = await run(definition);
    assert.equal(second.health.outcome, 'succeeded', second.health.error);
    assert.equal(second.health.objectsIn, 3);
    assert.equal(second.health.added, 3);
    const resumed = seen.requests[Math.ceil(REMOTE_OBJECTS / REMOTE_PAGE)]!;
    assert.equal(resumed.url.searchParams.get('added_after'), checkpoint.addedAfter);
  });

  test('falls back to added_after when the server sends no next', async () => {
    const seen = await proxy((url) =>
      url.searchParams.has('next')
        ? { status: 400, body: '{"title":"this server pages with added_after only"}' }
        : {
            forward: true,
            rewrite: (envelope) => {
              const { next: _next, ...rest } = envelope;
              return rest;
            },
          },
    );
    const result = await run(await connector(seen.url));

    assert.equal(result.health.outcome, 'succeeded', result.health.error);
    assert.ok(result.health.objectsIn >= REMOTE_OBJECTS);
    const afters = seen.requests.map((request) => request.url.searchParams.get('added_after'));
    assert.equal(afters[0], null);
    for (let i = 1; i < afters.length; i++) {
      assert.ok(afters[i]! > (afters[i - 1] ?? ''), `added_after grows: ${afters.join(', ')}`);
    }
    assert.ok(seen.requests.every((request) => !request.url.searchParams.has('next')));
  });

  test('retries a 500 and recovers', async () => {
    const seen = await proxy((_url, n) =>
      n === 1 ? { status: 500, body: '{"title":"restarting"}' } : { forward: true },
    );
    const result = await run(await connector(seen.url));

    assert.equal(result.health.outcome, 'succeeded', result.health.error);
    assert.equal(result.health.retries, 1);
    assert.match(result.health.warnings[0] ?? '', /HTTP 500/);
    assert.equal(result.health.objectsIn, remoteTotal);
  });

  test('waits as long as Retry-After on a 429', async () => {
    const seen = await proxy((_url, n) =>
      n === 1 ? { status: 429, headers: { 'Retry-After': '1' } } : { forward: true },
    );
    const started = Date.now();
    const result = await run(await connector(seen.url));

    assert.equal(result.health.outcome, 'succeeded', result.health.error);
    assert.equal(result.health.retries, 1);
    assert.ok(Date.now() - started >= 1000, 'the retry waited for Retry-After');
    assert.match(result.health.warnings[0] ?? '', /in 1000 ms: HTTP 429/);
  });

  test('gives up after the last attempt and keeps the checkpoint', async () => {
    let failing = true;
    const seen = await proxy((_url, n) =>
      failing && n >= 3 ? { status: 503 } : { forward: true },
    );
    const definition = await connector(seen.url, {
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 50 },
    });
    const broken = await run(definition);

    assert.equal(broken.health.outcome, 'failed');
    assert.match(broken.health.error ?? '', /HTTP 503.* after 2 attempts/);
    assert.equal(broken.health.objectsIn, 2 * REMOTE_PAGE);
    assert.equal(broken.state.consecutiveFailures, 1);
    const stored = broken.state.checkpoint as TaxiiCheckpoint;
    assert.ok(stored.paging?.next, 'the checkpoint keeps the next token');

    // The re-run resumes at the page after the last stored one.
    failing = false;
    const before = seen.requests.length;
    const resumed = await run(definition);
    assert.equal(resumed.health.outcome, 'succeeded', resumed.health.error);
    assert.equal(seen.requests[before]!.url.searchParams.get('next'), stored.paging.next);
    assert.equal(resumed.health.objectsIn, remoteTotal - 2 * REMOTE_PAGE);
    assert.equal(resumed.state.consecutiveFailures, 0);
  });

  test('an expired next token restarts from the high-water mark', async () => {
    const seen = await proxy((url) =>
      url.searchParams.get('next') === 'expired'
        ? { status: 400, body: '{"title":"next is not valid"}' }
        : { forward: true },
    );
    const definition = await connector(seen.url);
    await local.server.store.putDocument({
      kind: 'connector-state',
      id: definition.id,
      owner: definition.organisationId,
      body: JSON.stringify({
        checkpoint: { paging: { next: 'expired' } },
        consecutiveFailures: 0,
        runs: 0,
      }),
    });
    const result = await run(definition);

    assert.equal(result.health.outcome, 'succeeded', result.health.error);
    assert.equal(seen.requests[1]!.url.searchParams.has('next'), false);
    assert.ok(result.health.objectsIn >= REMOTE_OBJECTS);
  });

  test('basic authentication reaches the remote server', async () => {
    const seen = await proxy(forward);
    const result = await run(
      await connector(seen.url, {
        auth: { type: 'basic', username: 'admin', password: remote.adminToken },
      }),
    );
    assert.equal(result.health.outcome, 'succeeded', result.health.error);
    assert.match(seen.requests[0]!.authorization ?? '', /^Basic /);
  });

  test('a wrong token fails at once without retries', async () => {
    const seen = await proxy(forward);
    const result = await run(
      await connector(seen.url, { auth: { type: 'bearer', token: 'cairn_wrong' } }),
    );
    assert.equal(result.health.outcome, 'failed');
    assert.match(result.health.error ?? '', /HTTP 401/);
    assert.equal(seen.requests.length, 1);
    assert.doesNotMatch(result.health.error ?? '', /cairn_wrong/);
  });

  test('a body that is not JSON fails the run', async () => {
    const seen = await proxy(() => ({ status: 200, body: '<html>login</html>' }));
    const result = await run(await connector(seen.url));
    assert.equal(result.health.outcome, 'failed');
    assert.match(result.health.error ?? '', /not JSON/);
  });

  test('more without next or date header fails clearly', async () => {
    const page = JSON.stringify({ more: true, objects: indicators(1) });
    const seen = await proxy(() => ({ status: 200, body: page }));
    const result = await run(await connector(seen.url));
    assert.equal(result.health.outcome, 'failed');
    assert.match(result.health.error ?? '', /neither "next" nor an X-TAXII-Date-Added-Last/);
    assert.equal(result.health.objectsIn, 0);
  });

  test('invalid remote objects are rejected with reasons', async () => {
    const { pattern: _pattern, ...bad } = indicators(1, 6000)[0]!;
    const page = JSON.stringify({ more: false, objects: [bad, ...indicators(2, 5000)] });
    const seen = await proxy(() => ({ status: 200, body: page }));
    const result = await run(await connector(seen.url));
    assert.equal(result.health.outcome, 'partial');
    assert.equal(result.health.rejected, 1);
    assert.equal(result.health.added, 2);
    assert.equal(result.health.failures[0]?.id, bad.id);
    assert.match(result.health.failures[0]?.message ?? '', /pattern/);
  });
});

describe('TAXII connector warning lists', () => {
  const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const lists = new WarninglistMatcher([
    { name: 'top-sites', type: 'hostname', entries: ['google.com'], matchingAttributes: [] },
    { name: 'public-dns', type: 'cidr', entries: ['8.8.8.8/32'], matchingAttributes: [] },
    {
      name: 'empty-hashes',
      type: 'string',
      entries: [EMPTY_SHA256],
      matchingAttributes: ['sha256'],
    },
  ]);

  function indicator(
    name: string,
    pattern: string,
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> & { id: string } {
    return { ...indicators(1)[0]!, id: `indicator--${randomUUID()}`, name, pattern, ...extra };
  }

  /** Listed objects: single comparisons on a listed value, and SCOs of listed values. */
  const listed = {
    domain: indicator('listed domain', "[domain-name:value = 'google.com']", { confidence: 80 }),
    subdomain: indicator('listed subdomain', "[domain-name:value = 'WWW.Google.com']"),
    address: indicator('listed address', "[ipv4-addr:value = '8.8.8.8']", { labels: ['dns'] }),
    hash: indicator('listed hash', `[file:hashes.'SHA-256' = '${EMPTY_SHA256}']`),
    domainSco: { type: 'domain-name', spec_version: '2.1', value: 'google.com' },
    addressSco: { type: 'ipv4-addr', spec_version: '2.1', value: '8.8.8.8' },
    fileSco: { type: 'file', spec_version: '2.1', hashes: { 'SHA-256': EMPTY_SHA256 } },
  };
  /** Objects kept unchanged under every policy. */
  const unlisted = {
    either: indicator(
      'listed or not',
      "[domain-name:value = 'google.com'] OR [ipv4-addr:value = '198.18.7.7']",
    ),
    narrowed: indicator(
      'listed and more',
      "[domain-name:value = 'google.com' AND domain-name:resolves_to_refs[*].value = '198.18.7.8']",
    ),
    negated: indicator('negated', "[domain-name:value != 'google.com']"),
    other: indicator('other domain', "[domain-name:value = 'copy9.com']", { confidence: 90 }),
    otherSco: { type: 'domain-name', spec_version: '2.1', value: 'copy9.com' },
  };

  /** SCOs get their deterministic ids (STIX 2.1 section 2.9). */
  const withIds = (objects: Record<string, Record<string, unknown>>) =>
    Object.fromEntries(
      Object.entries(objects).map(([key, object]) => [
        key,
        object.id === undefined ? { ...object, id: deterministicScoId(object) } : object,
      ]),
    ) as Record<string, Record<string, unknown> & { id: string }>;
  const listedObjects = withIds(listed);
  const unlistedObjects = withIds(unlisted);
  let remoteCollection: string;

  before(async () => {
    await remote.server.store.createCollection({
      apiRoot: 'default',
      title: 'warning-listed values',
      alias: 'listed',
    });
    remoteCollection = `collections/listed/`;
    const posted = await call(remote, `${remoteCollection}objects/`, {
      method: 'POST',
      body: { objects: [...Object.values(listedObjects), ...Object.values(unlistedObjects)] },
    });
    assert.equal(posted.status, 202, posted.text);
    assert.equal(posted.json?.failure_count, 0, posted.text);
  });

  /** Runs a connector with `policy` into a new local collection and returns what it stored. */
  async function pull(policy: 'drop' | 'label' | 'lower' | 'off') {
    const alias = `listed-${policy}`;
    const collection = await local.server.store.createCollection({
      apiRoot: 'default',
      title: alias,
      alias,
    });
    const seen = await proxy(forward);
    const definition = await connector(seen.url, {
      url: `${seen.url}/default/${remoteCollection}`,
      collection: collection.id,
      warningLists: policy,
    });
    const result = await runConnector(
      { ...deps, warninglists: lists },
      definition,
      new AbortController().signal,
    );
    const page = await call(local, `collections/${alias}/objects/`);
    const stored = new Map<string, Record<string, unknown>>(
      ((page.json?.objects ?? []) as Array<Record<string, unknown>>).map((object) => [
        String(object.id),
        object,
      ]),
    );
    return { health: result.health, stored };
  }

  test('drop leaves out listed indicators and SCOs', async () => {
    const { health, stored } = await pull('drop');

    assert.equal(health.outcome, 'partial', health.error);
    assert.equal(health.rejectedByReason.warninglist, Object.keys(listed).length);
    assert.equal(health.flagged, 0);
    for (const [key, object] of Object.entries(listedObjects)) {
      assert.equal(stored.has(object.id), false, `${key} is left out`);
    }
    for (const [key, object] of Object.entries(unlistedObjects)) {
      assert.deepEqual(stored.get(object.id), object, `${key} is stored unchanged`);
    }
    const domainFailure = health.failures.find((failure) => failure.id === listed.domain.id);
    assert.match(domainFailure?.message ?? '', /google\.com is on the warning list "top-sites"/);
  });

  test('label marks listed indicators and keeps SCOs', async () => {
    const { health, stored } = await pull('label');

    assert.equal(health.outcome, 'succeeded', health.error);
    assert.equal(health.flagged, Object.keys(listed).length);
    assert.deepEqual(stored.get(listed.domain.id)?.labels, ['warninglist:top-sites']);
    assert.deepEqual(stored.get(listed.subdomain.id)?.labels, ['warninglist:top-sites']);
    assert.deepEqual(stored.get(listed.address.id)?.labels, ['dns', 'warninglist:public-dns']);
    assert.deepEqual(stored.get(listed.hash.id)?.labels, ['warninglist:empty-hashes']);
    assert.equal(stored.get(listed.domain.id)?.confidence, 80);
    for (const key of ['domainSco', 'addressSco', 'fileSco']) {
      const object = listedObjects[key]!;
      assert.deepEqual(stored.get(object.id), object, `${key} is stored unchanged`);
    }
    for (const [key, object] of Object.entries(unlistedObjects)) {
      assert.deepEqual(stored.get(object.id), object, `${key} is stored unchanged`);
    }
  });

  test('lower caps the confidence of listed indicators', async () => {
    const { health, stored } = await pull('lower');

    assert.equal(health.outcome, 'succeeded', health.error);
    assert.equal(health.flagged, Object.keys(listed).length);
    assert.equal(stored.get(listed.domain.id)?.confidence, LOWERED_CONFIDENCE);
    assert.equal(stored.get(listed.subdomain.id)?.confidence, LOWERED_CONFIDENCE);
    assert.deepEqual(stored.get(listed.address.id)?.labels, ['dns']);
    assert.deepEqual(stored.get(listedObjects.domainSco!.id), listedObjects.domainSco);
    assert.equal(stored.get(unlisted.other.id)?.confidence, 90);
    assert.equal(stored.get(unlisted.either.id)?.confidence, undefined);
  });

  test('off stores everything as served', async () => {
    const { health, stored } = await pull('off');

    assert.equal(health.outcome, 'succeeded', health.error);
    assert.equal(health.flagged, 0);
    for (const object of [...Object.values(listedObjects), ...Object.values(unlistedObjects)]) {
      assert.deepEqual(stored.get(object.id), object);
    }
  });
});

describe('TAXII connector page streaming', () => {
  const MiB = 1024 * 1024;

  /** Returns V8's full garbage collection, which `--expose-gc` would make global. */
  function garbageCollector(): () => void {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  }

  /** Creates a connector towards a proxy that responds to every request with `action`. */
  async function fixedPage(action: ProxyAction, extra: Partial<NewConnector> = {}) {
    const seen = await proxy(() => action);
    return { seen, definition: await connector(seen.url, extra) };
  }

  test('stores a page in batches of batchSize', async () => {
    const objects = indicators(1000, 20_000);
    const { definition } = await fixedPage(
      { status: 200, body: JSON.stringify({ more: false, objects }) },
      { batchSize: 100 },
    );
    const result = await run(definition);

    assert.equal(result.health.outcome, 'succeeded', result.health.error);
    assert.equal(result.health.added, 1000);
    // Ten full batches, then the page's end with the new checkpoint.
    assert.equal(result.health.batches, 11);
  });

  test('reads a page larger than 256 MiB without holding it', async () => {
    // Whitespace between the members makes the page large while its objects stay few.
    const padding = Buffer.alloc(MiB, 0x20);
    const objects = indicators(300, 30_000);
    const pageBytes = objects.length * MiB;
    // Memory that survives a full garbage collection, sampled every 10 MiB sent: a reader
    // that kept the page would hold every byte sent so far.
    const collectGarbage = garbageCollector();
    const retained = (): number => {
      collectGarbage();
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.arrayBuffers;
    };
    let peak = 0;
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('{"objects": [');
      for (const [index, object] of objects.entries()) {
        if (index > 0) yield Buffer.from(',');
        yield Buffer.from(JSON.stringify(object));
        yield padding;
        if (index % 10 === 9) peak = Math.max(peak, retained());
      }
      yield Buffer.from('], "more": false}');
    }
    const { definition } = await fixedPage({ status: 200, body }, { batchSize: 50 });
    const baseline = retained();
    const result = await run(definition);

    assert.equal(result.health.outcome, 'succeeded', result.health.error);
    assert.equal(result.health.added, objects.length);
    const growth = peak - baseline;
    assert.ok(
      growth < 32 * MiB,
      `retained memory grew by ${Math.round(growth / MiB)} MiB while reading a ${pageBytes / MiB} MiB page`,
    );
  });

  test('reads more and next that follow the objects', async () => {
    const seen = await proxy((url) =>
      url.searchParams.has('next')
        ? { status: 200, body: JSON.stringify({ objects: indicators(2, 40_000), more: false }) }
        : {
            status: 200,
            body: JSON.stringify({ objects: indicators(3, 40_100), more: true, next: 'page-2' }),
          },
    );
    const result = await run(await connector(seen.url));

    assert.equal(result.health.outcome, 'succeeded', result.health.error);
    assert.equal(result.health.objectsIn, 5);
    assert.equal(seen.requests.length, 2);
    assert.equal(seen.requests[1]!.url.searchParams.get('next'), 'page-2');
  });

  test('an empty envelope or body is an empty page', async () => {
    for (const body of ['{}', '']) {
      const { definition } = await fixedPage({ status: 200, body });
      const result = await run(definition);
      assert.equal(
        result.health.outcome,
        'succeeded',
        `${JSON.stringify(body)}: ${result.health.error}`,
      );
      assert.equal(result.health.objectsIn, 0);
    }
  });

  test('a malformed page fails and keeps the checkpoint', async () => {
    const objects = indicators(5, 50_000).map((object) => JSON.stringify(object));
    const truncated = `{"more": false, "objects": [${objects.join(',')}, {"type": "indicator", "id": `;
    const { definition } = await fixedPage(
      {
        status: 200,
        headers: { 'X-TAXII-Date-Added-Last': '2030-01-01T00:00:00.000000Z' },
        body: truncated,
      },
      { batchSize: 2 },
    );
    const checkpoint: TaxiiCheckpoint = { addedAfter: '2024-06-01T00:00:00.000000Z' };
    await local.server.store.putDocument({
      kind: 'connector-state',
      id: definition.id,
      owner: definition.organisationId,
      body: JSON.stringify({ checkpoint, consecutiveFailures: 0, runs: 0 }),
    });
    const result = await run(definition);

    assert.equal(result.health.outcome, 'failed');
    assert.match(
      result.health.error ?? '',
      /the page from http:\/\/127\.0\.0\.1:\d+\/default\/collections\/default\/objects\/ is not JSON/,
    );
    assert.match(result.health.error ?? '', /truncated/);
    assert.match(result.health.error ?? '', /checkpoint stays before this page/);
    assert.deepEqual(result.state.checkpoint, checkpoint);
    // The complete objects before the break were stored; the next run reads them again.
    assert.equal(result.health.added, 4);
  });

  test('objects that is not a list fails the run', async () => {
    const { definition } = await fixedPage({
      status: 200,
      body: JSON.stringify({ more: false, objects: { type: 'indicator' } }),
    });
    const result = await run(definition);

    assert.equal(result.health.outcome, 'failed');
    assert.match(
      result.health.error ?? '',
      /is not a TAXII envelope: "objects" is an object, not an array/,
    );
    assert.equal(result.health.objectsIn, 0);
  });
});

describe('TAXII connector secrets', () => {
  test('a header secret reaches the remote server', async () => {
    const seen = await proxy(forward);
    const definition = await connector(seen.url, {
      auth: { type: 'none' },
      headers: { Authorization: `Bearer ${remote.adminToken}` },
    });
    assert.match(JSON.stringify(definition.headers), /cairn-secret:v1:/);
    const result = await run(definition);

    assert.equal(result.health.outcome, 'succeeded', result.health.error);
    assert.equal(seen.requests[0]!.authorization, `Bearer ${remote.adminToken}`);
  });

  test('a plaintext token from before runs and is sealed after', async () => {
    const seen = await proxy(forward);
    const created = await connector(seen.url, { auth: { type: 'none' } });
    // Saved before secrets were encrypted: the token as it was given.
    const { store } = local.server;
    const document = await store.getDocument('connector', created.id);
    const legacy = { ...created, auth: { type: 'bearer', token: remote.adminToken } };
    const { revision, updatedAt: _updated, ...rest } = document!;
    await store.putDocument({ ...rest, body: JSON.stringify(legacy) }, revision);

    const scheduler = new ConnectorScheduler(deps);
    const result = await scheduler.runNow(created.id);

    assert.equal(result.health.outcome, 'succeeded', result.health.error);
    assert.equal(seen.requests[0]!.authorization, `Bearer ${remote.adminToken}`);
    const saved = await store.getDocument('connector', created.id);
    assert.equal(
      saved!.body.includes(remote.adminToken),
      false,
      'the token is no longer plaintext',
    );
    assert.match(saved!.body, /"token":"cairn-secret:v1:/);
    // The sealed token still works.
    const again = await scheduler.runNow(created.id);
    assert.equal(again.health.outcome, 'succeeded', again.health.error);
  });

  test('a wrong key fails the run before any request', async () => {
    const seen = await proxy(forward);
    const definition = await connector(seen.url);
    const wrongKey = new SecretBox('0f'.repeat(32));
    const checkpoint: TaxiiCheckpoint = { addedAfter: '2024-06-01T00:00:00.000000Z' };
    await local.server.store.putDocument({
      kind: 'connector-state',
      id: definition.id,
      owner: definition.organisationId,
      body: JSON.stringify({ checkpoint, consecutiveFailures: 0, runs: 0 }),
    });
    const result = await runConnector(
      { ...deps, secrets: wrongKey },
      definition,
      new AbortController().signal,
    );

    assert.equal(result.health.outcome, 'failed');
    assert.match(
      result.health.error ?? '',
      new RegExp(
        `auth\\.token of connector ${definition.id} was encrypted with the key ${deps.secrets!.keyId}, but the configured connectors\\.secretKey is ${wrongKey.keyId}`,
      ),
    );
    assert.equal(seen.requests.length, 0);
    assert.deepEqual(result.state.checkpoint, checkpoint);
    const withoutKey = await runConnector(
      { ...deps, secrets: undefined },
      definition,
      new AbortController().signal,
    );
    assert.match(withoutKey.health.error ?? '', /encrypted, but this server has no key/);
    assert.equal(seen.requests.length, 0);
  });
});

describe('TAXII connector against a hostile server', () => {
  const DATE = '2024-05-01T10:00:00.000000Z';

  test('a repeated next token fails the run', async () => {
    const page = JSON.stringify({ more: true, next: 'same', objects: indicators(1, 7000) });
    const seen = await proxy(() => ({
      status: 200,
      headers: { 'X-TAXII-Date-Added-Last': DATE },
      body: page,
    }));
    const result = await run(await connector(seen.url));
    assert.equal(result.health.outcome, 'failed');
    assert.match(result.health.error ?? '', /"next" token that this query already used/);
    assert.equal(seen.requests.length, 2);
  });

  test('next tokens in a cycle fail the run', async () => {
    const seen = await proxy((url) => {
      const next = url.searchParams.get('next') === 'a' ? 'b' : 'a';
      return {
        status: 200,
        headers: { 'X-TAXII-Date-Added-Last': DATE },
        body: JSON.stringify({ more: true, next, objects: indicators(1, 7100) }),
      };
    });
    const result = await run(await connector(seen.url));
    assert.equal(result.health.outcome, 'failed');
    assert.match(result.health.error ?? '', /already used/);
    assert.ok(seen.requests.length <= 3, `${seen.requests.length} requests`);
  });

  test('an added_after that goes back fails the run', async () => {
    const dates = ['2024-05-02T00:00:00.000000Z', '2024-05-01T00:00:00.000000Z'];
    const seen = await proxy((_url, n) => ({
      status: 200,
      headers: { 'X-TAXII-Date-Added-Last': dates[(n - 1) % 2]! },
      body: JSON.stringify({ more: true, objects: indicators(1, 7200) }),
    }));
    const result = await run(await connector(seen.url));
    assert.equal(result.health.outcome, 'failed');
    assert.match(result.health.error ?? '', /not later than the request's added_after/);
    assert.equal(seen.requests.length, 2);
  });

  test('echoed credentials stay out of health', async () => {
    const token = `cairn_${randomUUID().replaceAll('-', '')}`;
    const password = `pw-${randomUUID()}`;
    const basic = Buffer.from(`remote:${password}`).toString('base64');
    // Each echo places a secret across the cut of the quoted excerpt or of the read.
    const bodies = [
      `denied for Bearer ${token}`,
      `${'x'.repeat(90)} ${token}`,
      `${'x'.repeat(2040)}${token}`,
      `bad login ${basic}, password ${password}`,
      `${'y'.repeat(92)}${encodeURIComponent(password)}`,
    ];
    for (const [index, body] of bodies.entries()) {
      const seen = await proxy(() => ({ status: index === 0 ? 503 : 401, body }));
      const auth =
        index < 3
          ? { type: 'bearer' as const, token }
          : { type: 'basic' as const, username: 'remote', password };
      const result = await run(await connector(seen.url, { auth }));
      const health = JSON.stringify(result.health);
      assert.equal(result.health.outcome, 'failed', `body ${index}`);
      for (const secret of [token, password, basic, encodeURIComponent(password)]) {
        for (let start = 0; start + 8 <= secret.length; start += 4) {
          const piece = secret.slice(start, start + 8);
          assert.ok(!health.includes(piece), `body ${index} leaks ${piece} in ${health}`);
        }
      }
    }
  });

  test('a body that stalls fails after the timeout', async () => {
    const seen = await proxy(() => ({
      status: 200,
      body: async function* () {
        yield Buffer.from('{"more": false, "objects": [');
        await new Promise((resolve) => setTimeout(resolve, 5000));
      },
    }));
    const started = Date.now();
    const result = await run(await connector(seen.url, { timeoutSeconds: 1 }));
    assert.equal(result.health.outcome, 'failed');
    assert.match(result.health.error ?? '', /no body data within 1000 ms/);
    assert.ok(Date.now() - started < 4000, `${Date.now() - started} ms`);
  });

  test('a slow steady body outlasts the timeout', async () => {
    const objects = indicators(6, 7300);
    const seen = await proxy(() => ({
      status: 200,
      body: async function* () {
        yield Buffer.from('{"more": false, "objects": [');
        for (const [index, object] of objects.entries()) {
          await new Promise((resolve) => setTimeout(resolve, 400));
          yield Buffer.from(`${index > 0 ? ',' : ''}${JSON.stringify(object)}`);
        }
        yield Buffer.from(']}');
      },
    }));
    const result = await run(await connector(seen.url, { timeoutSeconds: 1 }));
    assert.equal(result.health.outcome, 'succeeded', result.health.error);
    assert.equal(result.health.added, objects.length);
  });
});

describe('TAXII connector claims', () => {
  const CLAIM_MS = 600;

  /** Starts a proxy whose single page arrives in 8 pieces over about 2.4 s. */
  function slowPage(offset: number): Promise<TaxiiProxy> {
    const objects = indicators(8, offset);
    return proxy(() => ({
      status: 200,
      body: async function* () {
        yield Buffer.from('{"more": false, "objects": [');
        for (const [index, object] of objects.entries()) {
          await new Promise((resolve) => setTimeout(resolve, 300));
          yield Buffer.from(`${index > 0 ? ',' : ''}${JSON.stringify(object)}`);
        }
        yield Buffer.from(']}');
      },
    }));
  }

  async function dueOf(id: string): Promise<number> {
    const document = await local.server.store.getDocument('connector', id);
    return document?.due ?? 0;
  }

  test('a run renews a short claim', async () => {
    const seen = await slowPage(7400);
    const definition = await connector(seen.url);
    const scheduler = new ConnectorScheduler(deps, { claimMs: CLAIM_MS, leaseMs: 60_000 });
    const running = scheduler.runNow(definition.id);
    const dues: number[] = [];
    for (let sample = 0; sample < 4; sample++) {
      await new Promise((resolve) => setTimeout(resolve, 400));
      const now = Date.now() * 1000;
      const due = await dueOf(definition.id);
      assert.ok(due > now, `sample ${sample}: the claim is held`);
      assert.ok(due <= now + CLAIM_MS * 1000, `sample ${sample}: the claim is short`);
      dues.push(due);
    }
    assert.ok(dues[3]! > dues[0]!, 'the claim moved on');
    const result = await running;
    assert.equal(result.health.outcome, 'succeeded', result.health.error);
    assert.ok((await dueOf(definition.id)) > Date.now() * 1000 + 3000 * 1_000_000);
  });

  test('a run whose claim is taken stops', async () => {
    const seen = await slowPage(7500);
    const definition = await connector(seen.url);
    const scheduler = new ConnectorScheduler(deps, { claimMs: CLAIM_MS, leaseMs: 60_000 });
    const running = scheduler.runNow(definition.id);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Another node claims the connector, as after a renewal that came too late.
    const document = (await local.server.store.getDocument('connector', definition.id))!;
    const { revision, updatedAt: _updated, due: _due, ...rest } = document;
    const takenUntil = Date.now() * 1000 + 30_000_000;
    await local.server.store.putDocument({ ...rest, due: takenUntil }, revision);

    const result = await running;
    assert.equal(result.health.outcome, 'failed');
    assert.match(result.health.error ?? '', /another run claimed the connector/);
    assert.equal(await dueOf(definition.id), takenUntil, 'the other claim stays');
  });
});
