/**
 * Look-up of normalised observable values against a large set of watched values: exact
 * values by kind, domains that include their subdomains, and IPv4/IPv6 blocks. Both the watch
 * engine (watch entries) and the bulk look-up (values that stored indicators and SCOs
 * mention) keep one. Every value given here must already be normalised by src/normalise,
 * because keys compare as strings.
 *
 * Address blocks are kept in one hash map per prefix length. An address is looked up by
 * masking it to each prefix length present: at most 33 (IPv4) or 129 (IPv6) probes, and
 * usually a handful. That is cheaper than a trie walk in JavaScript, and it handles nested
 * and overlapping blocks without extra work.
 */
import {
  formatIpv4,
  formatIpv6,
  maskIpv4,
  maskIpv6,
  parseIpv4,
  parseIpv4Block,
  parseIpv6Block,
} from './ip.ts';
import type { Observable } from '../normalise/index.ts';
import { MultiMap } from './multimap.ts';

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

/** Visits what MultiMap.get returned: nothing, one item or several. */
function visitAll<T>(
  found: T | readonly T[] | undefined,
  how: MatchHow,
  watched: string,
  visit: MatchVisitor<T>,
): void {
  if (found === undefined) return;
  if (!Array.isArray(found)) {
    visit(found as T, how, watched);
    return;
  }
  for (const item of found as readonly T[]) visit(item, how, watched);
}

/** Blocks of one address family, one map per prefix length. */
class BlockMaps<A extends number | bigint, T extends object | number> {
  private readonly byLength = new Map<number, MultiMap<A, T>>();
  /** Prefix lengths present, longest first, so exact addresses are reported first. */
  private lengths: number[] = [];

  constructor(
    private readonly width: number,
    private readonly mask: (address: A, prefixLength: number) => A,
    private readonly format: (address: A, prefixLength: number) => string,
  ) {}

  add(address: A, prefixLength: number, item: T): void {
    let map = this.byLength.get(prefixLength);
    if (!map) {
      map = new MultiMap();
      this.byLength.set(prefixLength, map);
      this.lengths = [...this.byLength.keys()].sort((a, b) => b - a);
    }
    map.add(address, item);
  }

  remove(address: A, prefixLength: number, item: T): void {
    const map = this.byLength.get(prefixLength);
    if (!map) return;
    map.remove(address, item);
    if (map.size === 0) {
      this.byLength.delete(prefixLength);
      this.lengths = [...this.byLength.keys()].sort((a, b) => b - a);
    }
  }

  /** Visits the blocks that contain the address. */
  lookupAddress(address: A, how: MatchHow, visit: MatchVisitor<T>): void {
    for (const length of this.lengths) {
      const network = this.mask(address, length);
      const found = this.byLength.get(length)!.get(network);
      if (found === undefined) continue;
      const matchHow = how === 'exact' && length !== this.width ? 'cidr' : how;
      visitAll(found, matchHow, this.format(network, length), visit);
    }
  }

  /** Visits the blocks that contain the block or lie inside it. */
  lookupBlock(address: A, prefixLength: number, visit: MatchVisitor<T>): void {
    for (const length of this.lengths) {
      const map = this.byLength.get(length)!;
      if (length <= prefixLength) {
        const network = this.mask(address, length);
        const how = length === prefixLength ? 'exact' : 'cidr';
        map.forEach(network, (item) => visit(item, how, this.format(network, length)));
        continue;
      }
      // Blocks inside the query: scan the map, since enumerating 2^(length - prefixLength)
      // sub-blocks is only cheaper for small ranges, which a scan of a small map also is.
      for (const [network, items] of map.entries()) {
        if (this.mask(network, prefixLength) !== address) continue;
        const watched = this.format(network, length);
        for (const item of items) visit(item, 'cidr', watched);
      }
    }
  }
}

