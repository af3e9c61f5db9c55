/**
 * Bindings of observation expressions to observations (STIX 2.1 section 9, observation
 * operators and qualifiers), in the manner of the OASIS reference matcher.
 *
 * An observed-data object with `number_observed` n counts as n instances. A binding lists the
 * instances bound to the bracketed expressions of a subpattern. AND and FOLLOWEDBY join
 * bindings that share no instance, FOLLOWEDBY also needs the left side to be able to happen
 * no later than the right, and REPEATS n joins n bindings that share no instance.
 *
 * Bindings are produced lazily, so a match stops at the first binding found. The temporal
 * qualifiers WITHIN and START/STOP only ever reject a binding that grows, so they are pushed
 * down as a `TimeConstraint` and prune partial bindings early instead of filtering the full
 * ones. Even so the search can grow combinatorially, which the StepBudget bounds.
 */

import type { Interval, StepBudget } from './observations.ts';

/** Instance ids: `k * observationCount + observationIndex` for the k-th instance. */
export type Binding = readonly number[];

export interface TimeConstraint {
  /** WITHIN: every instance must fit in one window of this many nanoseconds. */
  maxSpan?: bigint;
  /** START/STOP: every instance's interval must overlap each window, stop excluded. */
  windows: readonly { start: bigint; stop: bigint }[];
}

export const NO_CONSTRAINT: TimeConstraint = { windows: [] };

export class BindingSpace {
  /** Scratch set for canSupply, reused to save an allocation per search step. */
  private readonly instances = new Set<number>();

  constructor(
    /**
     * The observations by index, whose `interval` (undefined for a bare SCO) is read only
     * under a time constraint or FOLLOWEDBY, so other patterns never convert times.
     */
    private readonly observations: readonly { readonly interval: Interval }[],
    private readonly budget: StepBudget,
  ) {}

  instanceId(observationIndex: number, instance: number): number {
    return instance * this.observations.length + observationIndex;
  }

  observationIndex(instanceId: number): number {
    return instanceId % this.observations.length;
  }

  private interval(instanceId: number): Interval {
    return this.observations[this.observationIndex(instanceId)]!.interval;
  }

  /** Checks whether a single observation can take part in a binding under the constraint. */
  observationAllowed(observationIndex: number, constraint: TimeConstraint): boolean {
    if (constraint.maxSpan === undefined && constraint.windows.length === 0) return true;

    const interval = this.observations[observationIndex]!.interval;
    if (!interval) return false;
    // STIX 2.1 section 9 makes START inclusive and STOP exclusive, so an interval that only
    // touches STOP does not overlap the window.
    for (const window of constraint.windows) {
      if (interval.first >= window.stop || interval.last < window.start) return false;
    }
    return true;
  }

  /**
   * Checks the WITHIN span of a binding whose instances already passed observationAllowed:
   * a window of maxSpan exists that meets every interval when the latest first_observed is
   * at most maxSpan after the earliest last_observed.
   */
  withinSpan(binding: Binding, constraint: TimeConstraint): boolean {
    if (constraint.maxSpan === undefined) return true;

    const latestFirst = this.latestFirst(binding);
    const earliestLast = this.earliestLast(binding);
    if (latestFirst === undefined || earliestLast === undefined) return false;
    return latestFirst - earliestLast <= constraint.maxSpan;
  }

  /** Returns the latest first_observed of a binding, or undefined if it has a bare SCO. */
  private latestFirst(binding: Binding): bigint | undefined {
    let latest: bigint | undefined;
    for (let i = 0; i < binding.length; i++) {
      const interval = this.interval(binding[i]!);
      if (!interval) return undefined;
      if (latest === undefined || interval.first > latest) latest = interval.first;
    }
    return latest;
  }

  /** Returns the earliest last_observed of a binding, or undefined if it has a bare SCO. */
  private earliestLast(binding: Binding): bigint | undefined {
    let earliest: bigint | undefined;
    for (let i = 0; i < binding.length; i++) {
      const interval = this.interval(binding[i]!);
      if (!interval) return undefined;
      if (earliest === undefined || interval.last < earliest) earliest = interval.last;
    }
    return earliest;
  }

  private disjoint(left: Binding, right: Binding): boolean {
    this.budget.spend();
    for (const id of left) if (right.includes(id)) return false;
    return true;
  }

  /** AND: every pair of left and right bindings that share no instance. */
  and(
    left: Iterator<Binding>,
    right: Iterator<Binding>,
    constraint: TimeConstraint,
  ): Generator<Binding> {
    return this.join(left, right, (l, r) => {
      if (!this.disjoint(l, r)) return undefined;
      const joined = l.concat(r);
      return this.withinSpan(joined, constraint) ? joined : undefined;
    });
  }

