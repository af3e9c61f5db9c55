/**
 * Comparison expressions evaluated on one observation (STIX 2.1 section 9). A comparison
 * holds for a root object when at least one value its path selects passes the operator test.
 * AND keeps the root objects that pass every operand, so all comparisons joined by AND must
 * hold for the same object, and OR keeps the objects that pass any operand.
 */

import type { Comparison, ComparisonExpression, PatternAst, Qualifier } from './ast.ts';
import { cidrContains, parseCidr, type CidrBlock } from './cidr.ts';
import { checkSetLiterals, compareValues, valuesEqual } from './compare.ts';
import { PatternEvaluationError } from './errors.ts';
import {
  selectValues,
  type JsonObject,
  type Observation,
  type StepBudget,
} from './observations.ts';
import { compileLike, compileMatches, type TextMatcher } from './text-match.ts';
import { walkPattern } from './walk.ts';

/** Tests one selected value, with NOT already applied. */
type ValueTest = (value: unknown) => boolean;

/**
 * A pattern with its comparisons compiled for evaluation, to reuse across many matchPattern
 * calls. Its RE2 expressions live in a WebAssembly heap of fixed size, so call dispose() when
 * it is no longer needed.
 */
export class CompiledPattern {
  private readonly tests = new Map<Comparison, ValueTest>();
  private readonly matchers: TextMatcher[] = [];

