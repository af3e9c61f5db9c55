/**
 * TAXII connectors against a second Cairn started in the test, through a proxy that
 * records every request and misbehaves on purpose: paging with next, paging with
 * added_after only, 500 and 429 answers, a crash in the middle of a run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../log/logger.ts';
import { startTestServer, type TestServer } from '../testing/server.ts';
import type { Connector, NewConnector } from './definition.ts';
import { runConnector, type RunnerDeps } from './runner.ts';
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
  deps = { store: local.server.store, logger: createLogger('silent'), sourceFor };
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
