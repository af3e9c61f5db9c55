/**
 * Pruning of the delivery log on real stores: SQLite, and PostgreSQL when
 * CAIRN_TEST_POSTGRES (or 127.0.0.1:5432) is reachable, which CI=true requires.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { openStore } from '../store/index.ts';
import { createTestDatabase } from '../store/postgres/database.test-helper.ts';
import type { Store } from '../store/store.ts';
import { deliveryKind, newDeliveryId, type DeliveryBody, type DeliveryState } from './records.ts';
import {
  deadLetterPruneInterval,
  droppedDeadLetters,
  pruneDeadLetters,
  pruneFinished,
} from './retention.ts';

const database = await createTestDatabase();
const directory = mkdtempSync(join(tmpdir(), 'cairn-webhook-retention-'));
after(async () => {
  rmSync(directory, { recursive: true, force: true });
  if (typeof database !== 'string') await database.drop();
});

const WEBHOOK = 'b9d7a3e0-0000-4000-8000-000000000001';
let sqliteFiles = 0;

/** Stores deliveries of one state created one microsecond apart; returns ids, oldest first. */
async function addDeliveries(
  store: Store,
  state: DeliveryState,
  count: number,
  startMicros: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const createdAt = startMicros + index;
    const id = newDeliveryId(createdAt);
    const body: DeliveryBody = {
      webhookId: WEBHOOK,
      state,
      kind: 'created',
      createdAt,
      attempts: 1,
      history: [],
    };
    await store.putDocument({
      kind: deliveryKind(WEBHOOK),
      id,
      owner: state,
      body: JSON.stringify(body),
    });
    ids.push(id);
  }
  return ids;
}

async function idsOf(store: Store, state: DeliveryState): Promise<string[]> {
  const documents = await store.listDocuments({
    kind: deliveryKind(WEBHOOK),
    owner: state,
    limit: 10_000,
  });
  return documents.map((document) => document.id);
}

