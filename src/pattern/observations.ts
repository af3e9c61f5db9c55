/**
 * Observations that a pattern is matched against, and object path selection within them
 * (the STIX 2.1 Observed Data object, and object paths from STIX 2.1 section 9).
 *
 * An observation is an observed-data object with its cyber-observable objects, taken from the
 * deprecated embedded `objects` dictionary or resolved from `object_refs`. A bare SCO passed on
 * its own is an observation of one object with no observation time.
 */

import type { Instant, ObjectPath, PathStep } from './ast.ts';
import { compareInstants, instantToNanoseconds, parseObservedTimestamp } from './timestamps.ts';
import { PatternEvaluationError } from './errors.ts';

/** `first_observed`/`last_observed` in nanoseconds; undefined for a bare SCO. */
export type Interval = { first: bigint; last: bigint } | undefined;

export type JsonObject = Record<string, unknown>;

/**
 * One observation: the objects seen together, how often and when. Built once per input by
 * prepareObservations, then shared by every pattern matched against that input.
 */
export class Observation {
  private byType: Map<string, number[]> | undefined;
  private nanoseconds: { first: bigint; last: bigint } | undefined;

  constructor(
    /** The observed-data object, or the SCO itself for a bare SCO. */
    readonly source: JsonObject,
    /** The objects a reference may resolve to, by embedded key or by id. */
    readonly objects: ReadonlyMap<string, JsonObject>,
    /** The cyber-observable objects observed, which object paths start from. */
    readonly roots: readonly JsonObject[],
    /** `number_observed`: how many times the objects were seen; 1 for a bare SCO. */
    readonly count: number,
    /** `first_observed` and `last_observed`; absent for a bare SCO. */
    readonly times?: { first: Instant; last: Instant },
  ) {}

  /** `first_observed` and `last_observed` in nanoseconds; undefined for a bare SCO. */
  get interval(): { first: bigint; last: bigint } | undefined {
    if (!this.times) return undefined;
    this.nanoseconds ??= {
      first: instantToNanoseconds(this.times.first),
      last: instantToNanoseconds(this.times.last),
    };
    return this.nanoseconds;
  }

  /** Positions in `roots` of the objects whose `type` is `objectType`; built on first use. */
  positionsOfType(objectType: string): readonly number[] {
    if (!this.byType) {
      this.byType = new Map();
      this.roots.forEach((root, position) => {
        if (typeof root.type !== 'string') return;
        const list = this.byType!.get(root.type);
        if (list) list.push(position);
        else this.byType!.set(root.type, [position]);
      });
    }
    return this.byType.get(objectType) ?? NO_POSITIONS;
  }
}

const NO_POSITIONS: readonly number[] = [];

/** Counts work done while evaluating and raises once the allowance is spent. */
export class StepBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  spend(steps = 1): void {
    this.used += steps;
    if (this.used > this.limit) {
      throw new PatternEvaluationError(
        `pattern evaluation stopped after ${this.limit} steps; the pattern and data combine ` +
          'into too many candidate matches (raise maxSteps to allow more)',
      );
    }
  }
}

export function isJsonObject(value: unknown): value is JsonObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
  );
}

function objectId(item: JsonObject): string | undefined {
  return typeof item.id === 'string' ? item.id : undefined;
}

/**
 * Observations ready for matching, with what evaluation derives from them: the observed
 * intervals in nanoseconds and the instants of timestamp strings compared with timestamp
 * literals. Preparing once and matching many patterns saves the repeated work.
 */
export class PreparedObservations {
  private instants: Map<string, Instant> | undefined;

  /** Raises PatternEvaluationError when instance ids would not fit in a double. */
  constructor(
    /** Observed-data first, in input order, then bare SCOs. */
    readonly items: readonly Observation[],
  ) {
    // Instance ids must stay exact doubles (see Binding in bindings.ts).
    let maxCount = 0;
    for (const item of items) if (item.count > maxCount) maxCount = item.count;
    if (maxCount * items.length > Number.MAX_SAFE_INTEGER) {
      throw new PatternEvaluationError(
        `${items.length} observations with number_observed up to ${maxCount} are too ` +
          'many to match at once; match them in smaller batches',
      );
    }
  }

  /** Parses an observed timestamp string once, raising PatternEvaluationError if invalid. */
  instant(text: string): Instant {
    this.instants ??= new Map();
    let instant = this.instants.get(text);
    if (!instant) {
      instant = parseObservedTimestamp(text);
      this.instants.set(text, instant);
    }
    return instant;
  }
}

