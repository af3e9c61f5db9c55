/**
 * Two webhook services on one store, as two server nodes: each event reaches each receiver
 * exactly once, on SQLite (two connections to one file) and on PostgreSQL (two pools on one
 * schema). The PostgreSQL case runs when CAIRN_TEST_POSTGRES (or 127.0.0.1:5432) answers,
 * and always under CI=true.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { createLogger } from '../log/logger.ts';
import { makeCommunity, makeOrganisation, makeUser } from '../sharing/fixtures.test-helper.ts';
import { createSharingServices } from '../sharing/service.ts';
import { openStore } from '../store/index.ts';
import { createTestDatabase } from '../store/postgres/database.test-helper.ts';
import type { Store } from '../store/store.ts';
import { indicator } from '../testing/stix.ts';
import { Receiver, eventually } from './receiver.test-helper.ts';
import { deliveryKind } from './records.ts';
import { WebhookService, type WebhookView } from './service.ts';

const database = await createTestDatabase();
const directory = mkdtempSync(join(tmpdir(), 'cairn-webhook-cluster-'));
after(async () => {
  rmSync(directory, { recursive: true, force: true });
  if (typeof database !== 'string') await database.drop();
});

const SETTINGS = {
  timeoutMs: 2_000,
  baseDelayMs: 20,
  maxDelayMs: 100,
  pollMs: 50,
  refreshMs: 100,
  fallbackMs: 30,
  allowPrivateTargets: true,
};

/** Runs the two-node case on stores that `open` returns, all on one database. */
async function twoNodes(open: () => Promise<Store>): Promise<void> {
  const first = await open();
  const second = await open();
  await first.createApiRoot({ name: 'default', title: 'Default', maxContentLength: 1 << 20 });
  const organisation = await makeOrganisation(first, 'Acme');
  const { user } = await makeUser(first, organisation, 'acme-admin', 'org-admin');
  const { collection } = await makeCommunity(first, 'ring', [organisation], user);
  const logger = createLogger('silent');
  const nodes = [
    new WebhookService(first, logger, SETTINGS),
    new WebhookService(second, logger, SETTINGS),
  ];
  // Every receiver answers after a short pause, so both nodes have attempts in flight.
  const receivers = await Promise.all(
    [0, 1, 2].map(() =>
      Receiver.start((_request, response) => {
        setTimeout(() => response.writeHead(204).end(), 5);
      }),
    ),
  );
  try {
    const webhooks: WebhookView[] = [];
    for (const receiver of receivers) {
      webhooks.push((await nodes[0]!.create({ userId: user.id }, { url: receiver.url })).webhook);
    }
    await Promise.all(nodes.map((node) => node.start()));
    const sharing = createSharingServices(first);
    const objects = Array.from({ length: 40 }, () => indicator());
    for (let index = 0; index < objects.length; index += 4) {
      await sharing.share({ userId: user.id }, collection.id, objects.slice(index, index + 4));
    }

    for (const [index, receiver] of receivers.entries()) {
      await receiver.waitFor(objects.length, 20_000);
      await eventually(async () => {
        const delivered = await first.listDocuments({
          kind: deliveryKind(webhooks[index]!.id),
          owner: 'delivered',
          limit: 1000,
        });
        return delivered.length === objects.length ? true : undefined;
      }, 'every delivery recorded as delivered');
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const receiver of receivers) {
      const bodies = receiver.requests.map((request) => JSON.parse(request.body));
      assert.equal(bodies.length, objects.length, 'an event was sent more than once');
      assert.equal(new Set(bodies.map((body) => body.deliveryId)).size, objects.length);
      assert.deepEqual(
        bodies.map((body) => body.objectId).sort(),
        objects.map((object) => object.id).sort(),
      );
    }
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await first.close();
    await second.close();
  }
}

describe('webhooks on two nodes', () => {
  test('SQLite: each event sent once', { timeout: 60_000 }, async () => {
    const path = join(directory, 'cluster.db');
    await twoNodes(() => openStore(`sqlite:${path}`));
  });

  test(
    'PostgreSQL: each event sent once',
    { timeout: 60_000, skip: typeof database === 'string' ? database : false },
    async () => {
      if (typeof database === 'string') return;
      const url = await database.freshSchema();
      await twoNodes(() => openStore(url));
    },
  );
});
