/**
 * Suricata and Snort rules for exported indicators: one rule per network value (address or
 * block, domain, URL); hashes and e-mail addresses have no inline rule form and are left out.
 *
 * A rule's sid comes from a hash of its key (indicator id, rule kind and value) into the
 * configured sid range, so it is the same on every run without storing a row per rule.
 * When two keys hash to one sid, the later one probes for a free sid and that choice is
 * stored in a mapping document, so it too stays stable across runs. `rev` is the
 * indicator's `modified` time in whole seconds since the epoch, which grows whenever the
 * indicator changes and fits the 32-bit unsigned rev of both engines until 2106.
 */
import { createHash } from 'node:crypto';
import { CairnError } from '../errors.ts';
import { StoreConflictError, type Store } from '../store/store.ts';
import type { SelectedIndicator } from './selection.ts';

export type RuleEngine = 'suricata' | 'snort';

export interface SidRange {
  /** First sid, inclusive. */
  start: number;
  /** Last sid, inclusive. */
  end: number;
}

/** Sids Suricata and Snort leave to local rules (1,000,000 to 1,999,999). */
export const DEFAULT_SID_RANGE: SidRange = { start: 1_000_000, end: 1_999_999 };

export const SID_DOCUMENT = 'export-sids';

/** Checks a sid range from a request or an option, naming the bad value. */
export function checkSidRange(range: SidRange): SidRange {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 1 || end < start) {
    throw new CairnError(
      'invalid-parameter',
      `sid range ${start}-${end} is invalid: give two whole numbers, the first at least 1 and not above the second`,
    );
  }
  if (end > 0xffffffff) {
    throw new CairnError(
      'invalid-parameter',
      `sid range end ${end} is above 4294967295, the largest sid`,
    );
  }
  return range;
}

/**
 * Hands out sids for one export. Keys that collided on an earlier run keep the sid stored
 * for them; a stored sid is never given to another key.
 */
export class SidAllocator {
  private readonly used = new Set<number>();
  private readonly stored = new Map<string, number>();
  private readonly reserved = new Set<number>();
  private readonly added = new Map<string, number>();
  private revision = 0;

  private constructor(
    private readonly store: Store,
    private readonly profile: string,
    readonly range: SidRange,
  ) {}

  /** Loads the stored collisions of an export profile (a collection or a saved export). */
  static async load(store: Store, profile: string, range: SidRange): Promise<SidAllocator> {
    const allocator = new SidAllocator(store, profile, checkSidRange(range));
    await allocator.reload();
    return allocator;
  }

  private documentId(): string {
    return `${this.profile}:${this.range.start}-${this.range.end}`;
  }

  private async reload(): Promise<void> {
    const document = await this.store.getDocument(SID_DOCUMENT, this.documentId());
    this.stored.clear();
    this.reserved.clear();
    this.revision = document?.revision ?? 0;
    const sids = document
      ? (JSON.parse(document.body) as { sids: Record<string, number> }).sids
      : {};
    for (const [key, sid] of Object.entries(sids)) {
      this.stored.set(key, sid);
      this.reserved.add(sid);
    }
  }

  private natural(key: string): number {
    const digest = createHash('sha256').update(key).digest();
    const size = this.range.end - this.range.start + 1;
    return this.range.start + (digest.readUIntBE(0, 6) % size);
  }

  /** Returns the sid of a rule key. Throws when the range is full. */
  sid(key: string): number {
    const known = this.stored.get(key) ?? this.added.get(key);
    if (known !== undefined) {
      this.used.add(known);
      return known;
    }
    const size = this.range.end - this.range.start + 1;
    let sid = this.natural(key);
    for (let probe = 0; this.used.has(sid) || this.reserved.has(sid); probe++) {
      if (probe >= size) {
        throw new CairnError(
          'conflict',
          `the sid range ${this.range.start}-${this.range.end} is full: choose a larger range`,
        );
      }
      sid = sid === this.range.end ? this.range.start : sid + 1;
    }
    if (sid !== this.natural(key)) this.added.set(key, sid);
    this.used.add(sid);
    return sid;
  }

  /** Stores the sids that probing chose in this export, merging with concurrent exports. */
  async save(): Promise<void> {
    if (this.added.size === 0) return;
    for (let attempt = 1; ; attempt++) {
      const sids: Record<string, number> = Object.fromEntries(this.stored);
      for (const [key, sid] of this.added) sids[key] ??= sid;
      try {
        await this.store.putDocument(
          { kind: SID_DOCUMENT, id: this.documentId(), body: JSON.stringify({ sids }) },
          this.revision,
        );
        return;
      } catch (error) {
        if (!(error instanceof StoreConflictError) || attempt >= 5) throw error;
        await this.reload();
      }
    }
  }
}

