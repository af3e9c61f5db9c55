/**
 * Webhook delivery end to end on a real SQLite file, with real HTTP receivers on loopback
 * addresses: signatures, retries and dead letters, hanging receivers, redirects, access
 * rules, deletion and restarts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, afterEach, beforeEach, describe, test } from 'node:test';

import { CairnError } from '../errors.ts';
import { CursorCodec } from '../events/cursor.ts';
import { createLogger } from '../log/logger.ts';
import { makeCommunity, makeOrganisation, makeUser } from '../sharing/fixtures.test-helper.ts';
import { createSharingServices, type SharingServices } from '../sharing/service.ts';
import { openStore } from '../store/index.ts';
import type { CollectionRecord, Store, UserRecord } from '../store/store.ts';
import { indicator } from '../testing/stix.ts';
import { parseEndpointUrl } from './endpoint-url.ts';
import { Receiver, eventually } from './receiver.test-helper.ts';
import { deliveryKind } from './records.ts';
import { WebhookSender } from './sender.ts';
import { WebhookService, type DeliveryView, type WebhookSettings } from './service.ts';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from './signature.ts';

const directory = mkdtempSync(join(tmpdir(), 'cairn-webhooks-test-'));
after(() => rmSync(directory, { recursive: true, force: true }));
let fileCount = 0;

/** Short timings so retries and timeouts happen within a test. */
const FAST: Partial<WebhookSettings> = {
  timeoutMs: 400,
  baseDelayMs: 30,
  maxDelayMs: 200,
  maxAttempts: 3,
  pollMs: 50,
  refreshMs: 100,
  fallbackMs: 30,
  concurrencyPerEndpoint: 2,
  allowPrivateTargets: true,
};

interface World {
  path: string;
  store: Store;
  sharing: SharingServices;
  logs: string[];
  acme: { admin: UserRecord; analyst: UserRecord; readOnly: UserRecord };
  beta: { admin: UserRecord };
  ring: CollectionRecord;
  betaFeed: CollectionRecord;
}

async function buildWorld(): Promise<World> {
  fileCount += 1;
  const path = join(directory, `store-${fileCount}.db`);
  const store = await openStore(`sqlite:${path}`);
  await store.createApiRoot({ name: 'default', title: 'Default', maxContentLength: 1 << 20 });
  const acmeOrg = await makeOrganisation(store, 'Acme');
  const betaOrg = await makeOrganisation(store, 'Beta');
  const admin = (await makeUser(store, acmeOrg, 'acme-admin', 'org-admin')).user;
  const analyst = (await makeUser(store, acmeOrg, 'acme-analyst', 'analyst')).user;
  const readOnly = (await makeUser(store, acmeOrg, 'acme-reader', 'read-only')).user;
  const betaAdmin = (await makeUser(store, betaOrg, 'beta-admin', 'org-admin')).user;
  const ring = (await makeCommunity(store, 'ring', [acmeOrg], admin)).collection;
  const betaFeed = (await makeCommunity(store, 'beta-feed', [betaOrg], betaAdmin)).collection;
  return {
    path,
    store,
    sharing: createSharingServices(store),
    logs: [],
    acme: { admin, analyst, readOnly },
    beta: { admin: betaAdmin },
    ring,
    betaFeed,
  };
}

function serviceFor(world: World, settings: Partial<WebhookSettings> = {}): WebhookService {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      world.logs.push(chunk.toString('utf8'));
      done();
    },
  });
  return new WebhookService(world.store, createLogger('debug', sink), { ...FAST, ...settings });
}

async function share(world: World, user: UserRecord, collection: CollectionRecord, count = 1) {
  const objects = Array.from({ length: count }, () => indicator());
  const result = await world.sharing.share({ userId: user.id }, collection.id, objects);
  assert.equal(result.failures.length, 0, JSON.stringify(result.failures));
  return objects;
}

async function deliveriesOf(
  service: WebhookService,
  user: UserRecord,
  webhookId: string,
  state?: DeliveryView['state'],
): Promise<DeliveryView[]> {
  const page = await service.listDeliveries({ userId: user.id }, webhookId, {
    ...(state ? { state } : {}),
    limit: 100,
  });
  return page.deliveries;
}

