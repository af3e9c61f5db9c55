/**
 * An inverted index of STIX patterns (watch entries of type `pattern`) for finding the few
 * patterns an incoming object could satisfy. Each pattern is filed under the index keys of
 * src/pattern's extractIndexKeys: exact values, LIKE prefixes and ISSUBSET address ranges,
 * per object type and path. A pattern with an observation expression that has no keys is
 * filed under the object types it names, so every object of those types is a candidate.
 *
 * Candidates are a superset of the matches: the caller evaluates each one with
 * matchPattern.
 */
import { extractIndexKeys, formatPath, inspectPattern, parsePattern } from '../pattern/index.ts';
import type { IndexKey, ObjectPath, PathStep, PatternAst } from '../pattern/index.ts';
import { formatIpv4, formatIpv6 } from './ip.ts';
import { MultiMap } from './multimap.ts';
import { ValueMatcher } from './value-matcher.ts';

/** One primitive value of an object, at a path written as a pattern writes it. */
export interface Probe {
  /** The type of the SCO the path starts from. */
  type: string;
  path: string;
  value: string | number | boolean;
}

/** Most probes taken from one object, so a hostile object cannot make look-ups slow. */
export const MAX_PROBES = 2_000;
/** Maximum depth of `_ref` and `_refs` properties that probes follow into referenced SCOs. */
const MAX_REF_DEPTH = 3;
/** List elements probed by position as well as through `[*]`. */
const INDEXED_ELEMENTS = 4;

interface PrefixTable<T extends object> {
  /** Prefix lengths present, with how many keys have each. */
  lengths: Map<number, number>;
  map: MultiMap<string, T>;
}

function exactKey(type: string, path: string, value: string | number | boolean): string {
  const tag = typeof value === 'string' ? 's' : typeof value === 'number' ? 'n' : 'b';
  return `${type}\u0000${path}\u0000${tag}${String(value)}`;
}

function typePath(type: string, path: string): string {
  return `${type}\u0000${path}`;
}

/**
 * Whether the evaluator would read the property as binary, which compares with strings and
 * hex literals byte by byte, so exact string keys would miss matches.
 */
function binaryPath(key: IndexKey): boolean {
  return (key.kind === 'equals' && key.valueType === 'binary') || /_(?:bin|hex)'?$/.test(key.path);
}

export class PatternIndex<T extends object> {
  private readonly exact = new MultiMap<string, T>();
  private readonly prefixes = new Map<string, PrefixTable<T>>();
  private readonly ranges = new Map<string, ValueMatcher<T>>();
  private readonly byType = new MultiMap<string, T>();

  /** Files a pattern; raises PatternSyntaxError when it does not parse. */
  add(pattern: string | PatternAst, item: T): void {
    this.change(pattern, item, true);
  }

  /** Removes a pattern filed with `add`; the same pattern text must be given. */
  remove(pattern: string | PatternAst, item: T): void {
    this.change(pattern, item, false);
  }

  private change(pattern: string | PatternAst, item: T, add: boolean): void {
    const ast =
      typeof pattern === 'string'
        ? parsePattern(pattern, { allowDuplicateQualifiers: true })
        : pattern;
    const observations = extractIndexKeys(ast);
    const keys = observations.flatMap((observation) =>
      observation.keys === 'unindexable' ? [] : observation.keys,
    );
    const typeLevel = observations.some((observation) => observation.keys === 'unindexable');

    if (typeLevel) {
      for (const type of inspectPattern(ast).comparisons.keys()) {
        if (add) this.byType.add(type, item);
        else this.byType.remove(type, item);
      }
    }
    for (const key of keys) {
      if (binaryPath(key)) {
        if (add) this.byType.add(key.objectType, item);
        else this.byType.remove(key.objectType, item);
      } else {
        this.changeKey(key, item, add);
      }
    }
  }

