/**
 * The access predicate (docs/sharing.md): who may use a collection, and which of its
 * object versions each reader sees. Every read path asks here; the store applies the same
 * version rule in its queries through the AccessFilter that `accessFilter` returns.
 */
import { tokenAllows, type Caller } from '../auth/tokens.ts';
import type {
  AccessFilter,
  Audience,
  CollectionRecord,
  CommunityRecord,
  CommunityRelation,
  Store,
} from '../store/store.ts';
import { widestAdmits } from './markings.ts';

export interface CollectionRights {
  canRead: boolean;
  canWrite: boolean;
  /**
   * The widest audience whose versions the caller reads: `members` for members and platform
   * admins, `members-and-clients` for clients of a member, `everyone` when the community
   * publishes its CLEAR objects, `none` when the caller may not read.
   */
  widest: Audience | 'none';
}

export const NO_RIGHTS: CollectionRights = { canRead: false, canWrite: false, widest: 'none' };

/** A collection with what the access rules need to know about it and the caller. */
export interface CollectionContext {
  collection: CollectionRecord;
  /** Absent for a collection that no community owns: only platform admins use it. */
  community?: CommunityRecord;
  /** How the caller's organisation stands to the community. */
  relation: CommunityRelation;
}

const NO_RELATION: CommunityRelation = { member: false, client: false };

/** Loads the community of a collection and the caller's relation to it. */
export async function loadCollectionContext(
  store: Store,
  caller: Caller,
  collection: CollectionRecord,
): Promise<CollectionContext> {
  if (collection.communityId === undefined) return { collection, relation: NO_RELATION };

  const [community, relation] = await Promise.all([
    store.getCommunity(collection.communityId),
    store.communityRelation(collection.communityId, caller.user.organisationId),
  ]);
  return community ? { collection, community, relation } : { collection, relation: NO_RELATION };
}

/** The rights table of docs/sharing.md, before token scopes narrow it. */
function roleRights(caller: Caller, context: CollectionContext): CollectionRights {
  const { role } = caller.user;
  if (role === 'platform-admin') return { canRead: true, canWrite: true, widest: 'members' };

  const { community, relation } = context;
  if (community === undefined) return NO_RIGHTS;
  if (relation.member) {
    return { canRead: true, canWrite: role !== 'read-only', widest: 'members' };
  }
  if (relation.client) return { canRead: true, canWrite: false, widest: 'members-and-clients' };
  if (community.publishClear) return { canRead: true, canWrite: false, widest: 'everyone' };
  return NO_RIGHTS;
}

/** The caller's rights on a collection, narrowed by the scopes of the token used. */
export function collectionRights(caller: Caller, context: CollectionContext): CollectionRights {
  const rights = roleRights(caller, context);
  const canRead = rights.canRead && tokenAllows(caller.token, 'read');
  const canWrite = rights.canWrite && tokenAllows(caller.token, 'write');
  return { canRead, canWrite, widest: canRead ? rights.widest : 'none' };
}

/** Whether the caller may know the collection exists at all. */
export function isVisible(rights: CollectionRights): boolean {
  return rights.canRead || rights.canWrite;
}

/** The store filter that applies mayRead inside queries. */
export function accessFilter(caller: Caller, rights: CollectionRights): AccessFilter {
  return { widest: rights.widest, userId: caller.user.id };
}

/** The sharing facts of one stored version that decide who reads it. */
export interface VersionAudience {
  audience: Audience;
  contributorId?: string;
  recipients: readonly string[];
  /** The audience recipients must also belong to; `everyone` when absent. */
  recipientsWithin?: Audience;
}

/**
 * Whether the caller sees one version: it is in the caller's audience, or the caller
 * contributed it, or it is a RED version that names the caller and whose other TLP levels
 * the caller meets. A caller who may not read the collection sees nothing, not even their
 * own contributions.
 */
export function mayRead(caller: Caller, rights: CollectionRights, entry: VersionAudience): boolean {
  if (!rights.canRead) return false;
  if (widestAdmits(rights.widest, entry.audience)) return true;
  if (entry.contributorId === caller.user.id) return true;
  return (
    entry.audience === 'recipients' &&
    entry.recipients.includes(caller.user.id) &&
    widestAdmits(rights.widest, entry.recipientsWithin ?? 'everyone')
  );
}
