/**
 * Comparison expressions evaluated on one observation (STIX 2.1 section 9). A comparison
 * holds for a root object when at least one value its path selects passes the operator test.
 * AND keeps the root objects that pass every operand, so all comparisons joined by AND must
 * hold for the same object, and OR keeps the objects that pass any operand.
 */

import type {
  Comparison,
  ComparisonExpression,
  Observation as ObservationNode,
  ObservationExpression,
  PatternAst,
  Qualifier,
} from './ast.ts';
import { cidrContains, parseCidr, type CidrBlock } from './cidr.ts';
import {
  bytesEqualString,
  checkSetLiterals,
  compareValues,
  valuesEqual,
  type LiteralValue,
} from './compare.ts';
import { PatternEvaluationError } from './errors.ts';
import {
  NOTHING,
  selectSingleValue,
  selectValues,
  singleValueSteps,
  type SingleStep,
  type JsonObject,
  type Observation,
  type PreparedObservations,
  type StepBudget,
} from './observations.ts';
import { compileLike, compileMatches, type TextMatcher } from './text-match.ts';

/** State shared by the comparisons of one matchPattern call. */
export interface EvaluationContext {
  observations: PreparedObservations;
  budget: StepBudget;
}

/** Tests one selected value, with NOT already applied. */
type ValueTest = (value: unknown) => boolean;

/**
 * Above this many objects in one observation, a single comparison looks only at the objects
 * of its type through Observation.positionsOfType instead of checking every object's type.
 */
const TYPE_INDEX_MIN_ROOTS = 8;

export interface CompileOptions {
  /**
   * False compiles without the fast paths: no single-bracket shortcut, no type index, no
   * single-value path walk and no literal-specific value tests. The outcome is the same either
   * way, which tests check by running both. Default true.
   */
  fastPaths?: boolean;
}

/**
 * A pattern with its comparisons compiled for evaluation, to reuse across many matchPattern
 * calls. Its RE2 expressions live in a WebAssembly heap of fixed size, so call dispose() when
 * it is no longer needed.
 */
export class CompiledPattern {
  private readonly brackets = new Map<ObservationNode, BracketTest>();
  private readonly matchers: TextMatcher[] = [];
  /** The test of the whole pattern when it is one bracketed expression with no qualifier. */
  readonly single: BracketTest | undefined;

