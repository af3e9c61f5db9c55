/**
 * Matches observable values against many warning lists at once. CIDR blocks sit in a
 * binary prefix trie and host names and exact strings in one Map, walked up a name's
 * parent domains. Substrings go through one Aho-Corasick automaton, regular expressions
 * through RE2.
 *
 * A substring entry that is a domain name, such as `99.com` in the list of disposable
 * e-mail domains, matches a domain, the host of a URL and the domain of an e-mail address
 * only as whole labels. So it matches `99.com` and `mail.99.com` but never `aaaaa299.com`,
 * because such lists name mail domains and a raw substring would drop unrelated registered
 * domains. Other substring entries, and every entry for values of other kinds, match
 * anywhere.
 */
import ipaddr from 'ipaddr.js';
import { normaliseIp, type ObservableKind } from '../normalise/index.ts';
import { CompiledRegex } from '../pattern/re2.ts';
import { AhoCorasick } from './aho-corasick.ts';
import type { Warninglist } from './load.ts';
import { PrefixTrie } from './prefix-trie.ts';

const ALL_KINDS: readonly ObservableKind[] = [
  'ip',
  'cidr',
  'domain',
  'url',
  'email',
  'hash',
  'asn',
];

/** Observable kinds of the MISP attribute types a list names in matching_attributes. */
const ATTRIBUTE_KINDS: Record<string, readonly ObservableKind[]> = {
  'ip-src': ['ip', 'cidr'],
  'ip-dst': ['ip', 'cidr'],
  'ip-src|port': ['ip'],
  'ip-dst|port': ['ip'],
  domain: ['domain'],
  hostname: ['domain'],
  'hostname|port': ['domain'],
  url: ['url'],
  uri: ['url'],
  link: ['url'],
  email: ['email'],
  'email-src': ['email'],
  'email-dst': ['email'],
  'target-email': ['email'],
  'whois-registrant-email': ['email'],
  'dns-soa-email': ['email'],
  AS: ['asn'],
};

/**
 * Returns the observable kinds a list checks for one of its MISP attribute types. For
 * `domain|ip`, a CIDR list checks the address part and any other list the domain part, so
 * a list of disposable e-mail domains is not run over IP addresses.
 */
function attributeKinds(attribute: string, type: Warninglist['type']): readonly ObservableKind[] {
  if (attribute === 'domain|ip') return type === 'cidr' ? ['ip'] : ['domain'];
  const known = ATTRIBUTE_KINDS[attribute];
  if (known) return known;
  // md5, sha256, filename|sha1, malware-sample, ssdeep, …: file hashes.
  return /(?:md5|sha|ssdeep|tlsh|malware-sample)/.test(attribute) ? ['hash'] : [];
}

/**
 * Lists of one name: host-name lists match the name and its subdomains (`suffix`),
 * string lists the name itself (`exact`). One Map serves both, so a lookup walks the
 * name's parent domains once.
 */
interface NameLists {
  exact?: number[];
  suffix?: number[];
}

/** Per observable kind, the structures to consult. */
interface KindIndex {
  cidr: boolean;
  names?: Map<string, NameLists>;
  substrings?: AhoCorasick;
  /** Substring entries that are domain names, matched as whole labels of the host. */
  labelSubstrings?: AhoCorasick;
  regexes: Array<{ regex: CompiledRegex; list: number }>;
}

/** Kinds whose values have a host that domain-name substring entries apply to. */
const HOST_KINDS: ReadonlySet<ObservableKind> = new Set(['domain', 'url', 'email']);

/**
 * A lowercase substring entry that is a domain name: two or more labels of letters, digits,
 * hyphens and underscores, and a last label with a letter, so `192.168` stays a plain
 * substring. An entry with a leading dot is left plain too, as its dot already marks the
 * start of a label.
 */
const DOMAIN_ENTRY = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.[a-z0-9-]*[a-z][a-z0-9-]*$/;

const NONE: readonly string[] = Object.freeze([]);

const REGEX_LITERAL = /^\/(.*)\/([a-z]*)$/s;

export interface WarninglistProblem {
  list: string;
  entry: string;
  reason: string;
}

export class WarninglistMatcher {
  /** Entries that could not be used (an invalid CIDR block or regular expression). */
  readonly problems: WarninglistProblem[] = [];
  private readonly names: string[];
  private readonly ipv4 = new PrefixTrie();
  /** Lists of single IPv4 addresses, by the address as an unsigned 32-bit number. */
  private readonly ipv4Addresses = new Map<number, number[]>();
  private readonly ipv6 = new PrefixTrie();
  private readonly kinds = new Map<ObservableKind, KindIndex>();

