/**
 * The webhook routes and the `cairn webhook` commands against a real server on a loopback
 * port, with real receivers, and a server restart in the middle of deliveries.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { call, startTestServer, type CallResult, type TestServer } from '../testing/server.ts';
import { indicator } from '../testing/stix.ts';
import { Receiver, eventually } from './receiver.test-helper.ts';
import { verifySignature } from './signature.ts';

/** Short delivery timings, in the configuration's seconds. */
const FAST = {
  timeoutSeconds: 0.5,
  retryBaseSeconds: 0.05,
  retryMaxSeconds: 0.2,
  maxAttempts: 3,
  allowPrivateTargets: true,
};

const CLI = fileURLToPath(new URL('../cli/main.ts', import.meta.url));

function jsonCall(
  server: TestServer,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<CallResult> {
  return call(server, `${server.url}/api/v1${path}`, {
    method,
    token,
    accept: 'application/json',
    contentType: 'application/json',
    ...(body === undefined ? {} : { body: body as object }),
  });
}

/** Shares fresh indicators into the default collection over TAXII. */
async function publish(server: TestServer, count: number): Promise<string[]> {
  const objects = Array.from({ length: count }, () => indicator());
  const reply = await call(server, 'collections/default/objects/', {
    method: 'POST',
    body: { objects },
  });
  assert.equal(reply.status, 202, reply.text);
  assert.equal(reply.json.success_count, count, reply.text);
  return objects.map((object) => object.id);
}

/** Creates a user of the role in a new organisation and returns a token for them. */
async function userToken(server: TestServer, organisation: string, role: string) {
  const org = await jsonCall(server, 'POST', '/organisations', server.adminToken, {
    name: organisation,
  });
  assert.equal(org.status, 201, org.text);
  const user = await jsonCall(
    server,
    'POST',
    `/organisations/${org.json.id}/users`,
    server.adminToken,
    { name: `${organisation}-${role}`, role },
  );
  assert.equal(user.status, 201, user.text);
  const issued = await jsonCall(
    server,
    'POST',
    `/users/${user.json.id}/tokens`,
    server.adminToken,
    {},
  );
  assert.equal(issued.status, 201, issued.text);
  return issued.json.token as string;
}

/** Runs the CLI with the arguments; resolves with its exit code and output. */
function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('webhook API', () => {
  let server: TestServer;
  const receivers: Receiver[] = [];

  before(async () => {
    server = await startTestServer({ webhooks: FAST });
  });

  after(async () => {
    await server?.dispose();
    await Promise.all(receivers.map((receiver) => receiver.close()));
  });

  async function receiver(respond?: Parameters<typeof Receiver.start>[0]) {
    const started = await Receiver.start(respond);
    receivers.push(started);
    return started;
  }

  test('create, list, show, test, delete', { timeout: 30_000 }, async () => {
    const hook = await receiver();
    const created = await jsonCall(server, 'POST', '/webhooks', server.adminToken, {
      url: hook.url,
      description: 'SOC',
      filter: { types: ['indicator'], tlp: ['green', 'clear'] },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const secret = created.json.secret as string;
    const id = created.json.webhook.id as string;
    assert.deepEqual(created.json.webhook.filter, {
      types: ['indicator'],
      tlp: ['green', 'clear'],
    });

    const list = await jsonCall(server, 'GET', '/webhooks', server.adminToken);
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.json.map((webhook: { id: string }) => webhook.id),
      [id],
    );
    assert.equal(list.text.includes(secret), false, 'the list shows the secret');

    const ping = await jsonCall(server, 'POST', `/webhooks/${id}/test`, server.adminToken);
    assert.equal(ping.status, 200, ping.text);
    assert.equal(ping.json.state, 'delivered');
    assert.equal(ping.json.history[0].status, 204);
    const [request] = hook.requests;
    assert.ok(
      verifySignature(
        secret,
        {
          timestamp: request!.headers['cairn-webhook-timestamp'] as string,
          signature: request!.headers['cairn-webhook-signature'] as string,
        },
        request!.body,
        Math.floor(Date.now() / 1000),
      ),
    );

    const [objectId] = await publish(server, 1);
    await hook.waitFor(2);
    const shown = await eventually(async () => {
      const reply = await jsonCall(server, 'GET', `/webhooks/${id}`, server.adminToken);
      const delivered = reply.json.recentDeliveries.filter(
        (delivery: { state: string; kind: string }) =>
          delivery.state === 'delivered' && delivery.kind === 'created',
      );
      return delivered.length === 1 ? reply : undefined;
    }, 'a delivered event');
    assert.equal(shown.text.includes(secret), false, 'the webhook shows the secret');
    const event = shown.json.recentDeliveries[0];
    assert.equal(event.objectId, objectId);
    assert.match(event.createdAt, /^\d{4}-\d\d-\d\dT/);
    assert.match(event.history[0].at, /^\d{4}-\d\d-\d\dT/);

    const removed = await jsonCall(server, 'DELETE', `/webhooks/${id}`, server.adminToken);
    assert.equal(removed.status, 204);
    const gone = await jsonCall(server, 'GET', `/webhooks/${id}`, server.adminToken);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.code, 'not-found');
    for (const line of server.logs) assert.ok(!JSON.stringify(line).includes(secret));
  });

  test('bad input answers 400 naming the value', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ url: 'http://hooks.example.com/x' }, /http:\/\/hooks\.example\.com\/x.*use https:\/\//],
      [
        { url: 'https://hooks.example.com/x', filter: { colour: ['red'] } },
        /unknown body field "colour"/,
      ],
      [{ url: 'https://hooks.example.com/x', filter: { tlp: ['purple'] } }, /filter\.tlp/],
      [{ url: 'https://hooks.example.com/x', filter: { minConfidence: 101 } }, /minConfidence/],
      [{ url: 'https://hooks.example.com/x', secret: 'mine' }, /unknown body field "secret"/],
    ];
    for (const [body, message] of cases) {
      const reply = await jsonCall(server, 'POST', '/webhooks', server.adminToken, body);
      assert.equal(reply.status, 400, reply.text);
      assert.match(reply.json.error.message, message);
    }
    const badState = await jsonCall(
      server,
      'GET',
      '/webhooks/00000000-0000-4000-8000-000000000001/deliveries?state=lost',
      server.adminToken,
    );
    assert.equal(badState.status, 400);
    const list = await jsonCall(server, 'GET', '/webhooks', server.adminToken);
    assert.deepEqual(list.json, []);
  });

  test('roles and organisations', async () => {
    const reader = await userToken(server, 'ReadCo', 'read-only');
    const forbidden = await jsonCall(server, 'POST', '/webhooks', reader, {
      url: 'http://127.0.0.1:9/x',
    });
    assert.equal(forbidden.status, 403, forbidden.text);

    const analyst = await userToken(server, 'OtherCo', 'analyst');
    const own = await jsonCall(server, 'POST', '/webhooks', analyst, {
      url: 'http://127.0.0.1:9/x',
    });
    assert.equal(own.status, 201, own.text);
    const adminHook = await jsonCall(server, 'POST', '/webhooks', server.adminToken, {
      url: 'http://127.0.0.1:9/y',
    });
    const hidden = await jsonCall(server, 'GET', `/webhooks/${adminHook.json.webhook.id}`, analyst);
    assert.equal(hidden.status, 404);
    const theirs = await jsonCall(server, 'GET', '/webhooks', analyst);
    assert.deepEqual(
      theirs.json.map((webhook: { id: string }) => webhook.id),
      [own.json.webhook.id],
    );
    for (const id of [own.json.webhook.id, adminHook.json.webhook.id]) {
      const removed = await jsonCall(server, 'DELETE', `/webhooks/${id}`, server.adminToken);
      assert.equal(removed.status, 204);
    }
  });

  test('cli add, list, test, remove', { timeout: 60_000 }, async () => {
    const hook = await receiver();
    const env = { CAIRN_URL: server.url, CAIRN_TOKEN: server.adminToken };
    const added = await runCli(['webhook', 'add', hook.url, '--types', 'indicator,malware'], env);
    assert.equal(added.code, 0, added.stderr);
    const id = /webhook ([0-9a-f-]{36}) registered/.exec(added.stdout)?.[1];
    assert.ok(id, added.stdout);
    assert.match(added.stdout, /signing secret \(shown only this once\): whsec_/);

    const listed = await runCli(['webhook', 'list'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      new RegExp(`${id}\\t${hook.url.replaceAll('.', '\\.')}\\ttypes=indicator,malware`),
    );
    assert.doesNotMatch(listed.stdout, /whsec_/);

    const tested = await runCli(['webhook', 'test', id], env);
    assert.equal(tested.code, 0, tested.stderr);
    assert.match(tested.stdout, /\tdelivered\tping\t-\tattempts 1\t204 /);

    const unauthenticated = await runCli(['webhook', 'list'], { ...env, CAIRN_TOKEN: '' });
    assert.equal(unauthenticated.code, 1);
    assert.match(unauthenticated.stderr, /no API token: set CAIRN_TOKEN or pass --token/);
    const insecure = await runCli(['webhook', 'add', 'http://hooks.example.com/x'], env);
    assert.equal(insecure.code, 1);
    assert.match(insecure.stderr, /HTTP 400: webhook URL "http:\/\/hooks\.example\.com\/x"/);

    const removed = await runCli(['webhook', 'remove', id], env);
    assert.equal(removed.code, 0, removed.stderr);
    const after = await jsonCall(server, 'GET', '/webhooks', server.adminToken);
    assert.deepEqual(after.json, []);
  });
});

