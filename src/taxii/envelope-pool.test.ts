import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defaultEnvelopeWorkers } from '../config/config.ts';
import { CairnError } from '../errors.ts';
import { call, startTestServer, type TestServer } from '../testing/server.ts';
import { indicator, malware } from '../testing/stix.ts';
import { EnvelopePool } from './envelope-pool.ts';

const MISBEHAVING = new URL('../testing/envelope-worker.ts', import.meta.url);
const TLP_RED = 'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1';

function body(objects: unknown[]): Buffer {
  return Buffer.from(JSON.stringify({ objects }));
}

describe('envelope pool', () => {
  test('default size leaves a core', () => {
    assert.equal(defaultEnvelopeWorkers(1), 1);
    assert.equal(defaultEnvelopeWorkers(2), 1);
    assert.equal(defaultEnvelopeWorkers(3), 2);
    assert.equal(defaultEnvelopeWorkers(64), 4);
  });

  test('zero workers is rejected', () => {
    assert.throws(() => new EnvelopePool({ workers: 0, minBytes: 0 }), RangeError);
  });

  test('failed worker is replaced', async () => {
    const pool = new EnvelopePool({
      workers: 1,
      minBytes: 0,
      timeoutMs: 1500,
      workerUrl: MISBEHAVING,
    });
    try {
      const good = await pool.validate(body([indicator()]));
      assert.ok(good.ok);
      assert.equal(good.total, 1);

      for (const [start, message] of [
        ['exit ', /failed on the server/],
        ['throw', /failed on the server/],
        ['spin ', /longer than 1.5 s and was stopped/],
      ] as const) {
        await assert.rejects(
          pool.validate(Buffer.from(`${start} {"objects": []}`)),
          (error: unknown) =>
            error instanceof CairnError &&
            error.code === 'internal' &&
            error.status === 500 &&
            message.test(error.message),
          start,
        );
        const after = await pool.validate(body([malware(), 7]));
        assert.ok(after.ok, `the pool validates again after "${start}"`);
        assert.equal(after.chunks[0]!.prepared.length, 1);
        assert.equal(after.chunks[0]!.failures[0]!.id, 'objects[1]');
      }
    } finally {
      await pool.close();
    }
  });

  test('client errors come back as outcomes with the main thread’s wording', async () => {
    const pool = new EnvelopePool({ workers: 1, minBytes: 0 });
    try {
      for (const [bytes, code] of [
        [Buffer.from('{"objects": ['), 'invalid-json'],
        [Buffer.from([0x7b, 0xff, 0x7d]), 'invalid-encoding'],
        [Buffer.from('[]'), 'invalid-envelope'],
        [Buffer.from('{"objects": []}'), 'invalid-envelope'],
        [Buffer.alloc(0), 'invalid-json'],
      ] as const) {
        const outcome = await pool.validate(bytes);
        assert.ok(!outcome.ok, bytes.toString('latin1'));
        assert.equal(outcome.code, code);
      }
    } finally {
      await pool.close();
    }
  });

  test('small bodies and bodies past a full queue stay on the main thread', async () => {
    const pool = new EnvelopePool({
      workers: 1,
      minBytes: 1000,
      maxQueue: 1,
      timeoutMs: 20_000,
      workerUrl: MISBEHAVING,
    });
    try {
      assert.equal(pool.takes(999), false);
      assert.equal(pool.takes(1000), true);
      // One body spins in the thread and one waits: the queue is full.
      const spinning = pool.validate(Buffer.from('spin '));
      const waiting = pool.validate(Buffer.from('spin '));
      spinning.catch(() => {});
      waiting.catch(() => {});
      for (let tries = 0; pool.takes(1000) && tries < 200; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.equal(pool.takes(1000), false);
    } finally {
      await pool.close();
    }
  });

  test('body memory moves or is copied', async () => {
    const pool = new EnvelopePool({ workers: 1, minBytes: 0 });
    try {
      const owned = body(Array.from({ length: 50 }, () => indicator()));
      assert.ok(owned.byteLength >= 4096, 'not from the buffer pool');
      const outcome = await pool.validate(owned);
      assert.ok(outcome.ok);
      assert.equal(outcome.chunks[0]!.prepared.length, 50);
      assert.equal(owned.byteLength, 0, 'the memory moved to the worker');

      const shared = Buffer.from('{"objects": [1]}');
      assert.ok(shared.buffer.byteLength > shared.byteLength, 'a slice of the buffer pool');
      const copied = await pool.validate(shared);
      assert.ok(copied.ok);
      assert.equal(shared.toString(), '{"objects": [1]}');
    } finally {
      await pool.close();
    }
  });
});

describe('TAXII POST through envelope workers', () => {
  const limit = 4 * 1024 * 1024;
  let inline: TestServer;
  let threaded: TestServer;

  before(async () => {
    inline = await startTestServer({ taxii: { maxContentLength: limit, envelopeWorkers: 0 } });
    threaded = await startTestServer({
      taxii: { maxContentLength: limit, envelopeWorkers: 1, envelopeWorkerMinBytes: 0 },
    });
  });
  after(async () => {
    await inline.dispose();
    await threaded.dispose();
  });

  /** Returns the response without what differs between two servers: the status id and time. */
  function comparable(result: { status: number; json: unknown; text: string }): unknown {
    if (typeof result.json !== 'object' || result.json === null)
      return [result.status, result.text];
    const { id: _id, request_timestamp: _time, ...rest } = result.json as Record<string, unknown>;
    return [result.status, rest];
  }

  const many = Array.from({ length: 2500 }, (_, index) =>
    index % 7 === 3 ? { type: 'indicator', name: 'no id' } : indicator(),
  );
  const cases: Array<[string, string | Uint8Array]> = [
    ['truncated JSON', '{"objects": ['],
    ['JSON with a trailing comma', '{"objects": [1,]}'],
    ['null', 'null'],
    ['a list', '[]'],
    ['no objects', '{"type": "bundle"}'],
    ['an empty objects list', '{"objects": []}'],
    ['invalid UTF-8', Uint8Array.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d])],
    ['a byte order mark', `\ufeff${JSON.stringify({ objects: [indicator()] })}`],
    [
      'mixed objects',
      JSON.stringify({
        objects: [
          indicator(),
          null,
          'text',
          { ...indicator(), id: '../../etc/passwd' },
          { ...malware(), is_family: 'yes', created: 12 },
          indicator({ object_marking_refs: [TLP_RED] }),
        ],
      }).replace('[', `[${JSON.stringify(indicator()).replace('{', '{"__proto__":{"x":1},')},`),
    ],
    [
      'a bundle of 2,500 objects over three chunks',
      JSON.stringify({ type: 'bundle', objects: many }),
    ],
    [
      'deep nesting',
      `{"objects":[${JSON.stringify({ ...indicator(), x_deep: 0 }).replace(
        '"x_deep":0',
        `"x_deep":${'['.repeat(5000)}${']'.repeat(5000)}`,
      )}]}`,
    ],
  ];

  for (const [name, payload] of cases) {
    test(`${name}: the same response with and without workers`, async () => {
      const options = { method: 'POST', body: payload };
      const expected = await call(inline, 'collections/default/objects/', options);
      const actual = await call(threaded, 'collections/default/objects/', options);
      assert.deepEqual(comparable(actual), comparable(expected));
    });
  }

  test('the stored objects and the status resource match too', async () => {
    const objects: Array<Record<string, unknown>> = [indicator(), malware(), { type: 'indicator' }];
    const results = [];
    for (const server of [inline, threaded]) {
      const posted = await call(server, 'collections/default/objects/', {
        method: 'POST',
        body: { objects },
      });
      assert.equal(posted.status, 202);
      const status = await call(server, `status/${posted.json.id}/`);
      const stored = await call(server, `collections/default/objects/${objects[0]!.id as string}/`);
      results.push([comparable(status), stored.status, stored.json.objects]);
    }
    assert.deepEqual(results[1], results[0]);
    assert.equal((results[0]![0] as [number, { failure_count: number }])[1].failure_count, 1);
  });
});
