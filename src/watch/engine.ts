/**
 * The matching engine: an in-memory inverted index over the entries of every loaded watch
 * list. An incoming object is turned into look-up keys: its observables, the values its
 * indicator pattern mentions, probes of its properties, its names and labels. Each key
 * finds the entries filed under it, and only those candidates get a full check, a STIX
 * pattern evaluation or an object filter test. Lists are added, replaced and removed one at
 * a time, so a change to one list never rebuilds the others.
 */
import type { Observable } from '../normalise/index.ts';
import {
  compilePattern,
  matchPattern,
  prepareObservations,
  PatternEvaluationError,
  type CompiledPattern,
  type PreparedObservations,
} from '../pattern/index.ts';
import { DEFINED_TYPES, SCO_TYPES } from '../stix/index.ts';
import type { TlpLevel } from '../store/store.ts';
import { canonicalFilter, describeFilter, FilterIndex, filterMatches } from './filters.ts';
import type { MatchDetail, ObjectFilter, WatchEntry, WatchList } from './model.ts';
import {
  patternMentions,
  scoObservables,
  valueKeyOf,
  type FoundObservable,
} from './observables.ts';
import { objectProbes, PatternIndex, type Probe } from './pattern-index.ts';
import { ValueMatcher, type MatchHow, type ValueKey } from './value-matcher.ts';

/** Compiled patterns kept between evaluations; the least recently used are disposed. */
const COMPILED_CACHE_SIZE = 10_000;
/**
 * Evaluation allowance per pattern and object, in src/pattern steps. A tenth of the
 * evaluator's default: one object with one observation needs far fewer, and a hostile
 * object then costs at most a few tens of milliseconds per candidate.
 */
const MAX_EVALUATION_STEPS = 100_000;

export interface IndexedList {
  list: WatchList;
  revision: number;
  entries: IndexedEntry[];
}

export interface IndexedEntry {
  owner: IndexedList;
  entry: WatchEntry;
  /** The canonical filter of a filter entry. */
  filter?: ObjectFilter;
}

export interface EntryMatch {
  entry: IndexedEntry;
  detail: MatchDetail;
}

/** An object to match, with what the checks need besides its JSON. */
export interface MatchInput {
  object: Readonly<Record<string, unknown>>;
  /** SCOs an observed-data object references through `object_refs`, by id. */
  references?: ReadonlyMap<string, unknown>;
  /** TLP levels of the version, for filters. */
  tlp: readonly TlpLevel[];
  /** The community owning the collection of the version, for filters. */
  communityId?: string;
}

/** Checks whether an object is an SCO: a STIX 2.1 SCO type, or a custom type without `created`. */
export function isSco(object: Readonly<Record<string, unknown>>): boolean {
  const type = object.type;
  if (typeof type !== 'string') return false;
  return SCO_TYPES.has(type) || (!DEFINED_TYPES.has(type) && object.created === undefined);
}

/** Returns the matcher key of a value entry. */
export function entryValueKey(entry: WatchEntry): ValueKey | undefined {
  switch (entry.type) {
    case 'pattern':
    case 'filter':
      return undefined;
    case 'ip':
    case 'cidr':
      return { kind: entry.value.includes(':') ? 'ipv6' : 'ipv4', value: entry.value };
    case 'domain':
      return entry.subdomains
        ? { kind: 'domain', value: entry.value, subdomains: true }
        : { kind: 'domain', value: entry.value };
    default:
      return { kind: entry.type, value: entry.value };
  }
}

/** Describes what an entry watches, for alerts and listings. */
export function describeEntry(entry: WatchEntry): string {
  switch (entry.type) {
    case 'pattern':
      return entry.pattern;
    case 'filter':
      return describeFilter(entry.filter);
    case 'domain':
      return entry.subdomains ? `*.${entry.value}` : entry.value;
    default:
      return entry.value;
  }
}

export class WatchIndex {
  private readonly lists = new Map<string, IndexedList>();
  private readonly values = new ValueMatcher<IndexedEntry>();
  private readonly patterns = new PatternIndex<IndexedEntry>();
  private readonly filters = new FilterIndex<IndexedEntry>();
  private readonly compiled = new Map<IndexedEntry, CompiledPattern>();
  private entries = 0;