  /**
   * FOLLOWEDBY: pairs that share no instance and where the left side can be observed no later
   * than the right one, that is the latest left first_observed is not after the earliest
   * right last_observed (STIX 2.1 section 9).
   */
  followedBy(
    left: Iterator<Binding>,
    right: Iterator<Binding>,
    constraint: TimeConstraint,
  ): Generator<Binding> {
    return this.join(left, right, (l, r) => {
      if (!this.disjoint(l, r)) return undefined;
      const leftFirst = this.latestFirst(l);
      const rightLast = this.earliestLast(r);
      if (leftFirst === undefined || rightLast === undefined || leftFirst > rightLast) {
        return undefined;
      }
      const joined = l.concat(r);
      return this.withinSpan(joined, constraint) ? joined : undefined;
    });
  }

  /** OR: the bindings of either side, taken in turn so neither side can starve the other. */
  *or(left: Iterator<Binding>, right: Iterator<Binding>): Generator<Binding> {
    let l = left.next();
    let r = right.next();
    while (!l.done || !r.done) {
      if (!l.done) {
        yield l.value;
        l = left.next();
      }
      if (!r.done) {
        yield r.value;
        r = right.next();
      }
    }
  }

  /**
   * Pairs every left binding with every right binding once, alternating between the sides so
   * that a long or endless side does not delay the pairs that involve the other.
   */
  private *join(
    left: Iterator<Binding>,
    right: Iterator<Binding>,
    combine: (l: Binding, r: Binding) => Binding | undefined,
  ): Generator<Binding> {
    const leftSeen: Binding[] = [];
    const rightSeen: Binding[] = [];
    let l = left.next();
    let r = right.next();
    if (l.done || r.done) return;

    while (!l.done || !r.done) {
      if (!r.done) {
        for (const seen of leftSeen) {
          const joined = combine(seen, r.value);
          if (joined) yield joined;
        }
        rightSeen.push(r.value);
        r = right.next();
      }
      if (!l.done) {
        for (const seen of rightSeen) {
          const joined = combine(l.value, seen);
          if (joined) yield joined;
        }
        leftSeen.push(l.value);
        l = left.next();
      }
    }
  }

  /** REPEATS n: every set of n bindings that pairwise share no instance, found as they arrive. */
  *repeat(
    source: Iterator<Binding>,
    times: number,
    constraint: TimeConstraint,
  ): Generator<Binding> {
    if (times === 1) {
      for (let next = source.next(); !next.done; next = source.next()) yield next.value;
      return;
    }

    const seen: Binding[] = [];
    for (let next = source.next(); !next.done; next = source.next()) {
      if (seen.length >= times - 1)
        yield* this.combinationsWith(seen, next.value, times, constraint);
      seen.push(next.value);
    }
  }

  /**
   * Yields each union of `last` with `times - 1` earlier bindings, all pairwise disjoint.
   * The depth-first search keeps its own stack, so a large repeat count cannot overflow the
   * call stack. Each level keeps only the candidates disjoint from the union so far, and a
   * level is abandoned when those candidates hold too few distinct instances to supply the
   * bindings still needed, or when the union breaks the WITHIN span.
   */
  private *combinationsWith(
    earlier: readonly Binding[],
    last: Binding,
    times: number,
    constraint: TimeConstraint,
  ): Generator<Binding> {
    const stack: { candidates: Binding[]; position: number; union: Binding }[] = [
      {
        candidates: earlier.filter((binding) => this.disjoint(binding, last)),
        position: 0,
        union: last,
      },
    ];

    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const stillNeeded = times - stack.length;
      if (stillNeeded === 0) {
        stack.pop();
        yield frame.union;
        continue;
      }
      if (!this.canSupply(frame.candidates, frame.position, stillNeeded)) {
        stack.pop();
        continue;
      }

      const next = frame.candidates[frame.position]!;
      frame.position++;
      const union = next.concat(frame.union);
      if (!this.withinSpan(union, constraint)) continue;
      const candidates: Binding[] = [];
      for (let i = frame.position; i < frame.candidates.length; i++) {
        const candidate = frame.candidates[i]!;
        if (this.disjoint(candidate, next)) candidates.push(candidate);
      }
      stack.push({ candidates, position: 0, union });
    }
  }

  /**
   * Checks an upper bound on how many pairwise-disjoint bindings `candidates[from..]` can
   * supply against `needed`: no more than the candidates left, nor than their distinct
   * instances divided by the size of the smallest one. The bound only grows as candidates
   * are read, so reading stops once it reaches `needed`.
   */
  private canSupply(candidates: readonly Binding[], from: number, needed: number): boolean {
    const remaining = candidates.length - from;
    if (remaining <= 1) return remaining >= needed;
    this.budget.spend(remaining);
    if (remaining < needed) return false;

    const instances = this.instances;
    instances.clear();
    let smallest = Infinity;
    for (let i = from; i < candidates.length; i++) {
      const binding = candidates[i]!;
      for (const id of binding) instances.add(id);
      if (binding.length < smallest) smallest = binding.length;
      if (Math.floor(instances.size / smallest) >= needed) return true;
    }
    return false;
  }
}
