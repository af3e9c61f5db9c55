import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../testing/random.ts';
import { Hash64, HashTable } from './hash-table.ts';

/** Returns every entry with the hash, in probe order. */
function entriesWith(table: HashTable<number>, low: number, high: number): number[] {
  const found: number[] = [];
  for (let entry = table.first(low, high); entry >= 0; entry = table.next(low, high)) {
    found.push(entry);
  }
  return found;
}

describe('HashTable', () => {
  it('keeps entries with one hash apart', () => {
    const table = new HashTable<number>(4);
    const first = table.insert(7, 9, 'first', 1);
    const second = table.insert(7, 9, 'second', 2);
    const other = table.insert(7, 10, 'other', 3);
    assert.deepEqual(entriesWith(table, 7, 9).sort(), [first, second].sort());
    assert.deepEqual(entriesWith(table, 7, 10), [other]);
    assert.deepEqual(entriesWith(table, 8, 9), []);
    assert.equal(table.label(second), 'second');
    assert.equal(table.items(other), 3);
  });

  it('grows and keeps every entry', () => {
    const table = new HashTable<number>(4);
    for (let i = 0; i < 10_000; i++) table.insert(i % 97, i, `key ${i}`, i);
    assert.equal(table.size, 10_000);
    assert.ok(table.slotCount >= 20_000, `${table.slotCount} slots`);
    for (let i = 0; i < 10_000; i++) {
      const found = entriesWith(table, i % 97, i);
      assert.equal(found.length, 1, `key ${i}`);
      assert.equal(table.label(found[0]!), `key ${i}`);
    }
  });

  it('finds the rest of a run after deletions', () => {
    // Every hash lands in a few slots, so runs wrap around the end of the table and deleting
    // from their middle must move later entries back.
    const next = seededRandom(1);
    const table = new HashTable<number>(4);
    const model = new Map<number, { entry: number; low: number }>();
    for (let step = 0; step < 20_000; step++) {
      const key = Math.floor(next() * 500);
      const present = model.get(key);
      if (present) {
        table.delete(present.entry, present.low, key);
        model.delete(key);
      } else {
        const low = Math.floor(next() * 4) - 2;
        model.set(key, { entry: table.insert(low, key, `key ${key}`, key), low });
      }
    }
    assert.equal(table.size, model.size);
    for (let key = 0; key < 500; key++) {
      const present = model.get(key);
      const found = [-2, -1, 0, 1].flatMap((low) => entriesWith(table, low, key));
      if (!present) {
        assert.deepEqual(found, [], `key ${key} was deleted`);
        continue;
      }
      assert.deepEqual(found, [present.entry], `key ${key}`);
      assert.equal(table.items(present.entry), key);
    }
    assert.deepEqual(
      [...table.entries()].map((entry) => table.items(entry) as number).sort((a, b) => a - b),
      [...model.keys()].sort((a, b) => a - b),
    );
  });

  it('reuses the numbers of deleted entries', () => {
    const table = new HashTable<number>(4);
    const first = table.insert(1, 1, 'a', 1);
    table.insert(2, 2, 'b', 2);
    table.delete(first, 1, 1);
    assert.equal(table.insert(3, 3, 'c', 3), first);
    assert.equal(table.label(first), 'c');
  });

  it('rejects a delete with the wrong hash', () => {
    const table = new HashTable<number>(4);
    const entry = table.insert(1, 1, 'a', 1);
    assert.throws(() => table.delete(entry, 1, 2), /another hash/);
    assert.throws(() => table.delete(entry + 1, 1, 1), /not found/);
    assert.equal(table.size, 1);
  });

  it('adds and removes items of an entry', () => {
    const table = new HashTable<{ name: string }>(4);
    const a = { name: 'a' };
    const b = { name: 'b' };
    const entry = table.insert(1, 1, 'key', a);
    assert.equal(table.addItem(entry, a), false, 'already there');
    assert.equal(table.addItem(entry, b), true);
    assert.deepEqual(table.items(entry), [a, b]);
    assert.equal(table.shared(entry), true);
    assert.equal(table.removeItem(entry, { name: 'a' }), false, 'another object');
    assert.equal(table.removeItem(entry, a), true);
    assert.equal(table.items(entry), b);
    assert.equal(table.shared(entry), false);
  });

  it('keeps key words across growth', () => {
    const table = new HashTable<number>(4, 4);
    for (let i = 0; i < 1_000; i++) {
      const entry = table.insert(i, i, String(i), i);
      for (let word = 0; word < 4; word++) table.setWord(entry, word, i * 4 + word);
    }
    for (let i = 0; i < 1_000; i++) {
      const entry = table.first(i, i);
      for (let word = 0; word < 4; word++) assert.equal(table.word(entry, word), i * 4 + word);
    }
  });
});

describe('Hash64', () => {
  it('hashes a substring as the string itself', () => {
    const whole = new Hash64().ofString('evil.example');
    const inside = new Hash64().ofString('http://evil.example/x', 7, 19);
    assert.equal(inside.low, whole.low);
    assert.equal(inside.high, whole.high);
  });

  it('gives distinct hashes to similar strings', () => {
    const seen = new Set<string>();
    const hash = new Hash64();
    for (let i = 0; i < 100_000; i++) {
      hash.ofString(`w${i}.example.com`);
      seen.add(`${hash.low}:${hash.high}`);
    }
    assert.equal(seen.size, 100_000);
    // A key that differs only by the length it covers.
    const empty = new Hash64().ofString('');
    const nul = new Hash64().ofString('\u0000');
    assert.notDeepEqual([empty.low, empty.high], [nul.low, nul.high]);
  });
});