  get listCount(): number {
    return this.lists.size;
  }

  get entryCount(): number {
    return this.entries;
  }

  getList(id: string): IndexedList | undefined {
    return this.lists.get(id);
  }

  /** Returns the revision of each loaded list, for reloading the ones changed elsewhere. */
  revisions(): Map<string, number> {
    return new Map([...this.lists].map(([id, indexed]) => [id, indexed.revision]));
  }

  /**
   * Loads a list, replacing the loaded version of it. Entries were checked when they were
   * stored; one that no longer parses is left out rather than failing the whole list.
   */
  setList(list: WatchList, revision: number): void {
    this.removeList(list.id);
    const indexed: IndexedList = { list, revision, entries: [] };
    for (const entry of list.entries) {
      const item: IndexedEntry = { owner: indexed, entry };
      if (this.file(item, true)) indexed.entries.push(item);
    }
    this.entries += indexed.entries.length;
    this.lists.set(list.id, indexed);
  }

  removeList(id: string): void {
    const indexed = this.lists.get(id);
    if (!indexed) return;
    for (const item of indexed.entries) {
      this.file(item, false);
      this.compiled.get(item)?.dispose();
      this.compiled.delete(item);
    }
    this.entries -= indexed.entries.length;
    this.lists.delete(id);
  }

  private file(item: IndexedEntry, add: boolean): boolean {
    const { entry } = item;
    if (entry.type === 'pattern') {
      try {
        if (add) this.patterns.add(entry.pattern, item);
        else this.patterns.remove(entry.pattern, item);
        return true;
      } catch {
        return false;
      }
    }
    if (entry.type === 'filter') {
      item.filter ??= canonicalFilter(entry.filter);
      if (add) this.filters.add(item.filter, item);
      else this.filters.remove(item.filter, item);
      return true;
    }
    const key = entryValueKey(entry)!;
    if (!add) {
      this.values.remove(key, item);
      return true;
    }
    return this.values.add(key, item);
  }

  /**
   * Returns the entries of enabled lists that match the object, at most one match per
   * entry: the first found, looking at values before patterns before filters.
   */
  match(input: MatchInput): EntryMatch[] {
    const found = new Map<IndexedEntry, EntryMatch>();
    const add = (entry: IndexedEntry, detail: MatchDetail): void => {
      if (!entry.owner.list.enabled || found.has(entry)) return;
      found.set(entry, { entry, detail });
    };
    const { object } = input;

    if (object.type === 'indicator') this.matchIndicator(object, add);
    else if (object.type === 'observed-data') this.matchObservedData(input, add);
    else if (isSco(object)) this.matchSco(input, add);
    this.matchFilters(input, add);
    return [...found.values()];
  }

  /**
   * Visits the value entries an observable matches, for the bulk look-up. Entries of
   * disabled lists are visited too; the caller skips them with the list's `enabled`.
   */
  lookupValue(
    observable: Observable,
    visit: (entry: IndexedEntry, how: MatchHow, watched: string) => void,
  ): void {
    this.values.lookupObservable(observable, visit);
  }

  private matchIndicator(
    object: Readonly<Record<string, unknown>>,
    add: (entry: IndexedEntry, detail: MatchDetail) => void,
  ): void {
    if (object.pattern_type !== 'stix' || typeof object.pattern !== 'string') return;
    for (const mention of patternMentions(object.pattern)) {
      this.lookupFound(mention, 'indicator', `pattern ${mention.path}`, add);
    }
  }

  private lookupFound(
    found: FoundObservable,
    kind: 'value' | 'indicator',
    path: string,
    add: (entry: IndexedEntry, detail: MatchDetail) => void,
  ): void {
    const key = valueKeyOf(found.observable);
    this.values.lookup(key.kind, key.value, (entry, how, watched) =>
      add(entry, { kind, how, watched, value: found.observable.value, path }),
    );
  }

  private matchSco(input: MatchInput, add: (entry: IndexedEntry, detail: MatchDetail) => void) {
    const { object, references } = input;
    for (const found of scoObservables(object)) this.lookupFound(found, 'value', found.path, add);
    const probes = objectProbes(object, references ? (id) => references.get(id) : undefined);
    this.evaluateCandidates(probes, [object], references, add);
  }

