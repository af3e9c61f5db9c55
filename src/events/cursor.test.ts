import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { CursorCodec } from './cursor.ts';

const PATTERN = /^[A-Za-z0-9_-]{22}$/;

test('cursor round trip', () => {
  const codec = new CursorCodec(randomBytes(32));
  for (const seq of [0, 1, 2, 255, 256, 123_456_789, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
    const cursor = codec.encode(seq);
    assert.match(cursor, PATTERN);
    assert.equal(codec.decode(cursor), seq);
    assert.equal(codec.encode(seq), cursor, 'the same seq gives the same cursor');
  }
});

test('random cursors differ', () => {
  const codec = new CursorCodec(randomBytes(32));
  const cursors = new Set<string>();
  for (let i = 0; i < 2_000; i++) cursors.add(codec.encode(42, true));

  assert.equal(cursors.size, 2_000);
  assert.ok(!cursors.has(codec.encode(42)));
  for (const cursor of cursors) assert.equal(codec.decode(cursor), 42);
});

test('neighbours look unrelated', () => {
  const codec = new CursorCodec(randomBytes(32));
  const first = Buffer.from(codec.encode(1000), 'base64url');
  const second = Buffer.from(codec.encode(1001), 'base64url');
  let differing = 0;
  for (let i = 0; i < first.length; i++) if (first[i] !== second[i]) differing += 1;
  assert.ok(differing >= 10, `only ${differing} of 16 bytes differ`);
});

test('foreign and changed cursors rejected', () => {
  const codec = new CursorCodec(randomBytes(32));
  const other = new CursorCodec(randomBytes(32));
  const cursor = codec.encode(7);
  const changed = `${cursor[0] === 'A' ? 'B' : 'A'}${cursor.slice(1)}`;

  assert.equal(other.decode(cursor), undefined);
  assert.equal(codec.decode(changed), undefined);
  for (const text of ['', 'x', `${cursor}A`, cursor.slice(1), '!'.repeat(22), '7']) {
    assert.equal(codec.decode(text), undefined, JSON.stringify(text));
  }
  assert.throws(() => codec.encode(-1), RangeError);
  assert.throws(() => codec.encode(1.5), RangeError);
  assert.throws(() => new CursorCodec(randomBytes(16)), RangeError);
});

test('read tells own, foreign and malformed apart', () => {
  const codec = new CursorCodec(randomBytes(32));
  const other = new CursorCodec(randomBytes(32));
  assert.deepEqual(codec.read(codec.encode(7)), { kind: 'cursor', seq: 7 });
  assert.deepEqual(codec.read(codec.encode(7, true)), { kind: 'cursor', seq: 7 });
  assert.deepEqual(codec.read(other.encode(7)), { kind: 'foreign' });
  const cursor = codec.encode(9);
  const changed = `${cursor[0] === 'A' ? 'B' : 'A'}${cursor.slice(1)}`;
  assert.deepEqual(codec.read(changed), { kind: 'foreign' });
  const malformed = [
    '',
    'start',
    '2026-12-04T22:26:00Z',
    `${cursor}A`,
    cursor.slice(1),
    '!'.repeat(22),
  ];
  for (const text of malformed) {
    assert.deepEqual(codec.read(text), { kind: 'malformed' }, JSON.stringify(text));
  }
});
