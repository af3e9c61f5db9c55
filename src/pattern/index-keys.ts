/**
 * Index keys for an inverted index of indicator patterns. For each bracketed observation
 * expression the keys are alternatives: an object can satisfy the expression only if it
 * satisfies at least one key. An expression with no such set of keys is `unindexable` and
 * needs a full evaluation against every candidate object.
 *
 * Keys come from positive comparisons only: `=` and IN give exact values, ISSUBSET gives an
 * address range, and LIKE gives the literal prefix before its first wildcard. AND needs one
 * indexable operand, while OR needs every operand to be indexable.
 */

import type {
  Comparison,
  ComparisonExpression,
  Literal,
  ObjectPath,
  PathStep,
  PatternAst,
} from './ast.ts';
import { cidrRange, parseCidr } from './cidr.ts';
import { KEYWORDS } from './lexer.ts';
import { parsePattern } from './parser.ts';

const RESERVED_WORDS: ReadonlySet<string> = new Set([...KEYWORDS, 'true', 'false']);

interface KeyBase {
  objectType: string;
  /** The object path after the type, written as in a pattern: `hashes.'SHA-256'`. */
  path: string;
}

export type IndexKey =
  /** The property equals `value`; binary literals are given as lowercase hex. */
  | (KeyBase & {
      kind: 'equals';
      valueType: 'string' | 'number' | 'boolean' | 'binary';
      value: string | number | boolean;
    })
  /** The property is an address or CIDR block inside [first, last]. */
  | (KeyBase & { kind: 'cidr-range'; family: 4 | 6; first: bigint; last: bigint })
  /** The property starts with `prefix` once both are in Unicode NFC (the LIKE operator). */
  | (KeyBase & { kind: 'prefix'; prefix: string });

export interface ObservationIndexKeys {
  /** Offsets of the `[ … ]` observation expression in the pattern. */
  start: number;
  end: number;
  /** Alternatives, any one of which a matching object satisfies; empty when none can match. */
  keys: IndexKey[] | 'unindexable';
}

/** Extracts index keys for each bracketed observation expression, in pattern order. */
export function extractIndexKeys(pattern: string | PatternAst): ObservationIndexKeys[] {
  const ast =
    typeof pattern === 'string'
      ? parsePattern(pattern, { allowDuplicateQualifiers: true })
      : pattern;
  const result: ObservationIndexKeys[] = [];

  const visit = (expression: PatternAst['expression']): void => {
    if (expression.type === 'observation') {
      const keys = keysForExpression(expression.comparison);
      result.push({ start: expression.start, end: expression.end, keys });
    } else if (expression.type === 'observation-group') {
      expression.operands.forEach(visit);
    } else {
      visit(expression.expression);
    }
  };
  visit(ast.expression);
  return result;
}

function keysForExpression(expression: ComparisonExpression): IndexKey[] | 'unindexable' {
  if (expression.type === 'comparison') return keysForComparison(expression);

  const operandKeys = expression.operands.map(keysForExpression);
  if (expression.operator === 'OR') {
    if (operandKeys.includes('unindexable')) return 'unindexable';
    return (operandKeys as IndexKey[][]).flat();
  }

  // Every operand of AND must hold, so the keys of any one operand cover the whole. The
  // operand with the fewest alternatives narrows lookups most, with exact values before prefixes.
  const indexable = operandKeys.filter((keys): keys is IndexKey[] => keys !== 'unindexable');
  if (indexable.length === 0) return 'unindexable';
  return indexable.reduce((best, keys) => (selectivity(keys) < selectivity(best) ? keys : best));
}

/** Ranks a set of alternatives: lower is narrower. */
function selectivity(keys: IndexKey[]): number {
  const inexact = keys.filter((key) => key.kind !== 'equals').length;
  return keys.length + inexact * 1000;
}

function keysForComparison(comparison: Comparison): IndexKey[] | 'unindexable' {
  if (comparison.negated) return 'unindexable';

  const base = { objectType: comparison.path.objectType, path: formatPath(comparison.path) };
  switch (comparison.operator) {
    case '=': {
      const key = equalsKey(base, comparison.value);
      return key ? [key] : 'unindexable';
    }
    case 'IN': {
      const keys = comparison.values.map((literal) => equalsKey(base, literal));
      return keys.every((key) => key !== undefined) ? (keys as IndexKey[]) : 'unindexable';
    }
    case 'ISSUBSET': {
      const block = parseCidr(comparison.value.value);
      if (!block) return 'unindexable';
      const { first, last } = cidrRange(block);
      return [{ ...base, kind: 'cidr-range', family: block.family, first, last }];
    }
    case 'LIKE': {
      const prefix = likePrefix(comparison.value.value.normalize('NFC'));
      return prefix === '' ? 'unindexable' : [{ ...base, kind: 'prefix', prefix }];
    }
    default:
      return 'unindexable';
  }
}

function equalsKey(base: KeyBase, literal: Literal): IndexKey | undefined {
  switch (literal.type) {
    case 'string':
      return { ...base, kind: 'equals', valueType: 'string', value: literal.value };
    case 'integer':
    case 'float':
      return { ...base, kind: 'equals', valueType: 'number', value: literal.value };
    case 'boolean':
      return { ...base, kind: 'equals', valueType: 'boolean', value: literal.value };
    case 'hex':
    case 'binary':
      return {
        ...base,
        kind: 'equals',
        valueType: 'binary',
        value: Buffer.from(literal.value).toString('hex'),
      };
    default:
      // NOTE: timestamps compare as instants, so one written value does not cover the others
      // (`...:00Z` equals `...:00.000Z`); such comparisons are left unindexed.
      return undefined;
  }
}

/** Returns the characters of a LIKE pattern before its first `%` or `_`. */
function likePrefix(like: string): string {
  const wildcard = like.search(/[%_]/);
  return wildcard < 0 ? like : like.slice(0, wildcard);
}

/** Writes the path steps after `type:` as a pattern would, quoting keys that need it. */
export function formatPath(path: ObjectPath): string {
  return path.steps.map((step, index) => formatStep(step, index === 0)).join('');
}

function formatStep(step: PathStep, first: boolean): string {
  if (step.kind === 'any-index') return '[*]';
  if (step.kind === 'index') return `[${step.index}]`;

  const plain = /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(step.key) && !RESERVED_WORDS.has(step.key);
  const key = plain ? step.key : `'${step.key.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return first ? key : `.${key}`;
}
