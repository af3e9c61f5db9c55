/**
 * A summary of what a pattern tests, in the shape of the OASIS reference validator's
 * `inspect()`: its comparisons by object type, its observation operators and its qualifiers.
 */

import type { Comparison, PatternAst } from './ast.ts';
import { parsePattern } from './parser.ts';
import { walkPattern } from './walk.ts';

/** Stands for a `[*]` step in an inspected object path. */
export const INDEX_STAR: unique symbol = Symbol('[*]');

export interface InspectedComparison {
  /** Path steps after the object type: keys, list indexes and INDEX_STAR. */
  path: (string | number | typeof INDEX_STAR)[];
  /** The operator as written, with `NOT ` in front when negated, such as `NOT LIKE`. */
  operator: string;
  /** The literal as written; an IN list is written `(a,b,c)` with no spaces, EXISTS has ''. */
  value: string;
}

export interface PatternInspection {
  /** Comparisons by object type, in pattern order. */
  comparisons: Map<string, InspectedComparison[]>;
  observationOperators: Set<'AND' | 'OR' | 'FOLLOWEDBY'>;
  /** Qualifiers as written, such as `WITHIN 5 SECONDS` or `START t'…' STOP t'…'`. */
  qualifiers: Set<string>;
}

/** Lists the comparisons, observation operators and qualifiers of a pattern. */
export function inspectPattern(pattern: string | PatternAst): PatternInspection {
  const ast =
    typeof pattern === 'string'
      ? parsePattern(pattern, { allowDuplicateQualifiers: true })
      : pattern;
  const inspection: PatternInspection = {
    comparisons: new Map(),
    observationOperators: new Set(),
    qualifiers: new Set(),
  };

  walkPattern(ast, {
    observationGroup(operator) {
      inspection.observationOperators.add(operator);
    },
    qualifier(qualifier) {
      if (qualifier.type === 'WITHIN') inspection.qualifiers.add(`WITHIN ${qualifier.raw} SECONDS`);
      else if (qualifier.type === 'REPEATS')
        inspection.qualifiers.add(`REPEATS ${qualifier.raw} TIMES`);
      else
        inspection.qualifiers.add(
          `START ${qualifier.startTime.raw} STOP ${qualifier.stopTime.raw}`,
        );
    },
    comparison(comparison) {
      const type = comparison.path.objectType;
      const list = inspection.comparisons.get(type) ?? [];
      list.push(inspectComparison(comparison));
      inspection.comparisons.set(type, list);
    },
  });
  return inspection;
}

function inspectComparison(comparison: Comparison): InspectedComparison {
  const path = comparison.path.steps.map((step) => {
    if (step.kind === 'key') return step.key;
    if (step.kind === 'index') return step.index;
    return INDEX_STAR;
  });
  const operator = (comparison.negated ? 'NOT ' : '') + comparison.operatorText;

  let value: string;
  if (comparison.operator === 'EXISTS') value = '';
  else if (comparison.operator === 'IN')
    value = `(${comparison.values.map((v) => v.raw).join(',')})`;
  else value = comparison.value.raw;

  return { path, operator, value };
}
