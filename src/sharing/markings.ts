/**
 * TLP markings of an object and the audience they give it in a community's collection
 * (docs/sharing.md, "Which object versions a reader sees"). TLP 1.0 markings (STIX 2.1
 * section 7.2.1.4) map to TLP 2.0: white is CLEAR, the others keep their name.
 */
import { tlpLevel } from '../stix/tlp.ts';
import { AUDIENCES, type Audience, type TlpLevel } from '../store/store.ts';

/** The audience of each TLP level. */
const AUDIENCE_OF: Readonly<Record<TlpLevel, Audience>> = {
  clear: 'everyone',
  green: 'members',
  amber: 'members-and-clients',
  'amber+strict': 'members',
  red: 'recipients',
};

/** Maps a marking definition id to its TLP 2.0 level; undefined when it is not a TLP marking. */
export function tlpOfMarking(markingRef: unknown): TlpLevel | undefined {
  if (typeof markingRef !== 'string') return undefined;
  const level = tlpLevel(markingRef);
  return level === 'white' ? 'clear' : level;
}

/** The distinct TLP levels in an object's `object_marking_refs` (STIX 2.1 section 7.2.2). */
export function objectTlp(object: Readonly<Record<string, unknown>>): TlpLevel[] {
  const refs = object.object_marking_refs;
  if (!Array.isArray(refs)) return [];

  const levels = new Set<TlpLevel>();
  for (const ref of refs) {
    const level = tlpOfMarking(ref);
    if (level !== undefined) levels.add(level);
  }
  return [...levels];
}

/**
 * The audience of a version with these TLP levels: the intersection of their audiences.
 * The audiences nest (everyone ⊇ members and clients ⊇ members), so the intersection is the
 * narrowest. RED narrows to the recipients, whom the share checks against the other levels.
 */
export function audienceOf(levels: readonly TlpLevel[]): Audience {
  let narrowest = 0;
  for (const level of levels) {
    narrowest = Math.max(narrowest, AUDIENCES.indexOf(AUDIENCE_OF[level]));
  }
  return AUDIENCES[narrowest]!;
}

/**
 * Whether a reader whose widest audience is `widest` belongs to `audience`. Readers are
 * never `recipients` by audience alone: they must be named.
 */
export function widestAdmits(widest: Audience | 'none', audience: Audience): boolean {
  if (widest === 'none' || audience === 'recipients') return false;
  return AUDIENCES.indexOf(widest) >= AUDIENCES.indexOf(audience);
}

/** TLP levels that an object carrying them may not be re-shared into another community. */
export function forbidsResharing(levels: readonly TlpLevel[]): boolean {
  return levels.some((level) => level === 'amber' || level === 'amber+strict' || level === 'red');
}

/** Whether any granular marking of the object references a TLP marking. */
export function hasTlpGranularMarkings(object: Readonly<Record<string, unknown>>): boolean {
  const markings = object.granular_markings;
  if (!Array.isArray(markings)) return false;

  return markings.some(
    (marking: unknown) =>
      typeof marking === 'object' &&
      marking !== null &&
      tlpOfMarking((marking as Record<string, unknown>).marking_ref) !== undefined,
  );
}
