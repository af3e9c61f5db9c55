/**
 * An independent oracle of docs/sharing.md: from a world's facts alone it derives who may
 * use each collection, which object versions and properties each caller may see, what
 * anonymous shares show and which share attempts must fail. It never calls Cairn's own
 * sharing code, so the two can disagree.
 *
 * Where docs/sharing.md leaves a share's outcome open, the oracle predicts `either`, and
 * visibility then follows what the server actually stored.
 */
import {
  tlpOfMarking,
  type CharterFact,
  type CollectionFact,
  type CommunityFact,
  type ShareEvent,
  type StixObject,
  type TokenFact,
  type TokenScope,
  type Tlp,
  type UserFact,
  type World,
} from './world.ts';

export interface Rights {
  canRead: boolean;
  canWrite: boolean;
}

/** A version as a collection stores it after a share was accepted. */
export interface StoredVersion {
  collection: string;
  id: string;
  /** The `modified` timestamp, the version in TAXII terms. */
  version: string;
  /** The object as stored: an anonymous share carries the community's identity. */
  object: StixObject;
  contributor: string;
  contributorOrganisation: string;
  /** TLP levels that all must be satisfied; a single default level for unmarked objects. */
  levels: Tlp[];
  /** Whether `levels` came from the community default rather than the object's markings. */
  defaulted: boolean;
  recipients: string[];
  anonymous: boolean;
  /** Index of the share event that stored it; later events store later versions. */
  sequence: number;
}

export interface ShareIndexEntry {
  stored: StoredVersion[];
  charters: Map<string, CharterFact>;
}

export type ShareOutcome = 'accepted' | 'rejected' | 'either';

export interface SharePrediction {
  outcome: ShareOutcome;
  /** The rule of docs/sharing.md that decides it. */
  rule: string;
}

export type VersionMatch = 'all' | 'first' | 'last';

/** One version as a caller must receive it: its identity and served JSON. */
export interface ServedVersion {
  id: string;
  version: string;
  object: Record<string, unknown>;
  sequence: number;
}

function byKey<T extends { key: string }>(items: readonly T[], key: string, what: string): T {
  const found = items.find((item) => item.key === key);
  if (!found) throw new Error(`${what} ${key} is not in the world`);
  return found;
}

export function userOf(world: World, key: string): UserFact {
  return byKey(world.users, key, 'user');
}

export function tokenOf(world: World, key: string): TokenFact {
  return byKey(world.tokens, key, 'token');
}

export function collectionOf(world: World, key: string): CollectionFact {
  return byKey(world.collections, key, 'collection');
}

export function communityOf(world: World, key: string): CommunityFact {
  return byKey(world.communities, key, 'community');
}

/**
 * Returns the token's user, or undefined when the request must fail with 401: a disabled
 * user, or a revoked or expired token ("People and organisations").
 */
export function authenticate(world: World, tokenKey: string): UserFact | undefined {
  const token = tokenOf(world, tokenKey);
  if (token.state !== 'active') return undefined;
  const user = userOf(world, token.user);
  return user.disabled ? undefined : user;
}

/** Checks a token's scopes: none means all of its user's rights, and `admin` covers the others. */
export function scopeAllows(token: TokenFact, scope: TokenScope): boolean {
  return (
    token.scopes.length === 0 || token.scopes.includes('admin') || token.scopes.includes(scope)
  );
}

export function isMember(world: World, organisation: string, community: string): boolean {
  return communityOf(world, community).members.includes(organisation);
}

/** Checks whether an organisation is a client of a member of the community and not a member itself. */
export function isClientOfMember(world: World, organisation: string, community: string): boolean {
  const members = communityOf(world, community).members;
  if (members.includes(organisation)) return false;
  return world.organisations.some(
    (org) => members.includes(org.key) && org.clients.includes(organisation),
  );
}

/** Applies every charter event in order and returns each community's final charter. */
export function finalCharters(world: World): Map<string, CharterFact> {
  return replay(world).charters;
}

