/**
 * Claimed housekeeping and shared failure counts, with two stores on one database playing
 * two nodes: on SQLite (two connections to one file) and on PostgreSQL (two pools on one
 * schema of a database of this run).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { createLogger } from '../log/logger.ts';
import { openStore } from '../store/index.ts';
import { createTestDatabase } from '../store/postgres/database.test-helper.ts';
import { PostgresStore } from '../store/postgres/index.ts';
import { nowMicros } from '../stix/timestamp.ts';
import type { Store } from '../store/store.ts';
import { ClusterTask } from './cluster-task.ts';
import { FAILURE_KIND, StoreFailureCounter } from './failure-counts.ts';

const logger = createLogger('silent');
const database = await createTestDatabase();
const folder = mkdtempSync(join(tmpdir(), 'cairn-cluster-'));
let files = 0;

after(async () => {
  if (typeof database !== 'string') await database.drop();
  rmSync(folder, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens two stores on one fresh database: two nodes. */
type PairFactory = () => Promise<[Store, Store]>;

/** Runs `work` on a fresh pair of stores and closes both afterwards. */
async function withPair(
  pair: PairFactory,
  work: (a: Store, b: Store) => Promise<void>,
): Promise<void> {
  const [a, b] = await pair();
  try {
    await work(a, b);
  } finally {
    await a.close().catch(() => undefined);
    await b.close();
  }
}

const backends: Array<{ name: string; pair: PairFactory; skip: string | false }> = [
  {
    name: 'SQLite',
    skip: false,
    async pair() {
      files += 1;
      const file = join(folder, `pair-${files}.db`);
      return [await openStore(`sqlite:${file}`), await openStore(`sqlite:${file}`)];
    },
  },
  {
    name: 'PostgreSQL',
    skip: typeof database === 'string' ? database : false,
    async pair() {
      if (typeof database === 'string') throw new Error(database);
      const url = await database.freshSchema();
      const first = new PostgresStore(url, { maxConnections: 4 });
      await first.migrate();
      const second = new PostgresStore(url, { maxConnections: 4 });
      await second.migrate();
      return [first, second];
    },
  },
];

