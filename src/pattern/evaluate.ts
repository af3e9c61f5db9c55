/**
 * Matching a STIX 2.1 pattern against observations (STIX 2.1 section 9), with the semantics
 * of the OASIS reference matcher (cti-pattern-matcher 3.0.0) except where a comment notes a
 * difference.
 */

import type { ObservationExpression, PatternAst, Qualifier } from './ast.ts';
import { BindingSpace, NO_CONSTRAINT, type Binding, type TimeConstraint } from './bindings.ts';
import {
  collectObservations,
  StepBudget,
  type JsonObject,
  type Observation,
} from './observations.ts';
import { PatternEvaluationError } from './errors.ts';
import { parsePattern } from './parser.ts';
import { CompiledPattern, observationSatisfies } from './predicates.ts';
import { instantToNanoseconds } from './timestamps.ts';

/**
 * Default evaluation allowance, counted in path steps, comparisons and binding checks. A
 * one-comparison pattern over 300 observed-data objects uses about 1,200 steps. One million
 * took about 0.3 s in the step-limit test of evaluate.test.ts on a 2-core Xeon. The limit stops
 * patterns such as long AND chains over many similar observations from running for minutes.
 */
export const DEFAULT_MAX_STEPS = 1_000_000;

export interface MatchOptions {
  /** SCOs by id, for resolving `object_refs` of observed-data objects given without a bundle. */
  objects?: ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>;
  /** Evaluation allowance; PatternEvaluationError is raised when it runs out. */
  maxSteps?: number;
}

export interface MatchResult {
  matched: boolean;
  /**
   * The observed-data objects (or bare SCOs) of the first binding found, in input order.
   * Other bindings may exist; like the reference matcher, only the first is reported.
   */
  observations: JsonObject[];
}

/**
 * Parses (when given text) and compiles a pattern for repeated matching. Raises
 * PatternSyntaxError or PatternEvaluationError. Call dispose() on the result when done.
 */
export function compilePattern(pattern: string | PatternAst): CompiledPattern {
  // Like the reference matcher, evaluation accepts a qualifier type repeated on one expression.
  const ast =
    typeof pattern === 'string'
      ? parsePattern(pattern, { allowDuplicateQualifiers: true })
      : pattern;
  return new CompiledPattern(ast);
}

/**
 * Matches a pattern against observations: observed-data objects (with `object_refs` resolved
 * through `options.objects` or the bundle they came in, or with the embedded `objects`
 * dictionary), bundles of them, or bare SCOs.
 * Raises PatternSyntaxError for an invalid pattern and PatternEvaluationError when the
 * pattern or the data cannot be evaluated. A compiled pattern is left for the caller to
 * dispose; one compiled here is disposed before returning.
 */
export function matchPattern(
  pattern: string | PatternAst | CompiledPattern,
  observations: readonly unknown[],
  options: MatchOptions = {},
): MatchResult {
  if (pattern instanceof CompiledPattern) return evaluate(pattern, observations, options);

  const compiled = compilePattern(pattern);
  try {
    return evaluate(compiled, observations, options);
  } finally {
    compiled.dispose();
  }
}

function evaluate(
  compiled: CompiledPattern,
  observations: readonly unknown[],
  options: MatchOptions,
): MatchResult {
  const objects =
    options.objects instanceof Map
      ? options.objects
      : new Map(Object.entries(options.objects ?? {}));
  const collected = collectObservations(observations, objects);
  const budget = new StepBudget(options.maxSteps ?? DEFAULT_MAX_STEPS);
  const matcher = new Matcher(compiled, collected, budget);

  const first = matcher.bindings(compiled.ast.expression, NO_CONSTRAINT).next();
  if (first.done) return { matched: false, observations: [] };
  return { matched: true, observations: matcher.sources(first.value) };
}

class Matcher {
  private readonly space: BindingSpace;
  /** Results of each bracketed expression by observation index, computed on first use. */
  private readonly satisfied = new WeakMap<object, boolean[]>();

