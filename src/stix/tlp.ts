/**
 * Traffic Light Protocol marking definitions with fixed ids: TLP 1.0 as STIX 2.1 section
 * 7.2.1.4 defines them, and TLP 2.0 as OASIS publishes them through the TLP 2.0
 * extension definition (oasis-open/cti-stix-common-objects,
 * extension-definition-specifications/tlp-2.0).
 */

import canonicalize from 'canonicalize';

export type TlpLevel = 'white' | 'clear' | 'green' | 'amber' | 'amber+strict' | 'red';

/** One published TLP marking definition. */
export interface TlpMarking {
  /** TLP version: `1.0` for the STIX 2.1 definitions, `2.0` for the extension-based ones. */
  readonly tlpVersion: '1.0' | '2.0';
  readonly level: TlpLevel;
  readonly id: string;
  /** The marking definition object exactly as published. */
  readonly object: Readonly<Record<string, unknown>>;
}

/** The extension definition through which TLP 2.0 marking definitions declare their level. */
export const TLP_2_EXTENSION_DEFINITION_ID =
  'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d';

function tlp1(level: TlpLevel, id: string): TlpMarking {
  return Object.freeze({
    tlpVersion: '1.0',
    level,
    id,
    object: Object.freeze({
      type: 'marking-definition',
      spec_version: '2.1',
      id,
      created: '2017-01-20T00:00:00.000Z',
      definition_type: 'tlp',
      name: `TLP:${level.toUpperCase()}`,
      definition: Object.freeze({ tlp: level }),
    }),
  });
}

function tlp2(level: TlpLevel, id: string): TlpMarking {
  return Object.freeze({
    tlpVersion: '2.0',
    level,
    id,
    object: Object.freeze({
      type: 'marking-definition',
      spec_version: '2.1',
      id,
      created: '2022-10-01T00:00:00.000Z',
      name: `TLP:${level.toUpperCase()}`,
      extensions: Object.freeze({
        [TLP_2_EXTENSION_DEFINITION_ID]: Object.freeze({
          extension_type: 'property-extension',
          tlp_2_0: level,
        }),
      }),
    }),
  });
}

export const TLP_1_WHITE = tlp1(
  'white',
  'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9',
);
export const TLP_1_GREEN = tlp1(
  'green',
  'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da',
);
export const TLP_1_AMBER = tlp1(
  'amber',
  'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
);
export const TLP_1_RED = tlp1('red', 'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed');

export const TLP_2_CLEAR = tlp2(
  'clear',
  'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487',
);
export const TLP_2_GREEN = tlp2(
  'green',
  'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb',
);
export const TLP_2_AMBER = tlp2(
  'amber',
  'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421',
);
export const TLP_2_AMBER_STRICT = tlp2(
  'amber+strict',
  'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003',
);
export const TLP_2_RED = tlp2('red', 'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1');

/** Every published TLP marking definition, TLP 1.0 first. */
export const TLP_MARKINGS: readonly TlpMarking[] = Object.freeze([
  TLP_1_WHITE,
  TLP_1_GREEN,
  TLP_1_AMBER,
  TLP_1_RED,
  TLP_2_CLEAR,
  TLP_2_GREEN,
  TLP_2_AMBER,
  TLP_2_AMBER_STRICT,
  TLP_2_RED,
]);

const BY_ID: ReadonlyMap<string, TlpMarking> = new Map(TLP_MARKINGS.map((m) => [m.id, m]));

const CANONICAL_BY_ID: ReadonlyMap<string, string> = new Map(
  TLP_MARKINGS.map((m) => [m.id, canonicalize(m.object) as string]),
);

/** Finds the published TLP marking definition with this id, if there is one. */
export function tlpMarking(markingId: string): TlpMarking | undefined {
  return BY_ID.get(markingId);
}

/** Looks up the TLP level of a marking definition id; undefined when it is not a TLP id. */
export function tlpLevel(markingId: string): TlpLevel | undefined {
  return BY_ID.get(markingId)?.level;
}

/**
 * Checks a marking definition against the TLP rules and returns what is wrong, or
 * undefined when nothing is. An object with a TLP id must equal the published object
 * property for property, timestamps written the same way. STIX 2.1 section 7.2.1.4 also
 * forbids any other `tlp` definition, and only the published TLP 2.0 objects may use the
 * TLP 2.0 extension.
 */
export function checkTlpMarking(object: Readonly<Record<string, unknown>>): string | undefined {
  const id = object.id;
  if (typeof id !== 'string') return undefined;

  const published = CANONICAL_BY_ID.get(id);
  if (published !== undefined) {
    let actual: string | undefined;
    try {
      actual = canonicalize(object);
    } catch {
      actual = undefined;
    }
    if (actual === published) return undefined;
    const marking = BY_ID.get(id) as TlpMarking;
    return `TLP ${marking.tlpVersion} ${marking.level} marking definition must be exactly the published object ${published}`;
  }

  if (object.definition_type === 'tlp') {
    return 'definition_type "tlp" is only allowed on the four TLP 1.0 marking definitions of STIX 2.1 section 7.2.1.4';
  }
  const extensions = object.extensions;
  if (
    extensions !== null &&
    typeof extensions === 'object' &&
    Object.hasOwn(extensions, TLP_2_EXTENSION_DEFINITION_ID)
  ) {
    return `the TLP 2.0 extension ${TLP_2_EXTENSION_DEFINITION_ID} is only allowed on the five published TLP 2.0 marking definitions`;
  }
  return undefined;
}
