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
/** Objects by embedded key or by id, for following references. */
export interface ObjectLookup {
  get(key: string): JsonObject | undefined;
}

export class Observation {
  private byType: Map<string, number[]> | undefined;
  private nanoseconds: { first: bigint; last: bigint } | undefined;
  private objectMap: ObjectLookup | undefined;

  constructor(
    /** The observed-data object, or the SCO itself for a bare SCO. */
    readonly source: JsonObject,
    /**
     * The embedded key or id of each root, for `objects`, or the look-up itself when it is
     * not made of the roots (a bare SCO may refer to any object given with it).
     */
    private readonly keys: readonly string[] | ObjectLookup,
    /** The cyber-observable objects observed, which object paths start from. */
    readonly roots: readonly JsonObject[],
    /** `number_observed`: how many times the objects were seen; 1 for a bare SCO. */
    readonly count: number,
    /** `first_observed`; absent for a bare SCO. */
    readonly first?: Instant,
    /** `last_observed`; absent for a bare SCO. */
    readonly last?: Instant,
  ) {}

  /** The objects a reference may resolve to, by embedded key or by id; built on first use. */
  get objects(): ObjectLookup {
    if (!this.objectMap) {
      const keys = this.keys;
      if (Array.isArray(keys)) {
        const map = new Map<string, JsonObject>();
        (keys as readonly string[]).forEach((key, index) => map.set(key, this.roots[index]!));
        this.objectMap = map;
      } else {
        this.objectMap = keys as ObjectLookup;
      }
    }
    return this.objectMap;
  }

  /** `first_observed` and `last_observed` in nanoseconds; undefined for a bare SCO. */
  get interval(): { first: bigint; last: bigint } | undefined {
    if (!this.first || !this.last) return undefined;
    this.nanoseconds ??= {
      first: instantToNanoseconds(this.first),
      last: instantToNanoseconds(this.last),
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
 * Observations ready for matching, with their objects collected and their times parsed.
 * Preparing once and matching many patterns saves that work on every match after the first.
 */
export class PreparedObservations {
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
  const targets = new Targets(extraObjects);

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
        else if (typeof item.id === 'string') targets.add(item.id, item);
      }
    } else if (input.type === 'observed-data') {
      observedData.push(input);
    } else {
      bareObjects.push(input);
      if (typeof input.id === 'string') targets.add(input.id, input);
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

/**
 * The objects references may resolve to: objects given beside the observed data, over those
 * of the caller's map. Later objects with the same id replace earlier ones. Most inputs give
 * one or two, which a list search finds faster than a map takes to build, so a map is built
 * only past MAX_LISTED_TARGETS. The caller's map is read in place rather than copied.
 */
class Targets implements ObjectLookup {
  private readonly ids: string[] = [];
  private readonly objects: JsonObject[] = [];
  private map: Map<string, JsonObject> | undefined;

  constructor(private readonly extra: ReadonlyMap<string, unknown> | undefined) {}

  add(id: string, item: JsonObject): void {
    if (this.map) {
      this.map.set(id, item);
      return;
    }
    this.ids.push(id);
    this.objects.push(item);
    if (this.ids.length > MAX_LISTED_TARGETS) {
      this.map = new Map();
      this.ids.forEach((listed, index) => this.map!.set(listed, this.objects[index]!));
    }
  }

  get(id: string): JsonObject | undefined {
    if (this.map) {
      const found = this.map.get(id);
      if (found) return found;
    } else {
      for (let i = this.ids.length - 1; i >= 0; i--) {
        if (this.ids[i] === id) return this.objects[i];
      }
    }
    const extra = this.extra?.get(id);
    return isJsonObject(extra) ? extra : undefined;
  }
}

const MAX_LISTED_TARGETS = 8;

function observationFromObservedData(item: JsonObject, targets: Targets): Observation {
  const id = objectId(item) ?? 'without an id';
  const keys: string[] = [];
  const roots: JsonObject[] = [];

  const embedded = isJsonObject(item.objects) ? item.objects : undefined;
  if (embedded) {
    for (const key of Object.keys(embedded)) {
      const value = embedded[key];
      if (!isJsonObject(value)) continue;
      keys.push(key);
      roots.push(value);
    }
  }
  if (Array.isArray(item.object_refs)) {
    // A list search finds a repeated key faster than a Set for the one or two objects most
    // observations have, and a Set takes over past MAX_LISTED_KEYS.
    let seen: Set<string> | undefined;
    for (const ref of item.object_refs as unknown[]) {
      const target = typeof ref === 'string' ? targets.get(ref) : undefined;
      if (!target || (seen ? seen.has(ref as string) : keys.includes(ref as string))) continue;
      keys.push(ref as string);
      roots.push(target);
      if (seen) seen.add(ref as string);
      else if (keys.length > MAX_LISTED_KEYS) seen = new Set(keys);
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
  const first = observedTime(item, 'first_observed', id);
  const last = observedTime(item, 'last_observed', id);
  if (compareInstants(first, last) > 0) {
    throw new PatternEvaluationError(`observed-data ${id} has last_observed before first_observed`);
  }
  return new Observation(item, keys, roots, count, first, last);
}

const MAX_LISTED_KEYS = 8;

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
