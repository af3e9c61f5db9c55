import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { openStore, type Store } from '../store/index.ts';
import { dataPath } from '../testing/data.ts';
import {
  failureRules,
  importObjects,
  ImportStoppedError,
  NOT_STORED_RULE,
  type ImportProgress,
} from './import.ts';

const STALKERWARE = dataPath('stalkerware-indicators/generated/stalkerware.stix2');
const ICS_18 = dataPath('mitre-attack-stix21/ics-attack/ics-attack-18.0.json');
const ICS_LATEST = dataPath('mitre-attack-stix21/ics-attack/ics-attack.json');
const REPOSITORY = resolve(fileURLToPath(import.meta.url), '..', '..', '..');

type StixObject = Record<string, unknown> & { id: string };

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-import-test-'));
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a fresh SQLite store with one API root and one collection. */
async function freshStore(): Promise<{ store: Store; collectionId: string; path: string }> {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.db`);
  const store = await openStore(`sqlite:${path}`);
  await store.createApiRoot({ name: 'default', title: 'Test root', maxContentLength: 10_000_000 });
  const collection = await store.createCollection({
    apiRoot: 'default',
    title: 'Test',
    alias: 'default',
  });
  return { store, collectionId: collection.id, path };
}

async function* bytesOf(text: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(text, 'utf8');
}

/** Returns every stored version of a collection, keyed by id and version. */
async function storedVersions(store: Store, collectionId: string): Promise<Map<string, unknown>> {
  const stored = new Map<string, unknown>();
  let addedAfter: number | undefined;
  for (;;) {
    const page = await store.queryObjects({
      collectionId,
      versions: { all: true },
      limit: 1000,
      ...(addedAfter === undefined ? {} : { addedAfter }),
    });
    for (const item of page.items) stored.set(`${item.id} ${item.version}`, JSON.parse(item.json));
    const last = page.items.at(-1);
    if (!page.more || !last) return stored;
    addedAfter = last.dateAdded;
  }
}

function versionKey(object: StixObject): string {
  return `${object.id} ${String(object.modified ?? object.created)}`;
}

function indicator(n: number): StixObject {
  return {
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    created: '2024-01-01T00:00:00.000Z',
    modified: '2024-01-01T00:00:00.000Z',
    pattern: `[domain-name:value = 'host${n}.example.com']`,
    pattern_type: 'stix',
    valid_from: '2024-01-01T00:00:00Z',
  };
}

describe('importObjects on real bundles', () => {
  test('stalkerware bundle stores every object', async () => {
    const { store, collectionId } = await freshStore();
    const progress: ImportProgress[] = [];
    const summary = await importObjects(store, collectionId, createReadStream(STALKERWARE), {
      onProgress: (totals) => progress.push(totals),
    });

    assert.equal(summary.read, 10_229);
    assert.equal(summary.added, 10_191);
    assert.equal(summary.duplicates, 38);
    assert.equal(summary.rejected, 0);
    assert.deepEqual(summary.failures, []);
    assert.equal(summary.bytesRead, readFileSync(STALKERWARE).length);
    assert.equal(progress.at(-1)?.bytesRead, summary.bytesRead);
    for (let i = 1; i < progress.length; i++) {
      assert.ok(progress[i]!.read >= progress[i - 1]!.read, `progress ${i} went back`);
    }

    const input = (JSON.parse(readFileSync(STALKERWARE, 'utf8')) as { objects: StixObject[] })
      .objects;
    const stored = await storedVersions(store, collectionId);
    assert.equal(stored.size, 10_191);
    for (const object of input) {
      assert.deepEqual(stored.get(versionKey(object)), object, `stored copy of ${object.id}`);
    }
    await store.close();
  });

  test('ICS releases add new versions', async () => {
    const { store, collectionId } = await freshStore();
    const first = await importObjects(store, collectionId, createReadStream(ICS_18));
    assert.equal(first.read, 1826);
    assert.equal(first.added, 1826);
    assert.equal(first.rejected, 0);

    const second = await importObjects(store, collectionId, createReadStream(ICS_LATEST));
    assert.equal(second.read, 1826);
    assert.equal(second.added, 28);
    assert.equal(second.duplicates, 1798);
    assert.equal(second.rejected, 0);
    assert.deepEqual(await store.countCollection(collectionId), { objects: 1826, versions: 1854 });
    await store.close();
  });
});

describe('importObjects on bad objects', () => {
  test('bad objects are rejected, the rest stored', async () => {
    const { store, collectionId } = await freshStore();
    const objects: unknown[] = Array.from({ length: 10 }, (_, n) => indicator(n));
    objects[2] = { ...indicator(2), spec_version: '2.0' };
    objects[5] = 'not an object';
    objects[7] = { type: 'indicator', spec_version: '2.1', name: 'no id' };
    const summary = await importObjects(store, collectionId, bytesOf(JSON.stringify({ objects })), {
      batchSize: 3,
    });

    assert.equal(summary.read, 10);
    assert.equal(summary.added, 7);
    assert.equal(summary.rejected, 3);
    assert.deepEqual(
      summary.failures.map((failure) => failure.id),
      [indicator(2).id, 'objects[5]', 'objects[7]'],
    );
    assert.deepEqual(summary.failures[0]!.rules, ['spec-version']);
    assert.match(summary.failures[0]!.message, /spec_version/);
    assert.equal(summary.rejectedByRule['spec-version'], 1);
    assert.equal(summary.rejectedByRule['not-object'], 1);
    assert.ok(summary.rejectedByRule.required! >= 1);
    assert.deepEqual(await store.countCollection(collectionId), { objects: 7, versions: 7 });
    await store.close();
  });

  test('oversized object is rejected by index', async () => {
    const { store, collectionId } = await freshStore();
    const big = { ...indicator(4), labels: Array.from({ length: 500 }, (_, n) => `label-${n}`) };
    const objects = [indicator(1), indicator(2), indicator(3), big, indicator(5), { type: 'x' }];
    const summary = await importObjects(store, collectionId, bytesOf(JSON.stringify({ objects })), {
      batchSize: 2,
      limits: { maxObjectSize: 4000 },
    });

    assert.equal(summary.added, 4);
    assert.equal(summary.rejected, 2);
    assert.equal(summary.failures[0]!.id, 'objects[3]');
    assert.deepEqual(summary.failures[0]!.rules, ['too-large']);
    assert.match(summary.failures[0]!.message, /^objects\[3\] is larger than 4000 characters/);
    assert.equal(summary.failures[1]!.id, 'objects[5]');
    assert.equal(summary.rejectedByRule['too-large'], 1);
    await store.close();
  });

  test('STIX 2.0 bundle is rejected whole', async () => {
    const { store, collectionId } = await freshStore();
    const file = dataPath(
      'unit42-stix20-reports/stix2-reports/report_json/2024-01-31-AZOrult.json',
    );
    const summary = await importObjects(store, collectionId, createReadStream(file));
    assert.ok(summary.read > 0);
    assert.equal(summary.added, 0);
    assert.equal(summary.rejected, summary.read);
    assert.equal(summary.rejectedByRule['spec-version'], summary.read);
    assert.match(summary.failures[0]!.message, /STIX 2\.0 content is not accepted/);
    await store.close();
  });

  test('failure list is capped, counts are not', async () => {
    const { store, collectionId } = await freshStore();
    const objects = Array.from({ length: 30 }, () => ({ type: 'indicator', spec_version: '2.1' }));
    const summary = await importObjects(store, collectionId, bytesOf(JSON.stringify({ objects })), {
      maxFailures: 5,
    });
    assert.equal(summary.rejected, 30);
    assert.equal(summary.failures.length, 5);
    assert.equal(summary.rejectedByRule.required, 30);
    await store.close();
  });
});

describe('importObjects when the input breaks off', () => {
  test('parse error keeps earlier objects', async () => {
    const { store, collectionId } = await freshStore();
    const good = Array.from({ length: 2500 }, (_, n) => JSON.stringify(indicator(n)));
    const text = `{"objects": [${good.join(',')}, {"type": "indicator", "id": ]}`;
    const error = await importObjects(store, collectionId, bytesOf(text), { batchSize: 1000 }).then(
      () => assert.fail('the broken input was accepted'),
      (caught: unknown) => caught,
    );

    assert.ok(error instanceof ImportStoppedError, String(error));
    assert.equal(error.code, 'invalid-json');
    assert.ok(error.summary.added >= 2490, `${error.summary.added} added`);
    assert.match(error.message, /^invalid JSON between bytes \d+ and \d+/);
    assert.match(
      error.message,
      new RegExp(`the import stopped after ${error.summary.read} objects`),
    );
    assert.match(error.message, new RegExp(`${error.summary.added} added`));
    const counts = await store.countCollection(collectionId);
    assert.equal(counts.versions, error.summary.added);
    await store.close();
  });

  test('not a bundle stores nothing', async () => {
    const { store, collectionId } = await freshStore();
    const error = await importObjects(store, collectionId, bytesOf('[{"type": "indicator"}]')).then(
      () => assert.fail('a top-level array was accepted'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof ImportStoppedError);
    assert.equal(error.code, 'invalid-envelope');
    assert.equal(error.summary.read, 0);
    await store.close();
  });

  test('store error passes through', async () => {
    const { store, collectionId } = await freshStore();
    await store.close();
    await assert.rejects(
      importObjects(store, collectionId, bytesOf(JSON.stringify({ objects: [indicator(1)] }))),
      (error: unknown) => !(error instanceof ImportStoppedError),
    );
  });
});

describe('importObjects back-pressure', () => {
  test('reads at most a batch ahead', async () => {
    const { store, collectionId } = await freshStore();
    let pulled = 0;
    async function* oneObjectPerChunk(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('{"objects": [');
      for (let n = 0; n < 2000; n++) {
        pulled++;
        yield Buffer.from(`${n ? ',' : ''}${JSON.stringify(indicator(n))}`);
      }
      yield Buffer.from(']}');
    }
    const batchSize = 100;
    const leads: number[] = [];
    let submitted = 0;
    const addObjects: Store['addObjects'] = async (id, objects) => {
      submitted += objects.length;
      leads.push(pulled - submitted);
      return store.addObjects(id, objects);
    };
    // A proxy rather than Object.create, because the store's methods use private fields.
    const watched = new Proxy(store, {
      get(target, key) {
        if (key === 'addObjects') return addObjects;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

    const summary = await importObjects(watched, collectionId, oneObjectPerChunk(), { batchSize });
    assert.equal(summary.added, 2000);
    assert.equal(leads.length, 20);
    assert.ok(Math.max(...leads) <= batchSize, `read ${Math.max(...leads)} objects ahead`);
    await store.close();
  });
});

/** Runs the CLI from the repository root and returns its exit code and output. */
function runCli(
  args: string[],
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPOSITORY,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

describe('cairn import command', () => {
  test('file import prints the summary', async () => {
    const store = `sqlite:${join(dir, 'cli-file.db')}`;
    const result = await runCli(['--store', store, 'import', STALKERWARE]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^read 10229 objects \(3\.7 MiB\) in [\d.]+ s, \d+ objects\/s$/m);
    assert.match(result.stdout, /^added 10191, duplicates 38, rejected 0$/m);
  });

  test('standard input with rejections exits 2', async () => {
    const store = `sqlite:${join(dir, 'cli-stdin.db')}`;
    const objects = [indicator(1), { ...indicator(2), spec_version: '2.0' }, 5, indicator(3)];
    const result = await runCli(
      ['--store', store, 'import', '-', '--quiet'],
      JSON.stringify({ objects }),
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stdout, /^added 2, duplicates 0, rejected 2$/m);
    assert.match(result.stdout, /^ {2}spec-version: 1 rejected, /m);
    assert.match(result.stdout, /^ {4}indicator--00000000-0000-4000-8000-000000000002 property/m);
    assert.match(result.stdout, /^ {2}not-object: 1 rejected, /m);
    assert.match(result.stdout, /^ {4}objects\[2\]: /m);
    assert.equal(result.stderr, '');
  });

  test('truncated file exits 1', async () => {
    const store = `sqlite:${join(dir, 'cli-truncated.db')}`;
    const truncated = join(dir, 'truncated.json');
    writeFileSync(truncated, readFileSync(STALKERWARE).subarray(0, 2_000_000));
    const result = await runCli(['--store', store, 'import', truncated, '--batch-size', '500']);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^cairn: the input ends at byte 2000000 before the JSON is complete/,
    );
    assert.match(result.stderr, /the import stopped after \d+ objects: \d+ added/);
    assert.match(result.stdout, /^added \d+, duplicates \d+, rejected 0$/m);
  });

  test('invalid options exit 1', async () => {
    const store = `sqlite:${join(dir, 'cli-options.db')}`;
    const batch = await runCli(['--store', store, 'import', STALKERWARE, '--batch-size', '0']);
    assert.equal(batch.code, 1);
    assert.match(batch.stderr, /--batch-size "0" must be a whole number from 1 to 100000/);

    const missing = await runCli(['--store', store, 'import', join(dir, 'absent.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*absent\.json: file not found/);

    const collection = await runCli(['--store', store, 'import', STALKERWARE, '--collection', 'x']);
    assert.equal(collection.code, 1);
    assert.match(collection.stderr, /collection "x" not found/);
  });
});

describe('rules of a rejection', () => {
  test('STIX problems give their rules once', () => {
    const problem = { rule: 'required', property: 'id', message: 'id is missing' };
    const rules = failureRules({
      id: 'indicator--1',
      version: '',
      message: 'invalid',
      problems: [problem, { ...problem, property: 'type' }],
    });
    assert.deepEqual(rules, ['required']);
  });

  test('no problems give the not-stored rule', () => {
    const rules = failureRules({
      id: 'domain-name--1',
      version: '',
      message: 'domain-name--1 is held as TLP:RED by another community',
      problems: [],
    });
    assert.deepEqual(rules, [NOT_STORED_RULE]);
  });
});