/**
 * Looks up the table "Who may use a collection of community C", before token scopes. It
 * returns undefined when the collection does not exist for the user.
 */
export function roleRights(
  world: World,
  user: UserFact,
  collectionKey: string,
  charters: Map<string, CharterFact>,
): Rights | undefined {
  const community = collectionOf(world, collectionKey).community;
  if (user.role === 'platform-admin') return { canRead: true, canWrite: true };
  if (isMember(world, user.organisation, community)) {
    return { canRead: true, canWrite: user.role !== 'read-only' };
  }
  if (isClientOfMember(world, user.organisation, community)) {
    return { canRead: true, canWrite: false };
  }
  if (charters.get(community)?.publishClear) return { canRead: true, canWrite: false };
  return undefined;
}

/**
 * Computes a token's rights on a collection after its scopes narrow them. It returns
 * undefined when the request must be 401, or when no right is left so the collection is 404.
 */
export function collectionRights(
  world: World,
  tokenKey: string,
  collectionKey: string,
  charters: Map<string, CharterFact> = finalCharters(world),
): Rights | undefined {
  const user = authenticate(world, tokenKey);
  if (!user) return undefined;
  const rights = roleRights(world, user, collectionKey, charters);
  if (!rights) return undefined;
  const token = tokenOf(world, tokenKey);
  const narrowed = {
    canRead: rights.canRead && scopeAllows(token, 'read'),
    canWrite: rights.canWrite && scopeAllows(token, 'write'),
  };
  return narrowed.canRead || narrowed.canWrite ? narrowed : undefined;
}

/** Collections that discovery and the collections list must show, with their rights. */
export function visibleCollections(
  world: World,
  tokenKey: string,
): Array<{ collection: string } & Rights> {
  const charters = finalCharters(world);
  const result: Array<{ collection: string } & Rights> = [];
  for (const collection of world.collections) {
    const rights = collectionRights(world, tokenKey, collection.key, charters);
    if (rights) result.push({ collection: collection.key, ...rights });
  }
  return result;
}

/** TLP levels named in `object_marking_refs`, TLP 1.0 mapped to 2.0, without duplicates. */
export function markedLevels(object: Record<string, unknown>): Tlp[] {
  const refs = object.object_marking_refs;
  if (!Array.isArray(refs)) return [];
  const levels = new Set<Tlp>();
  for (const ref of refs) {
    const level = typeof ref === 'string' ? tlpOfMarking(ref) : undefined;
    if (level) levels.add(level);
  }
  return [...levels];
}

function organisationOf(world: World, userKey: string): string {
  return userOf(world, userKey).organisation;
}

/**
 * Predicts a share attempt from the shares accepted before it ("Sharing rules"). The
 * builder posts with a token that has all of the contributor's rights.
 */
