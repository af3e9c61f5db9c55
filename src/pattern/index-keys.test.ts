import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { extractIndexKeys, type IndexKey } from './index.ts';

/** Returns the keys of the only observation expression of a pattern. */
function keysOf(pattern: string): IndexKey[] | 'unindexable' {
  const [first, ...rest] = extractIndexKeys(pattern);
  assert.ok(first);
  assert.equal(rest.length, 0);
  return first.keys;
}

describe('index keys', () => {
  test('equality on a hash', () => {
    assert.deepEqual(keysOf("[file:hashes.'SHA-256' = 'abc']"), [
      {
        objectType: 'file',
        path: "hashes.'SHA-256'",
        kind: 'equals',
        valueType: 'string',
        value: 'abc',
      },
    ]);
  });

  test('IN expands to alternatives', () => {
    assert.deepEqual(keysOf('[x:port IN (80, 443)]'), [
      { objectType: 'x', path: 'port', kind: 'equals', valueType: 'number', value: 80 },
      { objectType: 'x', path: 'port', kind: 'equals', valueType: 'number', value: 443 },
    ]);
  });

  test('empty IN never matches', () => {
    assert.deepEqual(keysOf('[x:port IN ()]'), []);
  });

  test('binary literal as hex', () => {
    assert.deepEqual(keysOf("[file:magic_number_hex = b'TVo=']"), [
      {
        objectType: 'file',
        path: 'magic_number_hex',
        kind: 'equals',
        valueType: 'binary',
        value: '4d5a',
      },
    ]);
  });

  test('ISSUBSET gives a range', () => {
    assert.deepEqual(keysOf("[ipv4-addr:value ISSUBSET '10.1.2.3/16']"), [
      {
        objectType: 'ipv4-addr',
        path: 'value',
        kind: 'cidr-range',
        family: 4,
        first: 0x0a010000n,
        last: 0x0a01ffffn,
      },
    ]);
    assert.deepEqual(keysOf("[ipv6-addr:value ISSUBSET '2001:db8::/126']"), [
      {
        objectType: 'ipv6-addr',
        path: 'value',
        kind: 'cidr-range',
        family: 6,
        first: 0x20010db8000000000000000000000000n,
        last: 0x20010db8000000000000000000000003n,
      },
    ]);
  });

  test('LIKE gives a prefix', () => {
    assert.deepEqual(keysOf("[url:value LIKE 'http://evil.example/%']"), [
      { objectType: 'url', path: 'value', kind: 'prefix', prefix: 'http://evil.example/' },
    ]);
    assert.equal(keysOf("[url:value LIKE '%evil%']"), 'unindexable');
    assert.equal(keysOf("[url:value LIKE '_evil']"), 'unindexable');
  });

  test('negative and range tests unindexable', () => {
    for (const comparison of [
      "file:name != 'a'",
      "file:name NOT = 'a'",
      'file:size > 10',
      "file:name MATCHES '^a'",
      'EXISTS file:name',
      "file:created = t'2020-01-01T00:00:00Z'",
      "ipv4-addr:value ISSUPERSET '10.0.0.1'",
    ]) {
      assert.equal(keysOf(`[${comparison}]`), 'unindexable', comparison);
    }
  });

  test('AND picks the narrowest operand', () => {
    const keys = keysOf("[file:size > 10 AND file:name IN ('a', 'b') AND file:hashes.MD5 = 'c']");
    assert.deepEqual(keys, [
      { objectType: 'file', path: 'hashes.MD5', kind: 'equals', valueType: 'string', value: 'c' },
    ]);
  });

  test('AND prefers exact over prefix', () => {
    const keys = keysOf("[url:value LIKE 'http%' AND url:value IN ('a', 'b')]");
    assert.equal(Array.isArray(keys) && keys.length, 2);
  });

  test('OR needs every operand', () => {
    assert.equal(keysOf("[file:name = 'a' OR file:size > 3]"), 'unindexable');
    assert.deepEqual(keysOf("[file:name = 'a' OR directory:path = 'b']"), [
      { objectType: 'file', path: 'name', kind: 'equals', valueType: 'string', value: 'a' },
      { objectType: 'directory', path: 'path', kind: 'equals', valueType: 'string', value: 'b' },
    ]);
  });

  test('one entry per observation expression', () => {
    const entries = extractIndexKeys(
      "([file:name = 'a'] AND [file:size > 1]) WITHIN 5 SECONDS FOLLOWEDBY [url:value = 'u']",
    );
    assert.deepEqual(
      entries.map((entry) => [
        entry.start,
        entry.end,
        Array.isArray(entry.keys) ? entry.keys.length : entry.keys,
      ]),
      [
        [1, 18, 1],
        [23, 38, 'unindexable'],
        [68, 85, 1],
      ],
    );
  });

  test('paths quote when needed', () => {
    const keys = keysOf("[x:'AND'.'a b'.list[*][2].'it''s' = 1]".replace("'it''s'", "'it\\'s'"));
    assert.ok(Array.isArray(keys));
    assert.equal(keys[0]?.path, "'AND'.'a b'.list[*][2].'it\\'s'");
  });
});
