/**
 * A set of STIX ids (`type--uuid`) kept as 128-bit UUIDs in one Int32Array with linear
 * probing, 32 to 64 bytes per id depending on the load. A run of a snapshot list notes the
 * indicator id of every value it reads here, so that a million-line feed costs tens of
 * megabytes rather than a Set of a million strings.
 *
 * Written here rather than with HashTable (src/watch/hash-table.ts), which keeps a label
 * string and an item per slot, so it would keep every id string alive. Only the UUID part
 * of an id is stored, so ids of different types with one UUID count as one.
 */

const WORDS = 4;
const MAX_LOAD = 0.5;

/** Parses the UUID of a STIX id into `words`; returns false when it is no UUID. */
function parseUuid(id: string, words: Int32Array): boolean {
  const separator = id.indexOf('--');
  if (separator < 0) return false;
  const hex = id.slice(separator + 2).replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return false;
  for (let index = 0; index < WORDS; index++) {
    words[index] = Number.parseInt(hex.slice(index * 8, index * 8 + 8), 16) | 0;
  }
  return true;
}

export class UuidSet {
  /** Four words a slot; a slot whose words are all 0 is empty, which the nil UUID cannot use. */
  private slots: Int32Array;
  private mask: number;
  private count = 0;
  private nil = false;
  private readonly key = new Int32Array(WORDS);

  constructor(slotCount = 1024) {
    let size = 16;
    while (size < slotCount) size *= 2;
    this.mask = size - 1;
    this.slots = new Int32Array(size * WORDS);
  }

  get size(): number {
    return this.count + (this.nil ? 1 : 0);
  }

  /** Adds the UUID of a STIX id; returns false when the id contains no UUID. */
  add(id: string): boolean {
    if (!parseUuid(id, this.key)) return false;
    if (this.isNil(this.key)) {
      this.nil = true;
      return true;
    }
    if ((this.count + 1) / (this.mask + 1) > MAX_LOAD) this.grow();
    if (this.find(this.key) < 0) {
      this.place(this.key, this.slots);
      this.count++;
    }
    return true;
  }

  has(id: string): boolean {
    if (!parseUuid(id, this.key)) return false;
    if (this.isNil(this.key)) return this.nil;
    return this.find(this.key) >= 0;
  }

  private isNil(key: Int32Array): boolean {
    return key[0] === 0 && key[1] === 0 && key[2] === 0 && key[3] === 0;
  }

  /** Home slot of a key, from its first and last words, which are random in UUIDv4 and v5. */
  private home(key: Int32Array): number {
    return Math.imul(key[3]! ^ key[0]!, 0x9e3779b1) & this.mask;
  }

  /** Returns the slot holding the key, or -1. */
  private find(key: Int32Array): number {
    const slots = this.slots;
    for (let slot = this.home(key); ; slot = (slot + 1) & this.mask) {
      if (this.emptyAt(slots, slot)) return -1;
      const at = slot * WORDS;
      if (
        slots[at] === key[0] &&
        slots[at + 1] === key[1] &&
        slots[at + 2] === key[2] &&
        slots[at + 3] === key[3]
      ) {
        return slot;
      }
    }
  }

  private place(key: Int32Array, slots: Int32Array): void {
    let slot = this.home(key);
    while (!this.emptyAt(slots, slot)) slot = (slot + 1) & this.mask;
    slots.set(key, slot * WORDS);
  }

  private emptyAt(slots: Int32Array, slot: number): boolean {
    const at = slot * WORDS;
    return slots[at] === 0 && slots[at + 1] === 0 && slots[at + 2] === 0 && slots[at + 3] === 0;
  }

  private grow(): void {
    const old = this.slots;
    const oldSize = this.mask + 1;
    this.mask = oldSize * 2 - 1;
    this.slots = new Int32Array(oldSize * 2 * WORDS);
    for (let slot = 0; slot < oldSize; slot++) {
      if (!this.emptyAt(old, slot))
        this.place(old.subarray(slot * WORDS, slot * WORDS + WORDS), this.slots);
    }
  }
}
