/**
 * Look-up of normalised observable values against a large set of watched values: exact
 * values by kind, domains that include their subdomains, and IPv4/IPv6 blocks. Both the watch
 * engine (watch entries) and the bulk look-up (values that stored indicators and SCOs
 * mention) keep one. Every value given here must already be normalised by src/normalise,
 * because keys compare as strings.
 *
 * Keys live in the open-addressing tables of hash-table.ts: one per kind of value, where a
 * domain's watchers with and without its subdomains share one key, and one per prefix
 * length of address blocks (ip-blocks.ts).
 * Looking up an address, a domain, a URL or another exact value allocates nothing, unless
 * a visitor starts another look-up on the same matcher while one runs. A URL's host and an
 * e-mail address's domain are hashed in place, without slicing the string. One pass over a
 * domain name hashes all its parent domains, and only the parents with a label count that
 * some watched domain has are probed.
 */
import type { Observable } from '../normalise/index.ts';
import {
  finishHigh,
  finishLow,
  Hash64,
  HASH_START_A,
  HASH_START_B,
  HashTable,
  stepA,
  stepB,
} from './hash-table.ts';
import { Ipv4Blocks, Ipv6Blocks, removeItem, visitItems, type TableOptions } from './ip-blocks.ts';
import {
  ipv6Words,
  maskIpv4,
  parseIpv4,
  parseIpv4Block,
  parseIpv6Block,
  parseIpv6Words,
} from './ip.ts';

/** The kinds of observable values Cairn normalises (see src/normalise). */
export const VALUE_KINDS = ['ipv4', 'ipv6', 'domain', 'url', 'email', 'hash', 'asn'] as const;
export type ValueKind = (typeof VALUE_KINDS)[number];

/**
 * The relation of a looked-up value to a watched one: equal, a subdomain of a watched domain, inside
 * (or containing) a watched block, the host of a URL, or the domain of an e-mail address.
 */
export type MatchHow = 'exact' | 'subdomain' | 'cidr' | 'url-host' | 'email-domain';

export interface ValueKey {
  kind: ValueKind;
  /** Normalised; for ipv4 and ipv6 an address or an `address/prefix` block. */
  value: string;
  /** For domains: the key also covers every subdomain. */
  subdomains?: boolean;
}

export type MatchVisitor<T> = (item: T, how: MatchHow, watched: string) => void;

/** Kinds whose keys are compared as text; addresses go to ip-blocks.ts. */
type TextKind = Exclude<ValueKind, 'ipv4' | 'ipv6'>;

/** Item groups of the domain table: watchers of the domain alone, and of it with subdomains. */
const EXACT = 0;
const TREE = 1;

export interface MatcherOptions {
  /**
   * Bits kept of each 32-bit half of every key's hash. Tests pass a small mask to make keys
   * collide, and the default keeps all.
   */
  hashMask?: number;
  /** Slots of each new table; tests pass a small number to make tables grow. */
  initialSlots?: number;
}

/**
 * Working space of one look-up, reused so that a look-up allocates nothing. A visitor that
 * starts another look-up on the same matcher gets a fresh one.
 */
class Scratch {
  readonly hash = new Hash64();
  readonly address = new Int32Array(4);
  readonly masked = new Int32Array(4);
  /** Start, hash low and hash high of the parent domains to probe, shortest first. */
  starts = new Int32Array(16);
  lows = new Int32Array(16);
  highs = new Int32Array(16);
  hostStart = 0;
  hostEnd = 0;

  /** Makes room for `count` parent domains. */
  reserve(count: number): void {
    if (count <= this.starts.length) return;
    const size = Math.max(count, this.starts.length * 2);
    for (const name of ['starts', 'lows', 'highs'] as const) {
      const next = new Int32Array(size);
      next.set(this[name]);
      this[name] = next;
    }
  }
}

/** Checks whether `key` equals the text from `start` to `end`. */
function sameText(key: string, text: string, start: number, end: number): boolean {
  if (key.length !== end - start) return false;
  if (start === 0 && end === text.length) return key === text;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) !== text.charCodeAt(start + i)) return false;
  }
  return true;
}

/** Returns the slot of a string-keyed table whose key is the text from `start` to `end`, or -1. */
function findText<T extends object | number>(
  table: HashTable<T>,
  text: string,
  start: number,
  end: number,
  low: number,
  high: number,
): number {
  for (let slot = table.first(low, high); slot >= 0; slot = table.next(high)) {
    if (sameText(table.label(slot), text, start, end)) return slot;
  }
  return -1;
}