describe('webhook server restart', () => {
  test('dead letter cap from the configuration', { timeout: 60_000 }, async () => {
    const capped = await startTestServer({
      webhooks: { ...FAST, maxAttempts: 1, maxDeadLetters: 2, dispatchPollSeconds: 0.05 },
    });
    const hook = await Receiver.start((_request, response) => response.writeHead(500).end());
    try {
      const created = await jsonCall(capped, 'POST', '/webhooks', capped.adminToken, {
        url: hook.url,
      });
      assert.equal(created.status, 201, created.text);
      const id = created.json.webhook.id as string;
      const published = await publish(capped, 5);
      await hook.waitFor(5);

      const page = await eventually(async () => {
        const reply = await jsonCall(
          capped,
          'GET',
          `/webhooks/${id}/deliveries?state=dead`,
          capped.adminToken,
        );
        assert.equal(reply.status, 200, reply.text);
        return reply.json.droppedDeadLetters === 3 ? reply.json : undefined;
      }, 'three dead letters dropped');
      assert.equal(page.deliveries.length, 2);
      const kept = page.deliveries.map((delivery: { objectId: string }) => delivery.objectId);
      assert.deepEqual(kept.sort(), published.slice(3).sort());
      const logged = capped.logs.filter((line) => line.webhookId === id && line.deleted);
      assert.ok(logged.length > 0, 'no log line for the dropped dead letters');
      assert.equal(logged.at(-1)!.maxDeadLetters, 2);

      const env = { CAIRN_URL: capped.url, CAIRN_TOKEN: capped.adminToken };
      const listed = await runCli(['webhook', 'deliveries', id, '--state', 'dead'], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.equal(listed.stdout.match(/\tdead\t/g)?.length, 2, listed.stdout);
      assert.match(listed.stdout, /^3 older dead letters were deleted over the cap/m);
      const delivered = await runCli(['webhook', 'deliveries', id, '--state', 'delivered'], env);
      assert.equal(delivered.code, 0, delivered.stderr);
      assert.doesNotMatch(delivered.stdout, /dead letters were deleted/);
    } finally {
      await capped.dispose();
      await hook.close();
    }
  });

  test('dispatch poll interval from the configuration', { timeout: 60_000 }, async () => {
    // Without NATS, a server hears only of its own events, so the delivering server finds
    // those of the other one by reading the log every dispatchPollSeconds.
    const publisher = await startTestServer({ webhooks: { ...FAST, deliver: false } });
    let deliverer: TestServer | undefined;
    const hook = await Receiver.start();
    try {
      deliverer = await startTestServer({
        dataDir: publisher.dataDir,
        webhooks: { ...FAST, dispatchPollSeconds: 0.1 },
      });
      const created = await jsonCall(deliverer, 'POST', '/webhooks', publisher.adminToken, {
        url: hook.url,
      });
      assert.equal(created.status, 201, created.text);
      // At the default interval of 2 s, four events published at random moments would all
      // arrive within 700 ms with a chance of about 0.35^4 (1.5 %). At 0.1 s each waits for
      // at most one interval plus the send.
      const latencies: number[] = [];
      for (let round = 1; round <= 4; round += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 400));
        const publishedAt = performance.now();
        await publish(publisher, 1);
        const requests = await hook.waitFor(round, 10_000);
        latencies.push(requests[round - 1]!.at - publishedAt);
      }
      assert.ok(
        latencies.every((latency) => latency < 700),
        `delivered ${latencies.join(', ')} ms after publishing`,
      );
    } finally {
      await deliverer?.stop();
      await publisher.dispose();
      await hook.close();
    }
  });

  test('pending deliveries resume after a restart', { timeout: 60_000 }, async () => {
    const hook = await Receiver.start(() => {
      // Hangs until the server stops.
    });
    const first = await startTestServer({ webhooks: { ...FAST, timeoutSeconds: 30 } });
    let second: TestServer | undefined;
    try {
      const created = await jsonCall(first, 'POST', '/webhooks', first.adminToken, {
        url: hook.url,
      });
      assert.equal(created.status, 201, created.text);
      const id = created.json.webhook.id as string;
      const published = await publish(first, 3);
      await hook.waitFor(3);
      await first.stop();

      hook.respond = (_request, response) => response.writeHead(200).end();
      second = await startTestServer({ dataDir: first.dataDir, webhooks: FAST });
      const delivered = await eventually(async () => {
        const reply = await jsonCall(
          second!,
          'GET',
          `/webhooks/${id}/deliveries?state=delivered`,
          first.adminToken,
        );
        return reply.json.deliveries.length === 3 ? reply.json.deliveries : undefined;
      }, 'three deliveries after the restart');
      assert.deepEqual(
        delivered.map((delivery: { objectId: string }) => delivery.objectId).sort(),
        [...published].sort(),
      );
    } finally {
      await second?.stop();
      await first.dispose();
      await hook.close();
    }
  });
});