  private matchObservedData(
    input: MatchInput,
    add: (entry: IndexedEntry, detail: MatchDetail) => void,
  ) {
    const { object } = input;
    const embedded =
      object.objects !== null &&
      typeof object.objects === 'object' &&
      !Array.isArray(object.objects)
        ? (object.objects as Record<string, unknown>)
        : undefined;
    const references = input.references ?? new Map<string, unknown>();
    const resolve = (id: string): unknown =>
      embedded && Object.hasOwn(embedded, id) ? embedded[id] : references.get(id);

    const roots: Array<[string, Record<string, unknown>]> = [];
    if (embedded) {
      for (const [key, sco] of Object.entries(embedded)) {
        if (sco !== null && typeof sco === 'object') {
          roots.push([`objects.'${key}'`, sco as Record<string, unknown>]);
        }
      }
    }
    const refs = Array.isArray(object.object_refs) ? object.object_refs : [];
    refs.forEach((id: unknown, position: number) => {
      const sco = typeof id === 'string' ? references.get(id) : undefined;
      if (sco !== null && typeof sco === 'object') {
        roots.push([`object_refs[${position}]`, sco as Record<string, unknown>]);
      }
    });

    const probes: Probe[] = [];
    for (const [where, sco] of roots) {
      for (const found of scoObservables(sco)) {
        this.lookupFound(found, 'value', `${where}.${found.path}`, add);
      }
      probes.push(...objectProbes(sco, resolve));
    }
    this.evaluateCandidates(probes, [object], references, add);
  }

  private evaluateCandidates(
    probes: readonly Probe[],
    observations: readonly unknown[],
    references: ReadonlyMap<string, unknown> | undefined,
    add: (entry: IndexedEntry, detail: MatchDetail) => void,
  ): void {
    const candidates = new Set<IndexedEntry>();
    this.patterns.candidates(probes, (entry) => {
      if (entry.owner.list.enabled) candidates.add(entry);
    });
    // The observations are prepared once for all candidates, on the first that needs them.
    let prepared: PreparedObservations | undefined;
    for (const entry of candidates) {
      const pattern = this.compiledPattern(entry);
      if (!pattern) continue;
      let matched: boolean;
      try {
        prepared ??= prepareObservations(observations, references);
        matched = matchPattern(pattern, prepared, { maxSteps: MAX_EVALUATION_STEPS }).matched;
      } catch (error) {
        // Data the pattern cannot be evaluated against, or a spent allowance, is no match.
        if (error instanceof PatternEvaluationError) continue;
        throw error;
      }
      if (matched) add(entry, { kind: 'pattern', watched: describeEntry(entry.entry) });
    }
  }

  private compiledPattern(entry: IndexedEntry): CompiledPattern | undefined {
    if (entry.entry.type !== 'pattern') return undefined;
    let compiled = this.compiled.get(entry);
    if (compiled) {
      // Move to the back of the map, which keeps least recently used first.
      this.compiled.delete(entry);
      this.compiled.set(entry, compiled);
      return compiled;
    }
    try {
      compiled = compilePattern(entry.entry.pattern);
    } catch {
      return undefined;
    }
    this.compiled.set(entry, compiled);
    if (this.compiled.size > COMPILED_CACHE_SIZE) {
      const [oldest, pattern] = this.compiled.entries().next().value!;
      pattern.dispose();
      this.compiled.delete(oldest);
    }
    return compiled;
  }

  private matchFilters(input: MatchInput, add: (entry: IndexedEntry, detail: MatchDetail) => void) {
    const context = {
      tlp: input.tlp,
      ...(input.communityId !== undefined ? { communityId: input.communityId } : {}),
    };
    const seen = new Set<IndexedEntry>();
    this.filters.candidates(input.object, (entry) => {
      if (seen.has(entry)) return;
      seen.add(entry);
      const reason = filterMatches(entry.filter!, input.object, context);
      if (reason !== undefined) {
        add(entry, { kind: 'filter', watched: describeEntry(entry.entry), value: reason });
      }
    });
  }
}