/** Defines the cases on the stores that `open` returns, each of them empty. */
function retentionCases(open: () => Promise<Store>, skip: string | false): void {
  test('oldest dead letters dropped first', { skip }, async () => {
    const store = await open();
    try {
      const dead = await addDeliveries(store, 'dead', 12, 1_000_000);
      const pending = await addDeliveries(store, 'pending', 4, 500_000);

      const first = await pruneDeadLetters(store, WEBHOOK, 5);
      assert.equal(first.deleted, 7);
      assert.equal(first.total, 7);
      const kept = await idsOf(store, 'dead');
      assert.deepEqual(kept.sort(), dead.slice(7).sort());
      assert.equal((await idsOf(store, 'pending')).length, pending.length);

      const again = await pruneDeadLetters(store, WEBHOOK, 5);
      assert.deepEqual(again, { deleted: 0, total: 7 });

      await addDeliveries(store, 'dead', 3, 2_000_000);
      const later = await pruneDeadLetters(store, WEBHOOK, 5);
      assert.equal(later.deleted, 3);
      assert.equal(later.total, 10);
      assert.equal(await droppedDeadLetters(store, WEBHOOK), 10);
    } finally {
      await store.close();
    }
  });

  test('more dead letters than a page dropped', { skip }, async () => {
    const store = await open();
    try {
      await addDeliveries(store, 'dead', 1203, 1_000_000);
      const result = await pruneDeadLetters(store, WEBHOOK, 2);
      assert.equal(result.deleted, 1201);
      assert.equal((await idsOf(store, 'dead')).length, 2);
    } finally {
      await store.close();
    }
  });

  test('dead letters under the cap kept', { skip }, async () => {
    const store = await open();
    try {
      await addDeliveries(store, 'dead', 3, 1_000_000);
      assert.deepEqual(await pruneDeadLetters(store, WEBHOOK, 3), { deleted: 0, total: 0 });
      assert.deepEqual(await pruneDeadLetters(store, WEBHOOK, 100), { deleted: 0, total: 0 });
      assert.equal((await idsOf(store, 'dead')).length, 3);
      assert.equal(await droppedDeadLetters(store, WEBHOOK), 0);
    } finally {
      await store.close();
    }
  });

  test('concurrent prunes count each drop once', { skip }, async () => {
    const first = await open();
    try {
      await addDeliveries(first, 'dead', 40, 1_000_000);
      const results = await Promise.all([
        pruneDeadLetters(first, WEBHOOK, 10),
        pruneDeadLetters(first, WEBHOOK, 10),
        pruneDeadLetters(first, WEBHOOK, 10),
      ]);
      const deleted = results.reduce((sum, result) => sum + result.deleted, 0);
      assert.equal(deleted, 30);
      assert.equal(await droppedDeadLetters(first, WEBHOOK), 30);
      assert.equal((await idsOf(first, 'dead')).length, 10);
    } finally {
      await first.close();
    }
  });

  test('dead letter retried during a prune kept', { skip }, async () => {
    const store = await open();
    try {
      const dead = await addDeliveries(store, 'dead', 6, 1_000_000);
      const retried = dead[0]!;
      // Retry the oldest dead letter right after the prune lists the ones beyond the cap,
      // as an operator on another node could.
      let listings = 0;
      const racing = new Proxy(store, {
        get(target, property) {
          if (property !== 'listDocuments') {
            // Bound to the store itself, whose methods read private fields.
            const value: unknown = Reflect.get(target, property, target);
            return typeof value === 'function' ? value.bind(target) : value;
          }
          return async (query: Parameters<Store['listDocuments']>[0]) => {
            const page = await target.listDocuments(query);
            listings += 1;
            if (listings === 2) {
              const document = (await target.getDocument(deliveryKind(WEBHOOK), retried))!;
              await target.putDocument(
                { ...document, owner: 'pending', due: 1 },
                document.revision,
              );
            }
            return page;
          };
        },
      });
      const result = await pruneDeadLetters(racing, WEBHOOK, 2);
      assert.equal(result.deleted, 3);
      assert.equal(result.total, 3);
      assert.deepEqual(await idsOf(store, 'pending'), [retried]);
      assert.equal((await idsOf(store, 'dead')).length, 2);
    } finally {
      await store.close();
    }
  });

  test('finished deliveries pruned per state', { skip }, async () => {
    const store = await open();
    try {
      await addDeliveries(store, 'delivered', 7, 1_000_000);
      await addDeliveries(store, 'failed', 2, 1_000_000);
      const dead = await addDeliveries(store, 'dead', 6, 1_000_000);
      assert.equal(await pruneFinished(store, WEBHOOK, 3), 4);
      assert.equal((await idsOf(store, 'delivered')).length, 3);
      assert.equal((await idsOf(store, 'failed')).length, 2);
      assert.equal((await idsOf(store, 'dead')).length, dead.length);
      assert.equal(await droppedDeadLetters(store, WEBHOOK), 0);
    } finally {
      await store.close();
    }
  });
}

describe('delivery retention on SQLite', () => {
  retentionCases(async () => {
    sqliteFiles += 1;
    return openStore(`sqlite:${join(directory, `store-${sqliteFiles}.db`)}`);
  }, false);
});

describe('delivery retention on PostgreSQL', () => {
  const skip = typeof database === 'string' ? database : false;
  retentionCases(async () => {
    if (typeof database === 'string') throw new Error(database);
    return database.openFresh();
  }, skip);
});

test('dead letter prune interval', () => {
  assert.equal(deadLetterPruneInterval(1), 1);
  assert.equal(deadLetterPruneInterval(9), 1);
  assert.equal(deadLetterPruneInterval(35), 3);
  assert.equal(deadLetterPruneInterval(1000), 50);
  assert.equal(deadLetterPruneInterval(1_000_000), 50);
});