export function predictShare(
  world: World,
  event: ShareEvent,
  before: ShareIndexEntry,
): SharePrediction {
  const contributor = userOf(world, event.contributor);
  if (contributor.disabled) return { outcome: 'rejected', rule: 'a disabled user gets 401' };
  const rights = roleRights(world, contributor, event.collection, before.charters);
  if (!rights?.canWrite) {
    return { outcome: 'rejected', rule: 'only writers of the collection may share into it' };
  }

  const levels = markedLevels(event.object);
  if (levels.includes('red')) {
    if (event.via === 'taxii') {
      return { outcome: 'rejected', rule: 'RED posted through TAXII has no recipients' };
    }
    if (event.recipients.length === 0) {
      return { outcome: 'rejected', rule: 'RED needs at least one recipient' };
    }
  }

  const community = collectionOf(world, event.collection).community;
  const contributorOrganisation = contributor.organisation;
  let undecided: string | undefined;
  if (levels.includes('red') && event.via === 'api') {
    // NOTE: docs/sharing.md does not say whether a recipient outside the collection's readers
    // or outside the audience of the object's other TLP markings may be named.
    const draft = draftVersion(world, event, levels);
    const outsider = event.recipients.some((key) => {
      const recipient = userOf(world, key);
      if (!roleRights(world, recipient, event.collection, before.charters)) return true;
      return levels.some((level) => !satisfiesLevel(world, recipient, level, draft));
    });
    if (outsider) undecided = 'RED recipient outside the audience of the other markings';
  }
  let unreadableHolder = false;
  for (const held of before.stored) {
    if (held.id !== event.object.id) continue;
    if (collectionOf(world, held.collection).community === community) continue;
    if (held.contributorOrganisation === contributorOrganisation) continue;
    const restricted = held.levels.some(
      (l) => l === 'amber' || l === 'amber+strict' || l === 'red',
    );
    if (!restricted) continue;
    // A default TLP counts as the version's marking, since it is the TLP its readers get.
    if (organisationReads(world, contributorOrganisation, held)) {
      return {
        outcome: 'rejected',
        rule: 'AMBER, AMBER+STRICT and RED objects the organisation reads may not be re-shared into another community',
      };
    }
    unreadableHolder = true;
  }

  const charter = before.charters.get(community);
  if (event.anonymous && !charter?.allowAnonymous) {
    undecided ??= 'anonymous share into a community whose charter does not allow it';
  }
  if (undecided) return { outcome: 'either', rule: undecided };
  if (unreadableHolder) {
    return {
      outcome: 'accepted',
      rule: 'a restricted version the organisation cannot read does not stop a share',
    };
  }
  return { outcome: 'accepted', rule: 'a writer may share' };
}

/**
 * Checks whether users of an organisation may read a stored version through the
 * organisation's memberships ("Sharing rules"): as members, as clients of a member, or as
 * named RED recipients. Platform admin rights and the contributor's own view do not count.
 */
export function organisationReads(
  world: World,
  organisation: string,
  version: StoredVersion,
): boolean {
  const community = collectionOf(world, version.collection).community;
  const member = isMember(world, organisation, community);
  const client = isClientOfMember(world, organisation, community);
  // A named recipient reads RED only as a member or client, since it reads the collection.
  const named =
    (member || client) &&
    version.recipients.some((key) => organisationOf(world, key) === organisation);
  return version.levels.every((level) => levelAdmits(level, { member, client, named }));
}

/** Builds the stored version a share would create, before charter defaults apply. */
function draftVersion(world: World, event: ShareEvent, levels: Tlp[]): StoredVersion {
  return {
    collection: event.collection,
    id: event.object.id,
    version: event.object.modified,
    object: event.object,
    contributor: event.contributor,
    contributorOrganisation: organisationOf(world, event.contributor),
    levels,
    defaulted: false,
    recipients: [...event.recipients],
    anonymous: false,
    sequence: -1,
  };
}

/**
 * Replays the world's events: charter changes, and each share whose outcome is accepted
 * (or, when the builder has not run it yet, whose prediction is accepted).
 */
export function replay(world: World, upTo = world.events.length): ShareIndexEntry {
  const charters = new Map<string, CharterFact>(
    world.communities.map((c) => [c.key, { ...c.charter }]),
  );
  const stored: StoredVersion[] = [];
  const state: ShareIndexEntry = { stored, charters };
  world.events.slice(0, upTo).forEach((event, sequence) => {
    if (event.kind === 'charter') {
      const current = charters.get(event.community);
      if (!current) throw new Error(`community ${event.community} is not in the world`);
      charters.set(event.community, { ...current, ...event.change });
      return;
    }
    const outcome = event.outcome ?? predictShare(world, event, state).outcome;
    if (outcome !== 'accepted') return;
    const already = stored.some(
      (v) =>
        v.collection === event.collection &&
        v.id === event.object.id &&
        v.version === event.object.modified,
    );
    // Posting a stored version again changes nothing (an anonymous share stays anonymous).
    if (already) return;

    const community = communityOf(world, collectionOf(world, event.collection).community);
    const charter = charters.get(community.key) as CharterFact;
    const marked = markedLevels(event.object);
    const anonymous = event.anonymous && charter.allowAnonymous;
    const object: StixObject = structuredClone(event.object);
    if (anonymous) object.created_by_ref = community.identityId;
    stored.push({
      collection: event.collection,
      id: event.object.id,
      version: event.object.modified,
      object,
      contributor: event.contributor,
      contributorOrganisation: organisationOf(world, event.contributor),
      levels: marked.length > 0 ? marked : [charter.defaultTlp],
      defaulted: marked.length === 0,
      recipients: [...event.recipients],
      anonymous,
      sequence,
    });
  });
  return state;
}

