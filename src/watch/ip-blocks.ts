/**
 * IPv4 and IPv6 blocks for the value matcher, one hash table per prefix length. An address
 * is looked up by masking it to each prefix length present, longest first, so a set of
 * /32, /24 and /16 keys costs three probes whatever its size. That is cheaper than a trie
 * walk in JavaScript, and it handles nested and overlapping blocks without extra work.
 */
import { Hash64, HASH_START_A, HASH_START_B, HashTable, mix32 } from './hash-table.ts';
import { formatIpv4, formatIpv6, ipv6FromWords, maskIpv4, maskIpv6Words } from './ip.ts';
import type { MatchHow, MatchVisitor } from './value-matcher.ts';

/** Calls `visit` for the item or items of a key, if any. */
export function visitItems<T>(
  items: T | readonly T[] | undefined,
  how: MatchHow,
  watched: string,
  visit: MatchVisitor<T>,
): void {
  if (items === undefined) return;
  if (!Array.isArray(items)) {
    visit(items as T, how, watched);
    return;
  }
  for (const item of items as readonly T[]) visit(item, how, watched);
}

/** Options of the tables, for tests. */
export interface TableOptions {
  /** Bits of each 32-bit hash half kept; 0 makes every key collide. */
  hashMask: number;
  /** Slots of a new table. */
  initialSlots: number;
}

/** Returns the prefix lengths with a table, longest first. */
function presentLengths(tables: ReadonlyArray<unknown>): number[] {
  const lengths: number[] = [];
  for (let length = tables.length - 1; length >= 0; length--) {
    if (tables[length] !== undefined) lengths.push(length);
  }
  return lengths;
}

function formatV4(address: number, prefixLength: number): string {
  const text = formatIpv4(address);
  return prefixLength === 32 ? text : `${text}/${prefixLength}`;
}

/** Hash tables of one address family by prefix length, and the lengths present. */
class PrefixTables<T extends object | number> {
  protected readonly tables: Array<HashTable<T> | undefined>;
  /** Prefix lengths present, longest first, so exact addresses are reported first. */
  protected lengths: number[] = [];

  constructor(
    protected readonly options: TableOptions,
    width: number,
    private readonly keyWidth: number,
  ) {
    this.tables = new Array<undefined>(width + 1).fill(undefined);
  }

  /** Returns the table of a prefix length, made when missing. */
  protected tableFor(prefixLength: number): HashTable<T> {
    let table = this.tables[prefixLength];
    if (!table) {
      table = new HashTable<T>(this.options.initialSlots, this.keyWidth);
      this.tables[prefixLength] = table;
      this.lengths = presentLengths(this.tables);
    }
    return table;
  }

  /** Removes an item from the key of a slot, and drops the table once it has no keys. */
  protected removeAt(prefixLength: number, slot: number, item: T): boolean {
    const table = this.tables[prefixLength]!;
    if (!removeItem(table, slot, item)) return false;
    if (table.size === 0) {
      this.tables[prefixLength] = undefined;
      this.lengths = presentLengths(this.tables);
    }
    return true;
  }
}

/** IPv4 blocks, keyed by the network address as a 32-bit integer. */
export class Ipv4Blocks<T extends object | number> extends PrefixTables<T> {
  constructor(options: TableOptions) {
    super(options, 32, 1);
  }

  private low(network: number): number {
    return mix32(network ^ HASH_START_A) & this.options.hashMask;
  }

  private high(network: number): number {
    return mix32(network ^ HASH_START_B) & this.options.hashMask;
  }

  /** Returns the slot of a network address in a table, or -1. */
  private find(table: HashTable<T>, network: number): number {
    const high = this.high(network);
    for (let slot = table.first(this.low(network), high); slot >= 0; slot = table.next(high)) {
      if (table.word(slot, 0) === network) return slot;
    }
    return -1;
  }

  /** Files an item under a block; returns false when the block has it already. */
  add(network: number, prefixLength: number, item: T): boolean {
    const table = this.tableFor(prefixLength);
    const found = this.find(table, network);
    if (found >= 0) return table.addItem(found, item);
    const slot = table.insert(
      this.low(network),
      this.high(network),
      formatV4(network, prefixLength),
      item,
    );
    table.setWord(slot, 0, network);
    return true;
  }

  /** Removes an item from a block; returns whether it was there. */
  remove(network: number, prefixLength: number, item: T): boolean {
    const table = this.tables[prefixLength];
    if (!table) return false;
    const slot = this.find(table, network);
    return slot >= 0 && this.removeAt(prefixLength, slot, item);
  }

  /** Visits the blocks that contain the address (a signed or unsigned 32-bit integer). */
  lookupAddress(address: number, how: MatchHow, visit: MatchVisitor<T>): void {
    const lengths = this.lengths;
    for (let i = 0; i < lengths.length; i++) {
      const length = lengths[i]!;
      const network = maskIpv4(address, length);
      const table = this.tables[length]!;
      const slot = this.find(table, network);
      if (slot < 0) continue;
      const matchHow = how === 'exact' && length !== 32 ? 'cidr' : how;
      visitItems(table.items(slot), matchHow, table.label(slot), visit);
    }
  }

