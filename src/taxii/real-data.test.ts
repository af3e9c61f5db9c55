import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { readDataJson } from '../testing/data.ts';
import { call, startTestServer, type TestServer } from '../testing/server.ts';

type StixObject = Record<string, unknown> & { id: string; type: string };

async function postAll(server: TestServer, collection: string, objects: unknown[]) {
  let failures: Array<{ id: string; message: string }> = [];
  for (let start = 0; start < objects.length; start += 1000) {
    const result = await call(server, `collections/${collection}/objects/`, {
      method: 'POST',
      body: { objects: objects.slice(start, start + 1000) },
    });
    assert.equal(result.status, 202, result.text);
    failures = failures.concat(result.json.failures ?? []);
  }
  return failures;
}

async function readAll(server: TestServer, collection: string, query = ''): Promise<StixObject[]> {
  const objects: StixObject[] = [];
  let next: string | undefined;
  do {
    const result = await call(
      server,
      `collections/${collection}/objects/?${query}${next ? `&next=${encodeURIComponent(next)}` : ''}`,
    );
    assert.equal(result.status, 200, result.text);
    objects.push(...(result.json.objects ?? []));
    next = result.json.next;
  } while (next);
  return objects;
}

function versionKey(object: StixObject): string {
  return `${object.id}|${(object.modified ?? object.created ?? '') as string}`;
}

function byVersion(objects: StixObject[]): Map<string, StixObject> {
  return new Map(objects.map((object) => [versionKey(object), object]));
}

async function newCollection(server: TestServer, alias: string): Promise<string> {
  const collection = await server.server.store.createCollection({
    apiRoot: 'default',
    title: alias,
    alias,
  });
  return collection.id;
}

describe('real data through TAXII', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.dispose());

  test('stalkerware bundle reads back exactly', async () => {
    const bundle = readDataJson<{ objects: StixObject[] }>(
      'stalkerware-indicators/generated/stalkerware.stix2',
    );
    assert.equal(bundle.objects.length, 10_229);
    const collection = await newCollection(server, 'stalkerware');
    const failures = await postAll(server, collection, bundle.objects);
    assert.deepEqual(failures, []);
    const expected = byVersion(bundle.objects);
    assert.equal(expected.size, 10_191);
    const served = await readAll(server, collection, 'match[version]=all');
    assert.equal(served.length, expected.size);
    for (const object of served) assert.deepEqual(object, expected.get(versionKey(object)));
  });

  test('ics attack 18.0 then 18.1 keeps both', async () => {
    const older = readDataJson<{ objects: StixObject[] }>(
      'mitre-attack-stix21/ics-attack/ics-attack-18.0.json',
    );
    const newer = readDataJson<{ objects: StixObject[] }>(
      'mitre-attack-stix21/ics-attack/ics-attack.json',
    );
    const collection = await newCollection(server, 'ics');
    assert.deepEqual(await postAll(server, collection, older.objects), []);
    assert.deepEqual(await postAll(server, collection, newer.objects), []);

    const all = await readAll(server, collection, 'match[version]=all');
    const expected = byVersion([...older.objects, ...newer.objects]);
    assert.equal(expected.size, 1826 + 28);
    assert.equal(all.length, expected.size);
    for (const object of all) assert.deepEqual(object, expected.get(versionKey(object)));

    const latest = await readAll(server, collection);
    assert.equal(latest.length, 1826);
    assert.deepEqual(byVersion(latest), byVersion(newer.objects));

    const first = await readAll(server, collection, 'match[version]=first');
    assert.deepEqual(byVersion(first), byVersion(older.objects));
  });

  test('medallion fixture versions', async () => {
    const fixture = readDataJson<{
      trustgroup1: { collections: Array<{ id: string; objects?: StixObject[] }> };
    }>('oasis-test-data/cti-taxii-server/medallion/test/data/default_data.json');
    const source = fixture.trustgroup1.collections.find(
      (item) => item.id === '91a7b528-80eb-42ed-a74d-c6fbd5a26116',
    );
    const fixture21 = source?.objects ?? [];
    assert.equal(fixture21.length, 8);
    // One malware version in the fixture has no spec_version: it is STIX 2.0 and is
    // rejected with its reason; the other seven versions are stored.
    const objects = fixture21.filter((object) => object.spec_version === '2.1');
    const collection = await newCollection(server, 'medallion');
    const failures = await postAll(server, collection, fixture21);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.id, 'malware--c0931cc6-c75e-47e5-9036-78fabc95d4ec');
    assert.match(failures[0]!.message, /STIX 2\.0/);

    const id = 'indicator--6770298f-0fd8-471a-ab8c-1c658a46574e';
    const history = await call(server, `collections/${collection}/objects/${id}/versions/`);
    assert.deepEqual(history.json.versions.sort(), [
      '2016-11-03T12:30:59.000Z',
      '2016-12-25T12:30:59.444Z',
      '2017-01-27T13:49:53.935Z',
    ]);
    const latest = await call(server, `collections/${collection}/objects/${id}/`);
    assert.equal(latest.json.objects[0].modified, '2017-01-27T13:49:53.935Z');
    const served = await readAll(server, collection, 'match[version]=all');
    assert.deepEqual(byVersion(served), byVersion(objects));
  });

  test('oasis example bundles read back', async () => {
    const folders = [
      'stix2-json-schemas/examples',
      'stix2-json-schemas/examples/threat-reports',
      'oasis-test-data/cti-documentation/examples/example_json',
    ];
    const collection = await newCollection(server, 'examples');
    const expected: StixObject[] = [];
    for (const folder of folders) {
      const { dataPath } = await import('../testing/data.ts');
      for (const name of readdirSync(dataPath(folder)).filter((file) => file.endsWith('.json'))) {
        // One example file is a single object rather than a bundle.
        const content = readDataJson<StixObject & { objects?: StixObject[] }>(`${folder}/${name}`);
        const objects = content.type === 'bundle' ? (content.objects ?? []) : [content];
        const failures = await postAll(server, collection, objects);
        // TAXII cannot name the recipients that TLP:RED objects need, so they fail alone.
        const red = new Set(failures.filter((f) => /TLP:RED/.test(f.message)).map((f) => f.id));
        assert.deepEqual(
          failures.filter((f) => !red.has(f.id)),
          [],
          `${folder}/${name}`,
        );
        expected.push(...objects.filter((object) => !red.has(object.id)));
      }
    }
    const served = await readAll(server, collection, 'match[version]=all');
    const wanted = byVersion(expected);
    assert.equal(served.length, wanted.size);
    for (const object of served) {
      // The same version posted twice keeps its first content.
      assert.ok(wanted.has(versionKey(object)), versionKey(object));
    }
  });
});
