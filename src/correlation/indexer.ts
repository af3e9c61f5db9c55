/**
 * Writes the correlation index: for each stored object, one reference per observable value
 * it names, tagged with the collection and the source that supplied it. The work is linear
 * in the data, and a value mentioned by more than VALUE_CAP objects stops taking references
 * and is flagged as common.
 */
import type { ObservableRef, Store } from '../store/store.ts';
import { objectObservables, observableKey } from './observables.ts';

/** References kept per value; a value with more is marked capped. */
export const VALUE_CAP = 1000;

/** The source name of objects contributed by users of an organisation. */
export function organisationSource(organisationId: string): string {
  return `org:${organisationId}`;
}

/** The source name of objects imported by the operator through the CLI. */
export const OPERATOR_SOURCE = 'operator';

/** Returns the references of the objects; objects without an id or values give none. */
export function observableRefs(
  collectionId: string,
  source: string,
  objects: Iterable<unknown>,
): ObservableRef[] {
  const refs: ObservableRef[] = [];
  for (const object of objects) {
    if (object === null || typeof object !== 'object') continue;
    const record = object as Record<string, unknown>;
    if (typeof record.id !== 'string') continue;
    for (const observable of objectObservables(record)) {
      refs.push({ value: observableKey(observable), objectId: record.id, collectionId, source });
    }
  }
  return refs;
}

/** Indexes stored objects; returns how many references were new. */
export async function indexObjects(
  store: Store,
  collectionId: string,
  source: string,
  objects: Iterable<unknown>,
): Promise<number> {
  const refs = observableRefs(collectionId, source, objects);
  return refs.length === 0 ? 0 : store.addObservableRefs(refs, VALUE_CAP);
}
