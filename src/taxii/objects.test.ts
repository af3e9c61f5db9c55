import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TAXII, call, startTestServer, type TestServer } from '../testing/server.ts';
import { indicator, malware, versions, type StixFixture } from '../testing/stix.ts';

const OBJECTS = 'collections/default/objects/';

async function post(server: TestServer, objects: unknown[], path = OBJECTS) {
  const result = await call(server, path, { method: 'POST', body: { objects } });
  assert.equal(result.status, 202, result.text);
  return result.json;
}

describe('TAXII add objects', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.dispose());

  test('status lists each object', async () => {
    const good = indicator();
    const bad = { ...indicator(), valid_from: 'yesterday' };
    const status = await post(server, [good, bad]);
    assert.equal(status.status, 'complete');
    assert.equal(status.total_count, 2);
    assert.equal(status.success_count, 1);
    assert.equal(status.failure_count, 1);
    assert.equal(status.pending_count, 0);
    assert.deepEqual(status.successes, [{ id: good.id, version: good.modified }]);
    assert.equal(status.failures[0].id, bad.id);
    assert.match(status.failures[0].message, /valid_from/);
    assert.match(status.request_timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    const polled = await call(server, `status/${status.id}/`);
    assert.equal(polled.status, 200);
    assert.deepEqual(polled.json, status);
    const stored = await call(server, `${OBJECTS}${good.id}/`);
    assert.deepEqual(stored.json.objects, [good]);
    const missing = await call(server, `${OBJECTS}${bad.id}/`);
    assert.equal(missing.status, 404);
  });

  test('duplicate post changes nothing', async () => {
    const object = indicator();
    await post(server, [object]);
    const first = await call(server, `collections/default/manifest/?match[id]=${object.id}`);
    const again = await post(server, [object, object]);
    assert.equal(again.success_count, 2);
    assert.equal(again.failure_count, 0);
    const second = await call(server, `collections/default/manifest/?match[id]=${object.id}`);
    assert.deepEqual(second.json, first.json);
    assert.equal(second.json.objects.length, 1);
  });

  test('bundle body is accepted', async () => {
    const object = malware();
    const result = await call(server, OBJECTS, {
      method: 'POST',
      body: {
        type: 'bundle',
        id: 'bundle--6a1f6b44-6d3a-4c2b-9a0e-1f2d3c4b5a69',
        objects: [object],
      },
    });
    assert.equal(result.status, 202);
    assert.equal(result.json.success_count, 1);
  });

  test('stix 2.0 object fails clearly', async () => {
    const { spec_version: _omitted, ...old } = indicator();
    const status = await post(server, [old]);
    assert.equal(status.failure_count, 1);
    assert.match(status.failures[0].message, /2\.0/);
  });

  test('date_added is after the request', async () => {
    const before = new Date().toISOString();
    const object = indicator();
    await post(server, [object]);
    const result = await call(
      server,
      `collections/default/manifest/?added_after=${before}&match[id]=${object.id}`,
    );
    assert.equal(result.json.objects.length, 1);
    assert.ok(result.json.objects[0].date_added > before);
  });

  test('sco version is its date_added', async () => {
    const address = {
      type: 'ipv4-addr',
      spec_version: '2.1',
      id: 'ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd',
      value: '198.51.100.3',
    };
    const status = await post(server, [address]);
    const version = status.successes[0].version;
    assert.match(version, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const manifest = await call(server, `collections/default/manifest/?match[id]=${address.id}`);
    assert.equal(manifest.json.objects[0].version, version);
    const again = await post(server, [address]);
    assert.equal(again.successes[0].version, version);
    const history = await call(server, `${OBJECTS}${address.id}/versions/`);
    assert.deepEqual(history.json.versions, [version]);
  });

  test('unknown status is 404', async () => {
    const result = await call(server, 'status/2d086da7-4bdc-4f91-900e-d77486753710/');
    assert.equal(result.status, 404);
  });
});