export class ValueMatcher<T extends object | number> {
  /**
   * Tables of exact values by kind, made on first use. The domain table has two item groups
   * (EXACT and TREE), so one probe finds the watchers of a domain with and without its
   * subdomains.
   */
  private readonly exact: Record<TextKind, HashTable<T> | undefined> = {
    domain: undefined,
    url: undefined,
    email: undefined,
    hash: undefined,
    asn: undefined,
  };
  /**
   * How many domains with items in the TREE group have each number of labels, so a look-up
   * probes only the parent domains of a length some watched domain has: usually one or two.
   */
  private treeLabels = new Int32Array(8);
  private readonly options: TableOptions;
  private readonly v4: Ipv4Blocks<T>;
  private readonly v6: Ipv6Blocks<T>;
  /** Made on first use, since the bulk look-up builds many matchers of one or two keys. */
  private scratch: Scratch | undefined;
  private scratchInUse = false;
  private count = 0;

  constructor(options: MatcherOptions = {}) {
    this.options = { hashMask: options.hashMask ?? -1, initialSlots: options.initialSlots ?? 8 };
    this.v4 = new Ipv4Blocks(this.options);
    this.v6 = new Ipv6Blocks(this.options);
  }

  /** Number of distinct key and item pairs filed. */
  get size(): number {
    return this.count;
  }

  /** Adds an item under a key; returns false when an address key does not parse. */
  add(key: ValueKey, item: T): boolean {
    if (key.kind === 'ipv4') {
      const block = parseIpv4Block(key.value);
      if (!block) return false;
      if (this.v4.add(block.address, block.prefixLength, item)) this.count++;
      return true;
    }
    if (key.kind === 'ipv6') {
      const block = parseIpv6Block(key.value);
      if (!block) return false;
      const network = ipv6Words(block.address, new Int32Array(4));
      if (this.v6.add(network, block.prefixLength, item)) this.count++;
      return true;
    }
    const group = key.kind === 'domain' && key.subdomains === true ? TREE : EXACT;
    let table = this.exact[key.kind];
    if (!table) {
      table = new HashTable<T>(this.options.initialSlots, 0, key.kind === 'domain' ? 2 : 1);
      this.exact[key.kind] = table;
    }
    const { low, high } = this.hashKey(key.kind, key.value);
    const slot = findText(table, key.value, 0, key.value.length, low, high);
    const newGroup = slot < 0 || table.items(slot, group) === undefined;
    if (slot < 0) table.insert(low, high, key.value, item, group);
    else if (!table.addItem(slot, item, group)) return true;
    if (group === TREE && newGroup) this.countTreeLabels(labelCount(key.value), 1);
    this.count++;
    return true;
  }

  /** Removes an item filed under a key; does nothing when it is not there. */
  remove(key: ValueKey, item: T): void {
    if (this.removeKey(key, item)) this.count--;
  }

  private removeKey(key: ValueKey, item: T): boolean {
    if (key.kind === 'ipv4') {
      const block = parseIpv4Block(key.value);
      return block !== undefined && this.v4.remove(block.address, block.prefixLength, item);
    }
    if (key.kind === 'ipv6') {
      const block = parseIpv6Block(key.value);
      if (!block) return false;
      return this.v6.remove(ipv6Words(block.address, new Int32Array(4)), block.prefixLength, item);
    }
    const group = key.kind === 'domain' && key.subdomains === true ? TREE : EXACT;
    const table = this.exact[key.kind];
    if (!table) return false;
    const { low, high } = this.hashKey(key.kind, key.value);
    const slot = findText(table, key.value, 0, key.value.length, low, high);
    if (slot < 0) return false;
    const last = !Array.isArray(table.items(slot, group));
    if (!removeItem(table, slot, item, group)) return false;
    if (group === TREE && last) this.countTreeLabels(labelCount(key.value), -1);
    return true;
  }

  /** Hashes a key of a text kind as the look-ups of that kind do: domains by ofName. */
  private hashKey(kind: TextKind, text: string): Hash64 {
    const hash =
      kind === 'domain' ? this.workspace().hash.ofName(text) : this.workspace().hash.ofString(text);
    hash.low &= this.options.hashMask;
    hash.high &= this.options.hashMask;
    return hash;
  }

  private workspace(): Scratch {
    this.scratch ??= new Scratch();
    return this.scratch;
  }

  private countTreeLabels(labels: number, change: number): void {
    if (labels >= this.treeLabels.length) {
      const next = new Int32Array(Math.max(labels + 1, this.treeLabels.length * 2));
      next.set(this.treeLabels);
      this.treeLabels = next;
    }
    this.treeLabels[labels]! += change;
  }