for (const backend of backends) {
  describe(
    `cluster housekeeping on ${backend.name}`,
    { skip: backend.skip, timeout: 60_000 },
    () => {
      test('a claimed task runs on one node per interval, however many look', async () => {
        await withPair(backend.pair, async (a, b) => {
          let runs = 0;
          const task = (store: Store) =>
            new ClusterTask(store, logger, {
              name: 'count-runs',
              intervalMs: 400,
              run: () => Promise.resolve(++runs),
            });
          const nodes = [task(a), task(b), task(a), task(b)];
          const first = await Promise.all(nodes.map((node) => node.runIfDue()));
          assert.equal(first.filter(Boolean).length, 1, 'one node ran it');
          assert.equal(runs, 1);
          const again = await Promise.all(nodes.map((node) => node.runIfDue()));
          assert.equal(again.filter(Boolean).length, 0, 'not due again within the interval');
          await sleep(450);
          const later = await Promise.all(nodes.map((node) => node.runIfDue()));
          assert.equal(later.filter(Boolean).length, 1, 'due again after the interval');
          assert.equal(runs, 2);
        });
      });

      test('a failing job is logged and runs again next interval', async () => {
        await withPair(backend.pair, async (a) => {
          let calls = 0;
          const task = new ClusterTask(a, logger, {
            name: 'fails-once',
            intervalMs: 200,
            run: () => (++calls === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(0)),
          });
          assert.equal(await task.runIfDue(), true);
          await sleep(250);
          assert.equal(await task.runIfDue(), true);
          assert.equal(calls, 2);
        });
      });

      test('started tasks on two nodes purge statuses once per interval', async () => {
        await withPair(backend.pair, async (a, b) => {
          const purged: number[] = [];
          const purge = (store: Store) =>
            new ClusterTask(store, logger, {
              name: 'status-purge',
              intervalMs: 300,
              checkMs: 20,
              run: async () => {
                const count = await store.purgeStatuses(nowMicros());
                purged.push(count);
                return count;
              },
            });
          const nodes = [purge(a), purge(b)];
          for (const node of nodes) node.start();
          await sleep(1_000);
          await Promise.all(nodes.map((node) => node.stop()));
          // 1,000 ms at one run per 300 ms: 4 runs at most (at 0, 300, 600, 900 ms).
          assert.ok(purged.length >= 3, `${purged.length} runs`);
          assert.ok(purged.length <= 4, `${purged.length} runs`);
        });
      });

      test('task names are checked', () => {
        assert.throws(
          () =>
            new ClusterTask({} as Store, logger, {
              name: 'Bad Name',
              intervalMs: 1,
              run: () => Promise.resolve(0),
            }),
          /invalid task name "Bad Name"/,
        );
      });

      test('failures counted on one node limit the key on the other', async () => {
        await withPair(backend.pair, async (a, b) => {
          const options = { windowMs: 60_000, maxPerAddress: 5, maxPerUserName: 3 };
          const onA = new StoreFailureCounter(a, options);
          const onB = new StoreFailureCounter(b, options);
          const key = 'address:203.0.113.9';
          for (let i = 0; i < 4; i++) await (i % 2 === 0 ? onA : onB).record(key);
          assert.equal(await onB.retryAfter(key, 5), 0, 'four of five allowed');
          await onA.record(key);
          const wait = await onB.retryAfter(key, 5);
          assert.ok(wait > 0, `B makes the client wait ${wait} s`);
          assert.ok(wait <= 60, `B makes the client wait ${wait} s`);
          assert.ok((await onA.retryAfter(key, 5)) > 0);
          assert.equal(await onA.retryAfter('address:203.0.113.10', 5), 0, 'other keys are free');
        });
      });

      test('failures recorded at once on two nodes are all counted', async () => {
        await withPair(backend.pair, async (a, b) => {
          const options = { windowMs: 60_000, maxPerAddress: 40, maxPerUserName: 10 };
          const onA = new StoreFailureCounter(a, options);
          const onB = new StoreFailureCounter(b, options);
          const key = 'user:mallory';
          await Promise.all(
            Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? onA : onB).record(key)),
          );
          // Each failure is its own insert, so racing nodes never overwrite each other.
          assert.equal(await onA.retryAfter(key, 13), 0);
          assert.ok((await onA.retryAfter(key, 12)) > 0, 'all twelve counted');
        });
      });

      test('the window slides and the sweep deletes expired counts', async () => {
        await withPair(backend.pair, async (a, b) => {
          let now = Date.now();
          const clock = () => now;
          const options = { windowMs: 1_000, maxPerAddress: 2, maxPerUserName: 2 };
          const onA = new StoreFailureCounter(a, options, clock);
          const onB = new StoreFailureCounter(b, options, clock);
          const long = `user:${'é'.repeat(5_000)}\u0000'; DROP TABLE documents; --`;
          await onA.record(long);
          await onA.record(long);
          assert.ok((await onB.retryAfter(long, 2)) > 0, 'a hostile user name is just a key');
          await onA.record('address:198.51.100.1');

          now += 1_001;
          assert.equal(await onB.retryAfter(long, 2), 0, 'the window has passed');
          // Sweeping uses the store's clock, which the test cannot move: the due times are
          // in the past only once real time passes them.
          await sleep(Math.max(0, now - Date.now()) + 20);
          assert.equal(await onB.sweep(), 3, 'two failures of one key, one of the other');
          assert.deepEqual(await a.listDocuments({ kind: FAILURE_KIND, limit: 10 }), []);
          assert.equal(await onA.sweep(), 0, 'a second sweep finds nothing');
        });
      });

      test('a blocked key is answered from memory until its wait ends', async () => {
        const [a, b] = await backend.pair();
        try {
          const onA = new StoreFailureCounter(a, { maxPerAddress: 1 });
          await onA.record('address:192.0.2.1');
          assert.ok((await onA.retryAfter('address:192.0.2.1', 1)) > 0);
          await a.close();
          // The store is closed, so a read would throw: this result came from memory.
          assert.ok((await onA.retryAfter('address:192.0.2.1', 1)) > 0);
          await assert.rejects(onA.retryAfter('address:192.0.2.2', 1));
        } finally {
          await b.close();
        }
      });
    },
  );
}