describe('TAXII object filters', () => {
  let server: TestServer;
  let versioned: StixFixture[];
  let others: StixFixture[];
  before(async () => {
    server = await startTestServer();
    versioned = versions(indicator(), 3);
    others = [malware(), malware(), indicator()];
    // Posted newest first, so date_added order differs from version order.
    await post(server, [versioned[2]!, others[0]!]);
    await post(server, [versioned[0]!, others[1]!]);
    await post(server, [versioned[1]!, others[2]!]);
  });
  after(async () => server.dispose());

  const ids = (json: { objects?: Array<{ id: string }> }) =>
    (json.objects ?? []).map((object) => object.id);

  test('default is the latest version', async () => {
    const result = await call(server, `${OBJECTS}?match[id]=${versioned[0]!.id}`);
    assert.equal(result.json.objects.length, 1);
    assert.equal(result.json.objects[0].modified, versioned[2]!.modified);
  });

  test('version first, last, all, exact', async () => {
    const id = versioned[0]!.id;
    const modified = (query: string) =>
      call(server, `${OBJECTS}?match[id]=${id}&match[version]=${query}`).then((result) =>
        (result.json.objects ?? []).map((object: StixFixture) => object.modified).sort(),
      );
    assert.deepEqual(await modified('first'), [versioned[0]!.modified]);
    assert.deepEqual(await modified('last'), [versioned[2]!.modified]);
    assert.deepEqual(await modified('all'), versioned.map((object) => object.modified).sort());
    assert.deepEqual(await modified('first,last'), [
      versioned[0]!.modified,
      versioned[2]!.modified,
    ]);
    assert.deepEqual(await modified(versioned[1]!.modified as string), [versioned[1]!.modified]);
    assert.deepEqual(await modified(`first,${versioned[1]!.modified as string}`), [
      versioned[0]!.modified,
      versioned[1]!.modified,
    ]);
    // Another precision of the same instant selects the same version.
    const coarse = (versioned[1]!.modified as string).replace('.000Z', 'Z');
    assert.deepEqual(await modified(coarse), [versioned[1]!.modified]);
    assert.deepEqual(await modified('2001-01-01T00:00:00Z'), []);
  });

  test('types are ORed, fields ANDed', async () => {
    const both = await call(server, `${OBJECTS}?match[type]=malware,indicator`);
    assert.equal(both.json.objects.length, 4);
    const malwareOnly = await call(server, `${OBJECTS}?match[type]=malware`);
    assert.deepEqual(new Set(ids(malwareOnly.json)), new Set([others[0]!.id, others[1]!.id]));
    const anded = await call(
      server,
      `${OBJECTS}?match[type]=malware&match[id]=${others[0]!.id},${versioned[0]!.id}`,
    );
    assert.deepEqual(ids(anded.json), [others[0]!.id]);
  });

  test('unknown type is an empty envelope', async () => {
    const result = await call(server, `${OBJECTS}?match[type]=x-unheard-of`);
    assert.equal(result.status, 200);
    assert.deepEqual(result.json, { more: false });
    assert.equal(result.headers.get('x-taxii-date-added-first'), null);
  });

  test('spec_version filter', async () => {
    const only20 = await call(server, `${OBJECTS}?match[spec_version]=2.0`);
    assert.deepEqual(only20.json, { more: false });
    const with21 = await call(server, `${OBJECTS}?match[spec_version]=2.0,2.1`);
    assert.equal(with21.json.objects.length, 4);
  });

  test('objects sorted by date_added', async () => {
    const result = await call(server, `collections/default/manifest/?match[version]=all`);
    const added = result.json.objects.map((record: { date_added: string }) => record.date_added);
    assert.deepEqual(added, [...added].sort());
    assert.equal(new Set(added).size, added.length);
    assert.equal(result.headers.get('x-taxii-date-added-first'), added[0]);
    assert.equal(result.headers.get('x-taxii-date-added-last'), added[added.length - 1]);
  });

  test('manifest records per version', async () => {
    const result = await call(
      server,
      `collections/default/manifest/?match[id]=${versioned[0]!.id}&match[version]=all`,
    );
    assert.equal(result.json.objects.length, 3);
    for (const record of result.json.objects) {
      assert.deepEqual(Object.keys(record).sort(), ['date_added', 'id', 'media_type', 'version']);
      assert.equal(record.media_type, 'application/stix+json;version=2.1');
    }
    const typed = await call(server, 'collections/default/manifest/?match[type]=malware');
    assert.equal(typed.json.objects.length, 2);
  });

  test('malformed parameters are 400', async () => {
    const bad = [
      'limit=0',
      'limit=-1',
      'limit=abc',
      'limit=1.5',
      'added_after=not-a-timestamp',
      'added_after=2020-13-01T00:00:00Z',
      'added_after=2020-01-01T00:00:00%2B01:00',
      'added_after=2020-01-01T00:00:00Z&added_after=2020-01-02T00:00:00Z',
      'match[version]=all,first',
      'match[version]=first,first',
      'match[version]=newest',
      'match[type]=Indicator',
      'match[type]=',
      'match[id]=indicator--../../etc',
      'match[spec_version]=two',
      'match[type]=malware&match[type]=indicator',
      'next=garbage',
    ];
    for (const query of bad) {
      for (const path of [OBJECTS, 'collections/default/manifest/']) {
        const result = await call(server, `${path}?${query}`);
        assert.equal(result.status, 400, `${path}?${query}: ${result.text}`);
        assert.equal(result.headers.get('content-type'), TAXII);
        assert.ok(result.json.description.length > 10);
      }
    }
  });

  test('unknown match field is ignored', async () => {
    const result = await call(server, `${OBJECTS}?match[colour]=blue`);
    assert.equal(result.status, 200);
    assert.equal(result.json.objects.length, 4);
  });
});

