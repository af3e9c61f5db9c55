/**
 * The alert log on a real SQLite file and, when it is reachable, on real PostgreSQL: numbers
 * without gaps, reading after a position, pruning, and writers on several connections
 * that append at once while a reader follows.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { openStore } from '../store/index.ts';
import { createTestDatabase } from '../store/postgres/database.test-helper.ts';
import type { Store } from '../store/store.ts';
import { ALERT_LOG_HEAD_KIND, ALERT_LOG_KIND, AlertLog, type AlertLogRecord } from './alert-log.ts';
import type { Alert } from './model.ts';

const directory = mkdtempSync(join(tmpdir(), 'cairn-alert-log-'));
const database = await createTestDatabase();
const stores: Store[] = [];

after(async () => {
  await Promise.all(stores.map((store) => store.close()));
  rmSync(directory, { recursive: true, force: true });
  if (typeof database !== 'string') await database.drop();
});

/** Opens a store on a new SQLite file, or on the file of `url`. */
async function sqlite(url = `sqlite:${join(directory, `${randomUUID()}.db`)}`): Promise<Store> {
  const store = await openStore(url);
  stores.push(store);
  return store;
}

/** Returns an alert of the list for a new object. */
function alertOf(watchlistId: string, objectNumber: number): Alert {
  return {
    id: randomUUID(),
    watchlistId,
    entryId: 'entry-1',
    objectId: `indicator--${randomUUID()}`,
    objectType: 'indicator',
    version: '2024-05-01T10:00:00.000Z',
    revoked: false,
    collectionId: 'collection-1',
    match: { kind: 'value', how: 'exact', watched: `198.51.100.${objectNumber % 250}` },
    priority: 50,
    severity: 'medium',
    sources: 1,
    tlp: ['green'],
    state: 'open',
    versions: 1,
    origin: 'live',
    createdAt: objectNumber,
    updatedAt: objectNumber,
  };
}

/** Reads a list's whole log from `afterSeq` on, page by page. */
async function readAll(log: AlertLog, watchlistId: string, afterSeq = 0) {
  const records: AlertLogRecord[] = [];
  let position = afterSeq;
  for (;;) {
    const page = await log.read(watchlistId, position, 7);
    records.push(...page);
    if (page.length < 7) return records;
    position = page.at(-1)!.seq;
  }
}

