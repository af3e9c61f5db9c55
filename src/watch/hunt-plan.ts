/**
 * How a retro-hunt checks each kind of entry, so that it reads as little as possible and
 * still finds what a check of every stored object would find.
 *
 * - Value entries look up the key index (hunt-keys.ts) and check only the objects found,
 *   plus the versions added after the index's mark.
 * - Pattern entries read the object types their patterns compare, and observed data: the
 *   engine evaluates a pattern only against an SCO of a type the pattern names, or against
 *   observed data.
 * - Filter entries read the types they allow (names imply malware, intrusion sets and
 *   campaigns, CVEs imply vulnerabilities) in the collections of the communities they
 *   allow. Before parsing a version, a text test rules out those whose JSON lacks every
 *   wanted name, label, sector, kill-chain phase or a confidence.
 *
 * Each kind has an engine of its own (filters are checked directly). Since the engine
 * reports at most one match per entry and object, splitting the entries changes no match.
 */
import { inspectPattern } from '../pattern/index.ts';
import { DEFINED_TYPES, SCO_TYPES } from '../stix/index.ts';
import type { TlpLevel } from '../store/store.ts';
import { describeEntry, WatchIndex, type EntryMatch, type IndexedEntry } from './engine.ts';
import { filterMatches, NAMED_TYPES } from './filters.ts';
import { HuntTerms } from './hunt-keys.ts';
import type { ObjectFilter, WatchEntry, WatchList } from './model.ts';

/** The facts of a stored version that a pre-check reads before its JSON is parsed. */
export interface VersionFacts {
  type: string;
  /** The community owning the version's collection. */
  communityId: string | undefined;
  /** The version's JSON as served to the list's view. */
  json: string;
}

/** A filter entry with the types and texts a version must have to pass it. */
interface PlannedFilter {
  entry: IndexedEntry;
  filter: ObjectFilter;
  /** Types it allows; undefined for every type. */
  types: ReadonlySet<string> | undefined;
  /**
   * Texts of which the lower-cased JSON must contain one, per field: each is a wanted
   * value as JSON.stringify writes it inside quotes.
   */
  needles: string[][];
}

/** Returns the intersection of two type sets, undefined standing for every type. */
function intersect(
  a: ReadonlySet<string> | undefined,
  b: ReadonlySet<string> | undefined,
): ReadonlySet<string> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return new Set([...a].filter((type) => b.has(type)));
}