  /** Visits the blocks that contain the block or lie inside it. */
  lookupBlock(network: number, prefixLength: number, visit: MatchVisitor<T>): void {
    for (const length of this.lengths) {
      const table = this.tables[length]!;
      if (length <= prefixLength) {
        const slot = this.find(table, maskIpv4(network, length));
        if (slot < 0) continue;
        const how = length === prefixLength ? 'exact' : 'cidr';
        visitItems(table.items(slot), how, table.label(slot), visit);
        continue;
      }
      // Blocks inside the query: scan the table, since enumerating 2^(length - prefixLength)
      // sub-blocks is only cheaper for small ranges, which a scan of a small table also is.
      for (const slot of table.slotsInOrder()) {
        if (maskIpv4(table.word(slot, 0), prefixLength) !== network) continue;
        visitItems(table.items(slot), 'cidr', table.label(slot), visit);
      }
    }
  }
}

/**
 * Removes an item from a group of the key of a slot, and the key with its last item.
 * Returns whether the item was there.
 */
export function removeItem<T extends object | number>(
  table: HashTable<T>,
  slot: number,
  item: T,
  group = 0,
): boolean {
  if (!table.removeItem(slot, item, group)) return false;
  if (table.unused(slot)) table.delete(slot);
  return true;
}

function formatV6(words: Int32Array, prefixLength: number): string {
  const text = formatIpv6(ipv6FromWords(words));
  return prefixLength === 128 ? text : `${text}/${prefixLength}`;
}

/** IPv6 blocks, keyed by the 64-bit hash of the four words of the network address. */
export class Ipv6Blocks<T extends object | number> extends PrefixTables<T> {
  private readonly hash = new Hash64();

  constructor(options: TableOptions) {
    super(options, 128, 4);
  }

  /** Hashes a network address into `this.hash`, with the test mask applied. */
  private hashOf(network: Int32Array): Hash64 {
    const hash = this.hash.ofWords(network);
    hash.low &= this.options.hashMask;
    hash.high &= this.options.hashMask;
    return hash;
  }

  /** Returns the slot of a network address in a table, or -1. */
  private find(table: HashTable<T>, network: Int32Array): number {
    const { low, high } = this.hashOf(network);
    for (let slot = table.first(low, high); slot >= 0; slot = table.next(high)) {
      if (
        table.word(slot, 0) === network[0] &&
        table.word(slot, 1) === network[1] &&
        table.word(slot, 2) === network[2] &&
        table.word(slot, 3) === network[3]
      ) {
        return slot;
      }
    }
    return -1;
  }

  /** Files an item under a block given as its masked network words. */
  add(network: Int32Array, prefixLength: number, item: T): boolean {
    const table = this.tableFor(prefixLength);
    const found = this.find(table, network);
    if (found >= 0) return table.addItem(found, item);
    const { low, high } = this.hashOf(network);
    const slot = table.insert(low, high, formatV6(network, prefixLength), item);
    for (let i = 0; i < 4; i++) table.setWord(slot, i, network[i]!);
    return true;
  }

  /** Removes an item from a block; returns whether it was there. */
  remove(network: Int32Array, prefixLength: number, item: T): boolean {
    const table = this.tables[prefixLength];
    if (!table) return false;
    const slot = this.find(table, network);
    return slot >= 0 && this.removeAt(prefixLength, slot, item);
  }

  /**
   * Visits the blocks that contain the address. `masked` is scratch space of four words
   * that this call overwrites.
   */
  lookupAddress(
    address: Int32Array,
    masked: Int32Array,
    how: MatchHow,
    visit: MatchVisitor<T>,
  ): void {
    for (const length of this.lengths) {
      const table = this.tables[length]!;
      maskIpv6Words(address, length, masked);
      const slot = this.find(table, masked);
      if (slot < 0) continue;
      const matchHow = how === 'exact' && length !== 128 ? 'cidr' : how;
      visitItems(table.items(slot), matchHow, table.label(slot), visit);
    }
  }

  /**
   * Visits the blocks that contain the block or lie inside it. `network` has its host bits
   * cleared; `masked` is scratch space of four words that this call overwrites.
   */
  lookupBlock(
    network: Int32Array,
    prefixLength: number,
    masked: Int32Array,
    visit: MatchVisitor<T>,
  ): void {
    for (const length of this.lengths) {
      const table = this.tables[length]!;
      if (length <= prefixLength) {
        maskIpv6Words(network, length, masked);
        const slot = this.find(table, masked);
        if (slot < 0) continue;
        const how = length === prefixLength ? 'exact' : 'cidr';
        visitItems(table.items(slot), how, table.label(slot), visit);
        continue;
      }
      for (const slot of table.slotsInOrder()) {
        for (let i = 0; i < 4; i++) masked[i] = table.word(slot, i);
        maskIpv6Words(masked, prefixLength, masked);
        if (
          masked[0] !== network[0] ||
          masked[1] !== network[1] ||
          masked[2] !== network[2] ||
          masked[3] !== network[3]
        ) {
          continue;
        }
        visitItems(table.items(slot), 'cidr', table.label(slot), visit);
      }
    }
  }
}