function formatV4(address: number, prefixLength: number): string {
  const text = formatIpv4(address);
  return prefixLength === 32 ? text : `${text}/${prefixLength}`;
}

function formatV6(address: bigint, prefixLength: number): string {
  const text = formatIpv6(address);
  return prefixLength === 128 ? text : `${text}/${prefixLength}`;
}

export class ValueMatcher<T extends object | number> {
  private readonly exact = new Map<ValueKind, MultiMap<string, T>>();
  private readonly domainTrees = new MultiMap<string, T>();
  /**
   * How many keys of domainTrees have each number of labels, so a look-up probes only the
   * suffixes of a length some watched domain has: usually one or two of a name's suffixes.
   */
  private readonly treeLabels = new Map<number, number>();
  private readonly v4 = new BlockMaps<number, T>(32, maskIpv4, formatV4);
  private readonly v6 = new BlockMaps<bigint, T>(128, maskIpv6, formatV6);
  private count = 0;

  constructor() {
    for (const kind of VALUE_KINDS) this.exact.set(kind, new MultiMap());
  }

  /** Number of keys added and not removed. */
  get size(): number {
    return this.count;
  }

  /** Adds an item under a key; returns false when an address key does not parse. */
  add(key: ValueKey, item: T): boolean {
    const added = this.change(key, item, true);
    if (added) this.count++;
    return added;
  }

  remove(key: ValueKey, item: T): void {
    if (this.change(key, item, false)) this.count--;
  }

  private change(key: ValueKey, item: T, add: boolean): boolean {
    if (key.kind === 'ipv4') {
      const block = parseIpv4Block(key.value);
      if (!block) return false;
      if (add) this.v4.add(block.address, block.prefixLength, item);
      else this.v4.remove(block.address, block.prefixLength, item);
      return true;
    }
    if (key.kind === 'ipv6') {
      const block = parseIpv6Block(key.value);
      if (!block) return false;
      if (add) this.v6.add(block.address, block.prefixLength, item);
      else this.v6.remove(block.address, block.prefixLength, item);
      return true;
    }
    if (key.kind === 'domain' && key.subdomains) return this.changeTree(key.value, item, add);
    const map = this.exact.get(key.kind)!;
    if (add) map.add(key.value, item);
    else return map.remove(key.value, item);
    return true;
  }

  private changeTree(domain: string, item: T, add: boolean): boolean {
    const labels = labelCount(domain);
    if (add) {
      if (!this.domainTrees.has(domain)) {
        this.treeLabels.set(labels, (this.treeLabels.get(labels) ?? 0) + 1);
      }
      this.domainTrees.add(domain, item);
      return true;
    }
    const removed = this.domainTrees.remove(domain, item);
    if (removed && !this.domainTrees.has(domain)) {
      const left = (this.treeLabels.get(labels) ?? 1) - 1;
      if (left === 0) this.treeLabels.delete(labels);
      else this.treeLabels.set(labels, left);
    }
    return removed;
  }

