import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';

import { nowMicros } from '../../stix/timestamp.ts';
import { objectVersion, runStoreSuite, stixId, stixTime } from '../store.case.ts';
import { SCHEMA_VERSION, SqliteStore } from './index.ts';
import { buildQuerySql, planQuery } from './version-query.ts';

const directory = mkdtempSync(join(tmpdir(), 'cairn-sqlite-test-'));
let fileCount = 0;

after(() => {
  rmSync(directory, { recursive: true, force: true });
});

function freshPath(): string {
  fileCount += 1;
  return join(directory, `store-${fileCount}.db`);
}

async function openFresh(path = freshPath()): Promise<SqliteStore> {
  const store = new SqliteStore(path);
  await store.migrate();
  return store;
}

/** Opens a migrated store on a new file with one API root and one collection. */
async function withCollection(path = freshPath()) {
  const store = await openFresh(path);
  await store.createApiRoot({ name: 'api1', title: 'API root 1', maxContentLength: 1000 });
  const collection = await store.createCollection({ apiRoot: 'api1', title: 'Main' });
  return { store, path, collectionId: collection.id };
}

runStoreSuite('SqliteStore on a file', () => openFresh());

describe('SqliteStore specifics', () => {
  test('pragmas set on open', async () => {
    const store = await openFresh();
    const pragma = (name: string) => store.database.pragma(name, { simple: true });

    assert.equal(pragma('journal_mode'), 'wal');
    assert.equal(pragma('synchronous'), 1, 'synchronous is NORMAL');
    assert.equal(pragma('foreign_keys'), 1);
    assert.equal(pragma('busy_timeout'), 5000);
    assert.equal(pragma('user_version'), SCHEMA_VERSION);
    await store.close();
  });

  test('newer schema rejected', async () => {
    const path = freshPath();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();

    const store = new SqliteStore(path);
    await assert.rejects(store.migrate(), /schema version \d+ is newer/);
    await store.close();
  });

  test('reopen keeps data', async () => {
    const { store, path, collectionId } = await withCollection();
    const object = objectVersion(stixId('indicator', 1), stixTime(1));
    const [added] = await store.addObjects(collectionId, [object]);
    await store.setSettingIfAbsent('cursor-key', 'secret');
    await store.close();

    const reopened = await openFresh(path);
    const page = await reopened.queryObjects({ collectionId, limit: 10 });
    assert.equal(page.items.length, 1);
    assert.equal(page.items[0]!.json, object.json);
    assert.equal(page.items[0]!.dateAdded, added!.dateAdded);
    assert.equal(await reopened.getSetting('cursor-key'), 'secret');
    await reopened.close();
  });

  test('two instances interleave adds', async () => {
    const { store: first, path, collectionId } = await withCollection();
    const second = await openFresh(path);

    const dates: number[] = [];
    for (let round = 0; round < 100; round++) {
      const writer = round % 2 === 0 ? first : second;
      const object = objectVersion(stixId('indicator', round), stixTime(1));
      const [result] = await writer.addObjects(collectionId, [object]);
      dates.push(result!.dateAdded);
    }

    for (let i = 1; i < dates.length; i++) assert.ok(dates[i]! > dates[i - 1]!, `at ${i}`);
    const stored = await second.queryManifest({ collectionId, limit: 1000 });
    assert.deepEqual(
      stored.items.map((item) => item.dateAdded),
      dates,
    );
    await first.close();
    await second.close();
  });

  test('two processes keep date_added unique', async () => {
    const { store, path, collectionId } = await withCollection();
    const batches = 150;
    const size = 5;

    const [fromA = [], fromB = []] = await runWriters(
      path,
      collectionId,
      ['a', 'b'],
      batches,
      size,
    );

    for (const dates of [fromA, fromB]) {
      assert.equal(dates.length, batches * size);
      for (let i = 1; i < dates.length; i++) assert.ok(dates[i]! > dates[i - 1]!);
    }
    const combined = [...fromA, ...fromB];
    assert.equal(new Set(combined).size, combined.length, 'a date_added was handed out twice');
    const aFirst = fromA[0]! < fromB[0]!;
    assert.ok(
      aFirst ? fromB[0]! < fromA.at(-1)! : fromA[0]! < fromB.at(-1)!,
      'the writers did not overlap, so the test checked nothing',
    );
    const stored = await store.queryManifest({
      collectionId,
      limit: 10_000,
      versions: { all: true },
    });
    assert.equal(stored.items.length, combined.length);
    assert.deepEqual(
      stored.items.map((item) => item.dateAdded),
      [...combined].sort((x, y) => x - y),
    );
    await store.close();
  });

  test('settings race across instances', async () => {
    const { store: first, path } = await withCollection();
    const second = await openFresh(path);

    assert.equal(await first.setSettingIfAbsent('cursor-key', 'from-first'), 'from-first');
    assert.equal(await second.setSettingIfAbsent('cursor-key', 'from-second'), 'from-first');
    await first.close();
    await second.close();
  });

  test('date_added follows high-water mark', async () => {
    const { store, collectionId } = await withCollection();
    // A high-water mark ahead of the clock, as after the clock steps back.
    const ahead = nowMicros() + 3_600_000_000;
    store.database.prepare('UPDATE collections SET last_date_added = ?').run(ahead);

    const results = await store.addObjects(collectionId, [
      objectVersion(stixId('indicator', 1), stixTime(1)),
      objectVersion(stixId('indicator', 2), stixTime(1)),
    ]);
    assert.deepEqual(
      results.map((r) => r.dateAdded),
      [ahead + 1, ahead + 2],
    );
    await store.deleteObject(collectionId, stixId('indicator', 2));
    const [next] = await store.addObjects(collectionId, [
      objectVersion(stixId('indicator', 3), stixTime(1)),
    ]);
    assert.equal(next!.dateAdded, ahead + 3);
    await store.close();
  });

  test('differing copies stored apart', async () => {
    const { store, collectionId } = await withCollection();
    const second = await store.createCollection({ apiRoot: 'api1', title: 'Second' });
    const third = await store.createCollection({ apiRoot: 'api1', title: 'Third' });
    const id = stixId('indicator', 1);
    const original = objectVersion(id, stixTime(1), { extra: { name: 'original' } });
    const countJson = () =>
      store.database.prepare('SELECT count(*) FROM object_versions').pluck().get();

    await store.addObjects(collectionId, [original]);
    await store.addObjects(second.id, [
      objectVersion(id, stixTime(1), { extra: { name: 'other' } }),
    ]);
    assert.equal(countJson(), 2);
    await store.addObjects(third.id, [original]);
    assert.equal(countJson(), 2);
    await store.close();
  });

  test('JSON stored once and dropped last', async () => {
    const { store, collectionId } = await withCollection();
    const second = await store.createCollection({ apiRoot: 'api1', title: 'Second' });
    const object = objectVersion(stixId('indicator', 1), stixTime(1));
    const countJson = () =>
      store.database.prepare('SELECT count(*) FROM object_versions').pluck().get();

    await store.addObjects(collectionId, [object]);
    await store.addObjects(second.id, [object]);
    assert.equal(countJson(), 1);
    await store.deleteObject(collectionId, object.id);
    assert.equal(countJson(), 1);
    await store.deleteObject(second.id, object.id);
    assert.equal(countJson(), 0);
    await store.close();
  });

  test('locked database times out', async () => {
    const { store, path, collectionId } = await withCollection();
    await store.close();
    const waiting = new SqliteStore(path, { busyTimeoutMs: 100 });
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE');

    const started = performance.now();
    await assert.rejects(
      waiting.addObjects(collectionId, [objectVersion(stixId('indicator', 1), stixTime(1))]),
      (error: unknown) => error instanceof Database.SqliteError && error.code === 'SQLITE_BUSY',
    );
    assert.ok(performance.now() - started < 5_000);
    holder.exec('ROLLBACK');
    holder.close();
    await waiting.close();
  });

  describe('query plans', () => {
    const mixed = { seq: 1, specVersions: ['2.0', '2.1'] };
    const selectors = {
      first: { first: true, last: false, exact: [] },
      firstLast: { first: true, last: true, exact: [] },
    };
    const shapes: [string, Parameters<typeof planQuery>[0], string[]][] = [
      ['latest', { collectionId: 'c', limit: 10 }, ['entries_single', 'entries_last_only']],
      ['all', { collectionId: 'c', limit: 10, versions: { all: true } }, ['PRIMARY KEY']],
      [
        'first',
        { collectionId: 'c', limit: 10, versions: selectors.first },
        ['entries_single', 'entries_first_only'],
      ],
      [
        'first,last',
        { collectionId: 'c', limit: 10, versions: selectors.firstLast },
        ['entries_single', 'entries_first_only', 'entries_last_only'],
      ],
      ['one type', { collectionId: 'c', limit: 10, types: ['indicator'] }, ['entries_by_type']],
      [
        'three types',
        { collectionId: 'c', limit: 10, types: ['indicator', 'malware', 'tool'] },
        ['entries_by_type', 'entries_by_type', 'entries_by_type'],
      ],
      [
        'spec version',
        { collectionId: 'c', limit: 10, specVersions: ['2.1'] },
        ['entries_single', 'entries_last_only'],
      ],
    ];

    function explain(store: SqliteStore, sql: string, parameters: object): string {
      const rows = store.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(parameters);
      return (rows as { detail: string }[]).map((row) => row.detail).join('\n');
    }

    for (const [name, query, indexes] of shapes) {
      test(`${name} reads indexes in order`, async () => {
        const store = await openFresh();
        for (const withJson of [false, true]) {
          const plan = planQuery(query, mixed, withJson)!;
          const details = explain(store, buildQuerySql(plan.shape), plan.parameters);

          const searches = [...details.matchAll(/SEARCH e USING (?:INDEX )?(\w+(?: KEY)?) \(/g)];
          assert.deepEqual(
            searches.map((match) => match[1]),
            indexes,
            details,
          );
          assert.doesNotMatch(details, /TEMP B-TREE/, details);
          assert.doesNotMatch(details, /SCAN e\b/, details);
        }
        await store.close();
      });
    }

    test('ids look up each id', async () => {
      const store = await openFresh();
      const query = { collectionId: 'c', limit: 10, ids: ['a', 'b'] };
      const plan = planQuery(query, mixed, true)!;
      const details = explain(store, buildQuerySql(plan.shape), plan.parameters);

      assert.match(details, /SEARCH v USING INDEX object_versions_by_id \(id_hash=\?\)/);
      assert.match(details, /SEARCH e USING INDEX entries_by_vid/);
      await store.close();
    });

    test('spec filter dropped when all match', () => {
      const query = { collectionId: 'c', limit: 10, specVersions: ['2.1', '2.0', '2.2'] };

      assert.equal(planQuery(query, mixed, false)?.shape.specVersions, false);
      assert.equal(
        planQuery(query, { seq: 1, specVersions: [] }, false)?.shape.specVersions,
        false,
      );
    });

    test('spec filter kept when some match', () => {
      const query = { collectionId: 'c', limit: 10, specVersions: ['2.1', '2.2'] };
      const plan = planQuery(query, mixed, false);

      assert.equal(plan?.shape.specVersions, true);
      assert.equal(plan?.parameters.specVersions, '["2.1"]');
    });

    test('absent spec version plans nothing', () => {
      const query = { collectionId: 'c', limit: 10, specVersions: ['2.2'] };

      assert.equal(planQuery(query, mixed, false), undefined);
    });
  });

  test('two processes never claim the same document', async () => {
    const store = await openFresh();
    const total = 300;
    for (let i = 0; i < total; i++) {
      await store.putDocument({ kind: 'job', id: `job-${i}`, due: i % 10, body: '{}' });
    }
    const [fromA = [], fromB = []] = await runReleased<string[]>('claim-worker.fixture.ts', [
      [store.database.name, 'job'],
      [store.database.name, 'job'],
    ]);

    const combined = [...fromA, ...fromB];
    assert.equal(new Set(combined).size, combined.length, 'a document was claimed twice');
    assert.equal(combined.length, total);
    assert.ok(fromA.length > 0, 'the second process claimed everything');
    assert.ok(fromB.length > 0, 'the first process claimed everything');
    await store.close();
  });

  test('spec versions recorded per collection', async () => {
    const { store, collectionId } = await withCollection();
    const specVersions = () =>
      store.database
        .prepare('SELECT spec_versions FROM collections WHERE id = ?')
        .pluck()
        .get(collectionId);

    assert.equal(specVersions(), '[]');
    await store.addObjects(collectionId, [
      objectVersion(stixId('indicator', 1), stixTime(1), { specVersion: '2.1' }),
      objectVersion(stixId('indicator', 2), stixTime(1), { specVersion: '2.0' }),
    ]);
    assert.equal(specVersions(), '["2.0","2.1"]');
    await store.close();
  });
});

/** Starts one writer process per label, releases them together and returns their dates. */
function runWriters(
  path: string,
  collectionId: string,
  labels: string[],
  batches: number,
  size: number,
): Promise<number[][]> {
  return runReleased<number[]>(
    'concurrent-writer.fixture.ts',
    labels.map((label) => [path, collectionId, label, String(batches), String(size)]),
  );
}

/**
 * Starts one fixture process per argument list, waits until each reports "ready", releases
 * them together and returns the JSON line each prints at its end. A child that runs past the
 * test timeout is killed with the test.
 */
async function runReleased<T>(fixture: string, argLists: string[][]): Promise<T[]> {
  const script = fileURLToPath(new URL(`./${fixture}`, import.meta.url));
  const children = argLists.map((args) =>
    spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
      timeout: 60_000,
    }),
  );
  const outputs = children.map((child) => {
    let text = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (text += chunk));
    const exited = new Promise<string>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0 ? resolve(text) : reject(new Error(`${fixture} exited with code ${code}`)),
      );
    });
    const ready = new Promise<void>((resolve) => {
      const check = () => (text.startsWith('ready\n') ? resolve() : undefined);
      child.stdout.on('data', check);
    });
    return { child, exited, ready };
  });

  await Promise.all(outputs.map((output) => output.ready));
  for (const { child } of outputs) child.stdin.write('go\n');
  const texts = await Promise.all(outputs.map((output) => output.exited));
  return texts.map((text) => JSON.parse(text.slice('ready\n'.length)) as T);
}
