/**
 * Granular markings on read (STIX 2.1 section 7.2.3): a granular marking whose
 * `marking_ref` is a TLP marking the reader does not satisfy hides the properties its
 * selectors name. Other granular markings change nothing.
 */
import type { Audience, TlpLevel } from '../store/store.ts';
import { audienceOf, tlpOfMarking, widestAdmits } from './markings.ts';

/** What decides whether a reader satisfies a TLP level on one version. */
export interface GranularReader {
  widest: Audience | 'none';
  /** The reader contributed the version, so every level is satisfied. */
  contributed: boolean;
  /** The reader is one of the version's RED recipients, so RED is satisfied. */
  recipient: boolean;
}

function satisfies(reader: GranularReader, level: TlpLevel): boolean {
  if (reader.contributed) return true;
  if (level === 'red') return reader.recipient;
  return widestAdmits(reader.widest, audienceOf([level]));
}

/** One step of a selector: a property name or a list index (STIX 2.1 section 7.2.3.1). */
type Step = string | number;

function parseSelector(selector: string): Step[] {
  return selector.split('.').map((part) => {
    const index = /^\[(\d+)\]$/.exec(part);
    return index ? Number(index[1]) : part;
  });
}

/** Collects the containers and keys a selector names; a selector that matches nothing is skipped. */
function locate(root: unknown, steps: Step[]): { parent: object; key: Step } | undefined {
  let parent: unknown = root;
  for (let i = 0; i < steps.length - 1; i++) {
    parent = child(parent, steps[i]!);
    if (parent === undefined) return undefined;
  }
  const key = steps.at(-1)!;
  return child(parent, key) === undefined ? undefined : { parent: parent as object, key };
}

function child(container: unknown, step: Step): unknown {
  if (typeof step === 'number') return Array.isArray(container) ? container[step] : undefined;
  if (typeof container !== 'object' || container === null || Array.isArray(container)) {
    return undefined;
  }
  return Object.hasOwn(container, step) ? (container as Record<string, unknown>)[step] : undefined;
}

/**
 * Returns the JSON of the version as this reader may see it: unchanged when every TLP
 * granular marking is satisfied, otherwise without the selected properties and list
 * elements. List elements are removed after every selector is resolved, so indexes in
 * later selectors still name the elements of the stored object.
 */
export function redactGranular(json: string, reader: GranularReader): string {
  const object = JSON.parse(json) as Record<string, unknown>;
  const markings = object.granular_markings;
  if (!Array.isArray(markings)) return json;

  const targets: Array<{ parent: object; key: Step }> = [];
  for (const marking of markings as Array<Record<string, unknown>>) {
    const level = tlpOfMarking(marking?.marking_ref);
    if (level === undefined || satisfies(reader, level)) continue;
    const selectors = Array.isArray(marking.selectors) ? marking.selectors : [];
    for (const selector of selectors) {
      if (typeof selector !== 'string') continue;
      const target = locate(object, parseSelector(selector));
      if (target) targets.push(target);
    }
  }
  if (targets.length === 0) return json;

  const doomedElements = new Map<unknown[], Set<number>>();
  for (const { parent, key } of targets) {
    if (Array.isArray(parent)) {
      const doomed = doomedElements.get(parent) ?? new Set<number>();
      doomed.add(key as number);
      doomedElements.set(parent, doomed);
    } else {
      delete (parent as Record<string, unknown>)[key as string];
    }
  }
  for (const [list, doomed] of doomedElements) {
    const kept = list.filter((_, index) => !doomed.has(index));
    list.length = 0;
    list.push(...kept);
  }
  return JSON.stringify(object);
}