/** Checks whether a reader of the collection satisfies one TLP level ("Which object versions"). */
export function satisfiesLevel(
  world: World,
  user: UserFact,
  level: Tlp,
  version: StoredVersion,
): boolean {
  if (version.contributor === user.key) return true;
  const community = collectionOf(world, version.collection).community;
  const member = user.role === 'platform-admin' || isMember(world, user.organisation, community);
  const reach = {
    member,
    client: isClientOfMember(world, user.organisation, community),
    named: version.recipients.includes(user.key),
  };
  return levelAdmits(level, reach);
}

/** Relation of a reader to a version: member, client of a member, named RED recipient. */
interface Reach {
  member: boolean;
  client: boolean;
  named: boolean;
}

/** Checks one TLP level against a reader's reach, by the audience table of docs/sharing.md. */
function levelAdmits(level: Tlp, reach: Reach): boolean {
  switch (level) {
    case 'clear':
      return true;
    case 'green':
    case 'amber+strict':
      return reach.member;
    case 'amber':
      return reach.member || reach.client;
    case 'red':
      return reach.named;
  }
}

/** Checks whether the token may see a stored version: it reads the collection and meets every level. */
export function versionVisible(
  world: World,
  tokenKey: string,
  version: StoredVersion,
  charters: Map<string, CharterFact>,
): boolean {
  const rights = collectionRights(world, tokenKey, version.collection, charters);
  if (!rights?.canRead) return false;
  const user = authenticate(world, tokenKey) as UserFact;
  return version.levels.every((level) => satisfiesLevel(world, user, level, version));
}

const REMOVED = Symbol('removed');

/** Parses a STIX 2.1 selector (section 7.2.3.1) such as `external_references.[0].url`. */
function parseSelector(selector: string): Array<string | number> {
  return selector.split('.').map((part) => {
    const index = /^\[(\d+)\]$/.exec(part);
    return index ? Number(index[1]) : part;
  });
}

function markForRemoval(root: unknown, path: Array<string | number>): void {
  let node: unknown = root;
  for (let i = 0; i < path.length - 1; i++) {
    const step = path[i] as string | number;
    if (node === null || typeof node !== 'object') return;
    node = (node as Record<string | number, unknown>)[step];
  }
  const last = path[path.length - 1] as string | number;
  if (node === null || typeof node !== 'object') return;
  if (typeof last === 'number') {
    if (Array.isArray(node) && last < node.length) node[last] = REMOVED;
  } else if (!Array.isArray(node) && Object.hasOwn(node, last)) {
    (node as Record<string, unknown>)[last] = REMOVED;
  }
}

function dropRemoved(node: unknown): unknown {
  if (Array.isArray(node)) return node.filter((item) => item !== REMOVED).map(dropRemoved);
  if (node === null || typeof node !== 'object') return node;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (value !== REMOVED) result[key] = dropRemoved(value);
  }
  return result;
}

/**
 * Removes what the selectors name: properties are deleted and selected list elements taken
 * out of their lists. Indices refer to the original lists; unresolvable selectors are ignored.
 */
