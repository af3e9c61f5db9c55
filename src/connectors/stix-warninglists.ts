/**
 * The warning-list policy for STIX objects that arrive as served, such as the objects of a
 * TAXII collection, which no converter has checked.
 *
 * An SCO is warning-listed when one of its values is on a list (the value of an address,
 * domain, URL or e-mail SCO, any hash of a file). An indicator is warning-listed only when
 * its pattern is a single comparison, `[type:path = 'value']` or an address compared with
 * ISSUBSET, on a listed value. A larger pattern means more than "this value is bad": in
 * `[domain-name:value = 'example.com'] OR [ipv4-addr:value = '203.0.113.9']` the second
 * value still matters, and in an AND the listed value only narrows the match, so such
 * indicators are kept unchanged.
 *
 * `drop` leaves a listed object out. `label` adds `warninglist:<name>` to a listed
 * indicator's labels and `lower` caps its confidence, as the converters do; a listed SCO is
 * stored unchanged under both, because STIX 2.1 gives SCOs neither labels nor confidence.
 */
import {
  objectObservables,
  patternObservables,
  warninglistKind,
} from '../correlation/observables.ts';
import { markIndicator, type WarninglistPolicy } from '../ingest/formats/emit.ts';
import type { StixObject } from '../normalise/index.ts';
import { parsePattern, type PatternAst } from '../pattern/index.ts';

export interface WarninglistHit {
  /** The listed value, normalised. */
  value: string;
  /** Names of the lists that contain it. */
  lists: readonly string[];
}

export interface PolicyResult {
  /** Objects to store: unlisted ones as they came, listed ones marked under `label`/`lower`. */
  kept: unknown[];
  /** Objects left out under `drop`, with the reason. */
  dropped: Array<{ id: string; message: string }>;
  /** Listed objects that were kept. */
  flagged: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Returns whether a parsed pattern is one comparison with `=`, or ISSUBSET, outside NOT. */
function isSingleComparison(ast: PatternAst): boolean {
  if (ast.expression.type !== 'observation') return false;
  const comparison = ast.expression.comparison;
  if (comparison.type !== 'comparison' || comparison.negated) return false;
  return comparison.operator === '=' || comparison.operator === 'ISSUBSET';
}

/** Returns the value of a single-comparison STIX pattern, or undefined for any other pattern. */
function singleComparisonValue(pattern: string) {
  let ast: PatternAst;
  try {
    ast = parsePattern(pattern, { allowDuplicateQualifiers: true });
  } catch {
    return undefined;
  }
  if (!isSingleComparison(ast)) return undefined;
  // patternObservables parses again, but it owns the mapping from pattern paths to
  // observable types and the normalisation, and a single comparison is short to parse.
  const { observables } = patternObservables(pattern);
  return observables.length === 1 ? observables[0] : undefined;
}

/** Returns the first listed value of an indicator or SCO, or undefined when none is listed. */
export function findWarninglistHit(
  object: Record<string, unknown>,
  lists: WarninglistPolicy['lists'],
): WarninglistHit | undefined {
  if (object.type === 'indicator') {
    if (object.pattern_type !== 'stix' || typeof object.pattern !== 'string') return undefined;
    const observable = singleComparisonValue(object.pattern);
    if (observable === undefined) return undefined;
    const names = lists.match(warninglistKind(observable), observable.value);
    return names.length > 0 ? { value: observable.value, lists: names } : undefined;
  }
  for (const observable of objectObservables(object)) {
    const names = lists.match(warninglistKind(observable), observable.value);
    if (names.length > 0) return { value: observable.value, lists: names };
  }
  return undefined;
}

/** Applies the policy to a batch of objects as served. */
export function applyWarninglistPolicy(
  objects: readonly unknown[],
  policy: WarninglistPolicy,
): PolicyResult {
  const result: PolicyResult = { kept: [], dropped: [], flagged: 0 };
  for (const object of objects) {
    const hit = isRecord(object) ? findWarninglistHit(object, policy.lists) : undefined;
    if (hit === undefined) {
      result.kept.push(object);
      continue;
    }
    const record = object as Record<string, unknown>;
    if (policy.action === 'drop') {
      const id = typeof record.id === 'string' ? record.id : 'object';
      const lists = hit.lists.map((name) => `"${name}"`).join(', ');
      result.dropped.push({ id, message: `${id}: ${hit.value} is on the warning list ${lists}` });
      continue;
    }
    result.flagged++;
    result.kept.push(
      record.type === 'indicator'
        ? markIndicator(record as StixObject, policy.action, hit.lists)
        : object,
    );
  }
  return result;
}