/**
 * Turns the caller's input into observations. Bundles are opened: their observed-data objects
 * become observations and their other objects become reference targets. Any other object
 * outside a bundle is a reference target too, and a bare SCO observation unless some
 * observed-data object lists it in `object_refs`. Raises PatternEvaluationError for input
 * that cannot be observations.
 */
export function prepareObservations(
  inputs: readonly unknown[],
  extraObjects?: ReadonlyMap<string, unknown>,
): PreparedObservations {
  const targets = new Map<string, JsonObject>();
  if (extraObjects) {
    for (const [id, item] of extraObjects) if (isJsonObject(item)) targets.set(id, item);
  }

  const observedData: JsonObject[] = [];
  const bareObjects: JsonObject[] = [];
  for (const input of inputs) {
    if (!isJsonObject(input)) {
      throw new PatternEvaluationError('each observation must be a JSON object');
    }
    if (input.type === 'bundle') {
      if (!Array.isArray(input.objects)) continue;
      for (const item of input.objects as unknown[]) {
        if (!isJsonObject(item)) continue;
        if (item.type === 'observed-data') observedData.push(item);
        else if (typeof item.id === 'string') targets.set(item.id, item);
      }
    } else if (input.type === 'observed-data') {
      observedData.push(input);
    } else {
      bareObjects.push(input);
      if (typeof input.id === 'string') targets.set(input.id, input);
    }
  }

  const items: Observation[] = [];
  for (const item of observedData) items.push(observationFromObservedData(item, targets));
  if (bareObjects.length > 0) {
    // An SCO listed beside the observed-data that refers to it belongs to that observation
    // and is not observed a second time on its own.
    const referenced = new Set<unknown>();
    for (const item of observedData) {
      if (Array.isArray(item.object_refs)) for (const ref of item.object_refs) referenced.add(ref);
    }
    for (const item of bareObjects) {
      if (!referenced.has(item.id)) items.push(new Observation(item, targets, [item], 1));
    }
  }
  return new PreparedObservations(items);
}

function observationFromObservedData(
  item: JsonObject,
  targets: ReadonlyMap<string, JsonObject>,
): Observation {
  const id = objectId(item) ?? 'without an id';
  const objects = new Map<string, JsonObject>();
  const roots: JsonObject[] = [];

  const embedded = isJsonObject(item.objects) ? item.objects : undefined;
  if (embedded) {
    for (const key of Object.keys(embedded)) {
      const value = embedded[key];
      if (!isJsonObject(value)) continue;
      objects.set(key, value);
      roots.push(value);
    }
  }
  if (Array.isArray(item.object_refs)) {
    for (const ref of item.object_refs as unknown[]) {
      const target = typeof ref === 'string' ? targets.get(ref) : undefined;
      if (!target || objects.has(ref as string)) continue;
      objects.set(ref as string, target);
      roots.push(target);
    }
  } else if (!embedded) {
    throw new PatternEvaluationError(`observed-data ${id} has neither object_refs nor objects`);
  }

  const count = item.number_observed;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
    throw new PatternEvaluationError(
      `observed-data ${id} has number_observed ${String(count)}; expected an integer of at least 1`,
    );
  }
  return new Observation(item, objects, roots, count, observedTimes(item, id));
}

function observedTimes(item: JsonObject, id: string): { first: Instant; last: Instant } {
  const first = observedTime(item, 'first_observed', id);
  const last = observedTime(item, 'last_observed', id);
  if (compareInstants(first, last) > 0) {
    throw new PatternEvaluationError(`observed-data ${id} has last_observed before first_observed`);
  }
  return { first, last };
}

function observedTime(item: JsonObject, name: string, id: string): Instant {
  const text = item[name];
  if (typeof text !== 'string') {
    throw new PatternEvaluationError(`observed-data ${id} is missing ${name}`);
  }
  return parseObservedTimestamp(text);
}

// Object path selection ---------------------------------------------------------------------

/**
 * Returns every value the path selects in one root object, following `_ref` and `_refs`
 * properties into the observation's other objects. `[*]` selects each list element, and a
 * step that does not apply (a missing key, an index out of range) selects nothing.
 */
export function selectValues(
  root: JsonObject,
  path: ObjectPath,
  observation: Observation,
  budget: StepBudget,
): unknown[] {
  let values: unknown[] = [root];
  for (const step of path.steps) {
    values = takeStep(values, step, observation);
    budget.spend(values.length);
    if (values.length === 0) break;
  }
  return values;
}

