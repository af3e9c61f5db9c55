/**
 * Matching a STIX 2.1 pattern against observations (STIX 2.1 section 9), with the semantics
 * of the OASIS reference matcher (cti-pattern-matcher 3.0.0) except where a comment notes a
 * difference.
 */

import type { ObservationExpression, PatternAst, Qualifier } from './ast.ts';
import { BindingSpace, NO_CONSTRAINT, type Binding, type TimeConstraint } from './bindings.ts';
import {
  prepareObservations as prepareInputs,
  PreparedObservations,
  StepBudget,
  type JsonObject,
  type Observation,
} from './observations.ts';
import { parsePattern } from './parser.ts';
import {
  CompiledPattern,
  type BracketTest,
  type CompileOptions,
  type EvaluationContext,
} from './predicates.ts';
import { instantToNanoseconds } from './timestamps.ts';

/**
 * Default evaluation allowance, counted in path steps, comparisons and binding checks. A
 * one-comparison pattern over 300 observed-data objects uses about 1,200 steps. One million
 * took about 0.3 s in the step-limit test of evaluate.test.ts on a 2-core Xeon. The limit stops
 * patterns such as long AND chains over many similar observations from running for minutes.
 */
export const DEFAULT_MAX_STEPS = 1_000_000;

export interface MatchOptions {
  /**
   * SCOs by id, for resolving `object_refs` of observed-data objects given without a bundle.
   * Not allowed with prepared observations, which take it from prepareObservations.
   */
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
export function compilePattern(
  pattern: string | PatternAst,
  options?: CompileOptions,
): CompiledPattern {
  // Like the reference matcher, evaluation accepts a qualifier type repeated on one expression.
  const ast =
    typeof pattern === 'string'
      ? parsePattern(pattern, { allowDuplicateQualifiers: true })
      : pattern;
  return new CompiledPattern(ast, options);
}

/**
 * Prepares observations for matching against many patterns: observed-data objects (with
 * `object_refs` resolved through `objects` or the bundle they came in, or with the embedded
 * `objects` dictionary), bundles of them, or bare SCOs. Raises PatternEvaluationError for
 * input that cannot be observations. The result must not be used after the input objects
 * change.
 */
export function prepareObservations(
  observations: readonly unknown[],
  objects?: MatchOptions['objects'],
): PreparedObservations {
  if (objects === undefined) return prepareInputs(observations);
  const targets = objects instanceof Map ? objects : new Map(Object.entries(objects));
  return prepareInputs(observations, targets);
}

/**
 * Matches a pattern against observations, given as for prepareObservations or already
 * prepared by it.
 * Raises PatternSyntaxError for an invalid pattern and PatternEvaluationError when the
 * pattern or the data cannot be evaluated. A compiled pattern is left for the caller to
 * dispose; one compiled here is disposed before returning.
 */
export function matchPattern(
  pattern: string | PatternAst | CompiledPattern,
  observations: readonly unknown[] | PreparedObservations,
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
  observations: readonly unknown[] | PreparedObservations,
  options: MatchOptions,
): MatchResult {
  let prepared: PreparedObservations;
  if (observations instanceof PreparedObservations) {
    if (options.objects !== undefined) {
      throw new TypeError(
        'matchPattern: pass objects to prepareObservations, not with prepared observations',
      );
    }
    prepared = observations;
  } else {
    prepared = prepareObservations(observations, options.objects);
  }
  const context: EvaluationContext = {
    observations: prepared,
    budget: new StepBudget(options.maxSteps ?? DEFAULT_MAX_STEPS),
  };

  if (compiled.single) return matchSingle(compiled.single, context);

  const matcher = new Matcher(compiled, context);
  const first = matcher.bindings(compiled.ast.expression, NO_CONSTRAINT).next();
  if (first.done) return { matched: false, observations: [] };
  return { matched: true, observations: matcher.sources(first.value) };
}

/**
 * Matches a pattern that is one bracketed expression without qualifiers. Its first binding is
 * the first instance of the first observation that satisfies it, which is what Matcher finds
 * for it too, with the same steps spent, but without building bindings.
 */
function matchSingle(test: BracketTest, context: EvaluationContext): MatchResult {
  const items = context.observations.items;
  for (let index = 0; index < items.length; index++) {
    const observation = items[index]!;
    if (test.satisfied(observation, context)) {
      context.budget.spend();
      return { matched: true, observations: [observation.source] };
    }
  }
  return { matched: false, observations: [] };
}

class Matcher {
  private readonly space: BindingSpace;
  private readonly observations: readonly Observation[];
  private readonly budget: StepBudget;
  /** Results of each bracketed expression by observation index, computed on first use. */
  private readonly satisfied = new Map<BracketTest, boolean[]>();