describe('TAXII single object, versions, delete', () => {
  let server: TestServer;
  let history: StixFixture[];
  before(async () => {
    server = await startTestServer();
    history = versions(indicator(), 3);
    await post(server, history);
  });
  after(async () => server.dispose());

  test('get object returns latest', async () => {
    const result = await call(server, `${OBJECTS}${history[0]!.id}/`);
    assert.equal(result.status, 200);
    assert.deepEqual(result.json.objects, [history[2]]);
    assert.ok(result.headers.get('x-taxii-date-added-first'));
  });

  test('get object with all versions', async () => {
    const result = await call(server, `${OBJECTS}${history[0]!.id}/?match[version]=all`);
    assert.equal(result.json.objects.length, 3);
  });

  test('versions lists every version', async () => {
    const result = await call(server, `${OBJECTS}${history[0]!.id}/versions/`);
    assert.equal(result.status, 200);
    assert.deepEqual(
      result.json.versions,
      history.map((object) => object.modified),
    );
    assert.equal(result.json.more, false);
  });

  test('unknown object is 404', async () => {
    const id = 'indicator--00000000-0000-4000-8000-000000000000';
    assert.equal((await call(server, `${OBJECTS}${id}/`)).status, 404);
    assert.equal((await call(server, `${OBJECTS}${id}/versions/`)).status, 404);
    assert.equal((await call(server, `${OBJECTS}${id}/`, { method: 'DELETE' })).status, 404);
  });

  test('delete one version then all', async () => {
    const id = history[0]!.id;
    const removed = await call(server, `${OBJECTS}${id}/?match[version]=${history[2]!.modified}`, {
      method: 'DELETE',
    });
    assert.equal(removed.status, 200);
    assert.equal(removed.headers.get('content-type'), TAXII);
    const latest = await call(server, `${OBJECTS}${id}/`);
    assert.deepEqual(latest.json.objects, [history[1]]);
    const versionsLeft = await call(server, `${OBJECTS}${id}/versions/`);
    assert.deepEqual(versionsLeft.json.versions, [history[0]!.modified, history[1]!.modified]);

    assert.equal((await call(server, `${OBJECTS}${id}/`, { method: 'DELETE' })).status, 200);
    assert.equal((await call(server, `${OBJECTS}${id}/`)).status, 404);
    const listed = await call(server, `${OBJECTS}?match[id]=${id}&match[version]=all`);
    assert.deepEqual(listed.json, { more: false });
    const manifest = await call(
      server,
      `collections/default/manifest/?match[id]=${id}&match[version]=all`,
    );
    assert.deepEqual(manifest.json, { more: false });
  });

  test('hostile object ids are 400', async () => {
    for (const id of ['..%2F..%2Fetc%2Fpasswd', 'indicator--..%2F', 'indicator--1234', '%00']) {
      const result = await call(server, `${OBJECTS}${id}/`);
      assert.ok([400, 404].includes(result.status), `${id}: ${result.status}`);
      assert.equal(result.headers.get('content-type'), TAXII);
    }
    const traversal = await call(server, `${OBJECTS}indicator--..%2F..%2Fx/`);
    assert.equal(traversal.status, 400);
  });
});