describe('webhook delivery', () => {
  let world: World;
  let service: WebhookService;
  const receivers: Receiver[] = [];

  async function receiver(...args: Parameters<typeof Receiver.start>): Promise<Receiver> {
    const started = await Receiver.start(...args);
    receivers.push(started);
    return started;
  }

  beforeEach(async () => {
    world = await buildWorld();
    service = serviceFor(world);
    await service.start();
  });

  afterEach(async () => {
    await service.stop();
    await world.store.close();
    await Promise.all(receivers.splice(0).map((started) => started.close()));
  });

  test('signature verifies', { timeout: 20_000 }, async () => {
    const hook = await receiver();
    const { webhook, secret } = await service.create(
      { userId: world.acme.analyst.id },
      { url: hook.url, description: 'SOC' },
    );
    assert.match(secret, /^whsec_[A-Za-z0-9_-]{43}$/);
    const [shared] = await share(world, world.acme.analyst, world.ring);

    const [request] = await hook.waitFor(1);
    const headers = {
      timestamp: request!.headers[TIMESTAMP_HEADER.toLowerCase()] as string,
      signature: request!.headers[SIGNATURE_HEADER.toLowerCase()] as string,
    };
    const now = Math.floor(Date.now() / 1000);
    assert.equal(verifySignature(secret, headers, request!.body, now), true);
    assert.equal(verifySignature('whsec_wrong', headers, request!.body, now), false);
    assert.equal(verifySignature(secret, headers, `${request!.body} `, now), false);
    assert.equal(verifySignature(secret, headers, request!.body, now + 3600), false);

    const body = JSON.parse(request!.body);
    assert.equal(body.kind, 'created');
    assert.equal(body.collection, world.ring.id);
    assert.equal(body.objectId, shared!.id);
    assert.equal(body.object.id, shared!.id);
    assert.equal(body.object.pattern, shared!.pattern);
    const seq = (await CursorCodec.load(world.store)).decode(body.eventId);
    const [event] = await world.store.readEvents({ afterSeq: (seq ?? 1) - 1, limit: 1 });
    assert.equal(event?.seq, seq, 'eventId is not the cursor of the event');
    assert.equal(event?.objectId, shared!.id);
    assert.equal(request!.headers['cairn-webhook-delivery'], body.deliveryId);
    assert.equal(request!.headers['content-type'], 'application/json');

    const delivered = await eventually(async () => {
      const [first] = await deliveriesOf(service, world.acme.analyst, webhook.id, 'delivered');
      return first;
    }, 'delivered state');
    assert.equal(delivered.attempts, 1);
    assert.equal(delivered.history[0]?.status, 204);
    for (const line of world.logs) assert.ok(!line.includes(secret), `secret logged: ${line}`);
  });

  test('receiver answering 500 is retried then dead-lettered', { timeout: 20_000 }, async () => {
    await service.stop();
    // The largest jitter draw, so each delay is close to its ceiling and measurable.
    service = serviceFor(world, { random: () => 0.999, baseDelayMs: 100, maxDelayMs: 1000 });
    await service.start();
    const hook = await receiver((_request, response) => response.writeHead(500).end('broken'));
    const { webhook } = await service.create({ userId: world.acme.admin.id }, { url: hook.url });
    await share(world, world.acme.admin, world.ring);

    const requests = await hook.waitFor(3);
    const dead = await eventually(async () => {
      const [first] = await deliveriesOf(service, world.acme.admin, webhook.id, 'dead');
      return first;
    }, 'dead letter');
    assert.equal(dead.attempts, 3);
    assert.deepEqual(
      dead.history.map((attempt) => attempt.status),
      [500, 500, 500],
    );
    assert.equal(dead.lastError, 'receiver answered HTTP 500');
    assert.equal(dead.history[0]?.responseExcerpt, 'broken');
    assert.equal(dead.nextAttemptAt, undefined);
    // Delays of about 100 ms then 200 ms: each at least its ceiling times the draw.
    const firstGap = requests[1]!.at - requests[0]!.at;
    const secondGap = requests[2]!.at - requests[1]!.at;
    assert.ok(firstGap >= 95, `first retry after ${firstGap} ms`);
    assert.ok(secondGap >= 190, `second retry after ${secondGap} ms`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(hook.requests.length, 3, 'a dead letter was sent again');

    hook.respond = (_request, response) => response.writeHead(200).end();
    const retried = await service.retry({ userId: world.acme.admin.id }, webhook.id, dead.id);
    assert.equal(retried.state, 'pending');
    assert.equal(retried.attempts, 0);
    await hook.waitFor(4);
    const redelivered = await eventually(async () => {
      const [first] = await deliveriesOf(service, world.acme.admin, webhook.id, 'delivered');
      return first;
    }, 'redelivery');
    assert.equal(redelivered.id, dead.id);
    assert.deepEqual(await deliveriesOf(service, world.acme.admin, webhook.id, 'dead'), []);
    await assert.rejects(
      service.retry({ userId: world.acme.admin.id }, webhook.id, dead.id),
      /is delivered, not dead/,
    );
  });

  test('dead letters over the cap dropped', { timeout: 20_000 }, async () => {
    await service.stop();
    service = serviceFor(world, { maxAttempts: 1, maxDeadLetters: 3 });
    await service.start();
    const hook = await receiver((_request, response) => response.writeHead(503).end());
    const { webhook } = await service.create({ userId: world.acme.admin.id }, { url: hook.url });
    const objects = await share(world, world.acme.admin, world.ring, 8);
    await hook.waitFor(8);

    const page = await eventually(async () => {
      const listed = await service.listDeliveries({ userId: world.acme.admin.id }, webhook.id, {
        state: 'dead',
      });
      return listed.droppedDeadLetters === 5 && listed.deliveries.length === 3 ? listed : undefined;
    }, 'dead letters pruned to the cap');
    // The newest three objects are those still kept; the first five were dropped.
    const kept = page.deliveries.map((delivery) => delivery.objectId).sort();
    const newest = objects
      .slice(5)
      .map((object) => object.id)
      .sort();
    assert.deepEqual(kept, newest);
    const dropLines = world.logs.filter((line) => line.includes('over the cap deleted'));
    assert.ok(dropLines.length > 0, 'no log line for dropped dead letters');
    const logged = dropLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(logged.every((line) => line.webhookId === webhook.id));
    assert.equal(logged.at(-1)!.droppedTotal, 5);
    assert.equal(logged.at(-1)!.maxDeadLetters, 3);

    const all = await service.listDeliveries({ userId: world.acme.admin.id }, webhook.id, {});
    assert.equal(all.droppedDeadLetters, 5, 'the count shows on every listing');
    await service.remove({ userId: world.acme.admin.id }, webhook.id);
    const drops = await world.store.listDocuments({ kind: 'webhook-dead-letter-drops', limit: 10 });
    assert.deepEqual(drops, [], 'the drop count outlived its webhook');
  });

  test('hanging receiver times out, others at full speed', { timeout: 20_000 }, async () => {
    const hanging = await receiver(() => {
      // Never answers.
    });
    const fast = await receiver();
    const stuck = await service.create({ userId: world.acme.admin.id }, { url: hanging.url });
    await service.create({ userId: world.acme.admin.id }, { url: fast.url });

    const started = performance.now();
    await share(world, world.acme.admin, world.ring, 20);
    await fast.waitFor(20, 5_000);
    const fastMs = performance.now() - started;
    assert.ok(fastMs < 2_000, `the fast receiver needed ${fastMs} ms for 20 deliveries`);
    assert.equal(service.inFlight().get(stuck.webhook.id), 2, 'hanging lane uses its 2 slots');
    assert.ok(hanging.requests.length <= 2, 'more requests to the hanging receiver than its slots');

    const timedOut = await eventually(async () => {
      const list = await deliveriesOf(service, world.acme.admin, stuck.webhook.id);
      return list.find((delivery) => delivery.history.length > 0);
    }, 'a timed-out attempt');
    assert.equal(timedOut.history[0]?.error, 'timed out after 400 ms');
    assert.ok(timedOut.history[0]!.durationMs >= 390, `${timedOut.history[0]!.durationMs} ms`);
  });

  test('redirect to another host not followed', { timeout: 20_000 }, async () => {
    const elsewhere = await receiver(undefined, '127.0.0.2');
    const redirecting = await receiver((_request, response) =>
      response.writeHead(307, { Location: elsewhere.url }).end(),
    );
    const { webhook } = await service.create(
      { userId: world.acme.admin.id },
      { url: redirecting.url },
    );
    await share(world, world.acme.admin, world.ring);
    await redirecting.waitFor(3);

    const dead = await eventually(async () => {
      const [first] = await deliveriesOf(service, world.acme.admin, webhook.id, 'dead');
      return first;
    }, 'dead letter');
    assert.equal(dead.history[0]?.status, 307);
    assert.equal(dead.history[0]?.redirectHost, elsewhere.host);
    assert.match(dead.lastError ?? '', /redirect to 127\.0\.0\.2:\d+ not followed/);
    assert.equal(elsewhere.requests.length, 0, 'the redirect was followed');
  });

  test('non-loopback http URL rejected', async () => {
    const actor = { userId: world.acme.admin.id };
    for (const url of [
      'http://hooks.example.com/cairn',
      'http://10.0.0.7/cairn',
      'http://localhost:8080/cairn',
      'http://[fe80::1]/cairn',
    ]) {
      await assert.rejects(
        service.create(actor, { url }),
        (error: unknown) =>
          error instanceof CairnError &&
          error.code === 'invalid-parameter' &&
          error.message.includes(JSON.stringify(url)) &&
          error.message.includes('use https://'),
        url,
      );
    }
    await assert.rejects(service.create(actor, { url: 'ftp://127.0.0.1/x' }), /scheme ftp/);
    await assert.rejects(
      service.create(actor, { url: 'https://user:pw@hooks.example.com/' }),
      /user name or password/,
    );
    await assert.rejects(service.create(actor, { url: 'not a url' }), /not an absolute URL/);
    for (const url of ['http://127.0.0.1:9/x', 'http://127.8.9.10/x', 'http://[::1]:9/x']) {
      const created = await service.create(actor, { url });
      await service.remove(actor, created.webhook.id);
    }
    assert.deepEqual(await service.list(actor), []);
  });

  test(
    'webhook of an org that may not see an object never gets it',
    { timeout: 20_000 },
    async () => {
      const acmeHook = await receiver();
      const betaHook = await receiver();
      await service.create({ userId: world.acme.analyst.id }, { url: acmeHook.url });
      const beta = await service.create({ userId: world.beta.admin.id }, { url: betaHook.url });
      await assert.rejects(
        service.create(
          { userId: world.beta.admin.id },
          { url: betaHook.url, filter: { collections: [world.ring.id] } },
        ),
        /collection .* not found/,
      );

      await share(world, world.acme.analyst, world.ring, 3);
      const [betaObject] = await share(world, world.beta.admin, world.betaFeed);
      await acmeHook.waitFor(3);
      await betaHook.waitFor(1);
      await service.dispatchNow();
      await new Promise((resolve) => setTimeout(resolve, 200));

      assert.equal(acmeHook.requests.length, 3, 'acme received beta data or missed its own');
      assert.equal(betaHook.requests.length, 1);
      assert.equal(JSON.parse(betaHook.requests[0]!.body).objectId, betaObject!.id);
      const betaDeliveries = await deliveriesOf(service, world.beta.admin, beta.webhook.id);
      assert.equal(betaDeliveries.length, 1, 'deliveries made for objects beta may not read');
    },
  );

  test('user disabled before sending gets nothing', { timeout: 20_000 }, async () => {
    await service.stop();
    const hook = await receiver();
    const { webhook } = await service.create({ userId: world.acme.analyst.id }, { url: hook.url });
    await share(world, world.acme.admin, world.ring);
    await service.dispatchNow();
    await world.store.updateUser(world.acme.analyst.id, { disabled: true });

    service = serviceFor(world);
    await service.start();
    const dead = await eventually(async () => {
      const [first] = await deliveriesOf(service, world.acme.admin, webhook.id, 'dead');
      return first;
    }, 'dead letter');
    assert.equal(dead.lastError, 'the webhook user is disabled');
    assert.equal(dead.attempts, 0);
    assert.equal(hook.requests.length, 0);
  });

  test('filter narrows deliveries', { timeout: 20_000 }, async () => {
    const hook = await receiver();
    await service.create(
      { userId: world.acme.admin.id },
      { url: hook.url, filter: { types: ['malware'] } },
    );
    await share(world, world.acme.admin, world.ring, 2);
    await service.dispatchNow();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(hook.requests.length, 0);
  });

  test('deleting a webhook stops deliveries', { timeout: 20_000 }, async () => {
    const hook = await receiver((_request, response) => response.writeHead(503).end());
    const actor = { userId: world.acme.admin.id };
    const { webhook } = await service.create(actor, { url: hook.url });
    await service.stop();
    service = serviceFor(world, { maxAttempts: 100, baseDelayMs: 20, maxDelayMs: 40 });
    await service.start();
    await share(world, world.acme.admin, world.ring, 2);
    await hook.waitFor(4);

    await service.remove(actor, webhook.id);
    const countAtDelete = hook.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.ok(
      hook.requests.length <= countAtDelete + 2,
      `${hook.requests.length - countAtDelete} requests after the delete`,
    );
    const settled = hook.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(hook.requests.length, settled, 'requests continue after the delete');
    assert.deepEqual(
      await world.store.listDocuments({ kind: deliveryKind(webhook.id), limit: 10 }),
      [],
    );
    await assert.rejects(service.get(actor, webhook.id), /not found/);
  });

  test('restart resumes pending deliveries', { timeout: 20_000 }, async () => {
    const hook = await receiver(() => {
      // Hangs until the restart.
    });
    const actor = { userId: world.acme.admin.id };
    const { webhook } = await service.create(actor, { url: hook.url });
    await share(world, world.acme.admin, world.ring, 3);
    await hook.waitFor(2);
    await service.stop();
    await world.store.close();

    hook.respond = (_request, response) => response.writeHead(200).end();
    world.store = await openStore(`sqlite:${world.path}`);
    service = serviceFor(world);
    await service.start();
    const delivered = await eventually(async () => {
      const list = await deliveriesOf(service, world.acme.admin, webhook.id, 'delivered');
      return list.length === 3 ? list : undefined;
    }, 'three deliveries after the restart');
    // The two attempts cut off by the stop were not counted.
    for (const delivery of delivered) assert.equal(delivery.attempts, 1);
    const ids = new Set(hook.requests.map((request) => JSON.parse(request.body).objectId));
    assert.equal(ids.size, 3);
  });

  test('webhook created during a batch catches up', { timeout: 20_000 }, async () => {
    const early = await receiver();
    const late = await receiver();
    const actor = { userId: world.acme.admin.id };
    await service.create(actor, { url: early.url });
    const before = (await world.store.eventBounds()).last;
    const shared = await share(world, world.acme.admin, world.ring, 2);
    await early.waitFor(2);
    await service.dispatchNow();

    // A webhook whose creation read the log's end before those events, but that the
    // dispatcher only sees after it moved past them, as when both happen at once.
    const { webhook } = await service.create(actor, { url: late.url });
    const document = await world.store.getDocument('webhook', webhook.id);
    const body = { ...JSON.parse(document!.body), startSeq: before, joined: false };
    await world.store.putDocument(
      { kind: 'webhook', id: webhook.id, owner: document!.owner, body: JSON.stringify(body) },
      document!.revision,
    );
    await service.dispatchNow();
    await late.waitFor(2);
    assert.deepEqual(
      late.requests.map((request) => JSON.parse(request.body).objectId).sort(),
      shared.map((object) => object.id).sort(),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(early.requests.length, 2, 'the early webhook got the events twice');
  });

  test('roles decide who manages which webhook', async () => {
    const analyst = { userId: world.acme.analyst.id };
    const admin = { userId: world.acme.admin.id };
    const other = { userId: world.beta.admin.id };
    const url = 'http://127.0.0.1:9/unused';
    const mine = await service.create(analyst, { url });
    const theirs = await service.create(admin, { url });

    assert.deepEqual(
      (await service.list(analyst)).map((webhook) => webhook.id),
      [mine.webhook.id],
    );
    assert.equal((await service.list(admin)).length, 2);
    assert.deepEqual(await service.list(other), []);
    await assert.rejects(service.get(analyst, theirs.webhook.id), /not found/);
    await assert.rejects(service.remove(other, mine.webhook.id), /not found/);
    await assert.rejects(
      service.create({ userId: world.acme.readOnly.id }, { url }),
      /read-only users may not register webhooks/,
    );
    const shown = await service.get(admin, mine.webhook.id);
    assert.equal(JSON.stringify(shown).includes(mine.secret), false, 'secret shown after creation');
    await service.remove(admin, mine.webhook.id);
    await service.remove(admin, theirs.webhook.id);
  });

  test('test ping is signed and recorded', { timeout: 20_000 }, async () => {
    const hook = await receiver();
    const actor = { userId: world.acme.admin.id };
    const { webhook, secret } = await service.create(actor, { url: hook.url });
    const ping = await service.test(actor, webhook.id);
    assert.equal(ping.state, 'delivered');
    assert.equal(ping.kind, 'ping');
    const [request] = hook.requests;
    const headers = {
      timestamp: request!.headers[TIMESTAMP_HEADER.toLowerCase()] as string,
      signature: request!.headers[SIGNATURE_HEADER.toLowerCase()] as string,
    };
    assert.ok(verifySignature(secret, headers, request!.body, Math.floor(Date.now() / 1000)));
    assert.equal(JSON.parse(request!.body).kind, 'ping');

    await hook.close();
    const failed = await service.test(actor, webhook.id);
    assert.equal(failed.state, 'failed');
    assert.equal(failed.lastError, 'connection refused');
    const { recentDeliveries } = await service.get(actor, webhook.id);
    assert.deepEqual(
      recentDeliveries.map((delivery) => delivery.id),
      [failed.id, ping.id],
    );
  });
});

describe('non-public targets', () => {
  test('registration rejects non-public literals', () => {
    for (const url of ['https://10.0.0.7/x', 'https://[::1]/x', 'http://127.0.0.1:9/x']) {
      assert.throws(
        () => parseEndpointUrl(url, false),
        /non-public address, and this server sends webhooks only to public addresses/,
        url,
      );
    }
    assert.equal(parseEndpointUrl('https://hooks.example.com/x', false).host, 'hooks.example.com');
    assert.equal(parseEndpointUrl('http://127.0.0.1:9/x', true).port, '9');
  });

  test('sender connects to public addresses only', async () => {
    const sender = new WebhookSender(false);
    const options = { timeoutMs: 2_000, maxResponseBytes: 1024 };
    const listener = await Receiver.start();
    try {
      const literal = await sender.send(new URL(listener.url), '{}', {}, options);
      assert.equal(literal.ok, false);
      assert.match(literal.error ?? '', /127\.0\.0\.1 is not a public address/);
      // localhost resolves through the system resolver (hosts file) to a loopback address.
      const named = new URL(listener.url.replace('127.0.0.1', 'localhost'));
      const resolved = await sender.send(named, '{}', {}, options);
      assert.equal(resolved.ok, false);
      assert.match(resolved.error ?? '', /localhost resolves to the non-public address/);
      assert.equal(listener.requests.length, 0, 'a request reached a loopback receiver');
    } finally {
      sender.close();
      await listener.close();
    }
  });
});

describe('sender limits', () => {
  test('endless response body read only in part', { timeout: 20_000 }, async () => {
    let writer: NodeJS.Timeout | undefined;
    const endless = await Receiver.start((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'text/plain' });
      const chunk = 'x'.repeat(1024);
      writer = setInterval(() => response.write(chunk), 1);
    });
    const sender = new WebhookSender(true);
    try {
      const outcome = await sender.send(
        new URL(endless.url),
        '{}',
        {},
        {
          timeoutMs: 5_000,
          maxResponseBytes: 4096,
        },
      );
      assert.equal(outcome.ok, true, outcome.error);
      assert.equal(outcome.status, 200);
      assert.equal(outcome.responseExcerpt, 'x'.repeat(200));
      assert.ok(outcome.durationMs < 2_000, `took ${outcome.durationMs} ms`);
    } finally {
      clearInterval(writer);
      sender.close();
      await endless.close();
    }
  });

  test('stopped attempt reports aborted', { timeout: 20_000 }, async () => {
    const hanging = await Receiver.start(() => {
      // Never responds.
    });
    const sender = new WebhookSender(true);
    const controller = new AbortController();
    try {
      const pending = sender.send(
        new URL(hanging.url),
        '{}',
        {},
        {
          timeoutMs: 10_000,
          maxResponseBytes: 4096,
          signal: controller.signal,
        },
      );
      await hanging.waitFor(1);
      controller.abort();
      const outcome = await pending;
      assert.equal(outcome.ok, false);
      assert.equal(outcome.aborted, true);
      assert.ok(outcome.durationMs < 5_000);
    } finally {
      sender.close();
      await hanging.close();
    }
  });
});
