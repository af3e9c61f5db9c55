/**
 * STIX 2.x bundles: STIX 2.1 passed through, STIX 2.0 upgraded to 2.1 (STIX 2.1 section
 * 1.6 lists the changes), and in both cases, on request, the observables that indicator
 * patterns compare against extracted as SCOs and checked against warning lists.
 */
import { randomUUID } from 'node:crypto';
import {
  type Normalised,
  type Observable,
  type StixObject,
  classify,
  hashAlgorithm,
  normalise,
} from '../../normalise/index.ts';
import { inspectPattern, type PatternInspection } from '../../pattern/index.ts';
import { deterministicScoId } from '../../stix/ids.ts';
import { BundleReader } from '../bundle-reader.ts';
import { StixEmitter, markIndicator } from './emit.ts';
import type { ConvertOptions } from './options.ts';
import type { ConversionReport } from './report.ts';

export interface StixOptions extends ConvertOptions {
  /** Emit the SCOs that indicator patterns compare against (`[domain-name:value = '…']`). */
  deriveObservables?: boolean;
}

/**
 * 2.0 objects whose `labels` held the type vocabulary that 2.1 moved to its own property
 * (STIX 2.1 section 1.6: "labels … replaced by … _types").
 */
const TYPE_VOCABULARY: Record<string, string> = {
  indicator: 'indicator_types',
  malware: 'malware_types',
  report: 'report_types',
  'threat-actor': 'threat_actor_types',
  tool: 'tool_types',
};

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Converts the members of a bundle. With `upgrade`, each is taken as STIX 2.0 and
 * upgraded; objects already marked `spec_version: "2.1"` pass through.
 */
export async function* convertStix(
  reader: BundleReader,
  options: StixOptions,
  report: ConversionReport,
  upgrade: boolean,
): AsyncGenerator<StixObject> {
  const emitter = new StixEmitter(report, options.warninglists);
  for await (const entry of reader) {
    report.records++;
    const where = `objects[${entry.index}]`;
    if ('skipped' in entry) {
      report.skip(where, entry.rule, `the object is ${entry.skipped}`);
      continue;
    }
    if (!isObject(entry.value) || typeof entry.value.type !== 'string') {
      // Passed on so that validation rejects it with its reasons, as a plain import would.
      report.objects++;
      yield entry.value as StixObject;
      continue;
    }
    const name = typeof entry.value.id === 'string' ? entry.value.id : where;
    const objects =
      upgrade && entry.value.spec_version !== '2.1'
        ? upgradeObject(entry.value, name, report)
        : [entry.value as StixObject];
    for (const object of objects) {
      if (object.type === 'indicator' && (options.deriveObservables || options.warninglists)) {
        yield* indicatorWithObservables(object, options, emitter, report, name);
      } else {
        yield* emitter.emit(object);
      }
    }
  }
}

/** Upgrades one STIX 2.0 object; observed-data gives its SCOs as separate objects too. */
export function upgradeObject(source: Json, where: string, report: ConversionReport): StixObject[] {
  const object: Json = { ...source, spec_version: '2.1' };
  const type = String(object.type);
  const vocabulary = TYPE_VOCABULARY[type];
  if (vocabulary && Array.isArray(object.labels) && object[vocabulary] === undefined) {
    object[vocabulary] = object.labels;
    delete object.labels;
  }
  if (type === 'indicator' && object.pattern_type === undefined) object.pattern_type = 'stix';
  if (type === 'malware' && object.is_family === undefined) object.is_family = true;
  // Some 2.0 producers wrote identity_class as a list; 2.1 (like 2.0) takes one value.
  if (
    type === 'identity' &&
    Array.isArray(object.identity_class) &&
    typeof object.identity_class[0] === 'string'
  ) {
    if (object.identity_class.length > 1) {
      report.lose(
        where,
        'identity-class',
        `identity_class ${JSON.stringify(object.identity_class)} was cut to its first value`,
      );
    }
    object.identity_class = object.identity_class[0];
  }
  if (type === 'observed-data' && isObject(object.objects)) {
    const scos = upgradeObservedObjects(object.objects, where, report);
    delete object.objects;
    object.object_refs = scos.map((sco) => sco.id);
    return [...scos, object as StixObject];
  }
  return [object as StixObject];
}

/**
 * Turns the `objects` dictionary of a 2.0 observed-data into 2.1 SCOs: each gets
 * spec_version, its deterministic id (a UUIDv4 for types without id contributing
 * properties), and references by id instead of by dictionary key.
 */
