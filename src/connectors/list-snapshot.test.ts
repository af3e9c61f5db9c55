/**
 * Snapshot lists over time, on three consecutive abuse.ch Feodo Tracker C2 blocklists
 * served over HTTP to CSV connectors, on a real SQLite store and on PostgreSQL. Snapshot 3
 * adds one C2 to snapshot 2, so serving snapshot 2 after 3 is the feed delisting it. Each
 * step checks the stored versions and the Suricata and blocklist exports.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportFeed, type ExportFormat } from '../export/feeds.ts';
import { createLogger } from '../log/logger.ts';
import { nowMicros, timestampToMicros } from '../stix/timestamp.ts';
import { dataPath } from '../testing/data.ts';
import { createTestDatabase, type TestDatabase } from '../store/postgres/database.test-helper.ts';
import { startTestServer, type TestServer } from '../testing/server.ts';
import { NewConnector, type Connector } from './definition.ts';
import { runConnector, type RunResult, type RunnerDeps } from './runner.ts';
import { sourceFor } from './sources.ts';
import { createConnector, stoppingAfterFirstBatch } from './testing.ts';
import { UuidSet } from './uuid-set.ts';

const SNAPSHOTS = [
  'ipblocklist.20240403T1854.csv',
  'ipblocklist.20240404T0848.csv',
  'ipblocklist.20240404T1905.csv',
].map((name) => readFileSync(dataPath(`abusech-feodo/${name}`), 'utf8'));
/** The C2 that snapshot 3 adds, with its port. */
const ADDED = '172.233.221.61';
const ADDED_PORT = 5938;

type Serving = 'ok' | 'error' | 'truncated';

let local: TestServer;
let deps: RunnerDeps;
let feed: Server;
let feedUrl: string;
let body = SNAPSHOTS[0]!;
let etag = 0;
let serving: Serving = 'ok';

/** Serves `text` as the feed from now on, under a new ETag so the next run reads it. */
function serve(text: string, mode: Serving = 'ok'): void {
  body = text;
  etag++;
  serving = mode;
}

const database = await createTestDatabase();

/** The stores the suite runs on; PostgreSQL is skipped, outside CI, when it is unreachable. */
const STORES = [
  { name: 'SQLite', url: async (): Promise<string | undefined> => undefined, skip: undefined },
  {
    name: 'PostgreSQL',
    url: async (): Promise<string | undefined> => (database as TestDatabase).freshSchema(),
    skip: typeof database === 'string' ? database : undefined,
  },
];

before(async () => {
  feed = createServer((request, response) => {
    if (serving === 'error') {
      response.writeHead(500).end('unavailable');
      return;
    }
    const bytes = Buffer.from(body);
    response.writeHead(200, {
      'Content-Type': 'text/csv',
      'Content-Length': bytes.length,
      ETag: `"${etag}"`,
    });
    if (serving === 'truncated') {
      // Half the promised body, then the connection ends.
      response.write(bytes.subarray(0, bytes.length >> 1), () => response.destroy());
      return;
    }
    response.end(bytes);
  });
  await new Promise<void>((resolve) => feed.listen(0, '127.0.0.1', resolve));
  feedUrl = `http://127.0.0.1:${(feed.address() as AddressInfo).port}/ipblocklist.csv`;
});

after(async () => {
  await new Promise((resolve) => feed.close(resolve));
  if (typeof database !== 'string') await database.drop();
});

async function newCollection(title: string): Promise<string> {
  const collection = await local.server.store.createCollection({ apiRoot: 'default', title });
  return collection.id;
}

function connector(collection: string, extra: Partial<NewConnector>): Promise<Connector> {
  return createConnector(local, {
    kind: 'csv',
    url: feedUrl,
    collection,
    intervalSeconds: 3600,
    warningLists: 'off',
    retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    ...extra,
  });
}

async function run(definition: Connector): Promise<RunResult> {
  return runConnector(deps, definition, new AbortController().signal);
}

/** Latest versions of the collection's indicators by the address in their pattern. */
async function indicatorsByAddress(
  collectionId: string,
): Promise<Map<string, Record<string, unknown>>> {
  const page = await local.server.store.queryObjects({
    collectionId,
    types: ['indicator'],
    limit: 1000,
  });
  const found = new Map<string, Record<string, unknown>>();
  for (const item of page.items) {
    const indicator = JSON.parse(item.json) as Record<string, unknown>;
    const address = /value = '([^']+)'/.exec(String(indicator.pattern))?.[1];
    if (address) found.set(address, indicator);
  }
  return found;
}

async function versionCount(collectionId: string): Promise<number> {
  return (await local.server.store.countCollection(collectionId)).versions;
}

