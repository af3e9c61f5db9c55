/**
 * IPv4 and IPv6 blocks for the value matcher, one hash table per prefix length. An address
 * is looked up by masking it to each prefix length present, longest first, so a set of
 * /32, /24 and /16 keys costs three probes whatever its size. That is cheaper than a trie
 * walk in JavaScript, and it handles nested and overlapping blocks without extra work.
 */
import { Hash64, HASH_START_A, HashTable, mix32 } from './hash-table.ts';
import { formatIpv4, formatIpv6, ipv6FromWords, maskIpv4, maskIpv6Words } from './ip.ts';
import type { MatchHow, MatchVisitor } from './value-matcher.ts';

/** Calls `visit` for the item or items of an entry. */
export function visitItems<T>(
  items: T | readonly T[],
  how: MatchHow,
  watched: string,
  visit: MatchVisitor<T>,
): void {
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

/**
 * IPv4 blocks. The network address itself is the high half of the hash and the low half
 * is a bijection of it, so equal hashes are equal keys and need no other confirmation.
 */
export class Ipv4Blocks<T extends object | number> {
  /** Tables by prefix length, 0 to 32. */
  private readonly tables: Array<HashTable<T> | undefined> = new Array<undefined>(33).fill(
    undefined,
  );
  /** Prefix lengths present, longest first, so exact addresses are reported first. */
  private lengths: number[] = [];

  constructor(private readonly options: TableOptions) {}

  private low(network: number): number {
    return mix32(network ^ HASH_START_A) & this.options.hashMask;
  }

  /** Files an item under a block; returns false when the block has it already. */
  add(network: number, prefixLength: number, item: T): boolean {
    let table = this.tables[prefixLength];
    if (!table) {
      table = new HashTable<T>(this.options.initialSlots, 1);
      this.tables[prefixLength] = table;
      this.lengths = presentLengths(this.tables);
    }
    const low = this.low(network);
    const found = table.first(low, network);
    if (found >= 0) return table.addItem(found, item);
    const entry = table.insert(low, network, formatV4(network, prefixLength), item);
    table.setWord(entry, 0, network);
    return true;
  }

  /** Removes an item from a block; returns whether it was there. */
  remove(network: number, prefixLength: number, item: T): boolean {
    const table = this.tables[prefixLength];
    if (!table) return false;
    const low = this.low(network);
    const entry = table.first(low, network);
    if (entry < 0) return false;
    if (!removeFromEntry(table, entry, item, low, network)) return false;
    if (table.size === 0) {
      this.tables[prefixLength] = undefined;
      this.lengths = presentLengths(this.tables);
    }
    return true;
  }

  /** Visits the blocks that contain the address (a signed or unsigned 32-bit integer). */
  lookupAddress(address: number, how: MatchHow, visit: MatchVisitor<T>): void {
    const lengths = this.lengths;
    for (let i = 0; i < lengths.length; i++) {
      const length = lengths[i]!;
      const network = maskIpv4(address, length);
      const table = this.tables[length]!;
      const entry = table.first(this.low(network), network);
      if (entry < 0) continue;
      const matchHow = how === 'exact' && length !== 32 ? 'cidr' : how;
      visitItems(table.items(entry), matchHow, table.label(entry), visit);
    }
  }

  /** Visits the blocks that contain the block or lie inside it. */
  lookupBlock(network: number, prefixLength: number, visit: MatchVisitor<T>): void {
    for (const length of this.lengths) {
      const table = this.tables[length]!;
      if (length <= prefixLength) {
        const outer = maskIpv4(network, length);
        const entry = table.first(this.low(outer), outer);
        if (entry < 0) continue;
        const how = length === prefixLength ? 'exact' : 'cidr';
        visitItems(table.items(entry), how, table.label(entry), visit);
        continue;
      }
      // Blocks inside the query: scan the table, since enumerating 2^(length - prefixLength)
      // sub-blocks is only cheaper for small ranges, which a scan of a small table also is.
      for (const entry of [...table.entries()]) {
        if (maskIpv4(table.word(entry, 0), prefixLength) !== network) continue;
        visitItems(table.items(entry), 'cidr', table.label(entry), visit);
      }
    }
  }
}

/**
 * Removes an item from an entry, and the entry with its last item; returns whether the item
 * was there.
 */
export function removeFromEntry<T extends object | number>(
  table: HashTable<T>,
  entry: number,
  item: T,
  low: number,
  high: number,
): boolean {
  if (table.shared(entry)) return table.removeItem(entry, item);
  if (table.items(entry) !== item) return false;
  table.delete(entry, low, high);
  return true;
}

function formatV6(words: Int32Array, prefixLength: number): string {
  const text = formatIpv6(ipv6FromWords(words));
  return prefixLength === 128 ? text : `${text}/${prefixLength}`;
}

/** IPv6 blocks, keyed by the 64-bit hash of the four words of the network address. */
export class Ipv6Blocks<T extends object | number> {
  /** Tables by prefix length, 0 to 128. */
  private readonly tables: Array<HashTable<T> | undefined> = new Array<undefined>(129).fill(
    undefined,
  );
  private lengths: number[] = [];
  private readonly hash = new Hash64();

  constructor(private readonly options: TableOptions) {}

  /** Hashes a network address into `this.hash`, with the test mask applied. */
  private hashOf(network: Int32Array): Hash64 {
    const hash = this.hash.ofWords(network);
    hash.low &= this.options.hashMask;
    hash.high &= this.options.hashMask;
    return hash;
  }

  private find(table: HashTable<T>, network: Int32Array, low: number, high: number): number {
    for (let entry = table.first(low, high); entry >= 0; entry = table.next(low, high)) {
      if (
        table.word(entry, 0) === network[0] &&
        table.word(entry, 1) === network[1] &&
        table.word(entry, 2) === network[2] &&
        table.word(entry, 3) === network[3]
      ) {
        return entry;
      }
    }
    return -1;
  }

  /** Files an item under a block given as its masked network words. */
  add(network: Int32Array, prefixLength: number, item: T): boolean {
    let table = this.tables[prefixLength];
    if (!table) {
      table = new HashTable<T>(this.options.initialSlots, 4);
      this.tables[prefixLength] = table;
      this.lengths = presentLengths(this.tables);
    }
    const { low, high } = this.hashOf(network);
    const found = this.find(table, network, low, high);
    if (found >= 0) return table.addItem(found, item);
    const entry = table.insert(low, high, formatV6(network, prefixLength), item);
    for (let i = 0; i < 4; i++) table.setWord(entry, i, network[i]!);
    return true;
  }

  /** Removes an item from a block; returns whether it was there. */
  remove(network: Int32Array, prefixLength: number, item: T): boolean {
    const table = this.tables[prefixLength];
    if (!table) return false;
    const { low, high } = this.hashOf(network);
    const entry = this.find(table, network, low, high);
    if (entry < 0 || !removeFromEntry(table, entry, item, low, high)) return false;
    if (table.size === 0) {
      this.tables[prefixLength] = undefined;
      this.lengths = presentLengths(this.tables);
    }
    return true;
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
      const { low, high } = this.hashOf(masked);
      const entry = this.find(table, masked, low, high);
      if (entry < 0) continue;
      const matchHow = how === 'exact' && length !== 128 ? 'cidr' : how;
      visitItems(table.items(entry), matchHow, table.label(entry), visit);
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
        const { low, high } = this.hashOf(masked);
        const entry = this.find(table, masked, low, high);
        if (entry < 0) continue;
        const how = length === prefixLength ? 'exact' : 'cidr';
        visitItems(table.items(entry), how, table.label(entry), visit);
        continue;
      }
      for (const entry of [...table.entries()]) {
        for (let i = 0; i < 4; i++) masked[i] = table.word(entry, i);
        maskIpv6Words(masked, prefixLength, masked);
        if (
          masked[0] !== network[0] ||
          masked[1] !== network[1] ||
          masked[2] !== network[2] ||
          masked[3] !== network[3]
        ) {
          continue;
        }
        visitItems(table.items(entry), 'cidr', table.label(entry), visit);
      }
    }
  }
}
