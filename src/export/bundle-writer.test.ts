import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { importObjects } from '../ingest/import.ts';
import { openStore, type Store } from '../store/index.ts';
import { dataPath } from '../testing/data.ts';
import { EXPORT_DEFAULTS, writeBundle, type ExportProgress } from './bundle-writer.ts';

const STALKERWARE = dataPath('stalkerware-indicators/generated/stalkerware.stix2');
const ICS_18 = dataPath('mitre-attack-stix21/ics-attack/ics-attack-18.0.json');
const ICS_LATEST = dataPath('mitre-attack-stix21/ics-attack/ics-attack.json');
const REPOSITORY = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const BUNDLE_ID = /^bundle--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

type StixObject = Record<string, unknown> & { id: string };

let dir: string;
let store: Store;
/** Collection holding the stalkerware bundle. */
let stalkerware: string;
/** Collection holding two ATT&CK for ICS releases, so some objects have two versions. */
let ics: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-export-test-'));
  store = await openStore(`sqlite:${join(dir, 'export.db')}`);
  await store.createApiRoot({ name: 'default', title: 'Test root', maxContentLength: 10_000_000 });
  stalkerware = (await store.createCollection({ apiRoot: 'default', title: 'Stalkerware' })).id;
  ics = (await store.createCollection({ apiRoot: 'default', title: 'ICS', alias: 'ics' })).id;
  await importObjects(store, stalkerware, createReadStream(STALKERWARE));
  await importObjects(store, ics, createReadStream(ICS_18));
  await importObjects(store, ics, createReadStream(ICS_LATEST));
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A destination that keeps what it receives, optionally slowly and with a small buffer. */
class Collector extends Writable {
  chunks: Buffer[] = [];
  maxBuffered = 0;

  constructor(
    private readonly delayMs = 0,
    highWaterMark = 16 * 1024,
  ) {
    super({ highWaterMark });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error) => void): void {
    this.maxBuffered = Math.max(this.maxBuffered, this.writableLength);
    this.chunks.push(chunk);
    if (this.delayMs) setTimeout(done, this.delayMs);
    else done();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function parseBundle(text: string): { type: string; id: string; objects?: StixObject[] } {
  return JSON.parse(text) as { type: string; id: string; objects?: StixObject[] };
}

function sortById(objects: StixObject[]): StixObject[] {
  return [...objects].sort((a, b) =>
    `${a.id} ${String(a.modified)}`.localeCompare(`${b.id} ${String(b.modified)}`),
  );
}

describe('writeBundle', () => {
  test('bundle holds every latest object', async () => {
    const output = new Collector();
    const progress: ExportProgress[] = [];
    const summary = await writeBundle(store, output, {
      collectionId: stalkerware,
      pageSize: 700,
      onProgress: (totals) => progress.push(totals),
    });

    const text = output.text();
    const bundle = parseBundle(text);
    assert.equal(bundle.type, 'bundle');
    assert.match(bundle.id, BUNDLE_ID);
    assert.equal(bundle.id, summary.bundleId);
    assert.equal(summary.objects, 10_191);
    assert.equal(summary.bytes, Buffer.byteLength(text));
    assert.equal(progress.length, Math.ceil(10_191 / 700));
    assert.equal(progress.at(-1)!.objects, 10_191);
    assert.equal(progress.at(-1)!.bytes, summary.bytes - '\n]}\n'.length);

    const input = (JSON.parse(readFileSync(STALKERWARE, 'utf8')) as { objects: StixObject[] })
      .objects;
    const unique = new Map(input.map((object) => [object.id, object]));
    assert.deepEqual(sortById(bundle.objects!), sortById([...unique.values()]));
  });

  test('objects are written verbatim', async () => {
    const output = new Collector();
    await writeBundle(store, output, { collectionId: stalkerware, pageSize: 333 });
    const lines = output.text().split('\n');
    const page = await store.queryObjects({ collectionId: stalkerware, limit: 5 });
    for (const [n, item] of page.items.entries()) {
      assert.equal(lines[n + 1]!.replace(/,$/, ''), item.json);
    }
  });

  test('latest and all versions', async () => {
    const latest = new Collector();
    await writeBundle(store, latest, { collectionId: ics });
    const latestObjects = parseBundle(latest.text()).objects!;
    assert.equal(latestObjects.length, 1826);
    assert.equal(new Set(latestObjects.map((object) => object.id)).size, 1826);

    const every = new Collector();
    const summary = await writeBundle(store, every, { collectionId: ics, allVersions: true });
    assert.equal(summary.objects, 1854);
    const versions = parseBundle(every.text()).objects!;
    assert.equal(
      new Set(versions.map((object) => `${object.id} ${String(object.modified)}`)).size,
      1854,
    );

    const icsLatest = (JSON.parse(readFileSync(ICS_LATEST, 'utf8')) as { objects: StixObject[] })
      .objects;
    assert.deepEqual(sortById(latestObjects), sortById(icsLatest));
  });

  test('type filter', async () => {
    const output = new Collector();
    const summary = await writeBundle(store, output, {
      collectionId: stalkerware,
      types: ['malware', 'identity'],
    });
    const objects = parseBundle(output.text()).objects!;
    assert.ok(summary.objects > 0);
    assert.equal(objects.length, summary.objects);
    assert.ok(objects.every((object) => object.type === 'malware' || object.type === 'identity'));
  });

  test('added-after filter', async () => {
    const page = await store.queryObjects({ collectionId: stalkerware, limit: 100 });
    const output = new Collector();
    const summary = await writeBundle(store, output, {
      collectionId: stalkerware,
      addedAfter: page.items.at(-1)!.dateAdded,
    });
    assert.equal(summary.objects, 10_191 - 100);
    const ids = new Set(parseBundle(output.text()).objects!.map((object) => object.id));
    assert.ok(page.items.every((item) => !ids.has(item.id)));
  });

  test('empty selection has no objects list', async () => {
    const output = new Collector();
    const summary = await writeBundle(store, output, {
      collectionId: stalkerware,
      types: ['x-absent-type'],
    });
    const bundle = parseBundle(output.text());
    assert.equal(summary.objects, 0);
    assert.deepEqual(Object.keys(bundle), ['type', 'id']);
    assert.match(bundle.id, BUNDLE_ID);
  });

  test('slow destination bounds buffering', async () => {
    const output = new Collector(1, 1024);
    await writeBundle(store, output, { collectionId: ics, pageSize: 200 });
    assert.equal(parseBundle(output.text()).objects!.length, 1826);

    // One pending chunk: writeChunk code units (up to 3 UTF-8 bytes each) or one larger object.
    const page = await store.queryObjects({ collectionId: ics, limit: 5000 });
    const largest = Math.max(...page.items.map((item) => Buffer.byteLength(item.json)));
    const bound = Math.max(3 * EXPORT_DEFAULTS.writeChunk, largest + 2);
    assert.ok(output.maxBuffered <= bound, `${output.maxBuffered} bytes buffered`);
  });

  test('destination error rejects', async () => {
    let written = 0;
    const failing = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, done) {
        written += chunk.length;
        if (written > 200_000) done(new Error('EPIPE: the reader went away'));
        else done();
      },
    });
    await assert.rejects(writeBundle(store, failing, { collectionId: stalkerware }), /EPIPE/);
    assert.equal(failing.listenerCount('error'), 0);
  });
});

