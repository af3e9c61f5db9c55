/**
 * Recording an alert with its alert log record, on a real SQLite file and on real
 * PostgreSQL. A store that fails the write of the log record plays a process that stops
 * there: the alert must then be left unwritten too, so that the retry writes both.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { nodePairBackends } from '../store/node-pairs.test-helper.ts';
import { createTestDatabase } from '../store/postgres/database.test-helper.ts';
import type { DocumentWrite, NewDocument, Store } from '../store/store.ts';
import { ALERT_LOG_KIND } from './alert-log.ts';
import { recordAlert, type AlertInput } from './alerts.ts';
import type { IndexedEntry, IndexedList } from './engine.ts';
import type { WatchList } from './model.ts';
import { WatchRepository } from './repository.ts';

const directory = mkdtempSync(join(tmpdir(), 'cairn-alert-record-'));
const database = await createTestDatabase();
const stores: Store[] = [];

after(async () => {
  await Promise.all(stores.map((store) => store.close()));
  rmSync(directory, { recursive: true, force: true });
  if (typeof database !== 'string') await database.drop();
});

/**
 * Wraps a store so that its next `crashes` writes that include an alert log record throw
 * before anything of that call is stored.
 */
function failingLogWrites(store: Store): { store: Store; crashes: number } {
  const control = { store, crashes: 0 };
  const fail = (documents: NewDocument[]): void => {
    if (control.crashes === 0) return;
    if (!documents.some((document) => document.kind === ALERT_LOG_KIND)) return;
    control.crashes -= 1;
    throw new Error('process stopped before the alert log write');
  };
  control.store = new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (property === 'putDocument') {
        return async (document: NewDocument, expectRevision?: number) => {
          fail([document]);
          return method.call(target, document, expectRevision);
        };
      }
      if (property === 'putDocuments') {
        return async (writes: readonly DocumentWrite[]) => {
          fail(writes.map((write) => write.document));
          return method.call(target, writes);
        };
      }
      return method.bind(target);
    },
  });
  return control;
}

function entryOf(): IndexedEntry {
  const list: WatchList = {
    id: randomUUID(),
    name: 'crash test',
    ownerType: 'organisation',
    organisationId: randomUUID(),
    visibility: 'organisation',
    enabled: true,
    entries: [],
    createdBy: randomUUID(),
    createdAt: 1,
    updatedAt: 1,
  };
  const owner: IndexedList = { list, revision: 1, entries: [] };
  const entry: IndexedEntry = {
    owner,
    entry: { id: randomUUID(), type: 'domain', value: 'evil.example', addedAt: 1 },
  };
  owner.entries.push(entry);
  return entry;
}

function inputOf(entry: IndexedEntry, objectId: string, modified: string): AlertInput {
  return {
    entry,
    object: {
      type: 'indicator',
      id: objectId,
      spec_version: '2.1',
      created: '2024-01-01T00:00:00.000Z',
      modified,
      pattern: "[domain-name:value = 'evil.example']",
      pattern_type: 'stix',
      valid_from: '2024-01-01T00:00:00.000Z',
    },
    detail: { kind: 'indicator', how: 'exact', watched: 'evil.example' },
    collectionId: randomUUID(),
    tlp: ['green'],
    sources: 1,
    origin: 'live',
    now: Date.now() * 1000,
  };
}

/** Returns the input of inputOf with an indicator whose `valid_until` has passed. */
function expiredInputOf(entry: IndexedEntry, objectId: string, modified: string): AlertInput {
  const input = inputOf(entry, objectId, modified);
  return { ...input, object: { ...input.object, valid_until: '2024-06-01T00:00:00.000Z' } };
}

const MONTHS = ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12'];

const backends = nodePairBackends(directory, database, stores);

