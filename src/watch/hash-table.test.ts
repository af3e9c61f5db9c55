import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../testing/random.ts';
import { Hash64, HashTable } from './hash-table.ts';

/** Returns the slot of `label` among the candidates for the hash, or -1, as a caller confirms keys. */
function find(table: HashTable<number>, low: number, high: number, label: string): number {
  for (let slot = table.first(low, high); slot >= 0; slot = table.next(high)) {
    if (table.label(slot) === label) return slot;
  }
  return -1;
}

/** Returns the labels of every candidate for the hash, in probe order. */
function candidates(table: HashTable<number>, low: number, high: number): string[] {
  const found: string[] = [];
  for (let slot = table.first(low, high); slot >= 0; slot = table.next(high)) {
    found.push(table.label(slot));
  }
  return found;
}

describe('HashTable', () => {
  it('offers every key with one hash', () => {
    const table = new HashTable<number>(4);
    table.insert(7, 9, 'first', 1);
    table.insert(7, 9, 'second', 2);
    table.insert(7, 10 << 25, 'other tag', 3);
    assert.deepEqual(candidates(table, 7, 9).sort(), ['first', 'second']);
    assert.deepEqual(candidates(table, 7, 10 << 25), ['other tag']);
    assert.deepEqual(candidates(table, 8, 1 << 25), []);
    assert.equal(table.items(find(table, 7, 9, 'second')), 2);
    assert.equal(table.size, 3);
  });

  it('grows and keeps every key', () => {
    const table = new HashTable<number>(4);
    for (let i = 0; i < 10_000; i++) table.insert(i % 97, i, `key ${i}`, i);
    assert.equal(table.size, 10_000);
    assert.ok(table.slotCount >= 20_000, `${table.slotCount} slots`);
    for (let i = 0; i < 10_000; i++) {
      const slot = find(table, i % 97, i, `key ${i}`);
      assert.ok(slot >= 0, `key ${i} not found`);
      assert.equal(table.items(slot), i);
    }
  });

  it('finds the rest of a run after deletions', () => {
    // Every hash lands in a few slots, so runs wrap around the end of the table and deleting
    // from their middle must move later keys back.
    const next = seededRandom(1);
    const table = new HashTable<number>(4);
    const lows = new Map<number, number>();
    for (let step = 0; step < 20_000; step++) {
      const key = Math.floor(next() * 500);
      const low = lows.get(key);
      if (low !== undefined) {
        table.delete(find(table, low, key, `key ${key}`));
        lows.delete(key);
      } else {
        const home = Math.floor(next() * 4) - 2;
        table.insert(home, key, `key ${key}`, key);
        lows.set(key, home);
      }
    }
    assert.equal(table.size, lows.size);
    for (let key = 0; key < 500; key++) {
      const low = lows.get(key);
      const found = [-2, -1, 0, 1].map((home) => find(table, home, key, `key ${key}`));
      if (low === undefined) {
        assert.deepEqual(found, [-1, -1, -1, -1], `key ${key} was deleted`);
        continue;
      }
      const slot = find(table, low, key, `key ${key}`);
      assert.ok(slot >= 0, `key ${key} not found`);
      assert.equal(table.items(slot), key);
    }
  });

  it('lists slots in insertion order', () => {
    const table = new HashTable<number>(4);
    const labels = ['d', 'a', 'c', 'b', 'e', 'f'];
    labels.forEach((label, i) => table.insert(100 - i * 7, i, label, i));
    table.delete(find(table, 100 - 7, 1, 'a'));
    table.insert(3, 9, 'a', 9);
    assert.deepEqual(
      table.slotsInOrder().map((slot) => table.label(slot)),
      ['d', 'c', 'b', 'e', 'f', 'a'],
    );
  });

  it('rejects deleting an empty slot', () => {
    const table = new HashTable<number>(4);
    const slot = table.insert(1, 1, 'a', 1);
    assert.throws(() => table.delete((slot + 1) & 3), /it is empty/);
    assert.equal(table.size, 1);
  });

  it('adds and removes items of a key', () => {
    const table = new HashTable<{ name: string }>(4);
    const a = { name: 'a' };
    const b = { name: 'b' };
    const slot = table.insert(1, 1, 'key', a);
    assert.equal(table.addItem(slot, a), false, 'already there');
    assert.equal(table.addItem(slot, b), true);
    assert.deepEqual(table.items(slot), [a, b]);
    assert.equal(table.removeItem(slot, { name: 'a' }), false, 'another object');
    assert.equal(table.removeItem(slot, a), true);
    assert.equal(table.items(slot), b);
    assert.equal(table.unused(slot), false);
    assert.equal(table.removeItem(slot, b), true);
    assert.equal(table.items(slot), undefined);
    assert.equal(table.unused(slot), true);
  });

  it('keeps item groups apart', () => {
    const table = new HashTable<number>(4, 0, 2);
    const slot = table.insert(1, 1, 'evil.example', 10, 1);
    assert.equal(table.items(slot, 0), undefined);
    assert.equal(table.addItem(slot, 10, 0), true, 'the same item in the other group');
    assert.equal(table.addItem(slot, 11, 1), true);
    assert.equal(table.items(slot, 0), 10);
    assert.deepEqual(table.items(slot, 1), [10, 11]);
    assert.equal(table.removeItem(slot, 10, 0), true);
    assert.equal(table.unused(slot), false, 'group 1 still has items');

    // Growth and deletion of a neighbour move the groups with their key.
    for (let i = 0; i < 20; i++) table.insert(1, 100 + i, `other ${i}`, i, i % 2);
    table.delete(find(table, 1, 100, 'other 0'));
    const moved = find(table, 1, 1, 'evil.example');
    assert.equal(table.items(moved, 0), undefined);
    assert.deepEqual(table.items(moved, 1), [10, 11]);
    assert.equal(table.items(find(table, 1, 119, 'other 19'), 1), 19);
  });

  it('keeps key words across growth and deletion', () => {
    const table = new HashTable<number>(4, 4);
    for (let i = 0; i < 1_000; i++) {
      const slot = table.insert(i & 3, i << 25, String(i), i);
      for (let word = 0; word < 4; word++) table.setWord(slot, word, i * 4 + word);
    }
    for (let i = 0; i < 1_000; i += 3) table.delete(find(table, i & 3, i << 25, String(i)));
    for (let i = 0; i < 1_000; i++) {
      const slot = find(table, i & 3, i << 25, String(i));
      if (i % 3 === 0) {
        assert.equal(slot, -1, `key ${i} was deleted`);
        continue;
      }
      for (let word = 0; word < 4; word++) assert.equal(table.word(slot, word), i * 4 + word);
    }
  });
});