  /**
   * Visits every item whose key matches the normalised value: exact keys, domains covering it
   * as subdomains, blocks containing an address (or overlapping a block), and for a URL or an
   * e-mail address also the keys its host or domain matches.
   */
  lookup(kind: ValueKind, value: string, visit: MatchVisitor<T>): void {
    switch (kind) {
      case 'ipv4':
        this.lookupIpv4(value, 'exact', visit);
        return;
      case 'ipv6':
        this.lookupIpv6(value, 'exact', visit);
        return;
      case 'domain':
        this.lookupDomain(value, 'exact', visit);
        return;
      case 'url':
        this.lookupExact('url', value, visit);
        this.lookupHost(urlHost(value), visit);
        return;
      case 'email': {
        this.lookupExact('email', value, visit);
        const at = value.lastIndexOf('@');
        if (at >= 0) this.lookupDomain(value.slice(at + 1), 'email-domain', visit);
        return;
      }
      default:
        this.lookupExact(kind, value, visit);
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

  private lookupExact(kind: ValueKind, value: string, visit: MatchVisitor<T>): void {
    visitAll(this.exact.get(kind)!.get(value), 'exact', value, visit);
  }

  private lookupIpv4(value: string, how: MatchHow, visit: MatchVisitor<T>): void {
    if (!value.includes('/')) {
      // The common case, an address, without the allocation of a block.
      const address = parseIpv4(value);
      if (address >= 0) this.v4.lookupAddress(maskIpv4(address, 32), how, visit);
      return;
    }
    const block = parseIpv4Block(value);
    if (!block) return;
    if (block.prefixLength === 32) this.v4.lookupAddress(block.address, how, visit);
    else this.v4.lookupBlock(block.address, block.prefixLength, visit);
  }

  private lookupIpv6(value: string, how: MatchHow, visit: MatchVisitor<T>): void {
    const block = parseIpv6Block(value);
    if (!block) return;
    if (block.prefixLength === 128) this.v6.lookupAddress(block.address, how, visit);
    else this.v6.lookupBlock(block.address, block.prefixLength, visit);
  }

  /** Visits the keys matching an IPv4 or IPv6 block given as numbers (pattern index keys). */
  lookupRange(family: 4 | 6, first: bigint, last: bigint, visit: MatchVisitor<T>): void {
    const width = family === 4 ? 32 : 128;
    const size = last - first + 1n;
    // A pattern range is a CIDR block, so its size is a power of two.
    const prefixLength = width - (size.toString(2).length - 1);
    if (family === 4)
      this.v4.lookupBlock(maskIpv4(Number(first), prefixLength), prefixLength, visit);
    else this.v6.lookupBlock(first, prefixLength, visit);
  }

  private lookupDomain(domain: string, how: MatchHow, visit: MatchVisitor<T>): void {
    visitAll(this.exact.get('domain')!.get(domain), how, domain, visit);
    if (this.treeLabels.size === 0) return;
    let labels = labelCount(domain);
    let start = 0;
    for (;;) {
      if (this.treeLabels.has(labels)) {
        const suffix = start === 0 ? domain : domain.slice(start);
        const found = this.domainTrees.get(suffix);
        if (found !== undefined) {
          visitAll(found, how === 'exact' && start !== 0 ? 'subdomain' : how, suffix, visit);
        }
      }
      const dot = domain.indexOf('.', start);
      if (dot < 0) return;
      start = dot + 1;
      labels--;
    }
  }

  private lookupHost(host: string | undefined, visit: MatchVisitor<T>): void {
    if (!host) return;
    if (host.startsWith('[')) this.lookupIpv6(host.slice(1, -1), 'url-host', visit);
    else if (parseIpv4Block(host)) this.lookupIpv4(host, 'url-host', visit);
    else this.lookupDomain(host, 'url-host', visit);
  }
}

function labelCount(domain: string): number {
  let count = 1;
  for (let i = 0; i < domain.length; i++) if (domain.charCodeAt(i) === 46) count++;
  return count;
}

/**
 * Returns the host of a normalised URL (`scheme://[user@]host[:port]/…`), IPv6 hosts with
 * their brackets. Written out rather than with the URL class, which costs about a
 * microsecond a call, because the bulk look-up reads one URL per proxy log line.
 */
export function urlHost(url: string): string | undefined {
  const start = url.indexOf('://');
  if (start < 0) return undefined;
  let end = url.length;
  for (let i = start + 3; i < url.length; i++) {
    const code = url.charCodeAt(i);
    if (code === 47 || code === 63 || code === 35) {
      end = i;
      break;
    }
  }
  let authority = url.slice(start + 3, end);
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    return close < 0 ? undefined : authority.slice(0, close + 1);
  }
  const colon = authority.indexOf(':');
  const host = colon < 0 ? authority : authority.slice(0, colon);
  return host === '' ? undefined : host;
}
