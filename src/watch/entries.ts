/**
 * Turning entry input (from the JSON API or the CLI) into stored watch entries: values are
 * normalised with src/normalise, patterns parsed and compiled with src/pattern, filters
 * checked field by field. Every rejection names the value and what is expected instead.
 */
import { randomUUID } from 'node:crypto';
import { classify, normalise, type Observable } from '../normalise/index.ts';
import { compilePattern } from '../pattern/index.ts';
import type { TlpLevel } from '../store/store.ts';
import { canonicalFilter } from './filters.ts';
import {
  MAX_FILTER_VALUES,
  MAX_PATTERN_LENGTH,
  VALUE_ENTRY_TYPES,
  type ObjectFilter,
  type ValueEntryType,
  type WatchEntry,
} from './model.ts';

/** Maximum length of an entry comment and of a filter text value, in characters. */
export const MAX_COMMENT = 1_000;
const MAX_FILTER_TEXT = 200;

/**
 * Shortest prefix length of an address block entry, per IP version. A wider block, such as
 * 0.0.0.0/0 or ::/0, matches nearly every address, so it floods the list with alerts and
 * matches every line of a bulk look-up. An IPv4 /8 is a whole old class A network, and an
 * IPv6 /16 is narrower than the /12 blocks IANA gives to regional registries.
 */
export const MIN_BLOCK_PREFIX = { 4: 8, 6: 16 } as const;

/** One entry as a request gives it: a value, a STIX pattern or an object filter. */
export interface EntryInput {
  /** Omitted or `auto` with a value: the value's form decides (see classify in src/normalise). */
  type?: ValueEntryType | 'auto' | 'pattern' | 'filter';
  value?: string;
  /** For domains: also every subdomain. */
  subdomains?: boolean;
  /** For hashes: the algorithm, when the digest length does not tell it. */
  algorithm?: string;
  /** For `type: pattern`. */
  pattern?: string;
  /** For `type: filter`. */
  filter?: ObjectFilter;
  comment?: string;
}

export type EntryResult = { ok: true; entry: WatchEntry } | { ok: false; reason: string };

const TLP_LEVELS: readonly TlpLevel[] = ['clear', 'green', 'amber', 'amber+strict', 'red'];
const ENTRY_FIELDS = new Set([
  'type',
  'value',
  'subdomains',
  'algorithm',
  'pattern',
  'filter',
  'comment',
]);
/** Maximum length of an entry's value and of its hash algorithm name, in characters. */
export const MAX_VALUE_LENGTH = 8_192;
const MAX_ALGORITHM_LENGTH = 20;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STIX_TYPE = /^[a-z0-9][a-z0-9-]{0,249}$/;
const CVE = /^CVE-\d{4}-\d{4,}$/i;

function fail(reason: string): EntryResult {
  return { ok: false, reason };
}

function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Checks and normalises one entry, given as an EntryInput or as any value a request holds;
 * `now` is the time it is added (microseconds).
 */
export function buildEntry(raw: EntryInput | unknown, now: number): EntryResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return fail(
      `an entry must be an object with a value, a pattern or a filter (got ${quote(raw)})`,
    );
  }
  // Every field is checked below before it is used.
  const input = raw as EntryInput;
  const unknown = Object.keys(input).find((key) => !ENTRY_FIELDS.has(key));
  if (unknown !== undefined) {
    return fail(
      `${quote(unknown)} is not an entry field; expected ${[...ENTRY_FIELDS].join(', ')}`,
    );
  }
  const comment = input.comment;
  if (comment !== undefined && (typeof comment !== 'string' || comment.length > MAX_COMMENT)) {
    return fail(`the comment must be text of at most ${MAX_COMMENT} characters`);
  }
  const base = { id: randomUUID(), addedAt: now, ...(comment ? { comment } : {}) };

  if (input.type === 'pattern') return patternEntry(input.pattern, base);
  if (input.type === 'filter') return filterEntry(input.filter, base);
  return valueEntry(input, base);
}

function valueEntry(
  input: EntryInput,
  base: { id: string; addedAt: number; comment?: string },
): EntryResult {
  const { value, subdomains, algorithm } = input;
  const type = input.type ?? 'auto';
  if (typeof value !== 'string' || value.trim() === '') {
    return fail('the entry has no value: give a value, a pattern or a filter');
  }
  if (value.length > MAX_VALUE_LENGTH) {
    return fail(
      `the value is ${value.length} characters long; at most ${MAX_VALUE_LENGTH} are allowed`,
    );
  }
  if (type !== 'auto' && !(VALUE_ENTRY_TYPES as readonly string[]).includes(type)) {
    return fail(
      `${quote(type)} is not an entry type; expected one of auto, ${VALUE_ENTRY_TYPES.join(', ')}, pattern, filter`,
    );
  }
  if (
    algorithm !== undefined &&
    (typeof algorithm !== 'string' || algorithm.length > MAX_ALGORITHM_LENGTH)
  ) {
    return fail(
      `the hash algorithm must be text of at most ${MAX_ALGORITHM_LENGTH} characters, such as SHA-256`,
    );
  }
  const result =
    type === 'auto' ? classify(value) : normalise(type as ValueEntryType, value, algorithm);
  if (!result.ok) return fail(result.reason);
  const observable: Observable = result.value;

  if (subdomains !== undefined && typeof subdomains !== 'boolean') {
    return fail('subdomains must be true or false');
  }
  if (subdomains && observable.kind !== 'domain') {
    return fail(
      `subdomains applies to domain entries only, and ${quote(value)} is a ${observable.kind}`,
    );
  }
  if (observable.kind === 'cidr') {
    const problem = blockWidthProblem(observable.value, observable.version);
    if (problem) return fail(problem);
  }
  return {
    ok: true,
    entry: {
      ...base,
      type: observable.kind,
      value: observable.value,
      ...(subdomains ? { subdomains: true } : {}),
      ...(observable.kind === 'hash' ? { algorithm: observable.algorithm } : {}),
    },
  };
}

