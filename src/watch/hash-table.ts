/**
 * An open-addressing hash table over 64-bit key hashes, kept in typed arrays, for the value
 * matchers of the watch engine and the bulk look-up. A probe for an absent key usually
 * reads one byte (see HashTable), where a V8 Map of a million string keys reads its
 * bucket, its entry and the stored key string, each often a cache miss. The table stores
 * hashes, not keys. The caller keeps each entry's key and confirms it after `first` and
 * `next`, so two keys with one 64-bit hash are two entries and never match each other.
 *
 * Written here because no npm package fits on Node 20. mnemonist 0.40 has no hash table
 * with string keys, and ml-hash-table 1.0 takes integer keys only, as their own hash. The
 * native and WebAssembly tables and xxHash bindings cost a call across the boundary per
 * look-up, need the key copied out of the JS string, and return 64-bit hashes as BigInts.
 * None of them hash a substring in place or all parents of a domain name in one pass, which
 * the matchers need to look up a URL's host and a domain's parents without slicing strings.
 */
import { randomFillSync } from 'node:crypto';

/**
 * Per-process random seeds, so that hashes differ between processes. NOTE: the hash is not
 * a keyed pseudo-random function like SipHash, so keys crafted to collide could still
 * lengthen probe chains. Matches stay correct, because every key is confirmed.
 */
const SEEDS = randomFillSync(new Int32Array(2));
const SEED_A = SEEDS[0]!;
const SEED_B = SEEDS[1]!;

/** Mixes a 32-bit value with MurmurHash3's fmix32, a bijection that spreads every bit. */
export function mix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * String hashing, one UTF-16 code unit at a time from the last to the first, in two 32-bit
 * lanes. The state after the units of a suffix is the hash state of that suffix, so one
 * pass over a domain name gives the hashes of all its parent domains.
 */
export const HASH_START_A = SEED_A;
export const HASH_START_B = SEED_B;

/** Lane A of the string hash: an FNV-1a step with the 32-bit FNV prime. */
export function stepA(state: number, code: number): number {
  return Math.imul(state ^ code, 0x01000193);
}

/** Lane B of the string hash: a multiply and xor-shift step, so high bits reach low ones. */
export function stepB(state: number, code: number): number {
  const h = Math.imul(state ^ code, 0x5bd1e995);
  return h ^ (h >>> 15);
}

/** Finishes the low 32 bits of a string hash from both lanes and the length in code units. */
export function finishLow(a: number, b: number, length: number): number {
  return mix32(a ^ Math.imul(b, 0x9e3779b1) ^ length);
}

/** Finishes the high 32 bits of a string hash from both lanes and the length in code units. */
export function finishHigh(a: number, b: number, length: number): number {
  return mix32(b ^ Math.imul(a ^ length, 0x27d4eb2f));
}

/** A 64-bit hash as two signed 32-bit halves, filled in place to avoid an allocation per hash. */
export class Hash64 {
  low = 0;
  high = 0;

  /** Hashes the code units of `text` from `start` to `end` (exclusive). */
  ofString(text: string, start = 0, end = text.length): this {
    let a = HASH_START_A;
    let b = HASH_START_B;
    for (let i = end - 1; i >= start; i--) {
      const code = text.charCodeAt(i);
      a = stepA(a, code);
      b = stepB(b, code);
    }
    this.low = finishLow(a, b, end - start);
    this.high = finishHigh(a, b, end - start);
    return this;
  }

  /** Hashes four 32-bit words, such as an IPv6 address. */
  ofWords(words: Int32Array): this {
    let a = SEED_A;
    let b = SEED_B;
    for (let i = 0; i < 4; i++) {
      a = mix32(a ^ words[i]!);
      b = mix32(Math.imul(b, 0x9e3779b1) + words[i]!);
    }
    this.low = a;
    this.high = b;
    return this;
  }
}

/** Slot layout: hash low, hash high, entry + 1 (0: empty). */
const SLOT_WIDTH = 3;
/** The tag byte of a used slot: this bit and the top seven bits of the hash's low half. */
const USED = 0x80;
/** The table grows when more than this share of its slots is in use. */
const MAX_LOAD = 0.5;
const MIN_SLOTS = 4;

