/**
 * Keys of the retro-hunt key index (see Store.addHuntKeys): text forms of the observable
 * values an object carries, made so that every relation the value matcher applies between a
 * watched value and an object's value becomes an exact key or a key prefix.
 *
 * - Domains are written with their labels reversed and a closing dot, `d:com.example.www.`,
 *   so the subdomains of a watched domain are the keys that start with its own key.
 * - IPv4 and IPv6 addresses and blocks are written as the bits of their network part,
 *   `i4:00001010` for 10.0.0.0/8. Two blocks overlap exactly when one bit string starts
 *   with the other, so a watched block finds the blocks inside it by prefix and the few
 *   blocks around it as exact keys.
 * - A URL also gives the key of its host, and an e-mail address the key of its domain,
 *   since the matcher compares those with watched domains and blocks.
 * - Observed data that references SCOs gets WILDCARD_KEY: its values live in other objects.
 *
 * Keys only choose candidates, which the hunt then checks with the watch engine, so a key
 * may find objects that do not match. The contract is the other way round: every object
 * the engine matches to a value entry has a key among that entry's terms. Hunt tests check
 * that against the value matcher and against a scan of real data.
 */
import { SCO_TYPES } from '../stix/index.ts';
import type { HuntKey } from '../store/store.ts';
import { entryValueKey } from './engine.ts';
import { referenceIds } from './follower.ts';
import { parseIpv4Block, parseIpv6Block } from './ip.ts';
import type { WatchEntry } from './model.ts';
import { valueKeyOf } from './observables.ts';
import { mentionedObservables } from './value-index.ts';
import { urlHost, type ValueKey } from './value-matcher.ts';

/** The key of observed data whose `object_refs` name other objects. */
export const WILDCARD_KEY = '*';

/** Object types whose keys are indexed: the only ones a value entry can match. */
export const KEYED_TYPES: readonly string[] = ['indicator', 'observed-data', ...SCO_TYPES];

/**
 * Maximum key length, in UTF-16 code units. PostgreSQL rejects a B-tree entry of more than about
 * 2,700 bytes, and a URL has no length limit. Longer keys are cut, which keeps equal keys
 * equal and keeps every prefix of up to this length, so a cut key can only find more.
 */
const MAX_KEY_LENGTH = 512;

/** Exact keys sent in one store query. */
const KEYS_PER_QUERY = 500;

const IPV4_BITS = 32;
const IPV6_BITS = 128;

/**
 * Makes a key storable: U+0000 and lone surrogates become U+FFFD, one character for one,
 * and long keys are cut without splitting a surrogate pair.
 */
function storable(key: string): string {
  // String.prototype.toWellFormed is in Node 20 but not in the ES2023 library types here.
  let text = (key as string & { toWellFormed(): string }).toWellFormed();
  if (text.includes('\u0000')) text = text.replaceAll('\u0000', '\uFFFD');
  if (text.length <= MAX_KEY_LENGTH) return text;
  const high = text.charCodeAt(MAX_KEY_LENGTH - 1);
  const end = high >= 0xd800 && high <= 0xdbff ? MAX_KEY_LENGTH - 1 : MAX_KEY_LENGTH;
  return text.slice(0, end);
}

function domainKey(domain: string): string {
  return `d:${domain.split('.').reverse().join('.')}.`;
}

/** Returns the bits of an IPv4 or IPv6 address or block, or undefined when it does not parse. */
function addressBits(kind: 'ipv4' | 'ipv6', value: string): string | undefined {
  if (kind === 'ipv4') {
    const block = parseIpv4Block(value);
    if (!block) return undefined;
    const bits = (block.address >>> 0).toString(2).padStart(IPV4_BITS, '0');
    return bits.slice(0, block.prefixLength);
  }
  const block = parseIpv6Block(value);
  if (!block) return undefined;
  return block.address.toString(2).padStart(IPV6_BITS, '0').slice(0, block.prefixLength);
}

function addressKey(kind: 'ipv4' | 'ipv6', bits: string): string {
  return `${kind === 'ipv4' ? 'i4' : 'i6'}:${bits}`;
}

/**
 * Adds the keys of a URL's host: a bracketed IPv6 address, an IPv4 address, and in every
 * case the domain form, so the keys cover however the matcher reads the host.
 */
function addHostKeys(host: string, keys: Set<string>): void {
  if (host.startsWith('[') && host.endsWith(']')) {
    const bits = addressBits('ipv6', host.slice(1, -1));
    if (bits !== undefined) keys.add(addressKey('ipv6', bits));
  }
  const bits = addressBits('ipv4', host);
  if (bits !== undefined) keys.add(addressKey('ipv4', bits));
  keys.add(domainKey(host));
}

/** Adds the keys that an object's value gives. */
function addValueKeys(key: ValueKey, keys: Set<string>): void {
  switch (key.kind) {
    case 'ipv4':
    case 'ipv6': {
      const bits = addressBits(key.kind, key.value);
      if (bits !== undefined) keys.add(addressKey(key.kind, bits));
      return;
    }
    case 'domain':
      keys.add(domainKey(key.value));
      return;
    case 'url': {
      keys.add(`u:${key.value}`);
      const host = urlHost(key.value);
      if (host !== undefined) addHostKeys(host, keys);
      return;
    }
    case 'email': {
      keys.add(`e:${key.value}`);
      const at = key.value.lastIndexOf('@');
      if (at >= 0) keys.add(domainKey(key.value.slice(at + 1)));
      return;
    }
    case 'hash':
      keys.add(`h:${key.value}`);
      return;
    case 'asn':
      keys.add(`a:${key.value}`);
  }
}

