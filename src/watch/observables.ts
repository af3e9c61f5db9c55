/**
 * The observable values a STIX object carries, normalised with src/normalise so that they
 * compare with watch entries and with values read from logs. They are the value of an
 * address, domain, URL or e-mail SCO, the hashes of a file, artifact or certificate, the
 * number of an autonomous system, and the values an indicator's pattern compares for
 * equality or containment.
 */
import {
  classify,
  normalise,
  normaliseHash,
  type Observable,
  type ObservableKind,
} from '../normalise/index.ts';
import { formatPath, parsePattern, type PatternAst } from '../pattern/index.ts';
import type { Comparison, Literal } from '../pattern/index.ts';
import { walkPattern } from '../pattern/walk.ts';
import type { ValueKey } from './value-matcher.ts';

export interface FoundObservable {
  observable: Observable;
  /** The location of the value: a property path of an SCO, or `type:path` of a pattern comparison. */
  path: string;
}

/** SCO types whose `value` property is the observable, with the kind it is read as. */
const VALUE_SCOS: Readonly<Record<string, ObservableKind>> = {
  'ipv4-addr': 'ip',
  'ipv6-addr': 'ip',
  'domain-name': 'domain',
  url: 'url',
  'email-addr': 'email',
};

/** SCO types with a `hashes` dictionary. */
const HASHED_SCOS: ReadonlySet<string> = new Set(['file', 'artifact', 'x509-certificate']);

/** The SCO types scoObservables reads; it returns nothing for objects of other types. */
export const OBSERVABLE_SCO_TYPES: ReadonlySet<string> = new Set([
  ...Object.keys(VALUE_SCOS),
  ...HASHED_SCOS,
  'autonomous-system',
]);

/** Returns the observables of one SCO; other objects give none. */
export function scoObservables(object: Readonly<Record<string, unknown>>): FoundObservable[] {
  const type = object.type;
  if (typeof type !== 'string') return [];
  const found: FoundObservable[] = [];

  const kind = VALUE_SCOS[type];
  if (kind !== undefined && typeof object.value === 'string') {
    const result = normalise(kind, object.value);
    if (result.ok) found.push({ observable: result.value, path: 'value' });
  }
  if (HASHED_SCOS.has(type)) addHashes(object.hashes, 'hashes', found);
  if (type === 'autonomous-system' && typeof object.number === 'number') {
    const result = normalise('asn', String(object.number));
    if (result.ok) found.push({ observable: result.value, path: 'number' });
  }
  return found;
}

function addHashes(hashes: unknown, path: string, found: FoundObservable[]): void {
  if (hashes === null || typeof hashes !== 'object' || Array.isArray(hashes)) return;
  for (const [algorithm, digest] of Object.entries(hashes as Record<string, unknown>)) {
    if (typeof digest !== 'string') continue;
    const result = normaliseHash(digest, algorithm);
    if (result.ok) {
      found.push({
        observable: { kind: 'hash', ...result.value },
        path: `${path}.${quoteKey(algorithm)}`,
      });
    }
  }
}

function quoteKey(key: string): string {
  return /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key) ? key : `'${key.replace(/'/g, "\\'")}'`;
}

/** Kinds a value compared through a reference (`network-traffic:dst_ref.value`) may have. */
const REFERENCED_KINDS: ReadonlySet<ObservableKind> = new Set([
  'ip',
  'cidr',
  'domain',
  'url',
  'email',
]);

/**
 * Returns the observable values a pattern compares with `=`, IN or ISSUBSET outside NOT,
 * in every observation expression. Unlike extractIndexKeys, which keeps only the narrowest
 * operand of an AND because it serves candidate look-up, this lists every value the
 * pattern mentions: an indicator for `[ipv4-addr:value = 'a' AND ipv4-addr:x_port = 1]`
 * still mentions `a`. A pattern that does not parse mentions nothing.
 */
export function patternMentions(pattern: string | PatternAst): FoundObservable[] {
  let ast: PatternAst;
  try {
    ast =
      typeof pattern === 'string'
        ? parsePattern(pattern, { allowDuplicateQualifiers: true })
        : pattern;
  } catch {
    return [];
  }
  const found: FoundObservable[] = [];
  const seen = new Set<string>();
  walkPattern(ast, {
    comparison(comparison) {
      for (const observable of comparisonObservables(comparison)) {
        const key = `${observable.kind}|${observable.value}`;
        if (seen.has(key)) continue;
        seen.add(key);
        found.push({
          observable,
          path: `${comparison.path.objectType}:${formatPath(comparison.path)}`,
        });
      }
    },
  });
  return found;
}

function comparisonObservables(comparison: Comparison): Observable[] {
  if (comparison.negated) return [];
  let literals: Literal[];
  if (comparison.operator === '=' || comparison.operator === 'ISSUBSET') {
    literals = [comparison.value];
  } else if (comparison.operator === 'IN') {
    literals = comparison.values;
  } else {
    return [];
  }

  const read = pathReader(comparison);
  if (!read) return [];
  const found: Observable[] = [];
  for (const literal of literals) {
    const text =
      literal.type === 'string' || literal.type === 'integer' ? String(literal.value) : undefined;
    if (text === undefined) continue;
    const observable = read(text);
    if (observable) found.push(observable);
  }
  return found;
}

/** Returns how to read the literals of a comparison, or undefined for paths of no observable. */
function pathReader(
  comparison: Comparison,
): ((text: string) => Observable | undefined) | undefined {
  const { objectType, steps } = comparison.path;
  const keys = steps.map((step) => (step.kind === 'key' ? step.key : undefined));
  const first = keys[0];

  if (steps.length === 1 && first === 'value') {
    const kind = VALUE_SCOS[objectType];
    if (kind) return (text) => accepted(normalise(kind, text));
  }
  if (steps.length === 1 && first === 'number' && objectType === 'autonomous-system') {
    return (text) => accepted(normalise('asn', text));
  }
  if (HASHED_SCOS.has(objectType) && first === 'hashes' && steps.length === 2 && keys[1]) {
    const algorithm = keys[1];
    return (text) => {
      const result = normaliseHash(text, algorithm);
      return result.ok ? { kind: 'hash', ...result.value } : undefined;
    };
  }
  // A value reached through a reference, such as `network-traffic:dst_ref.value` or
  // `email-message:from_ref.value`: the referenced SCO's type is not in the path, so the
  // value's own form decides.
  const last = keys[keys.length - 1];
  const parent = keys[keys.length - 2] ?? '';
  if (last === 'value' && /_refs?$/.test(parent)) {
    return (text) => {
      const result = classify(text);
      return result.ok && REFERENCED_KINDS.has(result.value.kind) ? result.value : undefined;
    };
  }
  return undefined;
}

function accepted(result: { ok: true; value: Observable } | { ok: false }): Observable | undefined {
  return result.ok ? result.value : undefined;
}

/** Returns the matcher key of a normalised observable. */
export function valueKeyOf(observable: Observable, subdomains = false): ValueKey {
  switch (observable.kind) {
    case 'ip':
    case 'cidr':
      return { kind: observable.version === 4 ? 'ipv4' : 'ipv6', value: observable.value };
    case 'domain':
      return subdomains
        ? { kind: 'domain', value: observable.value, subdomains }
        : { kind: 'domain', value: observable.value };
    default:
      return { kind: observable.kind, value: observable.value };
  }
}