describe('Hash64', () => {
  it('hashes a substring as the string itself', () => {
    const whole = new Hash64().ofName('evil.example');
    const inside = new Hash64().ofName('http://evil.example/x', 7, 19);
    assert.equal(inside.low, whole.low);
    assert.equal(inside.high, whole.high);
  });

  it('hashes pairs apart by their upper unit', () => {
    // Strings that differ only in the upper unit of each pair that ofString hashes.
    const alphabet = 'abcdefghijklmnopqrstuvwxyz012345';
    const seen = new Set<string>();
    const hash = new Hash64();
    for (let i = 0; i < 2 ** 18; i++) {
      let text = '';
      for (let digit = 0; digit < 4; digit++) text += `${alphabet[(i >> (digit * 5)) & 31]}.`;
      hash.ofString(text);
      seen.add(`${hash.low}:${hash.high}`);
    }
    assert.equal(seen.size, 2 ** 18);
  });

  it('gives distinct hashes to similar strings', () => {
    for (const method of ['ofName', 'ofString'] as const) {
      const seen = new Set<string>();
      const hash = new Hash64();
      for (let i = 0; i < 100_000; i++) {
        hash[method](`w${i}.example.com`);
        seen.add(`${hash.low}:${hash.high}`);
        hash[method](`http://u${i}.example.org/${i % 2 === 0 ? 'a' : 'ab'}`);
        seen.add(`${hash.low}:${hash.high}`);
      }
      assert.equal(seen.size, 200_000, method);
      // Keys that differ only in the length they cover, or in where a pair of units splits.
      const texts = ['', '\u0000', '\u0000\u0000', 'a', '\u0000a', 'ab', 'ba', 'abc', 'a\u0000bc'];
      const hashes = texts.map((text) => {
        hash[method](text);
        return `${hash.low}:${hash.high}`;
      });
      assert.equal(new Set(hashes).size, texts.length, method);
    }
  });
});
