/**
 * Object filters (watch entries of type `filter`): checking one object against a filter,
 * and an index of filters. The index files each filter under the values of its most
 * selective field, so an incoming object is checked only against the filters that one of
 * its own values names.
 */
import type { TlpLevel } from '../store/store.ts';
import type { ObjectFilter } from './model.ts';
import { MultiMap } from './multimap.ts';

/** Object types whose `name` and `aliases` a `names` filter compares. */
export const NAMED_TYPES: ReadonlySet<string> = new Set(['malware', 'intrusion-set', 'campaign']);

/** The facts of the version a filter reads besides the object. */
export interface FilterContext {
  /** TLP levels of the version. */
  tlp: readonly TlpLevel[];
  /** The community owning the collection the version is in. */
  communityId?: string;
}

/** The indexed fields, most selective first. */
const INDEXED_FIELDS = ['names', 'cves', 'labels', 'killChainPhases', 'sectors', 'types'] as const;
type IndexedField = (typeof INDEXED_FIELDS)[number];

function strings(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((item): item is string => typeof item === 'string');
}

/** Lower-cased names and aliases of a malware, intrusion set or campaign. */
function objectNames(object: Readonly<Record<string, unknown>>): string[] {
  if (!NAMED_TYPES.has(String(object.type))) return [];
  const names = strings(object.aliases);
  if (typeof object.name === 'string') names.push(object.name);
  return names.map((name) => name.toLowerCase());
}

/** Upper-cased CVE ids of a vulnerability: its name and its `cve` external references. */
function objectCves(object: Readonly<Record<string, unknown>>): string[] {
  if (object.type !== 'vulnerability') return [];
  const found = new Set<string>();
  if (typeof object.name === 'string' && /^cve-\d{4}-\d{4,}$/i.test(object.name)) {
    found.add(object.name.toUpperCase());
  }
  const references = Array.isArray(object.external_references) ? object.external_references : [];
  for (const reference of references as unknown[]) {
    if (reference === null || typeof reference !== 'object') continue;
    const { source_name: source, external_id: id } = reference as Record<string, unknown>;
    if (typeof source === 'string' && source.toLowerCase() === 'cve' && typeof id === 'string') {
      found.add(id.toUpperCase());
    }
  }
  return [...found];
}

/** `phase` and `chain:phase` of each kill-chain phase, lower-cased. */
function objectPhases(object: Readonly<Record<string, unknown>>): string[] {
  const phases = Array.isArray(object.kill_chain_phases) ? object.kill_chain_phases : [];
  const found: string[] = [];
  for (const phase of phases as unknown[]) {
    if (phase === null || typeof phase !== 'object') continue;
    const { kill_chain_name: chain, phase_name: name } = phase as Record<string, unknown>;
    if (typeof name !== 'string') continue;
    found.push(name.toLowerCase());
    if (typeof chain === 'string') found.push(`${chain.toLowerCase()}:${name.toLowerCase()}`);
  }
  return found;
}

/** Returns the object's values of one indexed field, in the case filter values are stored in. */
function fieldValues(field: IndexedField, object: Readonly<Record<string, unknown>>): string[] {
  switch (field) {
    case 'names':
      return objectNames(object);
    case 'cves':
      return objectCves(object);
    case 'labels':
      return strings(object.labels).map((label) => label.toLowerCase());
    case 'killChainPhases':
      return objectPhases(object);
    case 'sectors':
      return strings(object.sectors).map((sector) => sector.toLowerCase());
    case 'types':
      return typeof object.type === 'string' ? [object.type] : [];
  }
}

/**
 * Returns a filter with its text values in the case comparisons use: lower case, CVE ids in
 * upper case, types as given (STIX types are lower case already).
 */
export function canonicalFilter(filter: ObjectFilter): ObjectFilter {
  const lower = (values?: string[]) => values?.map((value) => value.trim().toLowerCase());
  const result: ObjectFilter = {};
  if (filter.types) result.types = filter.types.map((type) => type.trim());
  if (filter.labels) result.labels = lower(filter.labels)!;
  if (filter.sectors) result.sectors = lower(filter.sectors)!;
  if (filter.names) result.names = lower(filter.names)!;
  if (filter.killChainPhases) result.killChainPhases = lower(filter.killChainPhases)!;
  if (filter.cves) result.cves = filter.cves.map((cve) => cve.trim().toUpperCase());
  if (filter.tlp) result.tlp = filter.tlp;
  if (filter.communities) result.communities = filter.communities;
  if (filter.minConfidence !== undefined) result.minConfidence = filter.minConfidence;
  return result;
}

function intersects(wanted: readonly string[] | undefined, present: readonly string[]): boolean {
  if (wanted === undefined) return true;
  return present.some((value) => wanted.includes(value));
}

/**
 * Checks an object against a canonical filter. Returns a summary of what matched, such as
 * `names=emotet`, or undefined when the object fails any field.
 */
export function filterMatches(
  filter: ObjectFilter,
  object: Readonly<Record<string, unknown>>,
  context: FilterContext,
): string | undefined {
  const reasons: string[] = [];
  for (const field of INDEXED_FIELDS) {
    const wanted = filter[field];
    if (wanted === undefined) continue;
    const hit = fieldValues(field, object).find((value) => wanted.includes(value));
    if (hit === undefined) return undefined;
    reasons.push(`${field}=${hit}`);
  }
  if (!intersects(filter.tlp, context.tlp)) return undefined;
  if (filter.tlp) reasons.push(`tlp=${context.tlp.join('+')}`);
  if (filter.communities) {
    if (context.communityId === undefined || !filter.communities.includes(context.communityId)) {
      return undefined;
    }
    reasons.push(`community=${context.communityId}`);
  }
  if (filter.minConfidence !== undefined) {
    const confidence = object.confidence;
    if (typeof confidence !== 'number' || confidence < filter.minConfidence) return undefined;
    reasons.push(`confidence=${confidence}`);
  }
  return reasons.join(', ');
}

/** Describes a filter in one line, for alerts and listings. */
export function describeFilter(filter: ObjectFilter): string {
  return Object.entries(filter)
    .map(([field, value]) => `${field}=${Array.isArray(value) ? value.join('|') : String(value)}`)
    .join(' ');
}

/** Filters filed by the values of their most selective field. */
export class FilterIndex<T extends object> {
  private readonly byField = new Map<IndexedField, MultiMap<string, T>>();
  /** Filters with only TLP, community or confidence conditions: checked for every object. */
  private readonly unkeyed = new Set<T>();

  constructor() {
    for (const field of INDEXED_FIELDS) this.byField.set(field, new MultiMap());
  }

  add(filter: ObjectFilter, item: T): void {
    const field = INDEXED_FIELDS.find((name) => filter[name] !== undefined);
    if (field === undefined) this.unkeyed.add(item);
    else for (const value of filter[field]!) this.byField.get(field)!.add(value, item);
  }

  remove(filter: ObjectFilter, item: T): void {
    const field = INDEXED_FIELDS.find((name) => filter[name] !== undefined);
    if (field === undefined) this.unkeyed.delete(item);
    else for (const value of filter[field]!) this.byField.get(field)!.remove(value, item);
  }

  /** Visits the filters the object could pass (repeats are possible). */
  candidates(object: Readonly<Record<string, unknown>>, visit: (item: T) => void): void {
    for (const field of INDEXED_FIELDS) {
      const map = this.byField.get(field)!;
      if (map.size === 0) continue;
      for (const value of fieldValues(field, object)) map.forEach(value, visit);
    }
    for (const item of this.unkeyed) visit(item);
  }
}