describe('alert log', () => {
  test('numbers records of each list from 1 without gaps', async () => {
    const log = new AlertLog(await sqlite());
    const [first, second] = [randomUUID(), randomUUID()];
    const numbers: number[] = [];
    for (let i = 0; i < 20; i++) {
      numbers.push(await log.append(alertOf(i % 2 === 0 ? first : second, i), 'created'));
    }
    assert.deepEqual(
      numbers,
      Array.from({ length: 20 }, (_, i) => Math.floor(i / 2) + 1),
    );
    assert.equal(await log.head(first), 10);
    assert.equal(await log.head(second), 10);
    assert.equal(await log.head(randomUUID()), 0, 'a list without alerts starts at 0');

    const records = await readAll(log, first);
    assert.deepEqual(
      records.map((record) => record.seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.ok(records.every((record) => record.alert.watchlistId === first));
    const after = await readAll(log, first, 6);
    assert.deepEqual(
      after.map((record) => record.seq),
      [7, 8, 9, 10],
    );
    assert.deepEqual(await log.read(first, 10, 5), [], 'nothing after the head');
  });

  test('keeps the change and the alert as recorded', async () => {
    const log = new AlertLog(await sqlite());
    const watchlistId = randomUUID();
    const alert = alertOf(watchlistId, 1);
    await log.append(alert, 'created');
    await log.append({ ...alert, versions: 2, version: '2024-06-01T00:00:00.000Z' }, 'updated');
    const [created, updated] = await log.read(watchlistId, 0, 10);
    assert.equal(created!.change, 'created');
    assert.deepEqual(created!.alert, alert);
    assert.equal(updated!.change, 'updated');
    assert.equal(updated!.alert.versions, 2);
    assert.equal(updated!.alert.id, alert.id);
  });

  test('continues after a head left behind', async () => {
    const store = await sqlite();
    const log = new AlertLog(store);
    const watchlistId = randomUUID();
    for (let i = 0; i < 3; i++) await log.append(alertOf(watchlistId, i), 'created');
    // A writer that stopped after its record and before the head write leaves this state.
    await store.putDocument({ kind: ALERT_LOG_HEAD_KIND, id: watchlistId, body: '{"seq":1}' });
    assert.equal(await log.append(alertOf(watchlistId, 9), 'created'), 4);
    assert.equal(await log.head(watchlistId), 4);
  });

  test('prunes the oldest records beyond the kept number', async () => {
    const log = new AlertLog(await sqlite(), { keep: 10, pruneEvery: 5 });
    const watchlistId = randomUUID();
    for (let i = 0; i < 24; i++) await log.append(alertOf(watchlistId, i), 'created');
    const seqs = (await readAll(log, watchlistId)).map((record) => record.seq);
    // The last prune ran at 20 and kept 11 to 20; 21 to 24 came after it.
    assert.deepEqual(
      seqs,
      Array.from({ length: 14 }, (_, i) => i + 11),
    );
    assert.equal(await log.append(alertOf(watchlistId, 99), 'created'), 25, 'numbering goes on');
  });

  test('remove deletes the records and the head', async () => {
    const store = await sqlite();
    const log = new AlertLog(store);
    const [gone, kept] = [randomUUID(), randomUUID()];
    for (let i = 0; i < 600; i++) await log.append(alertOf(gone, i), 'created');
    await log.append(alertOf(kept, 1), 'created');
    await log.remove(gone);
    assert.deepEqual(await log.read(gone, 0, 10), []);
    assert.equal(await log.head(gone), 0);
    assert.equal(await store.getDocument(ALERT_LOG_HEAD_KIND, gone), undefined);
    assert.equal((await log.read(kept, 0, 10)).length, 1, 'other lists keep theirs');
    const left = await store.listDocuments({ kind: ALERT_LOG_KIND, limit: 10 });
    assert.deepEqual(
      left.map((document) => document.owner),
      [kept],
    );
  });

  test('two connections to one SQLite file append without clashing', async () => {
    const url = `sqlite:${join(directory, `${randomUUID()}.db`)}`;
    // One file opened twice, as by two processes on one machine.
    const first = await sqlite(url);
    const second = await sqlite(url);
    await concurrentAppends([new AlertLog(first), new AlertLog(second)], first);
  });

  test(
    'writers on several PostgreSQL connections never leave a reader a gap',
    { skip: typeof database === 'string' ? database : false, timeout: 120_000 },
    async () => {
      if (typeof database === 'string') return;
      const url = await database.freshSchema();
      const opened: Store[] = [];
      for (let i = 0; i < 3; i++) {
        const store = await openStore(url, { migrate: i === 0 });
        stores.push(store);
        opened.push(store);
      }
      await concurrentAppends(
        opened.map((store) => new AlertLog(store)),
        opened[0]!,
      );
    },
  );
});

/**
 * Appends 60 records per writer to one list, all writers at once, while a reader follows
 * the log from 0. The reader must see every number once and in order, even though it
 * reads while writers still commit.
 */
async function concurrentAppends(writers: AlertLog[], readerStore: Store): Promise<void> {
  const watchlistId = randomUUID();
  const perWriter = 60;
  const total = perWriter * writers.length;
  const reader = new AlertLog(readerStore);
  const seen: number[] = [];
  let done = false;
  const following = (async () => {
    let position = 0;
    while (seen.length < total) {
      const page = await reader.read(watchlistId, position, 50);
      for (const record of page) {
        assert.equal(record.seq, position + 1, `the reader after ${position} got ${record.seq}`);
        seen.push(record.seq);
        position = record.seq;
      }
      if (page.length === 0) {
        if (done && seen.length < total) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  })();
  const numbers = await Promise.all(
    writers.map(async (writer, index) => {
      const mine: number[] = [];
      for (let i = 0; i < perWriter; i++) {
        mine.push(await writer.append(alertOf(watchlistId, index * 1000 + i), 'created'));
      }
      return mine;
    }),
  );
  done = true;
  await following;
  const all = numbers.flat().sort((a, b) => a - b);
  assert.deepEqual(
    all,
    Array.from({ length: total }, (_, i) => i + 1),
    'every number was taken once',
  );
  assert.equal(seen.length, total, 'the reader saw every record');
  assert.equal(await reader.head(watchlistId), total);
}
