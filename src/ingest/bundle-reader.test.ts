import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { BundleReader, BundleReadError, type BundleEntry } from './bundle-reader.ts';

/** Splits the input into chunks of `size` bytes, as a file or socket would deliver it. */
async function* chunked(input: string | Uint8Array, size = 65536): AsyncGenerator<Uint8Array> {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  for (let start = 0; start < bytes.length; start += size) {
    yield bytes.subarray(start, start + size);
  }
}

async function readAll(reader: BundleReader): Promise<BundleEntry[]> {
  const entries: BundleEntry[] = [];
  for await (const entry of reader) entries.push(entry);
  return entries;
}

async function values(input: string | Uint8Array, size?: number): Promise<unknown[]> {
  const entries = await readAll(new BundleReader(chunked(input, size)));
  return entries.map((entry) => {
    assert.ok('value' in entry, `entry ${entry.index} was skipped`);
    return entry.value;
  });
}

/** Returns the BundleReadError that reading the input raises, with the entries before it. */
async function failure(
  input: string | Uint8Array | AsyncIterable<Uint8Array>,
  size?: number,
): Promise<{ error: BundleReadError; entries: BundleEntry[] }> {
  const source =
    typeof input === 'string' || input instanceof Uint8Array ? chunked(input, size) : input;
  const entries: BundleEntry[] = [];
  try {
    for await (const entry of new BundleReader(source)) entries.push(entry);
  } catch (error) {
    assert.ok(error instanceof BundleReadError, `unexpected error ${String(error)}`);
    return { error, entries };
  }
  assert.fail('the input was accepted');
}

function indicator(n: number): Record<string, unknown> {
  return {
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    created: '2024-01-01T00:00:00.000Z',
    modified: '2024-01-01T00:00:00.000Z',
    pattern: `[domain-name:value = 'host${n}.example.com']`,
    pattern_type: 'stix',
    valid_from: '2024-01-01T00:00:00Z',
    description: 'Zürich, 東京 and 🛰 in one string',
  };
}

function bundleText(objects: unknown[]): string {
  return JSON.stringify({
    type: 'bundle',
    id: 'bundle--6f6a1b5e-3f5d-4d3c-9d0b-2b8c0c7b8a11',
    objects,
  });
}