  /**
   * Visits every item whose key matches the normalised value: exact keys, domains covering it
   * as subdomains, blocks containing an address (or overlapping a block), and for a URL or an
   * e-mail address also the keys its host or domain matches.
   */
  lookup(kind: ValueKind, value: string, visit: MatchVisitor<T>): void {
    if (this.scratchInUse) {
      this.lookupWith(new Scratch(), kind, value, visit);
      return;
    }
    this.scratchInUse = true;
    try {
      this.lookupWith(this.workspace(), kind, value, visit);
    } finally {
      this.scratchInUse = false;
    }
  }

  private lookupWith(
    scratch: Scratch,
    kind: ValueKind,
    value: string,
    visit: MatchVisitor<T>,
  ): void {
    switch (kind) {
      case 'ipv4':
        this.lookupIpv4(value, visit);
        return;
      case 'ipv6':
        this.lookupIpv6(scratch, value, visit);
        return;
      case 'domain':
        this.lookupDomain(scratch, value, 0, value.length, 'exact', visit);
        return;
      case 'url':
        this.lookupExact(scratch, this.exact.url, value, visit);
        this.lookupHost(scratch, value, visit);
        return;
      case 'email': {
        this.lookupExact(scratch, this.exact.email, value, visit);
        const at = value.lastIndexOf('@');
        if (at >= 0) this.lookupDomain(scratch, value, at + 1, value.length, 'email-domain', visit);
        return;
      }
      default:
        this.lookupExact(scratch, this.exact[kind], value, visit);
    }
  }

  /** Looks up a normalised observable of src/normalise, as `lookup` does. */
  lookupObservable(observable: Observable, visit: MatchVisitor<T>): void {
    switch (observable.kind) {
      case 'ip':
      case 'cidr':
        this.lookup(observable.version === 4 ? 'ipv4' : 'ipv6', observable.value, visit);
        return;
      default:
        this.lookup(observable.kind, observable.value, visit);
    }
  }

  private lookupExact(
    scratch: Scratch,
    table: HashTable<T> | undefined,
    value: string,
    visit: MatchVisitor<T>,
  ): void {
    if (!table) return;
    const hash = scratch.hash.ofString(value);
    const mask = this.options.hashMask;
    const slot = findText(table, value, 0, value.length, hash.low & mask, hash.high & mask);
    if (slot >= 0) visitItems(table.items(slot), 'exact', table.label(slot), visit);
  }

  private lookupIpv4(value: string, visit: MatchVisitor<T>): void {
    if (!value.includes('/')) {
      // The common case, an address, without the allocation of a block.
      const address = parseIpv4(value);
      if (address >= 0) this.v4.lookupAddress(address, 'exact', visit);
      return;
    }
    const block = parseIpv4Block(value);
    if (!block) return;
    if (block.prefixLength === 32) this.v4.lookupAddress(block.address, 'exact', visit);
    else this.v4.lookupBlock(block.address, block.prefixLength, visit);
  }

  private lookupIpv6(scratch: Scratch, value: string, visit: MatchVisitor<T>): void {
    if (!value.includes('/')) {
      if (parseIpv6Words(value, 0, value.length, scratch.address)) {
        this.v6.lookupAddress(scratch.address, scratch.masked, 'exact', visit);
      }
      return;
    }
    const block = parseIpv6Block(value);
    if (!block) return;
    const network = ipv6Words(block.address, scratch.address);
    if (block.prefixLength === 128) {
      this.v6.lookupAddress(network, scratch.masked, 'exact', visit);
    } else {
      this.v6.lookupBlock(network, block.prefixLength, scratch.masked, visit);
    }
  }

  /** Visits the keys matching an IPv4 or IPv6 block given as numbers (pattern index keys). */
  lookupRange(family: 4 | 6, first: bigint, last: bigint, visit: MatchVisitor<T>): void {
    const width = family === 4 ? 32 : 128;
    const size = last - first + 1n;
    // A pattern range is a CIDR block, so its size is a power of two.
    const prefixLength = width - (size.toString(2).length - 1);
    if (family === 4) {
      this.v4.lookupBlock(maskIpv4(Number(first), prefixLength), prefixLength, visit);
      return;
    }
    const network = ipv6Words(first, new Int32Array(4));
    this.v6.lookupBlock(network, prefixLength, new Int32Array(4), visit);
  }