function quoted(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

function planFilter(entry: IndexedEntry): PlannedFilter {
  const filter = entry.filter!;
  let types: ReadonlySet<string> | undefined = filter.types ? new Set(filter.types) : undefined;
  if (filter.names) types = intersect(types, NAMED_TYPES);
  if (filter.cves) types = intersect(types, new Set(['vulnerability']));

  const needles: string[][] = [];
  for (const values of [filter.names, filter.labels, filter.sectors]) {
    if (values) needles.push(values.map(quoted));
  }
  if (filter.killChainPhases) {
    // `chain:phase` matches a phase named after the last colon, or a name with colons.
    needles.push(
      filter.killChainPhases.map((value) => quoted(value.slice(value.lastIndexOf(':') + 1))),
    );
  }
  if (filter.minConfidence !== undefined) needles.push(['"confidence"']);
  return { entry, filter, types, needles };
}

/**
 * Returns whether the JSON may contain the needles' values. The test is sound on JSON as
 * JSON.stringify writes it, whose only escapes are \" \\ \b \f \n \r \t and \u. Text with
 * \u or \/ may spell a value otherwise, so such a version is always parsed.
 */
function mayContain(lowerJson: string, needles: readonly string[][]): boolean {
  if (lowerJson.includes('\\u') || lowerJson.includes('\\/')) return true;
  return needles.every((field) => field.some((needle) => lowerJson.includes(needle)));
}

/** Object types the engine may evaluate a pattern against: SCOs, custom types and observed data. */
function patternTypes(pattern: string): ReadonlySet<string> {
  const types = new Set(['observed-data']);
  try {
    for (const type of inspectPattern(pattern).comparisons.keys()) {
      if (SCO_TYPES.has(type) || !DEFINED_TYPES.has(type)) types.add(type);
    }
  } catch {
    // The engine leaves out a pattern that no longer parses, so it matches nothing.
    return new Set();
  }
  return types;
}

function engineOf(list: WatchList, revision: number, entries: WatchEntry[]): WatchIndex {
  const engine = new WatchIndex();
  engine.setList({ ...list, entries }, revision);
  return engine;
}

export class HuntPlan {
  /** The list's value entries, for candidates found by key and for versions after the mark. */
  readonly values: WatchIndex;
  readonly terms: HuntTerms;
  /** The list's pattern entries. */
  private readonly patterns: WatchIndex;
  /** Types each pattern entry may match, by entry. */
  private readonly patternTypes: Array<{ entry: IndexedEntry; types: ReadonlySet<string> }>;
  private readonly filters: PlannedFilter[];

  constructor(list: WatchList, revision: number) {
    const byKind = (kinds: string[]) => list.entries.filter((entry) => kinds.includes(entry.type));
    const valueEntries = list.entries.filter(
      (entry) => entry.type !== 'pattern' && entry.type !== 'filter',
    );
    this.values = engineOf(list, revision, valueEntries);
    this.terms = new HuntTerms(valueEntries);
    this.patterns = engineOf(list, revision, byKind(['pattern']));
    this.patternTypes = (this.patterns.getList(list.id)?.entries ?? []).map((entry) => ({
      entry,
      types: patternTypes((entry.entry as { pattern: string }).pattern),
    }));
    const filterEngine = engineOf(list, revision, byKind(['filter']));
    this.filters = (filterEngine.getList(list.id)?.entries ?? []).map(planFilter);
  }

  /** Whether the list has value entries, which the key look-up and the tail read serve. */
  get hasValues(): boolean {
    return !this.terms.empty;
  }

  private filtersIn(communityId: string | undefined): PlannedFilter[] {
    return this.filters.filter(
      (planned) =>
        planned.filter.communities === undefined ||
        (communityId !== undefined && planned.filter.communities.includes(communityId)),
    );
  }

  /**
   * Returns the types that pattern and filter entries need read in a collection of the
   * community: undefined for every type, an empty list when no entry needs a scan there.
   */
  scanTypes(communityId: string | undefined): string[] | undefined {
    const types = new Set<string>();
    for (const { types: allowed } of this.patternTypes) for (const type of allowed) types.add(type);
    for (const planned of this.filtersIn(communityId)) {
      if (planned.types === undefined) return undefined;
      for (const type of planned.types) types.add(type);
    }
    return [...types].sort();
  }

  /**
   * Returns the pattern and filter entries a version may match, judged without parsing
   * it: undefined when none may, so the version need not be parsed.
   */
  candidates(facts: VersionFacts): ScanCandidates | undefined {
    const patterns = this.patternTypes.some(({ types }) => types.has(facts.type));
    const typed = this.filtersIn(facts.communityId).filter(
      (planned) => planned.types === undefined || planned.types.has(facts.type),
    );
    let filters = typed;
    if (typed.some((planned) => planned.needles.length > 0)) {
      const lower = facts.json.toLowerCase();
      filters = typed.filter((planned) => mayContain(lower, planned.needles));
    }
    if (!patterns && filters.length === 0) return undefined;
    return { patterns, filters };
  }

  /** Checks a parsed version against the candidates of `candidates`. */
  matchScan(candidates: ScanCandidates, input: ScanInput): EntryMatch[] {
    const matches: EntryMatch[] = [];
    if (candidates.patterns) {
      matches.push(
        ...this.patterns.match({
          object: input.object,
          tlp: input.tlp,
          ...(input.references ? { references: input.references } : {}),
          ...(input.communityId === undefined ? {} : { communityId: input.communityId }),
        }),
      );
    }
    const context = {
      tlp: input.tlp,
      ...(input.communityId === undefined ? {} : { communityId: input.communityId }),
    };
    for (const planned of candidates.filters) {
      const reason = filterMatches(planned.filter, input.object, context);
      if (reason === undefined) continue;
      matches.push({
        entry: planned.entry,
        detail: { kind: 'filter', watched: describeEntry(planned.entry.entry), value: reason },
      });
    }
    return matches;
  }
}

/** The pattern and filter entries one version may match (see HuntPlan.candidates). */
export interface ScanCandidates {
  /** Whether some pattern entry may match, so the pattern engine must run. */
  patterns: boolean;
  filters: readonly PlannedFilter[];
}

export interface ScanInput {
  object: Readonly<Record<string, unknown>>;
  references?: ReadonlyMap<string, unknown>;
  tlp: readonly TlpLevel[];
  communityId?: string;
}