  constructor(
    private readonly compiled: CompiledPattern,
    private readonly context: EvaluationContext,
  ) {
    this.observations = context.observations.items;
    this.budget = context.budget;
    this.space = new BindingSpace(this.observations, context.budget);
  }

  sources(binding: Binding): JsonObject[] {
    const indexes: number[] = [];
    for (const id of binding) {
      const index = this.space.observationIndex(id);
      if (!indexes.includes(index)) indexes.push(index);
    }
    return indexes.sort((a, b) => a - b).map((index) => this.observations[index]!.source);
  }

  bindings(expression: ObservationExpression, constraint: TimeConstraint): Iterator<Binding> {
    switch (expression.type) {
      case 'observation':
        return this.leafBindings(this.compiled.bracket(expression), constraint);
      case 'observation-group':
        return this.groupBindings(expression.operator, expression.operands, constraint);
      case 'qualified':
        return this.qualifiedBindings(expression.expression, expression.qualifiers, constraint);
    }
  }

  private *leafBindings(test: BracketTest, constraint: TimeConstraint): Generator<Binding> {
    for (let index = 0; index < this.observations.length; index++) {
      const observation = this.observations[index]!;
      if (!this.space.observationAllowed(index, constraint)) continue;
      if (!this.leafSatisfied(test, index)) continue;
      for (let instance = 0; instance < observation.count; instance++) {
        this.budget.spend();
        yield [this.space.instanceId(index, instance)];
      }
    }
  }

  private leafSatisfied(test: BracketTest, index: number): boolean {
    let results = this.satisfied.get(test);
    if (!results) {
      results = [];
      this.satisfied.set(test, results);
    }
    results[index] ??= test.satisfied(this.observations[index]!, this.context);
    return results[index];
  }
  /** Folds an n-ary chain from the left, as the grammar makes the operators left-associative. */
  private groupBindings(
    operator: 'AND' | 'OR' | 'FOLLOWEDBY',
    operands: readonly ObservationExpression[],
    constraint: TimeConstraint,
  ): Iterator<Binding> {
    let result = this.bindings(operands[0]!, constraint);
    for (let i = 1; i < operands.length; i++) {
      const right = this.bindings(operands[i]!, constraint);
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
    count = qualifiers.length,
  ): Iterator<Binding> {
    if (count === 0) return this.bindings(expression, constraint);

    const last = qualifiers[count - 1]!;
    switch (last.type) {
      case 'REPEATS': {
        const source = this.qualifiedBindings(expression, qualifiers, constraint, count - 1);
        return this.space.repeat(source, last.times, constraint);
      }
      case 'WITHIN': {
        const span = withinNanoseconds(last);
        const maxSpan =
          constraint.maxSpan === undefined || span < constraint.maxSpan ? span : constraint.maxSpan;
        const narrowed = { ...constraint, maxSpan };
        return this.qualifiedBindings(expression, qualifiers, narrowed, count - 1);
      }
      case 'START': {
        const window = startStopNanoseconds(last);
        // A window that stops at or before its start admits nothing (STIX 2.1 section 9).
        if (window.start >= window.stop) return [][Symbol.iterator]();
        const narrowed = { ...constraint, windows: [...constraint.windows, window] };
        return this.qualifiedBindings(expression, qualifiers, narrowed, count - 1);
      }
    }
  }
}

// Qualifier amounts in nanoseconds, converted once per syntax tree node instead of per match.
const withinSpans = new WeakMap<Qualifier, bigint>();
const startStopWindows = new WeakMap<Qualifier, { start: bigint; stop: bigint }>();

function withinNanoseconds(qualifier: Qualifier & { type: 'WITHIN' }): bigint {
  let span = withinSpans.get(qualifier);
  if (span === undefined) {
    span = BigInt(Math.round(qualifier.seconds * 1e9));
    withinSpans.set(qualifier, span);
  }
  return span;
}

function startStopNanoseconds(qualifier: Qualifier & { type: 'START' }): {
  start: bigint;
  stop: bigint;
} {
  let window = startStopWindows.get(qualifier);
  if (window === undefined) {
    window = {
      start: instantToNanoseconds(qualifier.startTime.value),
      stop: instantToNanoseconds(qualifier.stopTime.value),
    };
    startStopWindows.set(qualifier, window);
  }
  return window;
}