  constructor(lists: readonly Warninglist[]) {
    this.names = lists.map((list) => list.name);
    this.seen = new Uint32Array(lists.length);
    const substrings = new Map<ObservableKind, Array<{ text: string; list: number }>>();
    const labelSubstrings = new Map<ObservableKind, Array<{ text: string; list: number }>>();
    lists.forEach((list, number) => {
      const kinds =
        list.matchingAttributes.length === 0
          ? ALL_KINDS
          : [
              ...new Set(
                list.matchingAttributes.flatMap((attribute) =>
                  attributeKinds(attribute, list.type),
                ),
              ),
            ];
      const indexes = kinds.map((kind) => this.kindIndex(kind));
      switch (list.type) {
        case 'cidr':
          this.addBlocks(list, number);
          for (const index of indexes) index.cidr = true;
          break;
        case 'hostname':
          for (const entry of list.entries) {
            const host = entry
              .trim()
              .toLowerCase()
              .replace(/^\*?\./, '')
              .replace(/\.$/, '');
            if (host) for (const index of indexes) addName(index, host, 'suffix', number);
          }
          break;
        case 'string':
          for (const entry of list.entries) {
            const text = entry.trim().toLowerCase().replace(/\.$/, '');
            if (text) for (const index of indexes) addName(index, text, 'exact', number);
          }
          break;
        case 'substring':
          for (const kind of kinds) {
            const plain = substrings.get(kind) ?? [];
            const labels = labelSubstrings.get(kind) ?? [];
            for (const entry of list.entries) {
              const text = entry.trim().toLowerCase();
              if (!text) continue;
              const domain = text.endsWith('.') ? text.slice(0, -1) : text;
              if (HOST_KINDS.has(kind) && DOMAIN_ENTRY.test(domain)) {
                labels.push({ text: domain, list: number });
              } else {
                plain.push({ text, list: number });
              }
            }
            // An automaton without entries would still scan every value.
            if (plain.length > 0) substrings.set(kind, plain);
            if (labels.length > 0) labelSubstrings.set(kind, labels);
          }
          break;
        case 'regex':
          for (const entry of list.entries) {
            const regex = this.compile(list.name, entry);
            if (regex) for (const index of indexes) index.regexes.push({ regex, list: number });
          }
          break;
      }
    });
    for (const [kind, entries] of substrings)
      this.kindIndex(kind).substrings = new AhoCorasick(entries);
    for (const [kind, entries] of labelSubstrings)
      this.kindIndex(kind).labelSubstrings = new AhoCorasick(entries);
  }

  /** Names of the lists loaded, in load order. */
  get listNames(): readonly string[] {
    return this.names;
  }