/**
 * A table from 64-bit hashes to entries, with linear probing and backward-shift deletion
 * (no tombstones, so look-ups stay short after many removals). A tag byte per slot contains
 * seven bits of the hash, so a probe reads the 12-byte slot only when the tag matches: for
 * an absent key, one time in 128 per used slot passed. The tags take a twelfth of the
 * memory of the slots, so they stay in the processor's cache more often.
 *
 * Each entry has a label (the key text that look-ups report), `keyWidth` 32-bit words of
 * key for keys that are numbers, and one or more items. A lone item is kept without an
 * array around it, since most keys have one. Items are objects or numbers, never arrays.
 */
export class HashTable<T extends object | number> {
  private slots: Int32Array;
  /** Tag byte of each slot: 0 when empty, else USED and seven bits of the hash. */
  private tags: Uint8Array;
  private mask: number;
  /** Label of entry e at 2e, its item or items at 2e + 1; both undefined for a free entry. */
  private readonly data: Array<string | T | T[] | undefined> = [];
  private readonly freeEntries: number[] = [];
  /** Key words of entry e from e * keyWidth. */
  private words: Int32Array;
  private count = 0;
  /** The slot that `first` or `next` returned last. */
  private cursor = 0;

  /** `slotCount` is rounded up to a power of two; tests pass a small one to force growth. */
  constructor(
    slotCount = 16,
    private readonly keyWidth = 0,
  ) {
    let size = MIN_SLOTS;
    while (size < slotCount) size *= 2;
    this.slots = new Int32Array(size * SLOT_WIDTH);
    this.tags = new Uint8Array(size);
    this.mask = size - 1;
    this.words = new Int32Array(size * keyWidth);
  }

  /** Number of entries. */
  get size(): number {
    return this.count;
  }

  /** Number of slots, a power of two. */
  get slotCount(): number {
    return this.mask + 1;
  }

  /** Returns the first entry with the hash, or -1. The caller confirms the key. */
  first(low: number, high: number): number {
    this.cursor = (low - 1) & this.mask;
    return this.next(low, high);
  }