function upgradeObservedObjects(
  objects: Json,
  where: string,
  report: ConversionReport,
): StixObject[] {
  const ids = new Map<string, string>();
  const upgraded: Array<[string, Json]> = [];
  for (const [key, value] of Object.entries(objects)) {
    if (!isObject(value) || typeof value.type !== 'string') {
      report.lose(
        where,
        'invalid-observable',
        `observed object ${JSON.stringify(key)} has no type and was left out`,
      );
      continue;
    }
    upgraded.push([key, { ...value, spec_version: '2.1' }]);
  }
  // References first, so that ids computed from contributing properties see final values.
  const rewrite = (value: unknown, name: string): unknown => {
    if (name.endsWith('_ref') && typeof value === 'string') return ids.get(value) ?? value;
    if (name.endsWith('_refs') && Array.isArray(value))
      return value.map((item) => (typeof item === 'string' ? (ids.get(item) ?? item) : item));
    return value;
  };
  for (const [key, sco] of upgraded) {
    ids.set(key, deterministicScoId(sco) ?? `${String(sco.type)}--${randomUUID()}`);
  }
  const result: StixObject[] = [];
  for (const [key, sco] of upgraded) {
    const rewritten: Json = {};
    for (const [name, value] of Object.entries(sco)) rewritten[name] = rewrite(value, name);
    const id = deterministicScoId(rewritten) ?? ids.get(key)!;
    result.push({
      type: String(sco.type),
      spec_version: '2.1',
      id,
      ...withoutTypeAndVersion(rewritten),
    } as StixObject);
    for (const [name, value] of Object.entries(rewritten)) {
      const dangling =
        (name.endsWith('_ref') && typeof value === 'string' && !value.includes('--')) ||
        (name.endsWith('_refs') &&
          Array.isArray(value) &&
          value.some((item) => typeof item === 'string' && !item.includes('--')));
      if (dangling)
        report.lose(
          where,
          'dangling-reference',
          `${name} of observed object ${JSON.stringify(key)} names no object of the observed-data`,
        );
    }
  }
  return result;
}

function withoutTypeAndVersion(object: Json): Json {
  const { type: _type, spec_version: _version, id: _id, ...rest } = object;
  return rest;
}

/** Observable kinds of the pattern paths whose values Cairn can normalise. */
function comparisonObservable(
  type: string,
  path: ReadonlyArray<unknown>,
  value: string,
): Normalised<Observable> | undefined {
  const property = path.map(String).join('.');
  switch (`${type}:${property}`) {
    case 'ipv4-addr:value':
    case 'ipv6-addr:value':
      return normalise('ip', value);
    case 'domain-name:value':
      return normalise('domain', value);
    case 'url:value':
      return normalise('url', value);
    case 'email-addr:value':
    case 'email-message:from_ref.value':
    case 'email-message:sender_ref.value':
      return normalise('email', value);
    case 'autonomous-system:number':
      return normalise('asn', value);
    case 'network-traffic:dst_ref.value':
    case 'network-traffic:src_ref.value':
      return classify(value);
  }
  if (
    type === 'file' &&
    path.length === 2 &&
    path[0] === 'hashes' &&
    hashAlgorithm(String(path[1]))
  ) {
    return normalise('hash', value, String(path[1]));
  }
  return undefined;
}

/** Returns the text of a pattern literal: a quoted string unescaped, or a number as written. */
function literalText(raw: string): string {
  if (raw.startsWith("'") && raw.endsWith("'")) return raw.slice(1, -1).replace(/\\(['\\])/g, '$1');
  return raw;
}

/** The values a pattern compares with `=` on the paths Cairn normalises. */
interface PatternValues {
  observables: Observable[];
  /** For each compared value that is invalid for its path, the path and the reason. */
  invalid: string[];
}

function patternValues(pattern: string): PatternValues {
  let inspection: PatternInspection;
  try {
    inspection = inspectPattern(pattern);
  } catch {
    return { observables: [], invalid: [] };
  }
  const found = new Map<string, Observable>();
  const invalid: string[] = [];
  for (const [type, comparisons] of inspection.comparisons) {
    for (const comparison of comparisons) {
      if (comparison.operator !== '=') continue;
      const observable = comparisonObservable(type, comparison.path, literalText(comparison.value));
      if (observable === undefined) continue;
      if (observable.ok) {
        found.set(`${observable.value.kind} ${observable.value.value}`, observable.value);
      } else {
        invalid.push(`${type}:${comparison.path.map(String).join('.')}: ${observable.reason}`);
      }
    }
  }
  return { observables: [...found.values()], invalid };
}

/** Returns the observables a pattern compares against with `=`. */
export function patternObservables(pattern: string): Observable[] {
  return patternValues(pattern).observables;
}

/**
 * Yields an indicator and, when asked, the SCOs of its pattern. The warning-list policy
 * applies when any of them is on a list: `drop` leaves out the indicator and its SCOs.
 */
function* indicatorWithObservables(
  indicator: StixObject,
  options: StixOptions,
  emitter: StixEmitter,
  report: ConversionReport,
  where: string,
): Generator<StixObject> {
  const { observables, invalid } =
    typeof indicator.pattern === 'string' && (indicator.pattern_type ?? 'stix') === 'stix'
      ? patternValues(indicator.pattern)
      : { observables: [], invalid: [] };
  const lists = [
    ...new Set(
      observables.flatMap(
        (observable) => options.warninglists?.lists.match(observable.kind, observable.value) ?? [],
      ),
    ),
  ];
  let result = indicator;
  if (lists.length > 0) {
    report.warninglistHit(lists);
    const action = options.warninglists!.action;
    if (action === 'drop') {
      report.skip(
        where,
        'warninglist',
        `the pattern's observables are on the warning list ${lists.join(', ')}`,
      );
      return;
    }
    result = markIndicator(indicator, action, lists);
  }
  if (options.deriveObservables) {
    for (const reason of invalid) {
      report.lose(where, 'invalid-value', `no SCO derived from ${reason}`);
    }
    // Already checked above, so the emitter's own warning-list check is not repeated.
    for (const observable of observables) {
      yield* emitter.observableWithoutWarnings(observable, false);
    }
  }
  yield* emitter.emit(result);
}