  /**
   * Returns the names of the lists that contain a value of `kind`, normalised as
   * src/normalise does (lower case but for a URL's path and query). Host-name lists apply
   * to a domain, to the host of a URL and to the domain of an e-mail address, each with
   * its parent domains. String lists apply to the whole value, and to the host of a URL or
   * e-mail address too. A returned array is not to be changed.
   */
  match(kind: ObservableKind, value: string): readonly string[] {
    const index = this.kinds.get(kind);
    if (!index) return NONE;
    this.stamp++;
    this.hits.length = 0;
    // Normalised values are lower case, except the path and query of a URL.
    const lower = kind === 'url' ? value.toLowerCase() : value;

    if (index.cidr && (kind === 'ip' || kind === 'cidr')) this.matchIp(lower);
    const names = index.names;
    const host = names || index.labelSubstrings ? hostOf(kind, lower) : undefined;
    if (names) {
      // A URL or e-mail address is looked up whole as well as by its host.
      if (host !== lower) this.addAll(names.get(lower)?.exact);
      if (host !== undefined) {
        const own = names.get(host);
        if (own) {
          this.addAll(own.exact);
          this.addAll(own.suffix);
        }
        for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
          this.addAll(names.get(host.slice(dot + 1))?.suffix);
        }
      }
    }
    index.substrings?.match(lower, this.found);
    if (host !== undefined) index.labelSubstrings?.matchLabels(host, this.found);
    for (const { regex, list } of index.regexes) {
      if (this.seen[list] !== this.stamp && regex.test(value)) this.found(list);
    }
    if (this.hits.length === 0) return NONE;
    return this.hits.sort((a, b) => a - b).map((list) => this.names[list]!);
  }

  /** Marks of the lists found in the current call: a list is found when its mark is `stamp`. */
  private readonly seen: Uint32Array;
  private stamp = 0;
  private readonly hits: number[] = [];
  private readonly found = (list: number): void => {
    if (this.seen[list] === this.stamp) return;
    this.seen[list] = this.stamp;
    this.hits.push(list);
  };

  private addAll(lists: number[] | undefined): void {
    if (lists) for (const list of lists) this.found(list);
  }

  private kindIndex(kind: ObservableKind): KindIndex {
    let index = this.kinds.get(kind);
    if (!index) {
      index = { cidr: false, regexes: [] };
      this.kinds.set(kind, index);
    }
    return index;
  }

  private addBlocks(list: Warninglist, number: number): void {
    for (const entry of list.entries) {
      const block = normaliseIp(entry);
      if (!block.ok) {
        this.problems.push({ list: list.name, entry, reason: block.reason });
        continue;
      }
      const { value, version, prefixLength } = block.value;
      if (version === 4 && prefixLength === undefined) {
        // Single addresses (most of the public-DNS list) go to a Map: one lookup instead of
        // a 32-level walk through a trie too large to stay in cache.
        addTo(this.ipv4Addresses, ipv4Number(value), number);
        continue;
      }
      const slash = value.indexOf('/');
      const address = ipaddr.parse(slash === -1 ? value : value.slice(0, slash));
      const full = version === 4 ? 32 : 128;
      const trie = version === 4 ? this.ipv4 : this.ipv6;
      trie.add(address.toByteArray(), prefixLength ?? full, number);
    }
  }

  /** Looks up an address or block; a normalised IPv4 value is parsed by hand, the hot path. */
  private matchIp(value: string): void {
    const slash = value.indexOf('/');
    const address = slash === -1 ? value : value.slice(0, slash);
    if (!address.includes(':')) {
      const whole = ipv4Number(address);
      if (slash === -1) this.addAll(this.ipv4Addresses.get(whole));
      this.ipv4.matchIpv4(whole, slash === -1 ? 32 : Number(value.slice(slash + 1)), this.found);
      return;
    }
    let parsed: number[];
    try {
      parsed = ipaddr.IPv6.parse(address).toByteArray();
    } catch {
      return;
    }
    this.ipv6.match(parsed, slash === -1 ? 128 : Number(value.slice(slash + 1)), this.found);
  }

  private compile(list: string, entry: string): CompiledRegex | undefined {
    const literal = REGEX_LITERAL.exec(entry);
    const source = literal ? literal[1]! : entry;
    const flags = [...new Set(`${literal?.[2] ?? ''}u`)]
      .filter((flag) => 'imsu'.includes(flag))
      .join('');
    try {
      return new CompiledRegex(source, flags, { raw: entry, start: 0 });
    } catch (error) {
      this.problems.push({ list, entry, reason: (error as Error).message });
      return undefined;
    }
  }
}

function addTo<K>(map: Map<K, number[]>, key: K, list: number): void {
  const lists = map.get(key);
  if (!lists) map.set(key, [list]);
  else if (!lists.includes(list)) lists.push(list);
}

/** Converts a canonical dotted IPv4 address to its unsigned 32-bit number, by hand (the hot path). */
function ipv4Number(address: string): number {
  let whole = 0;
  let part = 0;
  for (let i = 0; i < address.length; i++) {
    const code = address.charCodeAt(i);
    if (code === 46) {
      whole = whole * 256 + part;
      part = 0;
    } else {
      part = part * 10 + (code - 48);
    }
  }
  return whole * 256 + part;
}

function addName(index: KindIndex, name: string, how: keyof NameLists, list: number): void {
  index.names ??= new Map();
  let entry = index.names.get(name);
  if (!entry) {
    entry = {};
    index.names.set(name, entry);
  }
  const lists = (entry[how] ??= []);
  if (!lists.includes(list)) lists.push(list);
}

/** Returns the host a host-name list applies to: a domain, a URL's host, an e-mail address's domain. */
function hostOf(kind: ObservableKind, value: string): string | undefined {
  if (kind === 'domain') return value;
  if (kind === 'url') return urlHost(value);
  if (kind === 'email') return value.slice(value.lastIndexOf('@') + 1);
  return undefined;
}

function urlHost(url: string): string | undefined {
  const start = url.indexOf('//');
  if (start === -1) return undefined;
  let end = start + 2;
  while (end < url.length && !'/?#'.includes(url[end]!)) end++;
  const authority = url.slice(start + 2, end);
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  return host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:[0-9]*$/, '');
}
