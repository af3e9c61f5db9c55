import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { openStore } from './index.ts';

const directory = mkdtempSync(join(tmpdir(), 'cairn-open-store-'));

after(() => {
  rmSync(directory, { recursive: true, force: true });
});

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

  test('postgres not supported yet', async () => {
    for (const url of ['postgres://cairn:hunter2@db/cairn', 'postgresql://db/cairn']) {
      await assert.rejects(openStore(url), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /PostgreSQL stores are not supported yet/);
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      });
    }
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
