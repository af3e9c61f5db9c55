import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TAXII, call, startTestServer, type TestServer } from '../testing/server.ts';
import { indicator } from '../testing/stix.ts';

const OBJECTS = 'collections/default/objects/';
const LIMIT = 64 * 1024;

describe('TAXII hostile input', () => {
  let server: TestServer;
  let baseline: string;
  const kept = indicator();

  before(async () => {
    server = await startTestServer({ taxii: { maxContentLength: LIMIT } });
    await call(server, OBJECTS, { method: 'POST', body: { objects: [kept] } });
    baseline = (await call(server, `collections/default/manifest/?match[version]=all`)).text;
  });
  after(async () => server.dispose());

  async function assertUnchanged() {
    const now = await call(server, `collections/default/manifest/?match[version]=all`);
    assert.equal(now.text, baseline);
  }

  async function postRaw(body: string | Uint8Array, headers: Record<string, string> = {}) {
    return call(server, OBJECTS, { method: 'POST', body, headers });
  }

  test('malformed json is 400', async () => {
    for (const body of [
      '{"objects": [',
      '{objects: []}',
      'null',
      '[]',
      '"objects"',
      '{"objects": [1,]}',
    ]) {
      const result = await postRaw(body);
      assert.ok([400, 422].includes(result.status), `${body}: ${result.status}`);
      assert.equal(result.headers.get('content-type'), TAXII);
      assert.ok(result.json.description);
    }
    await assertUnchanged();
  });

  test('deep nesting is rejected', async () => {
    const depth = 10_000;
    const nested = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const object = JSON.stringify({ ...indicator(), x_deep: '__HOLE__' }).replace(
      '"__HOLE__"',
      nested,
    );
    const result = await postRaw(`{"objects":[${object}]}`);
    assert.equal(result.status, 202);
    assert.equal(result.json.failure_count, 1);
    assert.match(result.json.failures[0].message, /nest|depth/i);
    await assertUnchanged();

    const bare = await postRaw(`${'['.repeat(depth)}${']'.repeat(depth)}`);
    assert.ok([400, 422].includes(bare.status));
    await assertUnchanged();
  });

  test('body over the limit is 413', async () => {
    const big = JSON.stringify({ objects: [{ ...indicator(), description: 'x'.repeat(LIMIT) }] });
    const declared = await postRaw(big);
    assert.equal(declared.status, 413);
    assert.equal(declared.headers.get('content-type'), TAXII);
    assert.match(declared.json.description, new RegExp(String(LIMIT)));

    // Without a Content-Length the server still stops reading at the limit.
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const response = await fetch(`${server.root}${OBJECTS}`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${server.adminToken}`,
        Accept: TAXII,
        'Content-Type': TAXII,
      },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(response.status, 413);
    await assertUnchanged();
  });

  test('a body just under the limit is accepted', async () => {
    const object = indicator();
    const envelope = { objects: [{ ...object, description: '' }] };
    const padding = LIMIT - JSON.stringify(envelope).length - 1;
    const body = JSON.stringify({ objects: [{ ...object, description: 'y'.repeat(padding) }] });
    assert.ok(body.length < LIMIT);
    const result = await postRaw(body);
    assert.equal(result.status, 202);
    assert.equal(result.json.success_count, 1);
    await call(server, `${OBJECTS}${object.id}/`, { method: 'DELETE' });
  });

  test('proto keys are rejected', async () => {
    const objects = [
      `{"type":"indicator","__proto__":{"polluted":true},${JSON.stringify(indicator()).slice(1, -1).replace('"type":"indicator",', '')}}`,
      JSON.stringify({
        ...indicator(),
        external_references: [{ source_name: 'x', url: 'https://example.com' }],
      }).replace('"source_name"', '"__proto__":{"admin":true},"source_name"'),
    ];
    const result = await postRaw(`{"objects":[${objects.join(',')}]}`);
    assert.equal(result.status, 202);
    assert.equal(result.json.failure_count, 2);
    for (const failure of result.json.failures) assert.match(failure.message, /__proto__/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    await assertUnchanged();

    const envelope = await postRaw(`{"__proto__":{"objects":[1]},"objects":[]}`);
    assert.equal(envelope.status, 422);
  });

  test('invalid utf-8 is 400', async () => {
    const valid = Buffer.from(JSON.stringify({ objects: [{ ...indicator(), name: 'NAME' }] }));
    const at = valid.indexOf('NAME');
    valid[at] = 0xc3;
    valid[at + 1] = 0x28;
    const result = await postRaw(new Uint8Array(valid));
    assert.equal(result.status, 400);
    assert.match(result.json.description, /UTF-8/);
    await assertUnchanged();
  });

  test('ids with path traversal fail', async () => {
    const result = await postRaw(
      JSON.stringify({ objects: [{ ...indicator(), id: 'indicator--../../etc/passwd' }] }),
    );
    assert.equal(result.status, 202);
    assert.equal(result.json.failure_count, 1);
    assert.match(result.json.failures[0].message, /id/);
    await assertUnchanged();
  });

  test('wrong types everywhere fail alone', async () => {
    const good = indicator();
    const bad = [
      42,
      'indicator',
      null,
      [],
      { type: 'indicator' },
      { ...indicator(), created: 12 },
      { ...indicator(), confidence: 101 },
      { ...indicator(), modified: '2000-01-01T00:00:00Z' },
      { ...indicator(), type: 'INDICATOR' },
    ];
    const result = await postRaw(JSON.stringify({ objects: [...bad, good] }));
    assert.equal(result.status, 202);
    assert.equal(result.json.success_count, 1);
    assert.equal(result.json.failure_count, bad.length);
    assert.equal(result.json.failures.length, bad.length);
    for (const failure of result.json.failures) {
      assert.equal(typeof failure.id, 'string');
      assert.ok(failure.message.length > 5);
    }
    await call(server, `${OBJECTS}${good.id}/`, { method: 'DELETE' });
    await assertUnchanged();
  });

  test('oversized headers get a TAXII error', async () => {
    const { request } = await import('node:http');
    const url = new URL(`${server.root}${OBJECTS}`);
    const answer = await new Promise<{ status: number; type: string; body: string }>(
      (resolve, reject) => {
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            headers: { 'X-Padding': 'p'.repeat(20_000) },
          },
          (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                type: String(res.headers['content-type']),
                body,
              }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      },
    );
    assert.equal(answer.status, 431);
    assert.equal(answer.type, TAXII);
    assert.equal(JSON.parse(answer.body).http_status, '431');
  });

  test('malformed request line gets a TAXII error', async () => {
    const { connect } = await import('node:net');
    const url = new URL(server.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () =>
        socket.write('GARBAGE / NOT-HTTP\r\n\r\n'),
      );
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /Content-Type: application\/taxii\+json;version=2\.1/);
    const afterwards = await call(server, `${server.url}/taxii2/`);
    assert.equal(afterwards.status, 200);
  });

  test('huge query strings are 400', async () => {
    const ids = Array.from({ length: 3000 }, () => indicator().id).join(',');
    const result = await call(server, `${OBJECTS}?match[id]=${ids}`);
    assert.ok([200, 400, 414, 431].includes(result.status), String(result.status));
    const server2 = await call(server, `${server.url}/taxii2/`);
    assert.equal(server2.status, 200);
  });
});