/** A step of a path that selects at most one value, with its key's suffix read in advance. */
export type SingleStep =
  | { kind: 'key'; key: string; decoded: boolean; reference: boolean }
  | { kind: 'index'; index: number };

/** Marks a path that selects nothing in selectSingleValue. */
export const NOTHING: unique symbol = Symbol('nothing selected');

/**
 * Returns the steps of a path that selects at most one value from each root: one without
 * `[*]` and without `_refs` keys. Returns undefined for other paths.
 */
export function singleValueSteps(path: ObjectPath): SingleStep[] | undefined {
  const steps: SingleStep[] = [];
  for (const step of path.steps) {
    if (step.kind === 'any-index') return undefined;
    if (step.kind === 'index') {
      steps.push({ kind: 'index', index: step.index });
      continue;
    }
    if (step.key.endsWith('_refs')) return undefined;
    const decoded = step.key.endsWith('_hex') || step.key.endsWith('_bin');
    steps.push({ kind: 'key', key: step.key, decoded, reference: step.key.endsWith('_ref') });
  }
  return steps;
}

/**
 * Returns the value a path from singleValueSteps selects in one root object, or NOTHING.
 * It follows the rules of selectValues and spends the same budget, without building arrays.
 */
export function selectSingleValue(
  root: JsonObject,
  steps: readonly SingleStep[],
  observation: Observation,
  budget: StepBudget,
): unknown {
  let value: unknown = root;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    if (step.kind === 'index') {
      // As in the reference matcher, a negative index selects nothing.
      if (!Array.isArray(value) || step.index < 0 || step.index >= value.length) return NOTHING;
      value = value[step.index];
    } else {
      if (!isJsonObject(value) || !Object.hasOwn(value, step.key)) return NOTHING;
      value = value[step.key];
      if (step.decoded) value = decodeSuffixedValue(step.key, value);
      if (step.reference) {
        if (typeof value !== 'string') throw notAString(step.key);
        const target = observation.objects.get(value);
        if (!target) return NOTHING;
        value = target;
      }
    }
    budget.spend();
  }
  return value;
}

function takeStep(values: unknown[], step: PathStep, observation: Observation): unknown[] {
  const next: unknown[] = [];
  if (step.kind === 'any-index') {
    for (const value of values) if (Array.isArray(value)) next.push(...value);
    return next;
  }
  if (step.kind === 'index') {
    // As in the reference matcher, a negative index selects nothing.
    for (const value of values) {
      if (Array.isArray(value) && step.index >= 0 && step.index < value.length) {
        next.push(value[step.index]);
      }
    }
    return next;
  }

  for (const value of values) {
    if (isJsonObject(value) && Object.hasOwn(value, step.key)) {
      next.push(decodeSuffixedValue(step.key, value[step.key]));
    }
  }
  if (step.key.endsWith('_ref')) return resolveReferences(next, step.key, observation);
  if (step.key.endsWith('_refs')) return resolveReferenceLists(next, step.key, observation);
  return next;
}

/**
 * Decodes binary properties: STIX 2.1 names hex-encoded properties with `_hex` and
 * base64-encoded ones with `_bin`, so they compare as bytes with h'' and b'' literals.
 */
function decodeSuffixedValue(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (key.endsWith('_hex')) {
    if (!/^(?:[0-9A-Fa-f]{2})*$/.test(value)) {
      throw new PatternEvaluationError(`property ${key} is not valid hex: '${value}'`);
    }
    return Buffer.from(value, 'hex');
  }
  if (key.endsWith('_bin')) {
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(value)) {
      throw new PatternEvaluationError(`property ${key} is not valid base64: '${value}'`);
    }
    return Buffer.from(value, 'base64');
  }
  return value;
}

function resolveReferences(values: unknown[], key: string, observation: Observation): unknown[] {
  const resolved: unknown[] = [];
  for (const value of values) {
    if (typeof value !== 'string') throw notAString(key);
    const target = observation.objects.get(value);
    if (target) resolved.push(target);
  }
  return resolved;
}

function resolveReferenceLists(
  values: unknown[],
  key: string,
  observation: Observation,
): unknown[] {
  const resolved: unknown[] = [];
  for (const value of values) {
    if (!Array.isArray(value)) {
      throw new PatternEvaluationError(`reference list property ${key} is not a list`);
    }
    const targets = resolveReferences(value, key, observation);
    if (targets.length > 0) resolved.push(targets);
  }
  return resolved;
}

function notAString(key: string): PatternEvaluationError {
  return new PatternEvaluationError(`reference property ${key} is not a string`);
}
