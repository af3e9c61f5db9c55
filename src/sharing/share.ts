/**
 * Sharing on write (docs/sharing.md, "Sharing rules"): the TLP levels and audience of each
 * version shared into a community's collection, the RED recipients, the re-share rule and
 * anonymous shares.
 */
import type { SubmitFailure } from '../ingest/submit.ts';
import { heldRestrictedMessage } from '../store/checks.ts';
import type {
  Audience,
  CommunityRecord,
  EntrySharing,
  PreparedObject,
  Store,
  TlpLevel,
} from '../store/store.ts';
import { audienceOf, hasTlpGranularMarkings, objectTlp, widestAdmits } from './markings.ts';

/** Who shares, into which community, and how. */
export interface Contribution {
  /** Absent when the operator imports through the CLI. */
  contributor?: { userId: string; organisationId: string };
  /** The community that owns the target collection; absent for a collection without one. */
  community?: CommunityRecord;
  /** Replace `created_by_ref` with the community identity; checked against the charter first. */
  anonymous: boolean;
  /** User ids who may read RED versions besides the contributor. */
  recipients: readonly string[];
}

/** TLP of versions in a collection that no community owns (platform admins only). */
const NO_COMMUNITY_TLP: TlpLevel = 'green';

function failure(object: PreparedObject, message: string): SubmitFailure {
  return { id: object.id, version: object.version, message, problems: [] };
}

/** The widest audience of a user in a community, as a reader (tokens aside). */
async function readerWidest(
  store: Store,
  userId: string,
  community: CommunityRecord | undefined,
): Promise<Audience | 'none' | undefined> {
  const user = await store.getUser(userId);
  if (user === undefined || user.disabled) return undefined;
  if (user.role === 'platform-admin') return 'members';
  if (community === undefined) return 'none';

  const relation = await store.communityRelation(community.id, user.organisationId);
  if (relation.member) return 'members';
  if (relation.client) return 'members-and-clients';
  return community.publishClear ? 'everyone' : 'none';
}

/**
 * Checks the recipients of a RED version: each must be a known, enabled user who also
 * satisfies the version's other TLP levels, since the audience is their intersection.
 * Returns the problem, or undefined when there is none.
 */
async function checkRecipients(
  store: Store,
  contribution: Contribution,
  levels: readonly TlpLevel[],
  widestCache: Map<string, Audience | 'none' | undefined>,
): Promise<string | undefined> {
  if (contribution.recipients.length === 0) {
    return 'TLP:RED objects need at least one recipient: share them through the sharing API with "recipients" (TAXII cannot name recipients)';
  }
  const others = audienceOf(levels.filter((level) => level !== 'red'));
  for (const userId of contribution.recipients) {
    if (!widestCache.has(userId)) {
      widestCache.set(userId, await readerWidest(store, userId, contribution.community));
    }
    const widest = widestCache.get(userId);
    if (widest === undefined) return `recipient "${userId}" is not a known, enabled user`;
    if (!widestAdmits(widest, others)) {
      return `recipient "${userId}" may not read the collection's ${others} objects, which the object's other TLP markings require`;
    }
  }
  return undefined;
}

/** The markings of an object that its sharing depends on. */
export interface ObjectMarks {
  /** Its TLP levels from object_marking_refs; empty when it has none. */
  tlp: TlpLevel[];
  /** Whether granular markings set TLP levels on some of its properties. */
  granularMarkings: boolean;
}

/** Reads the markings of a parsed object; the envelope workers send them with the object. */
export function objectMarks(value: Readonly<Record<string, unknown>>): ObjectMarks {
  return { tlp: objectTlp(value), granularMarkings: hasTlpGranularMarkings(value) };
}

/** Returns the frozen sharing facts of a version with these TLP levels and audience. */
function entrySharing(
  contribution: Contribution,
  tlp: TlpLevel[],
  audience: Audience,
  granularMarkings: boolean,
): EntrySharing {
  const { contributor } = contribution;
  const recipients = audience === 'recipients' ? [...new Set(contribution.recipients)] : [];
  return Object.freeze({
    tlp: Object.freeze(tlp) as TlpLevel[],
    audience,
    recipients: Object.freeze(recipients) as string[],
    recipientsWithin: audienceOf(tlp.filter((level) => level !== 'red')),
    granularMarkings,
    ...(contributor
      ? {
          contributorId: contributor.userId,
          contributorOrganisationId: contributor.organisationId,
        }
      : {}),
  });
}

/** Sets `created_by_ref` to the community identity, keeping the property order otherwise. */
function anonymise(object: PreparedObject, community: CommunityRecord): PreparedObject {
  const identityId = (JSON.parse(community.identity) as { id: string }).id;
  const value = JSON.parse(object.json) as Record<string, unknown>;
  value.created_by_ref = identityId;
  return { ...object, json: JSON.stringify(value) };
}

/**
 * Decides the sharing of each validated version. A version that breaks a rule fails alone
 * with a message; the others come back with `sharing` set (and, for anonymous shares, the
 * rewritten `created_by_ref`). The caller checks `anonymous` against the charter first.
 *
 * `marks`, when given, contains the markings of each object, read from its parsed JSON as
 * validation saw it, so the objects are not parsed again. Versions with the same sharing
 * facts get one shared, frozen EntrySharing, which the store then serialises once for all
 * their events.
 */
export async function applySharing(
  store: Store,
  contribution: Contribution,
  objects: readonly PreparedObject[],
  marks?: readonly ObjectMarks[],
): Promise<{ accepted: PreparedObject[]; failures: SubmitFailure[] }> {
  const { community, contributor } = contribution;
  const accepted: PreparedObject[] = [];
  const failures: SubmitFailure[] = [];
  const widestCache = new Map<string, Audience | 'none' | undefined>();
  const sharingCache = new Map<string, EntrySharing>();
  // One query for the whole batch, because a query per object took about a tenth of the
  // server CPU of TAXII ingest on SQLite.
  const held = await store.findHeldRestricted(
    objects.map((object) => object.id),
    community?.id ?? '',
    contributor?.organisationId ?? '',
  );

  for (const [index, object] of objects.entries()) {
    const { tlp: marked, granularMarkings } =
      marks?.[index] ?? objectMarks(JSON.parse(object.json) as Record<string, unknown>);
    const tlp = marked.length > 0 ? marked : [community?.defaultTlp ?? NO_COMMUNITY_TLP];
    const audience = audienceOf(tlp);

    if (audience === 'recipients') {
      const problem = await checkRecipients(store, contribution, tlp, widestCache);
      if (problem !== undefined) {
        failures.push(failure(object, problem));
        continue;
      }
    }
    if (held.has(object.id)) {
      failures.push(failure(object, heldRestrictedMessage(object.id)));
      continue;
    }

    const sharingKey = `${tlp.join(',')}/${granularMarkings}`;
    let sharing = sharingCache.get(sharingKey);
    if (sharing === undefined) {
      sharing = entrySharing(contribution, tlp, audience, granularMarkings);
      sharingCache.set(sharingKey, sharing);
    }
    const shared = contribution.anonymous && community ? anonymise(object, community) : object;
    accepted.push({ ...shared, sharing });
  }
  return { accepted, failures };
}
