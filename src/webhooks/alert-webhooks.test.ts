/**
 * Webhooks of a watch list's alerts on a real server over SQLite, with real HTTP receivers
 * on 127.0.0.1. The tests cover subscription through the API and the CLI, and signed
 * alert and update payloads. Deliveries stop when the subscriber loses access: a revoked
 * token, a disabled user, or an organisation removed from the community.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { CairnError } from '../errors.ts';
import { createLogger } from '../log/logger.ts';
import { makeCommunity } from '../sharing/fixtures.test-helper.ts';
import { startTestServer, type TestServer } from '../testing/server.ts';
import {
  addressIndicator,
  api,
  createWatchList,
  makeAlertWorld,
  makeWorldUser,
  postObjects,
  type AlertWorld,
} from '../watch/alert-delivery.test-helper.ts';
import { Receiver, eventually } from './receiver.test-helper.ts';
import { alertCheckpointId, CHECKPOINT_KIND } from './records.ts';
import { WebhookService } from './service.ts';
import {
  DELIVERY_HEADER,
  EVENT_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifySignature,
} from './signature.ts';

const repository = fileURLToPath(new URL('../..', import.meta.url));

interface AlertPayload {
  deliveryId: string;
  kind: string;
  at: string;
  streamId: string;
  watchlist: { id: string; name: string };
  alert: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('alert webhooks', { timeout: 180_000 }, () => {
  let server: TestServer;
  let world: AlertWorld;
  let analyst: string;
  const receivers: Receiver[] = [];

  async function receiver(...args: Parameters<typeof Receiver.start>): Promise<Receiver> {
    const started = await Receiver.start(...args);
    receivers.push(started);
    return started;
  }

  /** Subscribes a receiver to a list's alerts and returns the webhook id and secret. */
  async function subscribe(watchlistId: string, target: Receiver, token = analyst) {
    const created = await api(server, token, `/watchlists/${watchlistId}/webhooks`, {
      method: 'POST',
      body: { url: target.url, description: 'SOC' },
    });
    assert.equal(created.status, 201, created.text);
    return { id: created.json.webhook.id as string, secret: created.json.secret as string };
  }

  /** Waits until the webhook's position in the list's alert log reaches the log's head. */
  async function dispatched(webhookId: string, watchlistId: string): Promise<void> {
    const head = await server.server.watch.alertLog.head(watchlistId);
    await eventually(async () => {
      const document = await server.server.store.getDocument(
        CHECKPOINT_KIND,
        alertCheckpointId(webhookId),
      );
      const seq = document ? (JSON.parse(document.body) as { seq: number }).seq : -1;
      return seq >= head ? true : undefined;
    }, `webhook ${webhookId} to pass alert ${head}`);
  }

  async function deliveries(webhookId: string, token = analyst) {
    const page = await api(server, token, `/webhooks/${webhookId}/deliveries`);
    assert.equal(page.status, 200, page.text);
    return page.json.deliveries as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  }

  before(async () => {
    server = await startTestServer({
      webhooks: {
        allowPrivateTargets: true,
        retryBaseSeconds: 0.05,
        retryMaxSeconds: 0.2,
        maxAttempts: 3,
        timeoutSeconds: 2,
      },
    });
    world = await makeAlertWorld(server.server.store);
    analyst = world.users['acme-analyst']!.token;
  });

  after(async () => {
    await Promise.all(receivers.map((each) => each.close()));
    await server.dispose();
  });

  test('delivers signed alerts and their updates', async () => {
    const list = await createWatchList(server, analyst, ['203.0.113.10']);
    const target = await receiver();
    const { id, secret } = await subscribe(list, target);
    const listed = await api(server, analyst, `/watchlists/${list}/webhooks`);
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(
      listed.json.map((webhook: { id: string }) => webhook.id),
      [id],
    );
    assert.equal(listed.json[0].watchlistId, list);

    const object = addressIndicator('203.0.113.10');
    // The second object matches nothing: store events never reach an alert webhook.
    await postObjects(server, world, [object, addressIndicator('203.0.113.99')]);
    const [first] = await target.waitFor(1);
    const nowSeconds = Math.floor(Date.now() / 1000);
    const headers = {
      timestamp: first!.headers[TIMESTAMP_HEADER.toLowerCase()] as string,
      signature: first!.headers[SIGNATURE_HEADER.toLowerCase()] as string,
    };
    assert.ok(verifySignature(secret, headers, first!.body, nowSeconds), 'signed with the secret');
    assert.ok(!verifySignature(`${secret}x`, headers, first!.body, nowSeconds));
    assert.equal(first!.headers[EVENT_HEADER.toLowerCase()], 'alert');
    const created = JSON.parse(first!.body) as AlertPayload;
    assert.equal(created.kind, 'alert');
    assert.equal(created.deliveryId, first!.headers[DELIVERY_HEADER.toLowerCase()]);
    assert.equal(created.streamId, '1');
    assert.equal(created.watchlist.id, list);
    assert.equal(created.watchlist.name, 'watch 203.0.113.10');
    assert.equal(created.alert.objectId, object.id);
    assert.equal(created.alert.objectType, 'indicator');
    assert.equal(created.alert.match.kind, 'indicator');
    assert.equal(created.alert.match.value, '203.0.113.10');
    assert.equal(typeof created.alert.priority, 'number');
    assert.match(created.alert.severity, /^(low|medium|high|critical)$/);
    assert.equal(created.alert.collectionId, world.collection.id);
    assert.match(created.at, /^\d{4}-\d\d-\d\dT.*Z$/);

    await postObjects(server, world, [
      addressIndicator('203.0.113.10', '2024-06-01T10:00:00.000Z', object.id),
    ]);
    const [, second] = await target.waitFor(2);
    assert.equal(second!.headers[EVENT_HEADER.toLowerCase()], 'alert-updated');
    const updated = JSON.parse(second!.body) as AlertPayload;
    assert.equal(updated.kind, 'alert-updated');
    assert.equal(updated.alert.id, created.alert.id, 'the same alert, updated');
    assert.equal(updated.alert.versions, 2);
    assert.equal(updated.alert.version, '2024-06-01T10:00:00.000Z');
    assert.equal(updated.streamId, '2');

    await dispatched(id, list);
    assert.equal(target.requests.length, 2, 'one request per alert change');
    const log = await deliveries(id);
    assert.deepEqual(
      log.map((delivery) => [delivery.kind, delivery.state, delivery.alertId]),
      [
        ['alert-updated', 'delivered', created.alert.id],
        ['alert', 'delivered', created.alert.id],
      ],
    );
    assert.equal(log[0]!.objectId, object.id);
  });

  test('sends nothing after the subscribing token is revoked', async () => {
    const list = await createWatchList(server, analyst, ['203.0.113.20']);
    const me = world.users['acme-analyst']!.user.id;
    const issued = await api(server, analyst, `/users/${me}/tokens`, { method: 'POST', body: {} });
    assert.equal(issued.status, 201, issued.text);
    const [revokedTarget, control] = [await receiver(), await receiver()];
    const revoked = await subscribe(list, revokedTarget, issued.json.token as string);
    await subscribe(list, control);
    const revocation = await api(server, analyst, `/tokens/${issued.json.record.id as string}`, {
      method: 'DELETE',
    });
    assert.equal(revocation.status, 204, revocation.text);

    await postObjects(server, world, [addressIndicator('203.0.113.20')]);
    await control.waitFor(1);
    await dispatched(revoked.id, list);
    assert.equal(revokedTarget.requests.length, 0);
    assert.deepEqual(await deliveries(revoked.id), [], 'no delivery was even created');
  });

  test('sends nothing after the user is disabled', async () => {
    const leaver = await makeWorldUser(server.server.store, world.acme, 'acme-leaver', 'analyst');
    const list = await createWatchList(server, leaver.token, ['203.0.113.30']);
    const [leaverTarget, control] = [await receiver(), await receiver()];
    const mine = await subscribe(list, leaverTarget, leaver.token);
    await subscribe(list, control, world.users['acme-admin']!.token);
    const disabled = await api(
      server,
      world.users['acme-admin']!.token,
      `/users/${leaver.user.id}`,
      { method: 'PATCH', body: { disabled: true } },
    );
    assert.equal(disabled.status, 200, disabled.text);

    await postObjects(server, world, [addressIndicator('203.0.113.30')]);
    await control.waitFor(1);
    await dispatched(mine.id, list);
    assert.equal(leaverTarget.requests.length, 0);
  });

  test('a queued delivery dies when the organisation leaves the community', async () => {
    const store = server.server.store;
    const vault = await makeCommunity(
      store,
      'vault',
      [world.beta, world.acme],
      world.users['beta-analyst']!.user,
    );
    const list = await createWatchList(server, analyst, ['203.0.113.40']);
    // The first attempt fails; the organisation leaves before the retry.
    const target = await receiver((_request, response) => response.writeHead(500).end());
    const { id } = await subscribe(list, target);
    await postObjects(server, world, [addressIndicator('203.0.113.40')], vault.collection.id);
    await target.waitFor(1);
    assert.ok(await store.removeMember(vault.community.id, world.acme.id));
    target.respond = (_request, response) => response.writeHead(204).end();

    const dead = await eventually(async () => {
      const [delivery] = await deliveries(id);
      return delivery?.state === 'dead' ? delivery : undefined;
    }, 'the delivery to become a dead letter');
    assert.equal(dead.lastError, 'the watch list may no longer read the object');
    assert.equal(target.requests.length, 1, 'no attempt after the organisation left');
  });

  test('subscribing follows the watch list rules', async () => {
    const list = await createWatchList(server, analyst, ['203.0.113.50']);
    const target = await receiver();
    const body = { url: target.url };
    const asReader = await api(
      server,
      world.users['acme-reader']!.token,
      `/watchlists/${list}/webhooks`,
      { method: 'POST', body },
    );
    assert.equal(asReader.status, 403, asReader.text);
    const asOutsider = await api(
      server,
      world.users['beta-analyst']!.token,
      `/watchlists/${list}/webhooks`,
      { method: 'POST', body },
    );
    assert.equal(asOutsider.status, 404, 'a list of another organisation is not found');
    const outsiderListing = await api(
      server,
      world.users['beta-analyst']!.token,
      `/watchlists/${list}/webhooks`,
    );
    assert.equal(outsiderListing.status, 404);

    const me = world.users['acme-analyst']!.user.id;
    const writeOnly = await api(server, analyst, `/users/${me}/tokens`, {
      method: 'POST',
      body: { scopes: ['write'] },
    });
    assert.equal(writeOnly.status, 201, writeOnly.text);
    const withoutRead = await api(
      server,
      writeOnly.json.token as string,
      `/watchlists/${list}/webhooks`,
      { method: 'POST', body },
    );
    assert.equal(withoutRead.status, 403, 'deliveries would act under a token that cannot read');
    assert.match(withoutRead.json.error.message, /do not include "read"/);

    const adminToken = world.users['acme-admin']!.token;
    const personal = await createWatchList(server, adminToken, ['203.0.113.51'], 'user');
    const othersPrivate = await api(server, analyst, `/watchlists/${personal}/webhooks`, {
      method: 'POST',
      body,
    });
    assert.equal(othersPrivate.status, 404, 'a private list of another user is not found');

    const unknownField = await api(server, analyst, `/watchlists/${list}/webhooks`, {
      method: 'POST',
      body: { ...body, filter: { types: ['indicator'] } },
    });
    assert.equal(unknownField.status, 400, 'the list decides, so there is no filter');

    const strict = new WebhookService(server.server.store, createLogger('silent'), {
      allowPrivateTargets: false,
    });
    const actor = { userId: world.users['acme-analyst']!.user.id };
    for (const url of [target.url, 'https://10.0.0.8/hook', 'ftp://hooks.example/']) {
      await assert.rejects(
        strict.subscribeAlerts(actor, list, { url }),
        (error: unknown) => error instanceof CairnError && error.code === 'invalid-parameter',
        url,
      );
    }
  });

  test('a deleted watch list takes its webhooks along', async () => {
    const list = await createWatchList(server, analyst, ['203.0.113.60']);
    const { id } = await subscribe(list, await receiver());
    const deleted = await api(server, analyst, `/watchlists/${list}`, { method: 'DELETE' });
    assert.equal(deleted.status, 204, deleted.text);
    await eventually(async () => {
      const shown = await api(server, analyst, `/webhooks/${id}`);
      return shown.status === 404 ? true : undefined;
    }, 'the webhook to go');
  });

  test('cairn webhook add and list take a watch list', async () => {
    const list = await createWatchList(server, analyst, ['203.0.113.70']);
    const target = await receiver();
    const cli = (args: string[]) => runCli([...args, '--url', server.url], analyst);
    const added = await cli(['webhook', 'add', target.url, '--watchlist', list]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, new RegExp(`registered for .*: alerts of watch list ${list}`));
    assert.match(added.stdout, /signing secret \(shown only this once\): whsec_/);
    const listed = await cli(['webhook', 'list', '--watchlist', list]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout.trim().split('\n').length, 1);
    assert.match(listed.stdout, new RegExp(`alerts of watch list ${list}`));
    const mixed = await cli(['webhook', 'add', target.url, '--watchlist', list, '--types', 'x']);
    assert.equal(mixed.code, 1);
    assert.match(mixed.stderr, /--watchlist takes no filter options/);
  });
});

/** Runs the CLI with a token in CAIRN_TOKEN and returns its exit code and output. */
function runCli(
  args: string[],
  token: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: repository,
    env: { ...process.env, CAIRN_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