  private changeKey(key: IndexKey, item: T, add: boolean): void {
    if (key.kind === 'equals') {
      const name = exactKey(key.objectType, key.path, key.value);
      if (add) this.exact.add(name, item);
      else this.exact.remove(name, item);
      return;
    }
    const where = typePath(key.objectType, key.path);
    if (key.kind === 'prefix') {
      let table = this.prefixes.get(where);
      if (!table) {
        if (!add) return;
        table = { lengths: new Map(), map: new MultiMap() };
        this.prefixes.set(where, table);
      }
      const length = key.prefix.length;
      if (add) {
        table.map.add(key.prefix, item);
        table.lengths.set(length, (table.lengths.get(length) ?? 0) + 1);
      } else if (table.map.remove(key.prefix, item)) {
        const left = (table.lengths.get(length) ?? 1) - 1;
        if (left === 0) table.lengths.delete(length);
        else table.lengths.set(length, left);
      }
      return;
    }
    let matcher = this.ranges.get(where);
    if (!matcher) {
      if (!add) return;
      matcher = new ValueMatcher<T>();
      this.ranges.set(where, matcher);
    }
    const size = key.last - key.first + 1n;
    const prefixLength = (key.family === 4 ? 32 : 128) - (size.toString(2).length - 1);
    const address = key.family === 4 ? formatIpv4(Number(key.first)) : formatIpv6(key.first);
    const valueKey = {
      kind: key.family === 4 ? ('ipv4' as const) : ('ipv6' as const),
      value: `${address}/${prefixLength}`,
    };
    if (add) matcher.add(valueKey, item);
    else matcher.remove(valueKey, item);
  }

  /** Visits every pattern that the probed object could satisfy (repeats are possible). */
  candidates(probes: readonly Probe[], visit: (item: T) => void): void {
    const types = new Set<string>();
    for (const probe of probes) {
      types.add(probe.type);
      this.exact.forEach(exactKey(probe.type, probe.path, probe.value), visit);
      if (typeof probe.value !== 'string') continue;

      const where = typePath(probe.type, probe.path);
      const table = this.prefixes.get(where);
      if (table) {
        const text = probe.value.normalize('NFC');
        for (const length of table.lengths.keys()) {
          if (length <= text.length) table.map.forEach(text.slice(0, length), visit);
        }
      }
      const matcher = this.ranges.get(where);
      if (matcher) {
        const kind = probe.value.includes(':') ? 'ipv6' : 'ipv4';
        matcher.lookup(kind, probe.value, (item) => visit(item));
      }
    }
    for (const type of types) this.byType.forEach(type, visit);
  }
}

/**
 * Returns the probes of an SCO: each primitive value with its path, lists both through
 * `[*]` and by position, and the properties of SCOs reached through `_ref` and `_refs`
 * properties when `resolve` finds them (as the evaluator follows references within
 * observed-data).
 */
export function objectProbes(
  root: Readonly<Record<string, unknown>>,
  resolve?: (id: string) => unknown,
): Probe[] {
  const type = root.type;
  if (typeof type !== 'string') return [];
  const probes: Probe[] = [];
  const path: ObjectPath = { objectType: type, steps: [], start: 0, end: 0 };

  const emit = (value: string | number | boolean): boolean => {
    if (probes.length >= MAX_PROBES) return false;
    probes.push({ type, path: formatPath(path), value });
    return true;
  };

  const walk = (value: unknown, depth: number): boolean => {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      return path.steps.length === 0 || emit(value);
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (!step({ kind: 'any-index' }, value[i], depth)) return false;
        if (i < INDEXED_ELEMENTS && !step({ kind: 'index', index: i }, value[i], depth)) {
          return false;
        }
      }
      return true;
    }
    if (value === null || typeof value !== 'object') return true;
    for (const [key, child] of Object.entries(value)) {
      if (!step({ kind: 'key', key }, child, depth)) return false;
      if (resolve && depth < MAX_REF_DEPTH && key.endsWith('_ref') && typeof child === 'string') {
        const target = resolve(child);
        if (target !== undefined && !step({ kind: 'key', key }, target, depth + 1)) return false;
      }
      if (resolve && depth < MAX_REF_DEPTH && key.endsWith('_refs') && Array.isArray(child)) {
        path.steps.push({ kind: 'key', key });
        for (const id of child) {
          const target = typeof id === 'string' ? resolve(id) : undefined;
          if (target !== undefined && !step({ kind: 'any-index' }, target, depth + 1)) {
            path.steps.pop();
            return false;
          }
        }
        path.steps.pop();
      }
    }
    return true;
  };

  const step = (next: PathStep, value: unknown, depth: number): boolean => {
    path.steps.push(next);
    const going = walk(value, depth);
    path.steps.pop();
    return going;
  };

  walk(root, 0);
  return probes;
}