/** Rejects an address block wider than MIN_BLOCK_PREFIX allows. */
function blockWidthProblem(block: string, version: 4 | 6): string | undefined {
  const prefix = Number(block.slice(block.indexOf('/') + 1));
  const minimum = MIN_BLOCK_PREFIX[version];
  if (prefix >= minimum) return undefined;
  return (
    `the block ${block} is too wide to watch: it matches nearly every address. Watch IPv${version} ` +
    `blocks of /${minimum} or narrower, and split a wider range into such blocks`
  );
}

function patternEntry(
  pattern: unknown,
  base: { id: string; addedAt: number; comment?: string },
): EntryResult {
  if (typeof pattern !== 'string' || pattern.trim() === '') {
    return fail(
      "a pattern entry needs a STIX pattern, such as [domain-name:value = 'evil.example']",
    );
  }
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return fail(
      `the pattern is ${pattern.length} characters long; at most ${MAX_PATTERN_LENGTH} are allowed`,
    );
  }
  try {
    // Compiling also checks MATCHES expressions, which parsing alone leaves unchecked.
    compilePattern(pattern).dispose();
  } catch (error) {
    return fail(`invalid STIX pattern ${quote(pattern)}: ${(error as Error).message}`);
  }
  return { ok: true, entry: { ...base, type: 'pattern', pattern } };
}

/** Checks a list of text values of one filter field. */
function textValues(
  field: string,
  values: unknown,
  check?: (value: string) => string | undefined,
): string | undefined {
  if (values === undefined) return undefined;
  if (!Array.isArray(values) || values.length === 0 || values.length > MAX_FILTER_VALUES) {
    return `filter.${field} must be a list of 1 to ${MAX_FILTER_VALUES} values`;
  }
  for (const value of values) {
    if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_FILTER_TEXT) {
      return `filter.${field} holds ${quote(value)}; expected text of 1 to ${MAX_FILTER_TEXT} characters`;
    }
    const problem = check?.(value.trim());
    if (problem) return `filter.${field} holds ${quote(value)}: ${problem}`;
  }
  return undefined;
}

const FILTER_FIELDS = new Set([
  'types',
  'labels',
  'sectors',
  'names',
  'killChainPhases',
  'cves',
  'tlp',
  'communities',
  'minConfidence',
]);

/** Returns what is wrong with a filter, or undefined when it is valid. */
export function checkFilter(filter: unknown): string | undefined {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
    return 'a filter entry needs a filter object, such as {"names": ["emotet"]}';
  }
  const fields = filter as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !FILTER_FIELDS.has(key));
  if (unknown !== undefined) {
    return `filter.${unknown} is not a filter field; expected ${[...FILTER_FIELDS].join(', ')}`;
  }
  if (Object.keys(fields).length === 0) return 'the filter is empty: give at least one field';
  return (
    textValues('types', fields.types, (type) =>
      STIX_TYPE.test(type) ? undefined : 'expected a STIX type such as malware',
    ) ??
    textValues('labels', fields.labels) ??
    textValues('sectors', fields.sectors) ??
    textValues('names', fields.names) ??
    textValues('killChainPhases', fields.killChainPhases) ??
    textValues('cves', fields.cves, (cve) =>
      CVE.test(cve) ? undefined : 'expected a CVE id such as CVE-2021-44228',
    ) ??
    textValues('tlp', fields.tlp, (level) =>
      (TLP_LEVELS as readonly string[]).includes(level)
        ? undefined
        : `expected one of ${TLP_LEVELS.join(', ')}`,
    ) ??
    textValues('communities', fields.communities, (id) =>
      UUID.test(id) ? undefined : 'expected a community id (a UUID)',
    ) ??
    checkConfidence(fields.minConfidence)
  );
}

function checkConfidence(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 100) {
    return undefined;
  }
  return `filter.minConfidence is ${quote(value)}; expected a whole number from 0 to 100`;
}

function filterEntry(
  filter: unknown,
  base: { id: string; addedAt: number; comment?: string },
): EntryResult {
  const problem = checkFilter(filter);
  if (problem) return fail(problem);
  return {
    ok: true,
    entry: { ...base, type: 'filter', filter: canonicalFilter(filter as ObjectFilter) },
  };
}

/** Returns a key equal for two entries that watch the same thing, to skip duplicates. */
export function entryIdentity(entry: WatchEntry): string {
  switch (entry.type) {
    case 'pattern':
      return `pattern|${entry.pattern}`;
    case 'filter':
      return `filter|${JSON.stringify(entry.filter)}`;
    default:
      return `${entry.type}|${entry.value}|${entry.subdomains ? 'tree' : ''}`;
  }
}