async function exported(collectionId: string, format: ExportFormat): Promise<string[]> {
  const result = exportFeed(local.server.store, {
    profile: `test:${collectionId}`,
    format,
    selection: { collections: [{ collectionId }], minScore: 0, now: nowMicros() },
  });
  let text = '';
  for await (const chunk of result.chunks) text += chunk;
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

function micros(value: unknown): number {
  const parsed = timestampToMicros(String(value));
  assert.ok(parsed !== undefined, `${String(value)} is not a timestamp`);
  return parsed;
}

for (const backend of STORES) {
  describe(`snapshot list connectors on ${backend.name}`, { skip: backend.skip }, () => {
    before(async () => {
      const store = await backend.url();
      local = await startTestServer({
        connectors: { scheduler: false },
        ...(store === undefined ? {} : { store }),
      });
      deps = {
        store: local.server.store,
        logger: createLogger('silent'),
        sourceFor,
        allowPrivateTargets: true,
      };
    });

    after(async () => {
      await local.dispose();
    });

    test('Feodo snapshots expire the delisted C2', async () => {
      const collection = await newCollection('feodo ports');
      const definition = await connector(collection, {
        csvMapping: 'value=dst_ip,port=dst_port,first_seen=first_seen_utc',
      });

      serve(SNAPSHOTS[0]!);
      const first = await run(definition);
      assert.equal(first.health.outcome, 'succeeded', first.health.error);
      let stored = await indicatorsByAddress(collection);
      assert.equal(stored.size, 27);
      // The mapped first_seen is valid_from, and a listed C2 stays valid past the run.
      const longLived = stored.get('192.9.135.73')!;
      assert.equal(longLived.valid_from, '2023-05-23T17:51:44.000Z');
      assert.ok(micros(longLived.valid_until) > nowMicros());
      assert.equal((await exported(collection, 'suricata')).length, 27);

      // Snapshot 2 changes only last_online, which is not mapped: nothing is stored.
      const versionsBefore = await versionCount(collection);
      serve(SNAPSHOTS[1]!);
      const second = await run(definition);
      assert.equal(second.health.outcome, 'succeeded', second.health.error);
      assert.equal(second.health.added, 0);
      assert.equal(await versionCount(collection), versionsBefore);

      serve(SNAPSHOTS[2]!);
      const third = await run(definition);
      assert.equal(third.health.outcome, 'succeeded', third.health.error);
      stored = await indicatorsByAddress(collection);
      assert.equal(stored.size, 28);
      const added = stored.get(ADDED)!;
      assert.equal(added.valid_from, '2024-04-04T07:03:03.000Z');
      const rules = await exported(collection, 'suricata');
      assert.equal(rules.length, 28);
      assert.ok(rules.some((rule) => rule.includes(ADDED) && rule.includes(String(ADDED_PORT))));

      // Snapshot 2 again: the feed delisted the C2 that snapshot 3 added.
      const beforeDelisting = nowMicros();
      serve(SNAPSHOTS[1]!);
      const delisted = await run(definition);
      assert.equal(delisted.health.outcome, 'succeeded', delisted.health.error);
      stored = await indicatorsByAddress(collection);
      const expired = stored.get(ADDED)!;
      assert.equal(expired.created, added.created);
      assert.ok(micros(expired.modified) > micros(added.modified));
      assert.ok(micros(expired.valid_until) >= beforeDelisting);
      assert.ok(micros(expired.valid_until) <= nowMicros());
      assert.notEqual(expired.revoked, true);
      const after = await exported(collection, 'suricata');
      assert.equal(after.length, 27);
      assert.equal(
        after.some((rule) => rule.includes(ADDED)),
        false,
      );
      // An analyst still finds it, by id and by its value in the correlation index.
      assert.ok(await local.server.store.hasObject(collection, String(added.id)));
      const refs = await local.server.store.findObservableRefs(`ipv4:${ADDED}`, 100);
      assert.ok(refs.some((ref) => ref.objectId === added.id));
      // The other 27 are untouched.
      assert.equal(stored.get('192.9.135.73')!.modified, longLived.modified);
    });

    test('values new in a run are valid from it', async () => {
      const collection = await newCollection('feodo plain');
      const definition = await connector(collection, { csvMapping: 'value=dst_ip' });

      serve(SNAPSHOTS[1]!);
      const firstStart = nowMicros();
      const first = await run(definition);
      assert.equal(first.health.outcome, 'succeeded', first.health.error);
      const firstEnd = nowMicros();
      const before = await indicatorsByAddress(collection);
      assert.equal(before.size, 27);
      for (const indicator of before.values()) {
        assert.ok(micros(indicator.created) >= firstStart);
        assert.ok(micros(indicator.created) <= firstEnd);
        assert.equal(indicator.valid_from, indicator.created);
      }
      const blocklist = await exported(collection, 'blocklist');
      assert.equal(blocklist.length, 27);

      serve(SNAPSHOTS[2]!);
      const secondStart = nowMicros();
      const second = await run(definition);
      assert.equal(second.health.outcome, 'succeeded', second.health.error);
      const after = await indicatorsByAddress(collection);
      const added = after.get(ADDED)!;
      assert.ok(micros(added.valid_from) >= secondStart);
      assert.equal(added.created, added.valid_from);
      // Values listed before keep the created and valid_from of the first run.
      for (const [address, indicator] of before) {
        assert.equal(after.get(address)!.created, indicator.created, address);
        assert.equal(after.get(address)!.valid_from, indicator.valid_from, address);
      }
      assert.ok((await exported(collection, 'blocklist')).includes(ADDED));

      // The same snapshot read again, under a new ETag, stores nothing.
      const versions = await versionCount(collection);
      serve(SNAPSHOTS[2]!);
      const again = await run(definition);
      assert.equal(again.health.outcome, 'succeeded', again.health.error);
      assert.equal(again.health.added, 0);
      assert.equal(again.health.duplicates, again.health.objectsIn);
      assert.equal(await versionCount(collection), versions);

      // Delisted, then listed again: a new version, valid again from the third run.
      serve(SNAPSHOTS[1]!);
      await run(definition);
      assert.equal((await exported(collection, 'blocklist')).includes(ADDED), false);
      serve(SNAPSHOTS[2]!);
      const relistStart = nowMicros();
      const relisted = await run(definition);
      assert.equal(relisted.health.outcome, 'succeeded', relisted.health.error);
      const back = (await indicatorsByAddress(collection)).get(ADDED)!;
      assert.equal(back.created, added.created);
      assert.ok(micros(back.valid_from) >= relistStart);
      assert.ok(micros(back.valid_until) > nowMicros());
      assert.ok((await exported(collection, 'blocklist')).includes(ADDED));
    });

    test('failed and partial runs expire nothing', async () => {
      const collection = await newCollection('feodo failures');
      const definition = await connector(collection, { csvMapping: 'value=dst_ip' });
      serve(SNAPSHOTS[2]!);
      assert.equal((await run(definition)).health.outcome, 'succeeded');
      const versions = await versionCount(collection);

      serve(SNAPSHOTS[1]!, 'error');
      const failed = await run(definition);
      assert.equal(failed.health.outcome, 'failed');
      assert.equal(await versionCount(collection), versions);

      // Half the body, then the connection ends: the rows read are stored, none expired.
      serve(SNAPSHOTS[1]!, 'truncated');
      const truncated = await run(definition);
      assert.equal(truncated.health.outcome, 'failed');
      assert.match(
        truncated.health.error ?? '',
        /ipblocklist\.csv: the body ended after \d+ bytes/,
      );
      assert.equal(await versionCount(collection), versions);

      // A complete read with a row that is no address: the values missing may still be listed.
      const rows = SNAPSHOTS[1]!.split('\n');
      const broken = rows
        .map((row) => (row.includes('"192.9.135.73"') ? row.replace('192.9.135.73', '!!!') : row))
        .join('\n');
      serve(broken);
      const partial = await run(definition);
      assert.equal(partial.health.outcome, 'partial');
      assert.match(partial.health.warnings.join('\n'), /nothing was expired/);
      assert.equal(await versionCount(collection), versions);
      assert.ok((await exported(collection, 'blocklist')).includes(ADDED));

      // A response with no row at all is taken for a cut response, not an emptied feed.
      serve(rows.filter((row) => row.startsWith('#')).join('\n'));
      const empty = await run(definition);
      assert.notEqual(empty.health.outcome, 'failed', empty.health.error);
      assert.equal(await versionCount(collection), versions);

      // The next good snapshot expires the delisted C2.
      serve(SNAPSHOTS[1]!);
      assert.equal((await run(definition)).health.outcome, 'succeeded');
      assert.equal((await exported(collection, 'blocklist')).includes(ADDED), false);
    });

    test('stopped text snapshot expires on resume', async () => {
      const collection = await newCollection('text resume');
      const dir = mkdtempSync(join(tmpdir(), 'cairn-snapshot-'));
      const file = join(dir, 'domains.txt');
      const domains = ['a.example', 'b.example', 'c.example', 'd.example', 'gone.example'];
      try {
        writeFileSync(file, domains.join('\n'));
        const definition = await connector(collection, { kind: 'text', url: file, batchSize: 2 });
        assert.equal((await run(definition)).health.outcome, 'succeeded');
        const versions = await versionCount(collection);

        // The feed drops one domain; the run stops after its first batch is stored.
        writeFileSync(file, `# updated\n${domains.slice(0, 4).join('\n')}\n`);
        const stop = new AbortController();
        const stopping = stoppingAfterFirstBatch(deps, stop);
        const stopped = await runConnector(stopping, definition, stop.signal);
        assert.equal(stopped.health.outcome, 'failed');
        assert.equal(await versionCount(collection), versions);

        // The resumed run skips the stored batch but still counts its values as listed.
        const resumed = await run(definition);
        assert.equal(resumed.health.outcome, 'succeeded', resumed.health.error);
        const page = await local.server.store.queryObjects({
          collectionId: collection,
          types: ['indicator'],
          limit: 100,
        });
        const byName = new Map(
          page.items.map((item) => {
            const indicator = JSON.parse(item.json) as Record<string, unknown>;
            return [String(indicator.name), indicator];
          }),
        );
        assert.equal(byName.size, 5);
        assert.ok(micros(byName.get('gone.example')!.valid_until) <= nowMicros());
        for (const domain of domains.slice(0, 4)) {
          assert.ok(micros(byName.get(domain)!.valid_until) > nowMicros(), domain);
        }
        assert.equal(await versionCount(collection), versions + 1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('delta lists and other connectors are left alone', async () => {
      const collection = await newCollection('feodo delta');
      const delta = await connector(collection, { csvMapping: 'value=dst_ip', listMode: 'delta' });
      serve(SNAPSHOTS[2]!);
      await run(delta);
      const stored = await indicatorsByAddress(collection);
      assert.equal(stored.get(ADDED)!.valid_until, undefined);

      // A snapshot connector of the same URL and collection lists the same ids, but expires
      // only what it stored itself.
      const snapshot = await connector(collection, { csvMapping: 'value=dst_ip' });
      serve(SNAPSHOTS[1]!);
      assert.equal((await run(snapshot)).health.outcome, 'succeeded');
      serve(SNAPSHOTS[1]!);
      assert.equal((await run(delta)).health.outcome, 'succeeded');
      const after = await indicatorsByAddress(collection);
      assert.equal(after.get(ADDED)!.modified, stored.get(ADDED)!.modified);
      assert.ok((await exported(collection, 'blocklist')).includes(ADDED));
    });
  });
}

describe('list mode definition', () => {
  const base = {
    name: 'feed',
    url: 'https://feeds.example/list.txt',
    collection: '5a4ad0a6-52c4-4e0e-9d1a-8f3c1c1d2e3f',
    intervalSeconds: 3600,
  };

  test('applies to lists only', () => {
    assert.equal(
      NewConnector.safeParse({ ...base, kind: 'text', listMode: 'delta' }).success,
      true,
    );
    const taxii = NewConnector.safeParse({ ...base, kind: 'taxii', listMode: 'snapshot' });
    assert.equal(taxii.success, false);
    assert.match(JSON.stringify(taxii.error?.issues), /csv and text connectors only/);
    const validity = NewConnector.safeParse({
      ...base,
      kind: 'misp-feed',
      listedValiditySeconds: 86_400,
    });
    assert.equal(validity.success, false);
  });

  test('rejects unknown modes and short validity', () => {
    assert.equal(NewConnector.safeParse({ ...base, kind: 'csv', listMode: 'full' }).success, false);
    const short = NewConnector.safeParse({ ...base, kind: 'csv', listedValiditySeconds: 60 });
    assert.equal(short.success, false);
  });
});

describe('UuidSet', () => {
  test('holds ids by their UUID', () => {
    const set = new UuidSet(4);
    const ids = Array.from({ length: 5000 }, () => `indicator--${crypto.randomUUID()}`);
    for (const id of ids.slice(0, 2500)) assert.equal(set.add(id), true);
    assert.equal(set.size, 2500);
    for (const id of ids.slice(0, 2500)) assert.equal(set.has(id), true, id);
    for (const id of ids.slice(2500)) assert.equal(set.has(id), false, id);
    set.add(ids[0]!);
    assert.equal(set.size, 2500);
  });

  test('rejects ids without a UUID', () => {
    const set = new UuidSet();
    assert.equal(set.add('indicator--not-a-uuid'), false);
    assert.equal(set.add('no separator'), false);
    assert.equal(set.has('indicator--not-a-uuid'), false);
    assert.equal(set.add('indicator--00000000-0000-0000-0000-000000000000'), true);
    assert.equal(set.has('indicator--00000000-0000-0000-0000-000000000000'), true);
    assert.equal(set.size, 1);
  });
});