/** Writes bytes outside printable ASCII, and the characters rule syntax reserves, as |hex|. */
function contentLiteral(value: string): string {
  let text = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const reserved = byte === 0x22 || byte === 0x3b || byte === 0x5c || byte === 0x7c;
    text +=
      byte < 0x20 || byte > 0x7e || reserved
        ? `|${byte.toString(16).padStart(2, '0')}|`
        : String.fromCharCode(byte);
  }
  return text;
}

/** Cleans a rule message to printable ASCII without the characters rule options reserve. */
function message(text: string): string {
  return text
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/[";\\|]/g, ' ')
    .slice(0, 200);
}

/** Domain labels as DNS writes them on the wire, for Snort content matches. */
function dnsWire(domain: string): string {
  return domain
    .split('.')
    .map((label) => `|${label.length.toString(16).padStart(2, '0')}|${contentLiteral(label)}`)
    .join('');
}

interface RuleParts {
  header: string;
  options: string[];
}

function urlParts(value: string): { host: string; path: string } | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return { host: url.hostname, path: `${url.pathname}${url.search}` };
  } catch {
    return undefined;
  }
}

function ruleParts(
  engine: RuleEngine,
  type: string,
  value: string,
  port: number | undefined,
): RuleParts | undefined {
  switch (type) {
    case 'ipv4':
    case 'ipv6':
      // NOTE: a network-traffic pattern names no protocol, and an address with a port is
      // written for TCP, the transport of the C2 lists it comes from, such as Feodo Tracker.
      return port === undefined
        ? { header: `alert ip any any <> [${value}] any`, options: [] }
        : { header: `alert tcp any any -> [${value}] ${port}`, options: [] };
    case 'domain':
      return engine === 'suricata'
        ? {
            header: 'alert dns any any -> any any',
            options: [
              'dns.query',
              'dotprefix',
              `content:".${contentLiteral(value)}"`,
              'nocase',
              'endswith',
            ],
          }
        : {
            header: 'alert udp any any -> any 53',
            options: [`content:"${dnsWire(value)}|00|"`, 'nocase'],
          };
    case 'url': {
      const parts = urlParts(value);
      if (!parts) return undefined;
      return engine === 'suricata'
        ? {
            header: 'alert http any any -> any any',
            options: [
              // Suricata 7 lowercases this buffer and rejects nocase on it; URL hosts are
              // lowercase already.
              'http.host',
              `content:"${contentLiteral(parts.host)}"`,
              `bsize:${Buffer.byteLength(parts.host)}`,
              'http.uri',
              `content:"${contentLiteral(parts.path)}"`,
              'startswith',
            ],
          }
        : {
            header: 'alert tcp any any -> any any',
            options: [
              'flow:to_server,established',
              `content:"${contentLiteral(parts.host)}"`,
              'http_header',
              'nocase',
              `content:"${contentLiteral(parts.path)}"`,
              'http_uri',
            ],
          };
    }
    default:
      return undefined;
  }
}

/** Returns the rules of one indicator, one line each. */
export function indicatorRules(
  engine: RuleEngine,
  indicator: SelectedIndicator,
  sids: SidAllocator,
): string[] {
  const rules: string[] = [];
  const rev = Math.max(1, Math.floor(indicator.modifiedAt / 1_000_000));
  const name = typeof indicator.object.name === 'string' ? indicator.object.name : indicator.id;
  for (const observable of indicator.observables) {
    const parts = ruleParts(engine, observable.type, observable.value, observable.port);
    if (!parts) continue;
    const port = observable.port === undefined ? '' : `|${observable.port}`;
    const sid = sids.sid(`${indicator.id}|${observable.type}|${observable.value}${port}`);
    const described =
      observable.port === undefined
        ? observable.value
        : `${observable.value} port ${observable.port}`;
    const options = [
      `msg:"Cairn ${observable.type} ${message(described)} (${message(name)})"`,
      ...parts.options,
      'classtype:trojan-activity',
      `sid:${sid}`,
      `rev:${rev}`,
      `metadata:cairn_indicator ${indicator.id.slice('indicator--'.length)}, cairn_score ${Math.round(indicator.score.score)}`,
    ];
    rules.push(`${parts.header} (${options.join('; ')};)`);
  }
  return rules;
}