/** Runs the CLI from the repository root and returns its exit code and output. */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPOSITORY,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe('cairn export command', () => {
  test('round trip into a second collection', async () => {
    const database = join(dir, 'cli.db');
    const storeUrl = `sqlite:${database}`;
    const bundleFile = join(dir, 'exported.json');

    const loaded = await runCli(['--store', storeUrl, 'import', STALKERWARE, '--quiet']);
    assert.equal(loaded.code, 0, loaded.stderr);
    const created = await runCli([
      '--store',
      storeUrl,
      'collection',
      'create',
      'Copy',
      '--alias',
      'copy',
    ]);
    assert.equal(created.code, 0, created.stderr);

    const exported = await runCli(['--store', storeUrl, 'export', '--output', bundleFile]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stderr, /^exported 10191 objects \([\d.]+ MiB\) as bundle--/m);
    assert.equal(existsSync(`${bundleFile}.partial`), false);

    const imported = await runCli([
      '--store',
      storeUrl,
      'import',
      bundleFile,
      '--collection',
      'copy',
    ]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /^added 10191, duplicates 0, rejected 0$/m);

    const copy = await openStore(storeUrl);
    const collections = await copy.listCollections('default');
    const [original, duplicate] = ['default', 'copy'].map(
      (alias) => collections.find((collection) => collection.alias === alias)!.id,
    );
    const contents = async (collectionId: string): Promise<StixObject[]> => {
      const output = new Collector();
      await writeBundle(copy, output, { collectionId });
      return sortById(parseBundle(output.text()).objects!);
    };
    assert.deepEqual(await contents(duplicate!), await contents(original!));
    await copy.close();
  });

  test('bundle on standard output', async () => {
    const storeUrl = `sqlite:${join(dir, 'cli-stdout.db')}`;
    const loaded = await runCli(['--store', storeUrl, 'import', ICS_18, '--quiet']);
    assert.equal(loaded.code, 0, loaded.stderr);
    const exported = await runCli([
      '--store',
      storeUrl,
      'export',
      '--type',
      'x-mitre-tactic',
      '-q',
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stderr, '');
    const objects = parseBundle(exported.stdout).objects!;
    assert.ok(objects.length > 0);
    assert.ok(objects.every((object) => object.type === 'x-mitre-tactic'));
  });

  test('invalid filters exit 1', async () => {
    const storeUrl = `sqlite:${join(dir, 'cli-stdout.db')}`;
    const timestamp = await runCli(['--store', storeUrl, 'export', '--added-after', 'yesterday']);
    assert.equal(timestamp.code, 1);
    assert.match(timestamp.stderr, /--added-after "yesterday" is not a timestamp/);
    const types = await runCli(['--store', storeUrl, 'export', '--type', 'indicator,,malware']);
    assert.equal(types.code, 1);
    assert.match(types.stderr, /--type "indicator,,malware" has an empty type name/);
    const folder = await runCli([
      '--store',
      storeUrl,
      'export',
      '-o',
      join(dir, 'no', 'such.json'),
    ]);
    assert.equal(folder.code, 1);
    assert.match(folder.stderr, /cannot write .*such\.json\.partial: ENOENT/);
  });
});