  constructor(
    private readonly compiled: CompiledPattern,
    private readonly observations: readonly Observation[],
    private readonly budget: StepBudget,
  ) {
    // Instance ids must stay exact doubles (see Binding in bindings.ts).
    const maxCount = observations.reduce((max, observation) => Math.max(max, observation.count), 0);
    if (maxCount * observations.length > Number.MAX_SAFE_INTEGER) {
      throw new PatternEvaluationError(
        `${observations.length} observations with number_observed up to ${maxCount} are too ` +
          'many to match at once; match them in smaller batches',
      );
    }
    this.space = new BindingSpace(
      observations.map((observation) => observation.interval),
      budget,
    );
  }

  sources(binding: Binding): JsonObject[] {
    const indexes = [...new Set(binding.map((id) => this.space.observationIndex(id)))];
    return indexes.sort((a, b) => a - b).map((index) => this.observations[index]!.source);
  }

  bindings(expression: ObservationExpression, constraint: TimeConstraint): Iterator<Binding> {
    switch (expression.type) {
      case 'observation':
        return this.leafBindings(expression, constraint);
      case 'observation-group':
        return this.groupBindings(expression.operator, expression.operands, constraint);
      case 'qualified':
        return this.qualifiedBindings(expression.expression, expression.qualifiers, constraint);
    }
  }

  private *leafBindings(
    expression: ObservationExpression & { type: 'observation' },
    constraint: TimeConstraint,
  ): Generator<Binding> {
    for (let index = 0; index < this.observations.length; index++) {
      const observation = this.observations[index]!;
      if (!this.space.observationAllowed(index, constraint)) continue;
      if (!this.leafSatisfied(expression, index)) continue;
      for (let instance = 0; instance < observation.count; instance++) {
        this.budget.spend();
        yield [this.space.instanceId(index, instance)];
      }
    }
  }

  private leafSatisfied(
    expression: ObservationExpression & { type: 'observation' },
    index: number,
  ): boolean {
    let results = this.satisfied.get(expression);
    if (!results) {
      results = [];
      this.satisfied.set(expression, results);
    }
    results[index] ??= observationSatisfies(
      this.compiled,
      expression.comparison,
      this.observations[index]!,
      this.budget,
    );
    return results[index];
  }

  /** Folds an n-ary chain from the left, as the grammar makes the operators left-associative. */
  private groupBindings(
    operator: 'AND' | 'OR' | 'FOLLOWEDBY',
    operands: readonly ObservationExpression[],
    constraint: TimeConstraint,
  ): Iterator<Binding> {
    let result = this.bindings(operands[0]!, constraint);
    for (const operand of operands.slice(1)) {
      const right = this.bindings(operand, constraint);
      if (operator === 'AND') result = this.space.and(result, right, constraint);
      else if (operator === 'OR') result = this.space.or(result, right);
      else result = this.space.followedBy(result, right, constraint);
    }
    return result;
  }

  /**
   * Applies qualifiers innermost first. A WITHIN or START/STOP qualifier is enforced by handing
   * its constraint down to the expressions it covers, which then yield only bindings that
   * keep to it.
   */
  private qualifiedBindings(
    expression: ObservationExpression,
    qualifiers: readonly Qualifier[],
    constraint: TimeConstraint,
  ): Iterator<Binding> {
    const last = qualifiers[qualifiers.length - 1];
    if (!last) return this.bindings(expression, constraint);

    const inner = qualifiers.slice(0, -1);
    switch (last.type) {
      case 'REPEATS': {
        const source = this.qualifiedBindings(expression, inner, constraint);
        return this.space.repeat(source, last.times, constraint);
      }
      case 'WITHIN': {
        const span = BigInt(Math.round(last.seconds * 1e9));
        const maxSpan =
          constraint.maxSpan === undefined || span < constraint.maxSpan ? span : constraint.maxSpan;
        return this.qualifiedBindings(expression, inner, { ...constraint, maxSpan });
      }
      case 'START': {
        const start = instantToNanoseconds(last.startTime.value);
        const stop = instantToNanoseconds(last.stopTime.value);
        // A window that stops at or before its start admits nothing (STIX 2.1 section 9).
        if (start >= stop) return [][Symbol.iterator]();
        const windows = [...constraint.windows, { start, stop }];
        return this.qualifiedBindings(expression, inner, { ...constraint, windows });
      }
    }
  }
}
