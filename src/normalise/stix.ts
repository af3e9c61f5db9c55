/**
 * STIX 2.1 objects for observables: the Cyber-observable Object with its deterministic id
 * (STIX 2.1 section 2.9), and an indicator whose pattern matches it.
 */
import { randomUUID } from 'node:crypto';
import { SCO_ID_NAMESPACE } from '../stix/ids.ts';
import type { Observable } from './observable.ts';
import { uuidBytes, uuidv5 } from './uuid5.ts';

export type StixObject = Record<string, unknown> & { type: string; id: string };

/**
 * Namespace of deterministic indicator ids (a random UUID chosen once for Cairn). Indicators
 * have no id contributing properties in STIX; Cairn derives one from the source and the
 * pattern so that importing the same feed again gives the same ids.
 */
export const INDICATOR_ID_NAMESPACE = '91429ea7-f323-4870-a8c9-5455b38e7413';

const INDICATOR_NAMESPACE_BYTES = uuidBytes(INDICATOR_ID_NAMESPACE);
const SCO_NAMESPACE_BYTES = uuidBytes(SCO_ID_NAMESPACE);

/** The STIX type of the SCO an observable becomes. */
export function scoType(observable: Observable): string {
  switch (observable.kind) {
    case 'ip':
    case 'cidr':
      return observable.version === 4 ? 'ipv4-addr' : 'ipv6-addr';
    case 'domain':
      return 'domain-name';
    case 'url':
      return 'url';
    case 'email':
      return 'email-addr';
    case 'hash':
      return 'file';
    case 'asn':
      return 'autonomous-system';
  }
}

/**
 * Builds the SCO of an observable, with the id STIX 2.1 section 2.9 derives from its value,
 * so the same observable from any source is the same object. A hash becomes a `file` with
 * only that hash; an `ip:port` observable becomes the address alone.
 */
export function toSco(observable: Observable): StixObject {
  const type = scoType(observable);
  // The id contributing properties in RFC 8785 canonical JSON. Each object has one member,
  // and RFC 8785 writes strings and integers as JSON.stringify does, so no canonicaliser
  // is needed; a test checks the ids against deterministicScoId.
  let contributing: Record<string, unknown>;
  switch (observable.kind) {
    case 'hash':
      contributing = { hashes: { [observable.algorithm]: observable.value } };
      break;
    case 'asn':
      contributing = { number: observable.number };
      break;
    default:
      contributing = { value: observable.value };
  }
  const id = uuidv5(JSON.stringify(contributing), SCO_NAMESPACE_BYTES, `${type}--`);
  return { type, spec_version: '2.1', id, ...contributing };
}

/** Escapes a string for a STIX pattern literal: backslash and quote (STIX 2.1 section 9.5). */
export function escapePatternString(value: string): string {
  return value.replace(/[\\']/g, '\\$&');
}

function literal(value: string): string {
  return `'${escapePatternString(value)}'`;
}

/** Builds a STIX pattern that matches the observable. */
export function patternFor(observable: Observable): string {
  const type = scoType(observable);
  switch (observable.kind) {
    case 'ip':
      if (observable.port === undefined) return `[${type}:value = ${literal(observable.value)}]`;
      return (
        `[network-traffic:dst_ref.type = '${type}' AND ` +
        `network-traffic:dst_ref.value = ${literal(observable.value)} AND ` +
        `network-traffic:dst_port = ${observable.port}]`
      );
    case 'cidr':
      return `[${type}:value ISSUBSET ${literal(observable.value)}]`;
    case 'hash':
      return `[file:hashes.${literal(observable.algorithm)} = ${literal(observable.value)}]`;
    case 'asn':
      return `[autonomous-system:number = ${observable.number}]`;
    default:
      return `[${type}:value = ${literal(observable.value)}]`;
  }
}

export interface IndicatorOptions {
  /** `created`, and `modified` and `valid_from` unless given; defaults to now. */
  created?: string;
  modified?: string;
  validFrom?: string;
  validUntil?: string;
  /** Defaults to the observable's value. */
  name?: string;
  description?: string;
  indicatorTypes?: string[];
  labels?: string[];
  /** 0 to 100 (STIX 2.1 section 3.2). */
  confidence?: number;
  createdByRef?: string;
  objectMarkingRefs?: string[];
  externalReferences?: Array<Record<string, unknown>>;
  /**
   * A stable name of where the indicator comes from (a feed URL, a file name). With it the
   * id is a UUIDv5 of the source and the pattern, so a re-import gives the same id;
   * without it the id is random.
   */
  source?: string;
  /** The indicator's id, when the source has a stable one of its own (a MISP attribute uuid). */
  id?: string;
}

/** Builds an indicator (STIX 2.1 section 4.7) whose pattern matches the observable. */
export function toIndicator(observable: Observable, options: IndicatorOptions = {}): StixObject {
  const pattern = patternFor(observable);
  const created = options.created ?? new Date().toISOString();
  const id =
    options.id ??
    (options.source === undefined
      ? `indicator--${randomUUID()}`
      : uuidv5(`${options.source}\n${pattern}`, INDICATOR_NAMESPACE_BYTES, 'indicator--'));
  const indicator: StixObject = {
    type: 'indicator',
    spec_version: '2.1',
    id,
    created,
    modified: options.modified ?? created,
    name: options.name ?? observable.value,
    pattern,
    pattern_type: 'stix',
    valid_from: options.validFrom ?? created,
  };
  if (options.description !== undefined) indicator.description = options.description;
  if (options.validUntil !== undefined) indicator.valid_until = options.validUntil;
  if (options.indicatorTypes?.length) indicator.indicator_types = options.indicatorTypes;
  if (options.labels?.length) indicator.labels = options.labels;
  if (options.confidence !== undefined) indicator.confidence = options.confidence;
  if (options.createdByRef !== undefined) indicator.created_by_ref = options.createdByRef;
  if (options.objectMarkingRefs?.length) indicator.object_marking_refs = options.objectMarkingRefs;
  if (options.externalReferences?.length)
    indicator.external_references = options.externalReferences;
  return indicator;
}