for (const { name, open: openPair, skip } of backends) {
  describe(`recordAlert on ${name}`, { skip, timeout: 120_000 }, () => {
    test('stop before the log leaves no alert', async () => {
      const [store] = await openPair();
      const failing = failingLogWrites(store);
      const entry = entryOf();
      const objectId = `indicator--${randomUUID()}`;
      const watchlistId = entry.owner.list.id;

      failing.crashes = 1;
      await assert.rejects(
        recordAlert(
          new WatchRepository(failing.store),
          inputOf(entry, objectId, '2024-01-01T00:00:00.000Z'),
        ),
        /process stopped/,
      );
      const repository = new WatchRepository(store);
      assert.equal(
        await repository.getAlertByKey(entry.entry.id, objectId),
        undefined,
        'no alert without its log record',
      );
      assert.deepEqual(await repository.alertLog.read(watchlistId, 0, 10), []);

      // The retry after the restart, as the follower reads the event again.
      const recorded = await recordAlert(
        new WatchRepository(failing.store),
        inputOf(entry, objectId, '2024-01-01T00:00:00.000Z'),
      );
      assert.ok(recorded, 'the retry records the alert');
      assert.equal(recorded.change, 'created');
      assert.equal(recorded.seq, 1);
      const records = await repository.alertLog.read(watchlistId, 0, 10);
      assert.equal(records.length, 1);
      assert.equal(records[0]!.change, 'created');
      assert.equal(records[0]!.alert.id, recorded.alert.id);
    });

    test('stop before the log keeps the old version', async () => {
      const [store] = await openPair();
      const failing = failingLogWrites(store);
      const repository = new WatchRepository(failing.store);
      const entry = entryOf();
      const objectId = `indicator--${randomUUID()}`;
      const first = await recordAlert(
        repository,
        inputOf(entry, objectId, '2024-01-01T00:00:00.000Z'),
      );
      assert.ok(first);

      failing.crashes = 1;
      const newer = inputOf(entry, objectId, '2024-02-01T00:00:00.000Z');
      await assert.rejects(recordAlert(repository, newer), /process stopped/);
      const stored = await repository.getAlertByKey(entry.entry.id, objectId);
      assert.equal(stored?.alert.version, '2024-01-01T00:00:00.000Z', 'the update was not kept');
      assert.equal(stored?.alert.versions, 1);

      const updated = await recordAlert(repository, newer);
      assert.ok(updated, 'the retry updates the alert');
      assert.equal(updated.change, 'updated');
      assert.equal(updated.seq, 2);
      const records = await repository.alertLog.read(entry.owner.list.id, 0, 10);
      assert.deepEqual(
        records.map((record) => [record.seq, record.change, record.alert.version]),
        [
          [1, 'created', '2024-01-01T00:00:00.000Z'],
          [2, 'updated', '2024-02-01T00:00:00.000Z'],
        ],
      );
    });

    test('two nodes record one alert: every change logged', async () => {
      const stores = await openPair();
      const entry = entryOf();
      const objectId = `indicator--${randomUUID()}`;
      const watchlistId = entry.owner.list.id;
      // Each node records every month's version, in opposite orders, all at once.
      const results = await Promise.all(
        stores.map(async (store, index) => {
          const repository = new WatchRepository(store);
          const months = index === 0 ? MONTHS : [...MONTHS].reverse();
          const recorded = [];
          for (const month of months) {
            const input = inputOf(entry, objectId, `2024-${month}-01T00:00:00.000Z`);
            recorded.push(await recordAlert(repository, input));
          }
          return recorded;
        }),
      );
      const changes = results.flat().filter((result) => result !== undefined);

      const repository = new WatchRepository(stores[0]);
      const records = await repository.alertLog.read(watchlistId, 0, 100);
      assert.equal(records.length, changes.length, 'one log record per alert change');
      assert.deepEqual(
        records.map((record) => record.seq),
        Array.from({ length: records.length }, (_, i) => i + 1),
        'records numbered without gaps',
      );
      assert.deepEqual(
        records.map((record) => record.alert.versions),
        Array.from({ length: records.length }, (_, i) => i + 1),
        'each record holds the alert as its change left it',
      );

      const stored = await repository.getAlertByKey(entry.entry.id, objectId);
      assert.equal(stored?.alert.version, '2024-12-01T00:00:00.000Z');
      assert.deepEqual(records.at(-1)!.alert, stored?.alert, 'the last record is the alert');
    });

    test('expired indicator raises no alert', async () => {
      const [store] = await openPair();
      const repository = new WatchRepository(store);
      const entry = entryOf();
      const objectId = `indicator--${randomUUID()}`;

      const recorded = await recordAlert(
        repository,
        expiredInputOf(entry, objectId, '2024-03-01T00:00:00.000Z'),
      );
      assert.equal(recorded, undefined);
      assert.equal(await repository.getAlertByKey(entry.entry.id, objectId), undefined);
      assert.deepEqual(await repository.alertLog.read(entry.owner.list.id, 0, 10), []);
    });

    test('expired version keeps alert state', async () => {
      const [store] = await openPair();
      const repository = new WatchRepository(store);
      const entry = entryOf();
      const objectId = `indicator--${randomUUID()}`;
      const first = await recordAlert(
        repository,
        inputOf(entry, objectId, '2024-01-01T00:00:00.000Z'),
      );
      assert.ok(first);
      await repository.upsertAlert(
        () => undefined,
        (current) => ({
          ...current,
          state: 'acknowledged',
          acknowledgedAt: 7,
          acknowledgedBy: 'analyst',
        }),
        entry.entry.id,
        objectId,
      );

      const expired = await recordAlert(
        repository,
        expiredInputOf(entry, objectId, '2024-02-01T00:00:00.000Z'),
      );
      assert.ok(expired, 'the expired version is recorded');
      assert.equal(expired.change, 'updated');
      assert.equal(expired.alert.expired, true);
      assert.equal(expired.alert.state, 'acknowledged', 'not opened again');
      assert.equal(expired.alert.acknowledgedBy, 'analyst');
      assert.equal(expired.alert.versions, 2);
      assert.ok(expired.alert.priority < first.alert.priority, 'expiry lowers the priority');

      const listedAgain = await recordAlert(
        repository,
        inputOf(entry, objectId, '2024-03-01T00:00:00.000Z'),
      );
      assert.ok(listedAgain);
      assert.equal(listedAgain.alert.state, 'open', 'a version in force opens it again');
      assert.equal(listedAgain.alert.expired, undefined);
      assert.equal(listedAgain.alert.acknowledgedBy, undefined);
    });
  });
}
