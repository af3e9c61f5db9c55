import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';

import pg from 'pg';

import { nowMicros } from '../../stix/timestamp.ts';
import { objectVersion, runStoreSuite, stixId, stixTime } from '../store.case.ts';
import { StoreUnavailableError, type EventRecord, type PreparedObject } from '../store.ts';
import { createTestDatabase, type TestDatabase } from './database.test-helper.ts';
import { PostgresStore, SCHEMA_VERSION } from './index.ts';
import { buildVersionQuery, ORDERED_SCANS } from './version-query.ts';

const created = await createTestDatabase();
const skip = typeof created === 'string' ? created : false;
const database = created as TestDatabase;

after(async () => {
  if (typeof created !== 'string') await created.drop();
});

if (typeof created !== 'string') {
  runStoreSuite('PostgresStore', () => database.openFresh());
}

/** Returns the schema that a URL of `database.freshSchema()` sets as search path. */
function schemaOf(url: string): string {
  return /search_path=(\w+)/.exec(new URL(url).searchParams.get('options') ?? '')![1]!;
}

/** Opens `count` stores on one fresh, migrated schema, as `count` nodes would. */
async function openNodes(count: number): Promise<{ url: string; nodes: PostgresStore[] }> {
  const url = await database.freshSchema();
  const nodes = Array.from({ length: count }, () => new PostgresStore(url, { maxConnections: 4 }));
  await nodes[0]!.migrate();
  return { url, nodes };
}

async function closeAll(nodes: PostgresStore[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.close()));
}

/** Creates an API root and `count` collections, returning their ids. */
async function collections(store: PostgresStore, count: number): Promise<string[]> {
  await store.createApiRoot({ name: 'api1', title: 'API root 1', maxContentLength: 1000 });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push((await store.createCollection({ apiRoot: 'api1', title: `C${i}` })).id);
  }
  return ids;
}

function batch(first: number, size: number, type = 'indicator'): PreparedObject[] {
  return Array.from({ length: size }, (_, i) =>
    objectVersion(stixId(type, first + i), stixTime(1)),
  );
}

function assertIncreasing(values: number[], label: string): void {
  for (let i = 1; i < values.length; i++) {
    assert.ok(values[i]! > values[i - 1]!, `${label}: ${values[i]} follows ${values[i - 1]}`);
  }
}

