import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { openStore, StoreUnavailableError } from './index.ts';
import { createTestDatabase, type TestDatabase } from './postgres/database.test-helper.ts';

const directory = mkdtempSync(join(tmpdir(), 'cairn-open-store-'));
const postgres = await createTestDatabase();
const pgSkip = typeof postgres === 'string' ? postgres : false;

after(async () => {
  rmSync(directory, { recursive: true, force: true });
  if (typeof postgres !== 'string') await postgres.drop();
});

/** Returns a loopback port that nothing listens on: one just freed by a closed server. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('openStore', () => {
  test('sqlite URL creates a migrated file', async () => {
    const path = join(directory, 'scheme.db');
    const store = await openStore(`sqlite:${path}`);

    await store.createApiRoot({ name: 'api1', title: 'API root', maxContentLength: 1 });
    assert.ok(existsSync(path));
    await store.close();
  });

  test('sqlite URL with slashes', async () => {
    const path = join(directory, 'slashes.db');
    const store = await openStore(`sqlite://${path}`);

    await store.createApiRoot({ name: 'api1', title: 'API root', maxContentLength: 1 });
    assert.ok(existsSync(path));
    await store.close();
  });

  test('bare path', async () => {
    const path = join(directory, 'bare.db');
    const store = await openStore(path);

    assert.deepEqual(await store.listApiRoots(), []);
    assert.ok(existsSync(path));
    await store.close();
  });

  test('in-memory database', async () => {
    const store = await openStore('sqlite::memory:');

    await store.createApiRoot({ name: 'api1', title: 'API root', maxContentLength: 1 });
    assert.equal((await store.listApiRoots()).length, 1);
    await store.close();
  });

  test('postgres URL opens a migrated store', { skip: pgSkip }, async () => {
    const database = postgres as TestDatabase;
    for (const scheme of ['postgres', 'postgresql']) {
      const url = (await database.freshSchema()).replace(/^postgres/, scheme);
      const store = await openStore(url);

      await store.createApiRoot({ name: 'api1', title: 'API root', maxContentLength: 1 });
      assert.equal((await store.listApiRoots()).length, 1);
      await store.close();
    }
  });

  test('unreachable postgres hides password', async () => {
    const port = await closedPort();
    const url = `postgres://cairn:hunter2@127.0.0.1:${port}/cairn`;

    await assert.rejects(openStore(url), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}/cairn is unavailable`));
      assert.doesNotMatch(error.message, /hunter2/);
      assert.doesNotMatch(error.message, /cairn:/);
      return true;
    });
  });

  test('postgres schema behind rejected', { skip: pgSkip }, async () => {
    const url = await (postgres as TestDatabase).freshSchema();

    await assert.rejects(openStore(url, { migrate: false }), /run `cairn migrate` first/);
    const store = await openStore(url);
    await store.close();
    const again = await openStore(url, { migrate: false });
    await again.close();
  });

  test('sqlite schema behind rejected', async () => {
    const path = join(directory, 'behind.db');
    writeFileSync(path, '');

    await assert.rejects(openStore(path, { migrate: false }), /run `cairn migrate` first/);
    const store = await openStore(path);
    await store.close();
    const again = await openStore(path, { migrate: false });
    await again.close();
  });

  test('other scheme rejected', async () => {
    await assert.rejects(openStore('mysql://root:hunter2@db/cairn'), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /unsupported store URL scheme "mysql:"/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
  });

  test('empty URL rejected', async () => {
    await assert.rejects(openStore(''), /invalid store URL/);
    await assert.rejects(openStore('sqlite:'), /database path is missing/);
  });

  test('missing folder created', async () => {
    const path = join(directory, 'new', 'nested', 'x.db');
    const store = await openStore(path);

    assert.ok(existsSync(path));
    await store.close();
  });

  test('new files private to owner', async () => {
    const folder = join(directory, 'private');
    const path = join(folder, 'x.db');
    const store = await openStore(path);

    assert.equal(statSync(folder).mode & 0o777, 0o700);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await store.close();
  });

  test('folder under /proc fails fast', { timeout: 5000 }, async (t) => {
    if (!existsSync('/proc/self')) {
      t.skip('no /proc on this system');
      return;
    }
    await assert.rejects(openStore('sqlite:/proc/cairn-absent/x.db'), /\/proc\/cairn-absent/);
  });

  test('unopenable path rejected', async () => {
    const file = join(directory, 'a-file');
    writeFileSync(file, 'not a folder');

    await assert.rejects(openStore(join(file, 'x.db')), /failed to open the SQLite store at/);
  });

  test('non-database file rejected', async () => {
    const path = join(directory, 'text.db');
    writeFileSync(path, 'this is not a SQLite database, but it is long enough to have a header');

    await assert.rejects(openStore(path));
  });
});