export function removeSelected(
  object: Record<string, unknown>,
  selectors: readonly string[],
): Record<string, unknown> {
  const copy = structuredClone(object);
  for (const selector of selectors) markForRemoval(copy, parseSelector(selector));
  return dropRemoved(copy) as Record<string, unknown>;
}

/** Selectors a reader may not see: granular TLP markings they do not satisfy ("Granular markings"). */
export function hiddenSelectors(world: World, user: UserFact, version: StoredVersion): string[] {
  const granular = version.object.granular_markings;
  if (!Array.isArray(granular)) return [];
  const hidden: string[] = [];
  for (const marking of granular as Array<Record<string, unknown>>) {
    const ref = marking.marking_ref;
    const level = typeof ref === 'string' ? tlpOfMarking(ref) : undefined;
    if (!level || satisfiesLevel(world, user, level, version)) continue;
    const selectors = marking.selectors;
    if (Array.isArray(selectors)) hidden.push(...selectors.filter((s) => typeof s === 'string'));
  }
  return hidden;
}

/** The object as this user must receive it: stored JSON minus hidden properties. */
export function servedObject(
  world: World,
  user: UserFact,
  version: StoredVersion,
): Record<string, unknown> {
  return removeSelected(version.object, hiddenSelectors(world, user, version));
}

/** Everything a token must see of one collection: the visible versions, served, oldest first. */
export function visibleVersions(
  world: World,
  tokenKey: string,
  collectionKey: string,
  state: ShareIndexEntry = replay(world),
): ServedVersion[] {
  const user = authenticate(world, tokenKey);
  if (!user) return [];
  return state.stored
    .filter((v) => v.collection === collectionKey)
    .filter((v) => versionVisible(world, tokenKey, v, state.charters))
    .map((v) => ({
      id: v.id,
      version: v.version,
      object: servedObject(world, user, v),
      sequence: v.sequence,
    }));
}

/**
 * Applies `match[version]` as docs/sharing.md defines it for a reader: `last` is the newest
 * version in the collection and only when the reader may see it; `first` is the oldest
 * version the reader may see; `all` is every visible version.
 */
export function matchVersions(
  world: World,
  tokenKey: string,
  collectionKey: string,
  match: VersionMatch,
  state: ShareIndexEntry = replay(world),
): ServedVersion[] {
  const visible = visibleVersions(world, tokenKey, collectionKey, state);
  if (match === 'all') return visible;
  const result: ServedVersion[] = [];
  const ids = [...new Set(visible.map((v) => v.id))];
  for (const id of ids) {
    const mine = visible.filter((v) => v.id === id).sort((a, b) => compareVersion(a, b));
    if (match === 'first') {
      result.push(mine[0] as ServedVersion);
      continue;
    }
    const newest = state.stored
      .filter((v) => v.collection === collectionKey && v.id === id)
      .sort((a, b) => compareVersion(a, b))
      .at(-1) as StoredVersion;
    const shown = mine.find((v) => v.version === newest.version);
    // NOTE: a hidden newest version means no "last" version at all, per docs/sharing.md.
    if (shown) result.push(shown);
  }
  return result;
}

/** Orders versions by `modified`; STIX timestamps with equal precision compare as strings. */
export function compareVersion(a: { version: string }, b: { version: string }): number {
  const ta = Date.parse(a.version);
  const tb = Date.parse(b.version);
  if (ta !== tb) return ta - tb;
  if (a.version < b.version) return -1;
  if (a.version > b.version) return 1;
  return 0;
}

/** Object ids stored in a collection that must be 404 for the token. */
export function hiddenObjectIds(
  world: World,
  tokenKey: string,
  collectionKey: string,
  state: ShareIndexEntry = replay(world),
): string[] {
  const visible = new Set(visibleVersions(world, tokenKey, collectionKey, state).map((v) => v.id));
  const stored = new Set(
    state.stored.filter((v) => v.collection === collectionKey).map((v) => v.id),
  );
  return [...stored].filter((id) => !visible.has(id));
}