  /**
   * Compiles every comparison and checks what the grammar cannot: literal days that exist,
   * positive WITHIN and REPEATS amounts, IN lists of one type, regular expressions RE2
   * supports and valid CIDR literals. Raises PatternEvaluationError on the first problem.
   */
  constructor(readonly ast: PatternAst) {
    try {
      walkPattern(ast, {
        qualifier: checkQualifier,
        comparison: (comparison) => {
          this.tests.set(comparison, compileComparison(comparison, this.matchers));
        },
      });
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  testFor(comparison: Comparison): ValueTest {
    const test = this.tests.get(comparison);
    if (!test) throw new Error('comparison is not part of the compiled pattern');
    return test;
  }

  dispose(): void {
    for (const matcher of this.matchers) matcher.dispose();
    this.matchers.length = 0;
  }
}

function checkQualifier(qualifier: Qualifier): void {
  if (qualifier.type === 'WITHIN' && !(qualifier.seconds > 0)) {
    throw new PatternEvaluationError(
      `WITHIN ${qualifier.raw} SECONDS at ${qualifier.start} must be a positive duration`,
      qualifier.start,
    );
  }
  if (qualifier.type === 'REPEATS' && qualifier.times < 1) {
    throw new PatternEvaluationError(
      `REPEATS ${qualifier.raw} TIMES at ${qualifier.start} must repeat at least once`,
      qualifier.start,
    );
  }
  if (qualifier.type === 'START') {
    checkDateExists(qualifier.startTime);
    checkDateExists(qualifier.stopTime);
  }
}

function checkDateExists(literal: {
  raw: string;
  start: number;
  type: string;
  dateExists?: boolean;
}): void {
  if (literal.type === 'timestamp' && literal.dateExists === false) {
    throw new PatternEvaluationError(
      `timestamp ${literal.raw} at ${literal.start} names a day that does not exist`,
      literal.start,
    );
  }
}

function compileComparison(comparison: Comparison, matchers: TextMatcher[]): ValueTest {
  const negated = comparison.negated;
  switch (comparison.operator) {
    case '=':
    case '!=': {
      checkDateExists(comparison.value);
      const literal = comparison.value.value;
      const wantEqual = (comparison.operator === '=') !== negated;
      return (value) => valuesEqual(value, literal) === wantEqual;
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      checkDateExists(comparison.value);
      const literal = comparison.value.value;
      const accepts = ORDER_TESTS[comparison.operator];
      return (value) => {
        const order = compareValues(value, literal);
        // The reference matcher returns false for unordered types whether or not NOT is given.
        if (order === 'unordered') return false;
        if (order === 'not-latin1') return negated;
        return accepts(order) !== negated;
      };
    }
    case 'IN': {
      // Membership uses the equality of `=`. The reference matcher uses Python set
      // membership instead, where true equals 1 and a string never equals bytes.
      comparison.values.forEach(checkDateExists);
      checkSetLiterals(comparison.values, comparison.setSpan.start);
      const literals = comparison.values.map((literal) => literal.value);
      return (value) => literals.some((literal) => valuesEqual(value, literal)) !== negated;
    }
    case 'LIKE': {
      const matcher = compileLike(comparison.value);
      matchers.push(matcher);
      return (value) => matcher.test(value) !== negated;
    }
    case 'MATCHES': {
      const matcher = compileMatches(comparison.value);
      matchers.push(matcher);
      return (value) => matcher.test(value) !== negated;
    }
    case 'ISSUBSET':
    case 'ISSUPERSET':
      return compileSubnetTest(comparison.operator, comparison.value, negated);
    case 'EXISTS':
      // EXISTS tests the presence of values, not a value; evaluateComparison handles it.
      return () => true;
  }
}

const ORDER_TESTS: Record<'<' | '<=' | '>' | '>=', (order: number) => boolean> = {
  '<': (order) => order < 0,
  '<=': (order) => order <= 0,
  '>': (order) => order > 0,
  '>=': (order) => order >= 0,
};

/**
 * ISSUBSET holds when the observed address or block lies within the literal block, and
 * ISSUPERSET when the observed block contains the literal. An observed string that is not an
 * address raises an error, as in the reference matcher, and other value types do not match.
 * Unlike the reference matcher, IPv6 is supported, a prefix length of 0 is valid, and an
 * address without a prefix length counts as a block of one address on either side.
 */
function compileSubnetTest(
  operator: 'ISSUBSET' | 'ISSUPERSET',
  literal: { value: string; raw: string; start: number },
  negated: boolean,
): ValueTest {
  const literalBlock = parseCidr(literal.value);
  if (!literalBlock) {
    throw new PatternEvaluationError(
      `${operator} operand ${literal.raw} at ${literal.start} is not an IP address or CIDR block`,
      literal.start,
    );
  }
  return (value) => {
    if (typeof value !== 'string') return negated;
    const block: CidrBlock | undefined = parseCidr(value);
    if (!block) {
      throw new PatternEvaluationError(
        `observed value '${value}' is not an IP address or CIDR block`,
      );
    }
    const contained =
      operator === 'ISSUBSET'
        ? cidrContains(literalBlock, block)
        : cidrContains(block, literalBlock);
    return contained !== negated;
  };
}

/** Returns whether the comparison expression holds for some object of the observation. */
export function observationSatisfies(
  compiled: CompiledPattern,
  expression: ComparisonExpression,
  observation: Observation,
  budget: StepBudget,
): boolean {
  const context = { compiled, observation, budget };
  return matchingRoots(expression, context, observation.roots).length > 0;
}

interface EvaluationContext {
  compiled: CompiledPattern;
  observation: Observation;
  budget: StepBudget;
}

/** Filters `candidates` down to the root objects for which the expression holds. */
function matchingRoots(
  expression: ComparisonExpression,
  context: EvaluationContext,
  candidates: readonly JsonObject[],
): readonly JsonObject[] {
  if (expression.type === 'comparison') {
    return candidates.filter((root) => evaluateComparison(expression, root, context));
  }

  if (expression.operator === 'AND') {
    let remaining = candidates;
    for (const operand of expression.operands) {
      remaining = matchingRoots(operand, context, remaining);
      if (remaining.length === 0) break;
    }
    return remaining;
  }

  const matched = new Set<JsonObject>();
  for (const operand of expression.operands) {
    const rest = candidates.filter((root) => !matched.has(root));
    for (const root of matchingRoots(operand, context, rest)) matched.add(root);
  }
  return candidates.filter((root) => matched.has(root));
}

function evaluateComparison(
  comparison: Comparison,
  root: JsonObject,
  context: EvaluationContext,
): boolean {
  context.budget.spend();
  if (root.type !== comparison.path.objectType) return false;

  const values = selectValues(root, comparison.path, context.observation, context.budget);
  if (comparison.operator === 'EXISTS') return values.length > 0 !== comparison.negated;
  return values.some(context.compiled.testFor(comparison));
}