describe('PostgresStore specifics', { skip }, () => {
  describe('migrations', () => {
    test('concurrent migrations apply once', async () => {
      const url = await database.freshSchema();
      const nodes = Array.from({ length: 4 }, () => new PostgresStore(url, { maxConnections: 1 }));

      await Promise.all(nodes.map((node) => node.migrate()));
      const schema = schemaOf(url);
      const rows = await database.query<{ version: number }>(
        `SELECT version FROM ${schema}.schema_migrations ORDER BY version`,
      );
      assert.deepEqual(
        rows.map((row) => row.version),
        Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
      );
      await Promise.all(nodes.map((node) => node.checkSchema()));
      await closeAll(nodes);
    });

    test('newer schema rejected', async () => {
      const { url, nodes } = await openNodes(1);
      const schema = schemaOf(url);
      await database.query(`INSERT INTO ${schema}.schema_migrations (version) VALUES ($1)`, [
        SCHEMA_VERSION + 1,
      ]);

      await assert.rejects(nodes[0]!.migrate(), /schema version \d+ is newer/);
      await assert.rejects(nodes[0]!.checkSchema(), /schema version \d+ is newer/);
      await closeAll(nodes);
    });
  });

  describe('several nodes', () => {
    test('concurrent adds keep date_added unique', { timeout: 60_000 }, async () => {
      const { nodes } = await openNodes(3);
      const [collectionId] = await collections(nodes[0]!, 1);
      const rounds = 30;
      const size = 20;

      const perNode = await Promise.all(
        nodes.map(async (node, n) => {
          const dates: number[] = [];
          for (let round = 0; round < rounds; round++) {
            const results = await node.addObjects(
              collectionId!,
              batch((n * rounds + round) * size, size),
            );
            dates.push(...results.map((result) => result.dateAdded));
          }
          return dates;
        }),
      );

      for (const [n, dates] of perNode.entries()) assertIncreasing(dates, `node ${n}`);
      const combined = perNode.flat();
      assert.equal(new Set(combined).size, combined.length, 'a date_added was handed out twice');
      const stored = await nodes[1]!.queryManifest({
        collectionId: collectionId!,
        limit: 10_000,
        versions: { all: true },
      });
      assert.deepEqual(
        stored.items.map((item) => item.dateAdded),
        [...combined].sort((a, b) => a - b),
      );
      await closeAll(nodes);
    });

    test('same version posted at once stored once', { timeout: 60_000 }, async () => {
      const { nodes } = await openNodes(2);
      const [collectionId] = await collections(nodes[0]!, 1);

      for (let round = 0; round < 40; round++) {
        const object = objectVersion(stixId('indicator', round), stixTime(round));
        const results = await Promise.all(
          nodes.map((node) => node.addObjects(collectionId!, [object])),
        );
        const outcomes = results.map(([result]) => result!.outcome).sort();
        assert.deepEqual(outcomes, ['added', 'duplicate'], `round ${round}`);
        assert.equal(results[0]![0]!.dateAdded, results[1]![0]!.dateAdded);
      }
      assert.deepEqual(await nodes[0]!.countCollection(collectionId!), {
        objects: 40,
        versions: 40,
      });
      assert.equal((await nodes[0]!.readEvents({ afterSeq: 0, limit: 1000 })).length, 40);
      await closeAll(nodes);
    });

    test('readers following seq miss nothing', { timeout: 120_000 }, async () => {
      const { nodes } = await openNodes(4);
      const ids = await collections(nodes[0]!, 3);
      const writers = nodes.slice(0, 3);
      const reader = nodes[3]!;
      let writing = true;

      // The reader polls as a stream would: everything after the last seq it saw.
      const seen: EventRecord[] = [];
      const reading = (async () => {
        let last = 0;
        for (;;) {
          const done = !writing;
          const events = await reader.readEvents({ afterSeq: last, limit: 500 });
          seen.push(...events);
          if (events.length > 0) last = events.at(-1)!.seq;
          else if (done) return;
        }
      })();
      await Promise.all(
        writers.map(async (node, n) => {
          for (let round = 0; round < 40; round++) {
            const collectionId = ids[(n + round) % ids.length]!;
            await node.addObjects(collectionId, batch((n * 40 + round) * 5, 5));
          }
        }),
      );
      writing = false;
      await reading;

      const all = await reader.readEvents({ afterSeq: 0, limit: 10_000 });
      assert.equal(all.length, 3 * 40 * 5);
      assert.deepEqual(
        seen.map((event) => event.seq),
        all.map((event) => event.seq),
        'the reader skipped an event that was committed after a higher seq',
      );
      assertIncreasing(
        all.map((event) => event.seq),
        'seq',
      );
      for (let i = 1; i < all.length; i++) assert.ok(all[i]!.at >= all[i - 1]!.at, `at at ${i}`);
      await closeAll(nodes);
    });

    test('claims never overlap', { timeout: 60_000 }, async () => {
      const { nodes } = await openNodes(3);
      const total = 300;
      for (let i = 0; i < total; i++) {
        await nodes[0]!.putDocument({ kind: 'job', id: `job-${i}`, due: i % 10, body: '{}' });
      }

      const claimed = await Promise.all(
        nodes.map(async (node) => {
          const ids: string[] = [];
          for (;;) {
            const documents = await node.claimDocuments('job', 100, 1_000_000, 7);
            if (documents.length === 0) return ids;
            ids.push(...documents.map((document) => document.id));
          }
        }),
      );

      const combined = claimed.flat();
      assert.equal(new Set(combined).size, combined.length, 'a document was claimed twice');
      assert.equal(combined.length, total);
      await closeAll(nodes);
    });

    test('revision checks race safely', async () => {
      const { nodes } = await openNodes(3);
      await nodes[0]!.putDocument({ kind: 'k', id: 'a', body: '{"n":0}' });

      for (let round = 1; round <= 20; round++) {
        const results = await Promise.allSettled(
          nodes.map((node, n) =>
            node.putDocument({ kind: 'k', id: 'a', body: `{"n":${n}}` }, round),
          ),
        );
        assert.equal(
          results.filter((result) => result.status === 'fulfilled').length,
          1,
          `round ${round}`,
        );
      }
      assert.equal((await nodes[1]!.getDocument('k', 'a'))?.revision, 21);
      await closeAll(nodes);
    });

    test('shared copies survive racing deletes', { timeout: 60_000 }, async () => {
      const { nodes } = await openNodes(2);
      const [first, second] = await collections(nodes[0]!, 2);
      const objects = batch(0, 30);

      for (let round = 0; round < 5; round++) {
        await nodes[0]!.addObjects(first!, objects);
        // One node deletes every object from the first collection while the other adds the
        // same versions, in the opposite order, to the second.
        await Promise.all([
          (async () => {
            for (const object of objects) await nodes[0]!.deleteObject(first!, object.id);
          })(),
          nodes[1]!.addObjects(second!, [...objects].reverse()),
        ]);
        const page = await nodes[1]!.queryObjects({ collectionId: second!, limit: 100 });
        assert.equal(page.items.length, 30, `round ${round}`);
        for (const item of page.items) {
          assert.equal(item.json, objects.find((object) => object.id === item.id)!.json);
        }
        for (const object of objects) await nodes[1]!.deleteObject(second!, object.id);
      }
      await closeAll(nodes);
    });
  });

  describe('dates and text', () => {
    test('date_added follows high-water mark', async () => {
      const { url, nodes } = await openNodes(1);
      const store = nodes[0]!;
      const [collectionId] = await collections(store, 1);
      const schema = schemaOf(url);
      // A high-water mark ahead of the clock, as after the clock steps back.
      const ahead = nowMicros() + 3_600_000_000;
      await database.query(`UPDATE ${schema}.collections SET last_date_added = $1`, [ahead]);

      const results = await store.addObjects(collectionId!, batch(1, 2));
      assert.deepEqual(
        results.map((result) => result.dateAdded),
        [ahead + 1, ahead + 2],
      );
      await store.deleteObject(collectionId!, stixId('indicator', 2));
      const [next] = await store.addObjects(collectionId!, batch(3, 1));
      assert.equal(next!.dateAdded, ahead + 3);
      await store.close();
    });

    test('JSON stored once and dropped last', async () => {
      const { url, nodes } = await openNodes(1);
      const store = nodes[0]!;
      const [first, second, third] = await collections(store, 3);
      const schema = schemaOf(url);
      const countJson = async () =>
        (
          await database.query<{ count: string }>(`SELECT count(*) FROM ${schema}.object_versions`)
        )[0]!.count;
      const id = stixId('indicator', 1);
      const object = objectVersion(id, stixTime(1));

      await store.addObjects(first!, [object]);
      await store.addObjects(second!, [object]);
      assert.equal(await countJson(), '1');
      await store.addObjects(third!, [objectVersion(id, stixTime(1), { extra: { x: 1 } })]);
      assert.equal(await countJson(), '2', 'a differing copy is stored apart');
      await store.deleteObject(first!, id);
      assert.equal(await countJson(), '2');
      await store.deleteObject(second!, id);
      await store.deleteObject(third!, id);
      assert.equal(await countJson(), '0');
      await store.close();
    });

    test('concurrent held checks answered apart', async () => {
      const { nodes } = await openNodes(1);
      const store = nodes[0]!;
      await store.createOrganisation({ id: 'o-1', name: 'First', identity: '{}', createdAt: 1 });
      await store.createUser({
        id: 'u-1',
        name: 'u-1',
        organisationId: 'o-1',
        role: 'analyst',
        createdAt: 1,
        disabled: false,
      });
      await store.createCommunity(
        {
          id: 'c-1',
          name: 'Ring',
          description: '',
          defaultTlp: 'green',
          allowAnonymous: false,
          publishClear: false,
          identity: '{}',
          createdAt: 1,
        },
        'o-1',
        'u-1',
      );
      // o-2 is a member of c-1 and reads its AMBER versions; o-3 reads nothing of c-1.
      await store.createOrganisation({ id: 'o-2', name: 'Second', identity: '{}', createdAt: 1 });
      await store.createOrganisation({ id: 'o-3', name: 'Third', identity: '{}', createdAt: 1 });
      await store.addMember('c-1', 'o-2');
      await store.createApiRoot({ name: 'api1', title: 'API root 1', maxContentLength: 1000 });
      const owned = await store.createCollection({
        apiRoot: 'api1',
        title: 'A',
        communityId: 'c-1',
      });
      const sharing = (tlp: 'amber' | 'green') => ({
        tlp: [tlp],
        audience: 'members' as const,
        recipients: [],
        granularMarkings: false,
        contributorOrganisationId: 'o-1',
      });
      const amber = {
        ...objectVersion(stixId('indicator', 1), stixTime(1)),
        sharing: sharing('amber'),
      };
      const green = {
        ...objectVersion(stixId('indicator', 2), stixTime(1)),
        sharing: sharing('green'),
      };
      await store.addObjects(owned.id, [amber, green]);

      // Calls in one turn for several communities and organisations, as a share makes them.
      const checks: [string, string, string, boolean][] = [
        [amber.id, 'c-2', 'o-2', true],
        [green.id, 'c-2', 'o-2', false],
        [amber.id, 'c-1', 'o-2', false],
        [amber.id, 'c-2', 'o-1', false],
        [amber.id, 'c-2', 'o-3', false],
        [stixId('indicator', 3), 'c-2', 'o-2', false],
        [amber.id, 'c-2', 'o-2', true],
      ];
      const answers = await Promise.all(
        checks.map(([id, community, organisation]) =>
          store.isHeldRestricted(id, community, organisation),
        ),
      );
      assert.deepEqual(
        answers,
        checks.map((check) => check[3]),
      );
      await store.close();
    });

    test('NUL character rejected clearly', async () => {
      const { nodes } = await openNodes(1);
      const store = nodes[0]!;

      await assert.rejects(
        store.createApiRoot({ name: 'a\u0000b', title: 'x', maxContentLength: 1 }),
        (error: unknown) => error instanceof TypeError && /NUL character/.test(error.message),
      );
      assert.deepEqual(await store.listApiRoots(), []);
      await store.close();
    });
  });

  describe('query plans', () => {
    /** Returns the plan of a version query as text, after filling a large collection. */
    let explain: (query: Record<string, unknown>, withJson?: boolean) => Promise<string>;
    let store: PostgresStore;
    let explainer: pg.Client;

    test('large collection filled', { timeout: 120_000 }, async () => {
      const { url, nodes } = await openNodes(1);
      store = nodes[0]!;
      const [collectionId, other] = await collections(store, 2);
      const types = ['indicator', 'malware', 'report', 'tool'];
      for (let done = 0; done < 20_000; done += 1000) {
        const objects = batch(done, 1000, types[(done / 1000) % types.length]);
        await store.addObjects(collectionId!, objects);
        await store.addObjects(other!, objects.slice(0, 100));
      }
      // Newer versions of some objects, so first-only and last-only entries exist.
      await store.addObjects(
        collectionId!,
        Array.from({ length: 500 }, (_, i) => objectVersion(stixId('indicator', i), stixTime(9))),
      );
      explainer = new pg.Client({ connectionString: url });
      await explainer.connect();
      await explainer.query('ANALYZE collection_entries');
      explain = async (query, withJson = false) => {
        const statement = buildVersionQuery(
          { collectionId: collectionId!, limit: 1000, ...query },
          withJson,
        )!;
        await explainer.query(statement.ordered ? ORDERED_SCANS : 'BEGIN');
        try {
          const result = await explainer.query<{ 'QUERY PLAN': string }>(
            `EXPLAIN ${statement.text}`,
            statement.values,
          );
          return result.rows.map((row) => row['QUERY PLAN']).join('\n');
        } finally {
          await explainer.query('ROLLBACK');
        }
      };
    });

    const cases: [string, Record<string, unknown>, RegExp[]][] = [
      ['latest', {}, [/Merge Append/, /entries_single/, /entries_last_only/]],
      ['first', { versions: { first: true, last: false, exact: [] } }, [/entries_first_only/]],
      ['all', { versions: { all: true } }, [/collection_entries_pkey/]],
      ['one type', { types: ['malware'] }, [/entries_by_type/]],
      ['two types', { types: ['malware', 'tool'] }, [/Merge Append/, /entries_by_type/]],
      ['added after', { addedAfter: nowMicros() - 1_000_000 }, [/entries_single/]],
      ['ids', { ids: [stixId('indicator', 5), stixId('malware', 1005)] }, [/entries_by_object/]],
    ];
    for (const [name, query, patterns] of cases) {
      test(`${name} reads indexes in order`, async () => {
        for (const withJson of [false, true]) {
          const plan = await explain(query, withJson);
          for (const pattern of patterns) assert.match(plan, pattern, plan);
          assert.doesNotMatch(plan, /Seq Scan on collection_entries/, plan);
          // A Sort node, as opposed to the sort key of a Merge Append.
          if (!query.ids) assert.doesNotMatch(plan, /\bSort {2}\(cost/, plan);
        }
      });
    }

    test('store closed', async () => {
      await explainer.end();
      await store.close();
    });
  });

  describe('unreachable server', () => {
    test('calls fail with StoreUnavailableError', { timeout: 30_000 }, async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const store = new PostgresStore(`postgres://cairn:secret@127.0.0.1:${port}/cairn`);

      const calls: [string, () => Promise<unknown>][] = [
        ['migrate', () => store.migrate()],
        ['query', () => store.listApiRoots()],
        ['transaction', () => store.addObjects('c', batch(1, 1))],
        ['documents', () => store.claimDocuments('job', 1, 2, 1)],
      ];
      for (const [name, call] of calls) {
        await assert.rejects(
          call(),
          (error: unknown) =>
            error instanceof StoreUnavailableError &&
            error.message.includes(`127.0.0.1:${port}/cairn`) &&
            !error.message.includes('secret'),
          name,
        );
      }
      await store.close();
    });
  });
});