  /**
   * Compiles every comparison and checks what the grammar cannot: literal days that exist,
   * positive WITHIN and REPEATS amounts, IN lists of one type, regular expressions RE2
   * supports and valid CIDR literals. Raises PatternEvaluationError on the first problem in
   * pattern order.
   */
  constructor(
    readonly ast: PatternAst,
    options: CompileOptions = {},
  ) {
    const fast = options.fastPaths ?? true;
    const top = ast.expression;
    try {
      if (top.type === 'observation') {
        const test = this.compileBracket(top.comparison, fast);
        this.brackets.set(top, test);
        this.single = fast ? test : undefined;
      } else {
        this.compileObservations(top, fast);
        this.single = undefined;
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Returns the compiled test of one bracketed expression of this pattern. */
  bracket(observation: ObservationNode): BracketTest {
    const test = this.brackets.get(observation);
    if (!test) throw new Error('observation expression is not part of the compiled pattern');
    return test;
  }

  dispose(): void {
    for (const matcher of this.matchers) matcher.dispose();
    this.matchers.length = 0;
  }

  /** Compiles brackets and checks qualifiers in pattern order, so errors come in order. */
  private compileObservations(expression: ObservationExpression, fast: boolean): void {
    switch (expression.type) {
      case 'observation':
        this.brackets.set(expression, this.compileBracket(expression.comparison, fast));
        return;
      case 'observation-group':
        for (const operand of expression.operands) this.compileObservations(operand, fast);
        return;
      case 'qualified':
        this.compileObservations(expression.expression, fast);
        expression.qualifiers.forEach(checkQualifier);
        return;
    }
  }

  private compileBracket(expression: ComparisonExpression, fast: boolean): BracketTest {
    const compiled = this.compileExpression(expression, fast);
    if (fast && compiled instanceof ComparisonTest) return new SingleComparisonBracket(compiled);
    return new GroupBracket(compiled);
  }

  /** Compiles the comparisons of an expression in pattern order, so errors come in order. */
  private compileExpression(expression: ComparisonExpression, fast: boolean): CompiledExpression {
    if (expression.type === 'comparison') {
      const test = compileComparison(expression, this.matchers, fast);
      return new ComparisonTest(expression, test, fast);
    }
    const operands = expression.operands.map((operand) => this.compileExpression(operand, fast));
    return { operator: expression.operator, operands };
  }
}

/** A comparison expression with its comparisons compiled. */
type CompiledExpression =
  ComparisonTest | { operator: 'AND' | 'OR'; operands: readonly CompiledExpression[] };

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

/**
 * Compiles the value test of a comparison. Without `fast`, =, IN and the order operators use
 * the generic type rules of compare.ts for every literal and LIKE always runs on RE2, which
 * the fast forms must match.
 */
function compileComparison(
  comparison: Comparison,
  matchers: TextMatcher[],
  fast: boolean,
): ValueTest {
  const negated = comparison.negated;
  switch (comparison.operator) {
    case '=':
    case '!=': {
      checkDateExists(comparison.value);
      const literal = comparison.value.value;
      const equal: ValueTest = fast
        ? equalityTest(literal)
        : (value) => valuesEqual(value, literal);
      const wantEqual = (comparison.operator === '=') !== negated;
      return (value) => equal(value) === wantEqual;
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
      const member: ValueTest = fast
        ? membershipTest(literals)
        : (value) => literals.some((literal) => valuesEqual(value, literal));
      return (value) => member(value) !== negated;
    }
    case 'LIKE': {
      const matcher = compileLike(comparison.value, fast);
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
      // EXISTS tests whether a path selects values, not a value, so ComparisonTest handles it.
      return () => true;
  }
}

/**
 * Builds the `=` test for one literal. It gives the result of valuesEqual, with the type
 * dispatch on the literal done once here.
 */
function equalityTest(literal: LiteralValue): ValueTest {
  if (typeof literal === 'string') {
    return (value) => {
      if (typeof value === 'string') return value === literal;
      return value instanceof Uint8Array && bytesEqualString(value, literal);
    };
  }
  if (typeof literal === 'number') return (value) => value === literal;
  if (typeof literal === 'boolean') return (value) => value === literal;
  return (value) => valuesEqual(value, literal);
}

/** Builds the IN test: a set look-up for strings and numbers, valuesEqual for the rest. */
function membershipTest(literals: readonly LiteralValue[]): ValueTest {
  const first = literals[0];
  if (first === undefined) return () => false;
  if (typeof first === 'string' || typeof first === 'number') {
    // checkSetLiterals allows only numbers with numbers and strings with strings.
    const members = new Set<unknown>(literals);
    if (typeof first === 'number')
      return (value) => typeof value === 'number' && members.has(value);
    return (value) => {
      if (typeof value === 'string') return members.has(value);
      if (!(value instanceof Uint8Array)) return false;
      return literals.some((literal) => bytesEqualString(value, literal as string));
    };
  }
  return (value) => literals.some((literal) => valuesEqual(value, literal));
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

/**
 * One compiled comparison. A comparison holds for a root object when at least one value its
 * path selects passes the operator test. Each call spends one budget step, plus one for every
 * value a path step selects.
 */
class ComparisonTest {
  readonly objectType: string;
  /** The steps of a path that selects at most one value, or undefined for other paths. */
  private readonly steps: readonly SingleStep[] | undefined;
  private readonly exists: boolean;

  constructor(
    private readonly comparison: Comparison,
    private readonly test: ValueTest,
    fast: boolean,
  ) {
    this.objectType = comparison.path.objectType;
    this.exists = comparison.operator === 'EXISTS';
    this.steps = fast ? singleValueSteps(comparison.path) : undefined;
  }

  holds(root: JsonObject, observation: Observation, context: EvaluationContext): boolean {
    context.budget.spend();
    if (root.type !== this.objectType) return false;
    return this.holdsForType(root, observation, context);
  }

  /** Like holds() for a root already known to be of the comparison's type, without its step. */
  holdsForType(root: JsonObject, observation: Observation, context: EvaluationContext): boolean {
    const steps = this.steps;
    if (steps === undefined) return this.holdsOnValues(root, observation, context);

    const value = selectSingleValue(root, steps, observation, context.budget);
    if (this.exists) return (value !== NOTHING) !== this.comparison.negated;
    return value !== NOTHING && this.test(value);
  }

  private holdsOnValues(
    root: JsonObject,
    observation: Observation,
    context: EvaluationContext,
  ): boolean {
    const values = selectValues(root, this.comparison.path, observation, context.budget);
    if (this.exists) return values.length > 0 !== this.comparison.negated;
    for (const value of values) if (this.test(value)) return true;
    return false;
  }
}

/** A compiled bracketed comparison expression, tested on one observation at a time. */
export interface BracketTest {
  /** Returns whether the expression holds for some object of the observation. */
  satisfied(observation: Observation, context: EvaluationContext): boolean;
}

/**
 * A bracket holding one comparison. Every object of the observation is tested, as the
 * general path does, so the same errors surface and the same budget is spent.
 */
class SingleComparisonBracket implements BracketTest {
  constructor(private readonly comparison: ComparisonTest) {}

  satisfied(observation: Observation, context: EvaluationContext): boolean {
    const comparison = this.comparison;
    const roots = observation.roots;
    let found = false;
    if (roots.length < TYPE_INDEX_MIN_ROOTS) {
      for (let i = 0; i < roots.length; i++) {
        if (comparison.holds(roots[i]!, observation, context)) found = true;
      }
      return found;
    }

    // Objects of other types fail after one step each. Spending those steps in root order,
    // together with the step of the next object of the type, keeps the point where the
    // budget runs out the same as when every object is checked.
    const positions = observation.positionsOfType(comparison.objectType);
    let previous = -1;
    for (let i = 0; i < positions.length; i++) {
      const position = positions[i]!;
      context.budget.spend(position - previous);
      previous = position;
      if (comparison.holdsForType(roots[position]!, observation, context)) found = true;
    }
    context.budget.spend(roots.length - 1 - previous);
    return found;
  }
}

/**
 * A bracket with AND and OR between comparisons. AND keeps the root objects that pass every
 * operand, so all comparisons joined by AND must hold for the same object, and OR keeps the
 * objects that pass any operand.
 */
class GroupBracket implements BracketTest {
  constructor(private readonly expression: CompiledExpression) {}

  satisfied(observation: Observation, context: EvaluationContext): boolean {
    return matchingRoots(this.expression, observation, context, observation.roots).length > 0;
  }
}

/** Filters `candidates` down to the root objects for which the expression holds. */
function matchingRoots(
  expression: CompiledExpression,
  observation: Observation,
  context: EvaluationContext,
  candidates: readonly JsonObject[],
): readonly JsonObject[] {
  if (expression instanceof ComparisonTest) {
    return candidates.filter((root) => expression.holds(root, observation, context));
  }

  if (expression.operator === 'AND') {
    let remaining = candidates;
    for (const operand of expression.operands) {
      remaining = matchingRoots(operand, observation, context, remaining);
      if (remaining.length === 0) break;
    }
    return remaining;
  }

  const matched = new Set<JsonObject>();
  for (const operand of expression.operands) {
    const rest = candidates.filter((root) => !matched.has(root));
    for (const root of matchingRoots(operand, observation, context, rest)) matched.add(root);
  }
  return candidates.filter((root) => matched.has(root));
}