describe('BundleReader on valid input', () => {
  test('bundle yields objects in order', async () => {
    const objects = Array.from({ length: 50 }, (_, n) => indicator(n));
    const entries = await readAll(new BundleReader(chunked(bundleText(objects))));
    assert.equal(entries.length, 50);
    entries.forEach((entry, n) => {
      assert.equal(entry.index, n);
      assert.deepEqual('value' in entry && entry.value, objects[n]);
    });
  });

  test('one-byte chunks split characters', async () => {
    const objects = [indicator(1), indicator(2)];
    assert.deepEqual(await values(bundleText(objects), 1), objects);
  });

  test('TAXII envelope with more and next', async () => {
    const text = JSON.stringify({ more: true, next: 'abc', objects: [indicator(7)] });
    assert.deepEqual(await values(text), [indicator(7)]);
  });

  test('objects after other keys with nested values', async () => {
    const text =
      '{"x_meta": {"objects": [{"type": "decoy"}], "list": [[1, 2], {"a": null}]},' +
      ' "id": "bundle--1", "objects": [{"type": "a"}, {"type": "b"}], "type": "bundle"}';
    assert.deepEqual(await values(text), [{ type: 'a' }, { type: 'b' }]);
  });

  test('pretty-printed input with a byte-order mark', async () => {
    const text = '\ufeff' + JSON.stringify({ objects: [indicator(3)] }, null, 2);
    assert.deepEqual(await values(text), [indicator(3)]);
  });

  test('empty bundle and envelope', async () => {
    assert.deepEqual(await values('{"type": "bundle", "id": "bundle--1"}'), []);
    assert.deepEqual(await values('{"objects": []}'), []);
    assert.deepEqual(await values('{"more": false}'), []);
  });

  test('keeps the named top-level values', async () => {
    const text =
      '{"objects": [{"type": "a"}], "more": true, "next": "p2", "x_note": "dropped",' +
      ' "x_nested": {"more": false}}';
    const reader = new BundleReader(chunked(text, 7), {}, { keepKeys: ['more', 'next'] });
    assert.equal((await readAll(reader)).length, 1);
    assert.deepEqual(reader.topLevel, { more: true, next: 'p2' });
  });

  test('envelope without objects when they are optional', async () => {
    const reader = new BundleReader(chunked('{}'), {}, { objectsOptional: true });
    assert.deepEqual(await readAll(reader), []);
    assert.deepEqual(reader.topLevel, {});
  });

  test('non-object members are yielded as values', async () => {
    assert.deepEqual(await values('{"objects": [1, "two", null, true, [3], -0.5e2]}'), [
      1,
      'two',
      null,
      true,
      [3],
      -50,
    ]);
  });

  test('values match JSON.parse', async () => {
    const text =
      '{"objects": [{"n": 1e400, "s": "\\ud83d\\ude00 \\u0000 \\/", "big": 12345678901234567890, "e": {}, "a": []}]}';
    const expected = (JSON.parse(text) as { objects: unknown[] }).objects;
    assert.deepEqual(await values(text, 7), expected);
  });

  test('__proto__ key is an own property', async () => {
    const [value] = await values('{"objects": [{"__proto__": {"polluted": true}, "type": "x"}]}');
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.deepEqual(Object.keys(value as object), ['__proto__', 'type']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('string chunks from the source', async () => {
    async function* strings(): AsyncGenerator<string> {
      yield '{"objects": [{"name": "caf';
      yield 'é"}]}';
    }
    const entries = await readAll(new BundleReader(strings() as AsyncIterable<Uint8Array>));
    assert.deepEqual(entries, [{ index: 0, value: { name: 'café' } }]);
  });

  test('bytesRead counts the whole input', async () => {
    const text = bundleText([indicator(1), indicator(2), indicator(3)]);
    const reader = new BundleReader(chunked(text, 100));
    await readAll(reader);
    assert.equal(reader.bytesRead, Buffer.byteLength(text));
    assert.equal(reader.objectsRead, 3);
  });

  test('reads no further than needed', async () => {
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('{"objects": [');
      for (let n = 0; n < 10_000; n++) {
        pulled++;
        yield Buffer.from(`${n ? ',' : ''}${JSON.stringify(indicator(n))}`);
      }
      yield Buffer.from(']}');
    }
    const reader = new BundleReader(source());
    for await (const entry of reader) {
      if (entry.index === 9) break;
    }
    assert.ok(pulled <= 12, `pulled ${pulled} chunks for 10 objects`);
  });

  test('iterates only once', async () => {
    const reader = new BundleReader(chunked('{"objects": []}'));
    await readAll(reader);
    await assert.rejects(readAll(reader), /only once/);
  });
});

describe('BundleReader on the wrong top-level value', () => {
  const cases: [string, string, RegExp][] = [
    ['top-level array', '[{"type": "indicator"}]', /the input is an array: expected a STIX bundle/],
    ['top-level string', '"bundle"', /the input is a string/],
    ['top-level number', '42', /the input is a number/],
    ['no objects array', '{"id": "bundle--1", "spec_version": "2.1"}', /no "objects" array/],
    ['empty object', '{}', /no "objects" array/],
    ['objects is an object', '{"objects": {"a": 1}}', /"objects" is an object, not an array/],
    ['objects is null', '{"objects": null}', /"objects" is the literal null, not an array/],
    ['second objects key', '{"objects": [], "objects": []}', /second "objects" key/],
    ['single STIX object', JSON.stringify(indicator(1)), /type "indicator", not "bundle"/],
    ['type not a string', '{"type": 5, "objects": []}', /type a number, not "bundle"/],
  ];
  for (const [name, text, message] of cases) {
    test(name, async () => {
      const { error } = await failure(text);
      assert.equal(error.code, 'invalid-envelope');
      assert.match(error.message, message);
    });
  }
});

describe('BundleReader on broken JSON', () => {
  test('empty input', async () => {
    const { error } = await failure('');
    assert.equal(error.code, 'invalid-json');
    assert.match(error.message, /the input is empty/);
  });

  test('whitespace only', async () => {
    const { error } = await failure('  \n ');
    assert.match(error.message, /the input is empty/);
  });

  test('HTML instead of JSON', async () => {
    const { error } = await failure('<!DOCTYPE html><html></html>');
    assert.equal(error.code, 'invalid-json');
    assert.match(
      error.message,
      /^invalid JSON between bytes 0 and 28 \(line 1\): expected a value/,
    );
    assert.equal(error.byteOffset, 0);
  });

  test('error located after good objects', async () => {
    const head = bundleText(Array.from({ length: 40 }, (_, n) => indicator(n))).slice(0, -2);
    const text = `${head},\n{"type": "indicator", "id": oops}]}`;
    const errorAt = Buffer.byteLength(text.slice(0, text.indexOf('oops')));
    const { error, entries } = await failure(text, 4096);
    assert.equal(error.code, 'invalid-json');
    // Members that end in the slice holding the error are lost with the tokenizer's state.
    assert.ok(entries.length >= 36, `${entries.length} entries`);
    assert.ok(entries.length <= 40, `${entries.length} entries`);
    assert.equal(error.objectsRead, entries.length);
    const match = /between bytes (\d+) and (\d+) \(lines? (\d+)/.exec(error.message);
    assert.ok(match, error.message);
    assert.ok(Number(match[1]) <= errorAt, error.message);
    assert.ok(errorAt < Number(match[2]), error.message);
    assert.ok(Number(match[2]) - Number(match[1]) <= 1024 + 16);
    assert.equal(match[3], '1');
  });

  test('truncated file', async () => {
    const text = bundleText([indicator(1), indicator(2)]);
    const { error, entries } = await failure(text.slice(0, text.length - 30));
    assert.equal(entries.length, 1);
    assert.equal(error.code, 'invalid-json');
    assert.match(error.message, /the file is truncated/);
  });

  test('truncated after the objects array', async () => {
    const { error } = await failure('{"objects": [{"a": 1}], "id": "bundle--1"');
    assert.match(error.message, /truncated/);
  });

  test('trailing data after the bundle', async () => {
    const { error } = await failure('{"objects": []} {"objects": []}');
    assert.equal(error.code, 'invalid-json');
    assert.match(error.message, /unexpected characters/);
  });

  test('trailing comma', async () => {
    const { error } = await failure('{"objects": [{"a": 1},]}');
    assert.equal(error.code, 'invalid-json');
  });
});

describe('BundleReader on invalid UTF-8', () => {
  const prefix = Buffer.from('{"objects": [{"name": "ok"}, {"name": "caf');
  const suffix = Buffer.from('"}]}');

  const cases: [string, number[]][] = [
    ['stray continuation byte', [0x80]],
    ['0xFF byte', [0xff]],
    ['overlong encoding', [0xc0, 0xaf]],
    ['surrogate encoded in UTF-8', [0xed, 0xa0, 0x80]],
    ['lead byte then ASCII', [0xe2, 0x41]],
  ];
  for (const [name, bad] of cases) {
    test(name, async () => {
      const input = Buffer.concat([prefix, Buffer.from(bad), suffix]);
      for (const size of [65536, 1, 3]) {
        const { error } = await failure(input, size);
        assert.equal(error.code, 'invalid-encoding');
        assert.match(error.message, /^invalid UTF-8 at byte \d+ \(line 1\)/);
        const offset = error.byteOffset!;
        assert.ok(offset >= prefix.length, `offset ${offset} in chunks of ${size}`);
        assert.ok(offset < prefix.length + bad.length, `offset ${offset} in chunks of ${size}`);
      }
    });
  }

  test('input ends inside a character', async () => {
    const { error } = await failure(
      Buffer.concat([Buffer.from('{"objects": []}'), Buffer.from([0xe2, 0x82])]),
    );
    assert.equal(error.code, 'invalid-encoding');
    assert.match(error.message, /ends inside a multi-byte character/);
  });

  test('UTF-16 input', async () => {
    const { error } = await failure(Buffer.from('\ufeff{"objects": []}', 'utf16le'));
    assert.equal(error.code, 'invalid-encoding');
    assert.equal(error.byteOffset, 0);
  });

  test('valid multi-byte text at slice edges', async () => {
    const name = '€'.repeat(2000);
    assert.deepEqual(await values(`{"objects": [{"name": "${name}"}]}`, 1000), [{ name }]);
  });
});

describe('BundleReader limits', () => {
  function nested(depth: number): string {
    return '['.repeat(depth) + ']'.repeat(depth);
  }

  test('deep object is skipped, the rest read', async () => {
    const text = `{"objects": [{"a": 1}, {"deep": ${nested(150)}}, {"b": 2}]}`;
    const entries = await readAll(new BundleReader(chunked(text)));
    assert.deepEqual(entries[0], { index: 0, value: { a: 1 } });
    assert.deepEqual(entries[1], {
      index: 1,
      rule: 'depth',
      skipped: 'nested deeper than 100 levels',
    });
    assert.deepEqual(entries[2], { index: 2, value: { b: 2 } });
  });

  test('depth at the limit is accepted', async () => {
    const [value] = await values(`{"objects": [${nested(100)}]}`);
    let depth = 0;
    for (let level = value; Array.isArray(level); level = level[0]) depth++;
    assert.equal(depth, 100);
  });

  test('nesting past the tokenizer stops the read', async () => {
    const { error } = await failure(`{"objects": [${nested(5000)}]}`);
    assert.equal(error.code, 'payload-too-large');
    assert.match(error.message, /nested deeper than 1024 levels/);
  });

  test('large object is skipped, the rest read', async () => {
    const big = { type: 'x', list: Array.from({ length: 500 }, (_, n) => `item-${n}`) };
    const text = JSON.stringify({ objects: [{ a: 1 }, big, { b: 2 }] });
    const entries = await readAll(new BundleReader(chunked(text), { maxObjectSize: 2000 }));
    assert.equal(entries.length, 3);
    assert.deepEqual(entries[1], {
      index: 1,
      rule: 'too-large',
      skipped: 'larger than 2000 characters of keys, strings and numbers',
    });
    assert.deepEqual(entries[2], { index: 2, value: { b: 2 } });
  });

  test('100 MB string stops early', async () => {
    const total = 100 * 1024 * 1024;
    const piece = Buffer.alloc(65536, 'a');
    let produced = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('{"objects": [{"type": "artifact", "payload_bin": "');
      for (; produced < total; produced += piece.length) yield piece;
      yield Buffer.from('"}]}');
    }
    const before = process.memoryUsage().rss;
    const { error } = await failure(source());
    assert.equal(error.code, 'payload-too-large');
    assert.match(error.message, /longer than 33554432 characters/);
    assert.ok(produced < 40 * 1024 * 1024, `read ${produced} bytes before stopping`);
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 200 * 1024 * 1024, `RSS grew by ${grown} bytes`);
  });
});