  /**
   * Visits the keys matching the domain name from `start` to `end` of `text`: the exact
   * domain, then the watched parents (itself included) from the longest to the shortest.
   */
  private lookupDomain(
    scratch: Scratch,
    text: string,
    start: number,
    end: number,
    how: MatchHow,
    visit: MatchVisitor<T>,
  ): void {
    const domains = this.exact.domain;
    if (!domains) return;
    const mask = this.options.hashMask;
    const treeLabels = this.treeLabels;

    // One pass from the last character hashes every parent domain: before the dot that
    // starts a label is hashed, the state is the hash of the text after that dot.
    let a = HASH_START_A;
    let b = HASH_START_B;
    let dots = 0;
    let parents = 0;
    for (let i = end - 1; i >= start; i--) {
      const code = text.charCodeAt(i);
      if (code === 46) {
        const labels = dots + 1;
        if (labels < treeLabels.length && treeLabels[labels] !== 0) {
          scratch.reserve(parents + 1);
          scratch.starts[parents] = i + 1;
          scratch.lows[parents] = finishLow(a, b, end - i - 1) & mask;
          scratch.highs[parents] = finishHigh(a, b, end - i - 1) & mask;
          parents++;
        }
        dots++;
      }
      a = stepA(a, code);
      b = stepB(b, code);
    }
    const low = finishLow(a, b, end - start) & mask;
    const high = finishHigh(a, b, end - start) & mask;

    const slot = findText(domains, text, start, end, low, high);
    if (slot >= 0) {
      const label = domains.label(slot);
      visitItems(domains.items(slot, EXACT), how, label, visit);
      visitItems(domains.items(slot, TREE), how, label, visit);
    }
    const subdomainHow = how === 'exact' ? 'subdomain' : how;
    for (let parent = parents - 1; parent >= 0; parent--) {
      const found = findText(
        domains,
        text,
        scratch.starts[parent]!,
        end,
        scratch.lows[parent]!,
        scratch.highs[parent]!,
      );
      if (found >= 0) {
        visitItems(domains.items(found, TREE), subdomainHow, domains.label(found), visit);
      }
    }
  }

  /** Looks up the host of a URL: an IPv6 address in brackets, an IPv4 address or a domain. */
  private lookupHost(scratch: Scratch, url: string, visit: MatchVisitor<T>): void {
    if (!findUrlHost(url, scratch)) return;
    const start = scratch.hostStart;
    const end = scratch.hostEnd;
    if (url.charCodeAt(start) === 91) {
      if (parseIpv6Words(url, start + 1, end - 1, scratch.address)) {
        this.v6.lookupAddress(scratch.address, scratch.masked, 'url-host', visit);
      }
      return;
    }
    const address = parseIpv4(url, end, start);
    if (address >= 0) this.v4.lookupAddress(address, 'url-host', visit);
    else this.lookupDomain(scratch, url, start, end, 'url-host', visit);
  }
}

function labelCount(domain: string): number {
  let count = 1;
  for (let i = 0; i < domain.length; i++) if (domain.charCodeAt(i) === 46) count++;
  return count;
}

/**
 * Finds the host of a normalised URL (`scheme://[user@]host[:port]/…`), IPv6 hosts with
 * their brackets, and sets `range.hostStart` and `range.hostEnd`. Returns false when the
 * URL has no host. Written out rather than with the URL class, which costs about a
 * microsecond a call, because the bulk look-up reads one URL per proxy log line.
 */
function findUrlHost(url: string, range: { hostStart: number; hostEnd: number }): boolean {
  const scheme = url.indexOf('://');
  if (scheme < 0) return false;
  // One pass over the authority, which ends at the path, query or fragment: the host starts
  // after its last '@' and ends at the first ':' after that, or after ']' for IPv6.
  let start = scheme + 3;
  let end = url.length;
  let colon = -1;
  let close = -1;
  for (let i = start; i < url.length; i++) {
    const code = url.charCodeAt(i);
    if (code === 47 || code === 63 || code === 35) {
      end = i;
      break;
    }
    if (code === 64) {
      start = i + 1;
      colon = -1;
      close = -1;
    } else if (code === 58 && colon < 0) {
      colon = i;
    } else if (code === 93 && close < 0) {
      close = i;
    }
  }
  if (url.charCodeAt(start) === 91) {
    if (close < 0) return false;
    end = close + 1;
  } else if (colon >= 0) {
    end = colon;
  }
  if (start === end) return false;
  range.hostStart = start;
  range.hostEnd = end;
  return true;
}

/** Returns the host of a normalised URL, IPv6 hosts with their brackets. */
export function urlHost(url: string): string | undefined {
  const range = { hostStart: 0, hostEnd: 0 };
  return findUrlHost(url, range) ? url.slice(range.hostStart, range.hostEnd) : undefined;
}