/** Returns the sorted, distinct look-up keys of an object. */
export function objectKeys(object: Readonly<Record<string, unknown>>): string[] {
  const keys = new Set<string>();
  // The values the engine reads from an object for value entries (see WatchIndex.match).
  for (const found of mentionedObservables(object)) {
    addValueKeys(valueKeyOf(found.observable), keys);
  }
  if (object.type === 'observed-data' && referenceIds(object).length > 0) keys.add(WILDCARD_KEY);
  return [...new Set([...keys].map(storable))].sort();
}

/** Returns the key index rows of an object. */
export function objectKeyRows(object: Readonly<Record<string, unknown>>): HuntKey[] {
  const objectId = object.id;
  if (typeof objectId !== 'string') return [];
  return objectKeys(object).map((key) => ({ key, objectId }));
}

/** One store query of a term set: a batch of exact keys, or one prefix. */
export type TermQuery = { keys: string[] } | { prefix: string };

/** Cuts a prefix to a storable one that ends in ASCII; a shorter prefix only finds more. */
function storablePrefix(prefix: string): string {
  let text = storable(prefix);
  while (text.length > 0 && text.charCodeAt(text.length - 1) >= 0x7f) text = text.slice(0, -1);
  return text;
}

/**
 * The keys that the value entries of a list look for: exact keys and prefixes. `queries`
 * splits them into store queries whose results never overlap, and `owner` picks, among an
 * object's keys, the one row that the hunt checks the object at, so an object that several
 * rows find is checked once.
 */
export class HuntTerms {
  private readonly exact = new Set<string>();
  private readonly prefixes = new Set<string>();
  /** Lengths of the prefixes, for testing a key against them. */
  private prefixLengths: number[] = [];
  private cachedQueries: readonly TermQuery[] | undefined;

  constructor(entries: readonly WatchEntry[]) {
    let any = false;
    for (const entry of entries) {
      const key = entryValueKey(entry);
      if (key === undefined) continue;
      any = true;
      this.addEntry(key);
    }
    // Observed data that references SCOs may match any value entry.
    if (any) this.exact.add(WILDCARD_KEY);
    this.minimise();
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.prefixes.size === 0;
  }

  private addEntry(key: ValueKey): void {
    switch (key.kind) {
      case 'ipv4':
      case 'ipv6': {
        const bits = addressBits(key.kind, key.value);
        // An entry that does not parse is left out of the engine as well.
        if (bits === undefined) return;
        this.prefixes.add(addressKey(key.kind, bits));
        // Blocks that contain the watched one: every shorter network part.
        for (let length = 0; length < bits.length; length++) {
          this.exact.add(addressKey(key.kind, bits.slice(0, length)));
        }
        return;
      }
      case 'domain':
        if (key.subdomains) this.prefixes.add(domainKey(key.value));
        else this.exact.add(domainKey(key.value));
        return;
      case 'url':
        this.exact.add(`u:${key.value}`);
        return;
      case 'email':
        this.exact.add(`e:${key.value}`);
        return;
      default:
        // Hashes and AS numbers only match equal values.
        addValueKeys(key, this.exact);
    }
  }

  /** Drops prefixes and exact keys that another prefix covers, so queries never overlap. */
  private minimise(): void {
    const exact = [...this.exact].map(storable);
    const prefixes = [...this.prefixes].map(storablePrefix).sort();
    this.prefixes.clear();
    // In sorted order the texts that start with a prefix follow it without a gap, so a
    // prefix is covered exactly when it starts with the last one kept.
    let kept: string | undefined;
    for (const prefix of prefixes) {
      if (kept !== undefined && prefix.startsWith(kept)) continue;
      this.prefixes.add(prefix);
      kept = prefix;
    }
    this.prefixLengths = [...new Set([...this.prefixes].map((prefix) => prefix.length))];
    this.exact.clear();
    for (const key of exact) if (!this.byPrefix(key)) this.exact.add(key);
  }

  private byPrefix(key: string): boolean {
    for (const length of this.prefixLengths) {
      if (length <= key.length && this.prefixes.has(key.slice(0, length))) return true;
    }
    return false;
  }

  /** Returns whether a stored key is one the terms look for. */
  matches(key: string): boolean {
    return this.exact.has(key) || this.byPrefix(key);
  }

  /** Returns the smallest of the keys that the terms look for, or undefined when none is. */
  owner(keys: readonly string[]): string | undefined {
    let owner: string | undefined;
    for (const key of keys) {
      if ((owner === undefined || key < owner) && this.matches(key)) owner = key;
    }
    return owner;
  }

  /** Returns the store queries of the terms, in an order that depends on the terms alone. */
  queries(): readonly TermQuery[] {
    if (this.cachedQueries) return this.cachedQueries;
    const queries: TermQuery[] = [...this.prefixes].sort().map((prefix) => ({ prefix }));
    const exact = [...this.exact].sort();
    for (let start = 0; start < exact.length; start += KEYS_PER_QUERY) {
      queries.push({ keys: exact.slice(start, start + KEYS_PER_QUERY) });
    }
    this.cachedQueries = queries;
    return queries;
  }
}