  /** Returns the next entry with the hash after the one `first` or `next` returned, or -1. */
  next(low: number, high: number): number {
    const tags = this.tags;
    const mask = this.mask;
    const tag = USED | (low >>> 25);
    // The load limit keeps a slot empty, so the loop ends.
    let slot = (this.cursor + 1) & mask;
    for (;;) {
      const found = tags[slot]!;
      if (found === 0) return -1;
      if (found === tag) {
        const at = slot * SLOT_WIDTH;
        if (this.slots[at] === low && this.slots[at + 1] === high) {
          this.cursor = slot;
          return this.slots[at + 2]! - 1;
        }
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Adds an entry for a key the caller found absent; returns its number. */
  insert(low: number, high: number, label: string, item: T): number {
    if ((this.count + 1) / (this.mask + 1) > MAX_LOAD) this.resize((this.mask + 1) * 2);
    const entry = this.freeEntries.pop() ?? this.data.length / 2;
    if ((entry + 1) * this.keyWidth > this.words.length) {
      const words = new Int32Array(this.words.length * 2);
      words.set(this.words);
      this.words = words;
    }
    this.data[entry * 2] = label;
    this.data[entry * 2 + 1] = item;
    this.place(this.slots, this.tags, this.mask, low, high, entry + 1);
    this.count++;
    return entry;
  }

  /** Removes an entry with its items; `low` and `high` are the hash it was inserted with. */
  delete(entry: number, low: number, high: number): void {
    const slots = this.slots;
    const tags = this.tags;
    const mask = this.mask;
    let hole = low & mask;
    while (slots[hole * SLOT_WIDTH + 2] !== entry + 1) {
      if (slots[hole * SLOT_WIDTH + 2] === 0)
        throw new Error(`hash table entry ${entry} not found`);
      hole = (hole + 1) & mask;
    }
    const at = hole * SLOT_WIDTH;
    if (slots[at] !== low || slots[at + 1] !== high) {
      throw new Error(`hash table entry ${entry} has another hash than the one given`);
    }

    // Move back each later slot of the run whose home is not between the hole and itself.
    let slot = hole;
    for (;;) {
      slot = (slot + 1) & mask;
      const from = slot * SLOT_WIDTH;
      if (slots[from + 2] === 0) break;
      const home = slots[from]! & mask;
      const stays = hole <= slot ? hole < home && home <= slot : hole < home || home <= slot;
      if (stays) continue;
      slots.copyWithin(hole * SLOT_WIDTH, from, from + SLOT_WIDTH);
      tags[hole] = tags[slot]!;
      hole = slot;
    }
    slots.fill(0, hole * SLOT_WIDTH, hole * SLOT_WIDTH + SLOT_WIDTH);
    tags[hole] = 0;

    this.data[entry * 2] = undefined;
    this.data[entry * 2 + 1] = undefined;
    this.freeEntries.push(entry);
    this.count--;
  }

  /** Returns word `index` of an entry's key. */
  word(entry: number, index: number): number {
    return this.words[entry * this.keyWidth + index]!;
  }

  /** Sets word `index` of an entry's key, after `insert`. */
  setWord(entry: number, index: number, value: number): void {
    this.words[entry * this.keyWidth + index] = value;
  }

  /** Returns the label an entry was inserted with. */
  label(entry: number): string {
    return this.data[entry * 2] as string;
  }

  /** The item or items of an entry, for loops that avoid a callback. */
  items(entry: number): T | readonly T[] {
    return this.data[entry * 2 + 1] as T | readonly T[];
  }

  /** Adds an item to an entry; returns false when the entry has it already. */
  addItem(entry: number, item: T): boolean {
    const at = entry * 2 + 1;
    const current = this.data[at] as T | T[];
    if (Array.isArray(current)) {
      if (current.includes(item)) return false;
      current.push(item);
      return true;
    }
    if (current === item) return false;
    this.data[at] = [current, item];
    return true;
  }

  /**
   * Removes an item from an entry; returns whether it was there. An entry keeps at least
   * one item: when `item` is its last, the caller deletes the entry instead.
   */
  removeItem(entry: number, item: T): boolean {
    const at = entry * 2 + 1;
    const current = this.data[at] as T | T[];
    if (!Array.isArray(current)) return current === item;
    const index = current.indexOf(item);
    if (index < 0) return false;
    current.splice(index, 1);
    if (current.length === 1) this.data[at] = current[0]!;
    return true;
  }

  /** Checks whether an entry has more than one item. */
  shared(entry: number): boolean {
    return Array.isArray(this.data[entry * 2 + 1]);
  }

  /** Every entry number in use, for scans that cannot use a hash. */
  *entries(): IterableIterator<number> {
    for (let entry = 0; entry * 2 < this.data.length; entry++) {
      if (this.data[entry * 2] !== undefined) yield entry;
    }
  }

  private resize(size: number): void {
    const old = this.slots;
    const slots = new Int32Array(size * SLOT_WIDTH);
    const tags = new Uint8Array(size);
    const mask = size - 1;
    for (let at = 0; at < old.length; at += SLOT_WIDTH) {
      const entry = old[at + 2]!;
      if (entry !== 0) this.place(slots, tags, mask, old[at]!, old[at + 1]!, entry);
    }
    this.slots = slots;
    this.tags = tags;
    this.mask = mask;
  }

  private place(
    slots: Int32Array,
    tags: Uint8Array,
    mask: number,
    low: number,
    high: number,
    value: number,
  ): void {
    let slot = low & mask;
    while (tags[slot] !== 0) slot = (slot + 1) & mask;
    tags[slot] = USED | (low >>> 25);
    const at = slot * SLOT_WIDTH;
    slots[at] = low;
    slots[at + 1] = high;
    slots[at + 2] = value;
  }
}
