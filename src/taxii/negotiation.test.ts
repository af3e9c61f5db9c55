import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TAXII, call, startTestServer, type TestServer } from '../testing/server.ts';
import { indicator } from '../testing/stix.ts';

describe('TAXII content negotiation', () => {
  let server: TestServer;
  let strict: TestServer;
  before(async () => {
    server = await startTestServer();
    strict = await startTestServer({ taxii: { lenientMediaTypes: false } });
  });
  after(async () => {
    await server.dispose();
    await strict.dispose();
  });

  test('accept without version is the latest', async () => {
    const result = await call(server, `${server.url}/taxii2/`, {
      accept: 'application/taxii+json',
    });
    assert.equal(result.status, 200);
    assert.equal(result.headers.get('content-type'), TAXII);
  });

  test('accept version 2.0 is 406', async () => {
    const result = await call(server, `${server.url}/taxii2/`, {
      accept: 'application/taxii+json;version=2.0',
    });
    assert.equal(result.status, 406);
    assert.equal(result.headers.get('content-type'), TAXII);
    assert.equal(result.json.http_status, '406');
    assert.match(result.json.description, /version=2\.1/);
  });

  test('lenient mode takes json and wildcards', async () => {
    for (const accept of ['application/json', '*/*', 'application/json, text/plain, */*', null]) {
      const result = await call(server, `${server.url}/taxii2/`, { accept });
      assert.equal(result.status, 200, `Accept ${accept}`);
      assert.equal(result.headers.get('content-type'), TAXII);
    }
  });

  test('strict mode rejects plain json', async () => {
    for (const accept of ['application/json', '*/*', null]) {
      const result = await call(strict, `${strict.url}/taxii2/`, {
        accept,
        token: strict.adminToken,
      });
      assert.equal(result.status, 406, `Accept ${accept}`);
    }
    const ok = await call(strict, `${strict.url}/taxii2/`, {
      accept: TAXII,
      token: strict.adminToken,
    });
    assert.equal(ok.status, 200);
  });

  test('quality zero excludes a range', async () => {
    const result = await call(strict, `${strict.url}/taxii2/`, {
      accept: 'application/taxii+json;version=2.1;q=0',
      token: strict.adminToken,
    });
    assert.equal(result.status, 406);
  });

  test('every error has the TAXII media type', async () => {
    const cases: Array<[string, Parameters<typeof call>[2], number]> = [
      [`${server.url}/taxii2/`, { token: null }, 401],
      [`${server.url}/nowhere/`, {}, 404],
      [`${server.root}collections/default/objects/?limit=0`, {}, 400],
      [`${server.url}/taxii2/`, { method: 'POST', body: {} }, 405],
      [
        `${server.root}collections/default/objects/`,
        { method: 'POST', body: { objects: [indicator()] }, contentType: 'text/plain' },
        415,
      ],
      [
        `${server.root}collections/default/objects/`,
        { method: 'POST', body: { nothing: true } },
        422,
      ],
      [
        `${server.root}collections/default/objects/`,
        { method: 'POST', body: '{"objects": [' },
        400,
      ],
    ];
    for (const [url, options, status] of cases) {
      const result = await call(server, url, options);
      assert.equal(result.status, status, `${options?.method ?? 'GET'} ${url}`);
      assert.equal(result.headers.get('content-type'), TAXII, `${url} content type`);
      assert.equal(typeof result.json.title, 'string');
      assert.equal(result.json.http_status, String(status));
    }
  });

  test('401 carries a challenge', async () => {
    const result = await call(server, `${server.url}/taxii2/`, { token: null });
    assert.equal(result.status, 401);
    assert.match(result.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  });

  test('401 challenges name both schemes', async () => {
    const missing = await call(server, `${server.url}/taxii2/`, { token: null });
    const wrong = await call(server, `${server.url}/taxii2/`, { token: 'cairn_wrong' });
    for (const result of [missing, wrong]) {
      assert.equal(result.status, 401);
      const challenge = result.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /^Basic realm="cairn"/);
      assert.match(challenge, /, Bearer realm="cairn"$/);
    }
  });

  test('405 lists allowed methods', async () => {
    const result = await call(server, `${server.root}collections/default/objects/`, {
      method: 'PUT',
      body: {},
    });
    assert.equal(result.status, 405);
    assert.equal(result.headers.get('allow'), 'GET, POST');
  });

  test('paths work without trailing slash', async () => {
    const result = await call(server, `${server.root}collections/default`);
    assert.equal(result.status, 200);
    assert.equal(result.json.alias, 'default');
  });

  test('post needs a TAXII content type', async () => {
    const body = { objects: [indicator()] };
    const ok = await call(server, 'collections/default/objects/', {
      method: 'POST',
      body,
      contentType: 'application/taxii+json',
    });
    assert.equal(ok.status, 202);
    const rejected = await call(strict, `${strict.root}collections/default/objects/`, {
      method: 'POST',
      body,
      contentType: 'application/json',
      token: strict.adminToken,
    });
    assert.equal(rejected.status, 415);
    assert.match(rejected.json.description, /application\/taxii\+json;version=2\.1/);
  });
});

describe('TAXII discovery and API root', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.dispose());

  test('discovery lists the default root', async () => {
    const result = await call(server, `${server.url}/taxii2/`);
    assert.equal(result.status, 200);
    assert.equal(result.json.title, 'Cairn');
    assert.deepEqual(result.json.api_roots, ['/default/']);
    assert.equal(result.json.default, '/default/');
  });

  test('api root information', async () => {
    const result = await call(server, server.root);
    assert.equal(result.status, 200);
    assert.deepEqual(result.json.versions, [TAXII]);
    assert.equal(result.json.max_content_length, server.config.taxii.maxContentLength);
    assert.equal(typeof result.json.title, 'string');
  });

  test('unknown api root is 404', async () => {
    const result = await call(server, `${server.url}/other/collections/`);
    assert.equal(result.status, 404);
    assert.match(result.json.description, /"other"/);
  });

  test('collection resource fields', async () => {
    const result = await call(server, 'collections/');
    assert.equal(result.status, 200);
    assert.equal(result.json.collections.length, 1);
    const [collection] = result.json.collections;
    assert.match(collection.id, /^[0-9a-f-]{36}$/);
    assert.equal(collection.can_read, true);
    assert.equal(collection.can_write, true);
    assert.deepEqual(collection.media_types, ['application/stix+json;version=2.1']);
    const byId = await call(server, `collections/${collection.id}/`);
    assert.deepEqual(byId.json, collection);
  });

  test('request logs hold no token', async () => {
    await call(server, `${server.url}/taxii2/`);
    const text = JSON.stringify(server.logs);
    const line = server.logs.find((entry) => entry.msg === 'request' && entry.path === '/taxii2/');
    assert.ok(line);
    const [, tokenId, secret] = /^cairn_([0-9a-f]{32})_(.+)$/.exec(server.adminToken)!;
    assert.equal(line.tokenId, tokenId);
    assert.match(String(line.sourceAddress), /127\.0\.0\.1|::1/);
    assert.ok(!text.includes(secret!), 'a token secret reached the log');
  });
});
