/**
 * An open-addressing hash table over 64-bit key hashes, kept in typed arrays, for the value
 * matchers of the watch engine and the bulk look-up. A probe for an absent key usually
 * reads one byte (see HashTable), where a V8 Map of a million string keys reads its
 * bucket, its entry and the stored key string, each often a cache miss. The table offers
 * the slots whose hash may match, and the caller confirms each against the key stored
 * there (its label or its words), so two keys with one hash never match each other.
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
 * Name hashing (Hash64.ofName), one UTF-16 code unit at a time from the last to the first,
 * in two 32-bit lanes. The state after the units of a suffix is the hash state of that
 * suffix, so one pass over a domain name gives the hashes of all its parent domains.
 */
export const HASH_START_A = SEED_A;
export const HASH_START_B = SEED_B;

/** Lane A of the string hash: an FNV-1a step with the 32-bit FNV prime. */
export function stepA(state: number, code: number): number {
  return Math.imul(state ^ code, 0x01000193);
}

/**
 * Lane B of the string hash: the FNV-1a step with another odd multiplier. Neither lane
 * moves high bits down, which finishLow and finishHigh make up for.
 */
export function stepB(state: number, code: number): number {
  return Math.imul(state ^ code, 0x5bd1e995);
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

  /**
   * Hashes the code units of `text` from `start` to `end` (exclusive) one at a time, as the
   * one-pass hashing of a domain's parents does. Tables of domain names use this hash.
   */
  ofName(text: string, start = 0, end = text.length): this {
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

  /**
   * Hashes a whole string two code units at a time, which halves the steps for the long keys
   * of URLs and file hashes. It differs from ofName, so a table uses one or the other.
   */
  ofString(text: string): this {
    let a = HASH_START_A;
    let b = HASH_START_B;
    let i = text.length - 1;
    for (; i > 0; i -= 2) {
      const pair = text.charCodeAt(i) | (text.charCodeAt(i - 1) << 16);
      // The rotations carry the upper unit's bits down. Multiplication alone only moves
      // bits up, which left about 32 of the 64 bits to tell pairs apart.
      a = stepA(a, pair);
      a = (a << 13) | (a >>> 19);
      b = stepB(b, pair);
      b = (b << 17) | (b >>> 15);
    }
    if (i === 0) {
      const code = text.charCodeAt(0);
      a = stepA(a, code);
      b = stepB(b, code);
    }
    this.low = finishLow(a, b, text.length);
    this.high = finishHigh(a, b, text.length);
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

/** The tag byte of a used slot: this bit and the top seven bits of the hash's high half. */
const USED = 0x80;
/** The table grows when more than this share of its slots is in use. */
const MAX_LOAD = 0.5;
const MIN_SLOTS = 4;
/** Insertion numbers are renumbered from 0 before they pass this. */
const MAX_ORDER = 0x7fffffff;

/**
 * A table from 64-bit hashes to keys, with linear probing and backward-shift deletion (no
 * tombstones, so look-ups stay short after many removals). The low half of a key's hash
 * picks its home slot. A tag byte per slot contains seven bits of the high half, so a probe
 * for an absent key reads the key of a used slot it passes one time in 128. The tags take
 * one byte a slot, so they stay in the processor's cache more often than the keys do.
 *
 * A candidate is confirmed against its key, not against the rest of its stored hash: the
 * key has to be read anyway to rule out a collision, and reading it first saves one memory
 * read per match. The low half of the hash is kept per slot for moving keys on growth and
 * deletion.
 *
 * Each key has a label (the key text that look-ups report), `keyWidth` 32-bit words for keys
 * that are numbers, and `groups` groups of items. Groups keep the watchers of a domain
 * itself apart from those of its subdomains, so that one probe finds both. A key has at
 * least one item.
 * A lone item is kept without an array around it, since most keys have one. Items are
 * objects or numbers, never arrays. Everything is kept by slot, so a slot number is valid
 * only until the next insert or delete.
 */
export class HashTable<T extends object | number> {
  /** Tag byte of each slot: 0 when empty, else USED and seven bits of the hash. */
  private tags: Uint8Array;
  /** Low half of the hash of each slot's key. */
  private lows: Int32Array;
  /** Label of slot s at s * stride, then its item or items of each group (undefined: none). */
  private data: Array<string | T | T[] | undefined>;
  /** Elements of `data` per slot: the label and one per group. */
  private readonly stride: number;
  /** Key words of slot s from s * keyWidth. */
  private words: Int32Array;
  /** Insertion number of each slot's key, so scans visit keys in the order they came. */
  private order: Int32Array;
  private nextOrder = 0;
  private mask: number;
  private count = 0;
  /** The slot that `first` or `next` returned last. */
  private cursor = 0;

  /** `slotCount` is rounded up to a power of two; tests pass a small one to force growth. */
  constructor(
    slotCount = 16,
    private readonly keyWidth = 0,
    groups = 1,
  ) {
    let size = MIN_SLOTS;
    while (size < slotCount) size *= 2;
    this.mask = size - 1;
    this.stride = 1 + groups;
    this.tags = new Uint8Array(size);
    this.lows = new Int32Array(size);
    this.data = new Array<undefined>(size * this.stride).fill(undefined);
    this.words = new Int32Array(size * keyWidth);
    this.order = new Int32Array(size);
  }

  /** Number of keys. */
  get size(): number {
    return this.count;
  }

  /** Number of slots, a power of two. */
  get slotCount(): number {
    return this.mask + 1;
  }

  /**
   * Returns the first slot whose key may have the hash, or -1. It may also be a slot of
   * another key, so the caller confirms the key.
   */
  first(low: number, high: number): number {
    this.cursor = (low - 1) & this.mask;
    return this.next(high);
  }

  /** Returns the next slot whose key may have the hash, after the one last returned, or -1. */
  next(high: number): number {
    const tags = this.tags;
    const mask = this.mask;
    const tag = USED | (high >>> 25);
    // The load limit keeps a slot empty, so the loop ends.
    let slot = (this.cursor + 1) & mask;
    for (;;) {
      const found = tags[slot]!;
      if (found === 0) return -1;
      if (found === tag) {
        this.cursor = slot;
        return slot;
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Adds a key that the caller found absent, with an item in `group`; returns its slot. */
  insert(low: number, high: number, label: string, item: T, group = 0): number {
    if ((this.count + 1) / (this.mask + 1) > MAX_LOAD) this.resize((this.mask + 1) * 2);
    if (this.nextOrder === MAX_ORDER) this.renumber();
    let slot = low & this.mask;
    while (this.tags[slot] !== 0) slot = (slot + 1) & this.mask;
    this.tags[slot] = USED | (high >>> 25);
    this.lows[slot] = low;
    this.data[slot * this.stride] = label;
    this.data[slot * this.stride + 1 + group] = item;
    this.order[slot] = this.nextOrder++;
    this.count++;
    return slot;
  }

  /** Removes the key of a slot with its items. */
  delete(slot: number): void {
    if (this.tags[slot] === 0)
      throw new Error(`cannot delete from hash table slot ${slot}: it is empty`);
    const mask = this.mask;
    // Move back each later key of the run whose home is not between the hole and itself.
    let hole = slot;
    let from = slot;
    for (;;) {
      from = (from + 1) & mask;
      if (this.tags[from] === 0) break;
      const home = this.lows[from]! & mask;
      const stays = hole <= from ? hole < home && home <= from : hole < home || home <= from;
      if (stays) continue;
      this.move(from, hole);
      hole = from;
    }
    this.tags[hole] = 0;
    this.data.fill(undefined, hole * this.stride, (hole + 1) * this.stride);
    this.count--;
  }

  /** Returns word `index` of a slot's key. */
  word(slot: number, index: number): number {
    return this.words[slot * this.keyWidth + index]!;
  }

  /** Sets word `index` of a slot's key, after `insert`. */
  setWord(slot: number, index: number, value: number): void {
    this.words[slot * this.keyWidth + index] = value;
  }

  /** Returns the label a slot's key was inserted with. */
  label(slot: number): string {
    return this.data[slot * this.stride] as string;
  }

  /** Returns the item or items of a group of a slot's key, for loops that avoid a callback. */
  items(slot: number, group = 0): T | readonly T[] | undefined {
    return this.data[slot * this.stride + 1 + group] as T | readonly T[] | undefined;
  }

  /** Adds an item to a group of a slot's key; returns false when the group has it already. */
  addItem(slot: number, item: T, group = 0): boolean {
    const at = slot * this.stride + 1 + group;
    const current = this.data[at] as T | T[] | undefined;
    if (current === undefined) {
      this.data[at] = item;
      return true;
    }
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
   * Removes an item from a group of a slot's key; returns whether it was there. The caller
   * deletes the key when it has no items left (see `unused`).
   */
  removeItem(slot: number, item: T, group = 0): boolean {
    const at = slot * this.stride + 1 + group;
    const current = this.data[at] as T | T[] | undefined;
    if (!Array.isArray(current)) {
      if (current === undefined || current !== item) return false;
      this.data[at] = undefined;
      return true;
    }
    const index = current.indexOf(item);
    if (index < 0) return false;
    current.splice(index, 1);
    if (current.length === 1) this.data[at] = current[0]!;
    return true;
  }

  /** Checks whether a slot's key has no items left in any group. */
  unused(slot: number): boolean {
    for (let at = slot * this.stride + 1; at < (slot + 1) * this.stride; at++) {
      if (this.data[at] !== undefined) return false;
    }
    return true;
  }

  /** Returns the used slots in the order their keys were inserted, for scans. */
  slotsInOrder(): number[] {
    const used: number[] = [];
    for (let slot = 0; slot <= this.mask; slot++) if (this.tags[slot] !== 0) used.push(slot);
    return used.sort((a, b) => this.order[a]! - this.order[b]!);
  }

  private move(from: number, to: number): void {
    this.tags[to] = this.tags[from]!;
    this.lows[to] = this.lows[from]!;
    this.data.copyWithin(to * this.stride, from * this.stride, (from + 1) * this.stride);
    this.order[to] = this.order[from]!;
    const width = this.keyWidth;
    if (width > 0) this.words.copyWithin(to * width, from * width, from * width + width);
  }

  private resize(size: number): void {
    const old = { tags: this.tags, lows: this.lows, data: this.data, words: this.words };
    const order = this.order;
    const width = this.keyWidth;
    this.mask = size - 1;
    this.tags = new Uint8Array(size);
    this.lows = new Int32Array(size);
    this.data = new Array<undefined>(size * this.stride).fill(undefined);
    this.words = new Int32Array(size * width);
    this.order = new Int32Array(size);
    for (let from = 0; from < old.tags.length; from++) {
      if (old.tags[from] === 0) continue;
      let slot = old.lows[from]! & this.mask;
      while (this.tags[slot] !== 0) slot = (slot + 1) & this.mask;
      this.tags[slot] = old.tags[from]!;
      this.lows[slot] = old.lows[from]!;
      for (let i = 0; i < this.stride; i++) {
        this.data[slot * this.stride + i] = old.data[from * this.stride + i];
      }
      this.order[slot] = order[from]!;
      if (width > 0)
        this.words.set(old.words.subarray(from * width, from * width + width), slot * width);
    }
  }

  /** Numbers the keys from 0 in their insertion order, before the numbers run out. */
  private renumber(): void {
    const slots = this.slotsInOrder();
    for (let i = 0; i < slots.length; i++) this.order[slots[i]!] = i;
    this.nextOrder = slots.length;
  }
}
