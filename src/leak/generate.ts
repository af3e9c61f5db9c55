/**
 * Seeded generator of sharing worlds. Objects are real STIX 2.1 objects from the public
 * reference data (Echap stalkerware indicators, MITRE ATT&CK for ICS), given fresh ids so
 * that worlds never collide, then versioned and marked at random.
 */
import { readDataJson } from '../testing/data.ts';
import {
  Random,
  TLP_1_IDS,
  TLP_IDS,
  type CharterFact,
  type CollectionFact,
  type CommunityFact,
  type DefaultTlp,
  type OrganisationFact,
  type ShareEvent,
  type StixObject,
  type TokenFact,
  type UserFact,
  type World,
  type WorldEvent,
} from './world.ts';
import { isClientOfMember, isMember, markedLevels, roleRights, replay } from './oracle.ts';

export interface WorldSize {
  organisations: [number, number];
  communities: [number, number];
  /** Base objects picked from the reference data; each gets one to `maxVersions` versions. */
  objects: [number, number];
  maxVersions: number;
}

export const DEFAULT_SIZE: WorldSize = {
  organisations: [4, 6],
  communities: [2, 3],
  objects: [14, 22],
  maxVersions: 3,
};

export const SMALL_SIZE: WorldSize = {
  organisations: [3, 5],
  communities: [2, 3],
  objects: [6, 10],
  maxVersions: 3,
};

const DEFAULT_TLPS: readonly DefaultTlp[] = ['clear', 'green', 'amber', 'amber+strict'];

/** Object marking choices, TLP 1.0 ids included, weighted towards single markings. */
const MARKING_CHOICES: readonly string[][] = [
  [],
  [],
  [TLP_IDS.clear],
  [TLP_IDS.clear],
  [TLP_IDS.green],
  [TLP_IDS.green],
  [TLP_IDS.amber],
  [TLP_IDS.amber],
  [TLP_IDS['amber+strict']],
  [TLP_IDS.red],
  [TLP_IDS.red],
  [TLP_1_IDS.white],
  [TLP_1_IDS.green],
  [TLP_1_IDS.amber],
  [TLP_1_IDS.red],
  [TLP_IDS.clear, TLP_IDS.amber],
  [TLP_IDS.green, TLP_IDS.amber],
  [TLP_IDS.amber, TLP_IDS['amber+strict']],
  [TLP_IDS.green, TLP_IDS.red],
];

const GRANULAR_LEVELS: readonly string[] = [
  TLP_IDS.clear,
  TLP_IDS.green,
  TLP_IDS.amber,
  TLP_IDS['amber+strict'],
  TLP_IDS.red,
  TLP_1_IDS.amber,
];

interface Pool {
  objects: StixObject[];
  relationships: StixObject[];
}

let cachedPool: Pool | undefined;

/** Loads the reference objects once per process. */
function referencePool(): Pool {
  if (cachedPool) return cachedPool;
  const objects: StixObject[] = [];
  const relationships: StixObject[] = [];
  const sources = [
    'stalkerware-indicators/generated/stalkerware.stix2',
    'mitre-attack-stix21/ics-attack/ics-attack.json',
  ];
  const wanted = new Set([
    'indicator',
    'malware',
    'attack-pattern',
    'intrusion-set',
    'course-of-action',
    'campaign',
  ]);
  for (const source of sources) {
    const bundle = readDataJson<{ objects: StixObject[] }>(source);
    for (const object of bundle.objects) {
      if (object.spec_version !== '2.1' || typeof object.modified !== 'string') continue;
      if (wanted.has(object.type)) objects.push(object);
      else if (object.type === 'relationship') relationships.push(object);
    }
  }
  cachedPool = { objects, relationships };
  return cachedPool;
}

/** Replaces every string equal to a key of `ids` with its new id, anywhere in the value. */
function remapIds(value: unknown, ids: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') return ids.get(value) ?? value;
  if (Array.isArray(value)) return value.map((item) => remapIds(item, ids));
  if (value === null || typeof value !== 'object') return value;
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) result[key] = remapIds(item, ids);
  return result;
}

/** Picks base objects and the relationships among them, with fresh ids. */
function pickObjects(random: Random, count: number): StixObject[] {
  const pool = referencePool();
  const picked = random.sample(pool.objects, count);
  const pickedIds = new Set(picked.map((o) => o.id));
  const related = pool.relationships.filter(
    (r) => pickedIds.has(r.source_ref as string) && pickedIds.has(r.target_ref as string),
  );
  const all = [...picked, ...random.sample(related, 4)];
  const ids = new Map(all.map((o) => [o.id, `${o.type}--${random.uuid()}`]));
  return all.map((o) => remapIds(o, ids) as StixObject);
}

/** Optional properties that a granular marking may select, as STIX 2.1 selectors. */
function selectableProperties(object: StixObject): string[] {
  const selectors = ['description', 'created_by_ref'];
  const lists = [
    'labels',
    'external_references',
    'aliases',
    'kill_chain_phases',
    'indicator_types',
  ];
  for (const list of lists) {
    const value = object[list];
    if (!Array.isArray(value)) continue;
    selectors.push(list);
    value.forEach((_item, index) => selectors.push(`${list}.[${index}]`));
    if (list === 'external_references' && value.length > 0) {
      selectors.push(`${list}.[0].source_name`, `${list}.[0].url`);
    }
  }
  for (const key of Object.keys(object)) {
    if (key.startsWith('x_mitre_') && !key.endsWith('_ref') && !key.endsWith('_refs')) {
      selectors.push(key);
    }
  }
  return selectors;
}

function granularMarkings(random: Random, object: StixObject): Array<Record<string, unknown>> {
  const selectable = selectableProperties(object);
  const markings: Array<Record<string, unknown>> = [];
  const count = random.int(1, 2);
  for (let i = 0; i < count; i++) {
    markings.push({
      marking_ref: random.pick(GRANULAR_LEVELS),
      selectors: random.sample(selectable, random.int(1, 2)),
    });
  }
  if (random.chance(0.3)) markings.push({ lang: 'en', selectors: ['description'] });
  return markings;
}

function addHours(timestamp: string, hours: number): string {
  return new Date(Date.parse(timestamp) + hours * 3_600_000).toISOString();
}

/** Builds the versions of one object: later `modified`, new markings, sometimes granular ones. */
function makeVersions(
  random: Random,
  base: StixObject,
  count: number,
  creatorIdentity: string,
): StixObject[] {
  const versions: StixObject[] = [];
  for (let index = 0; index < count; index++) {
    const version: StixObject = structuredClone(base);
    delete version.object_marking_refs;
    delete version.granular_markings;
    version.created_by_ref = creatorIdentity;
    if (typeof version.description !== 'string' || version.description === '') {
      version.description = `Generated description of ${base.id}`;
    }
    if (index > 0) {
      version.modified = addHours(base.modified, 24 * index + random.int(0, 23));
      version.description = `${version.description as string} (revision ${index})`;
    }
    const markings = random.pick(MARKING_CHOICES);
    if (markings.length > 0) version.object_marking_refs = [...markings];
    if (random.chance(0.3)) version.granular_markings = granularMarkings(random, version);
    versions.push(version);
  }
  return versions;
}

function makeOrganisations(random: Random, size: WorldSize): OrganisationFact[] {
  const count = random.int(...size.organisations);
  const organisations: OrganisationFact[] = Array.from({ length: count }, (_, i) => ({
    key: `org${i}`,
    name: `Organisation ${i}`,
    clients: [],
  }));
  for (const organisation of organisations) {
    if (!random.chance(0.4)) continue;
    const others = organisations.filter((o) => o !== organisation).map((o) => o.key);
    organisation.clients = random.sample(others, random.int(1, 2));
  }
  return organisations;
}

function makeUsers(random: Random, organisations: OrganisationFact[]): UserFact[] {
  const users: UserFact[] = [];
  for (const organisation of organisations) {
    const roles: UserFact['role'][] = ['org-admin', 'analyst', 'read-only'];
    if (random.chance(0.5)) roles.push('analyst');
    for (const role of roles) {
      users.push({
        key: `${organisation.key}-${role}-${users.length}`,
        organisation: organisation.key,
        role,
        disabled: false,
      });
    }
  }
  const adminOrganisation = random.pick(organisations).key;
  users.push({
    key: `${adminOrganisation}-platform-admin-${users.length}`,
    organisation: adminOrganisation,
    role: 'platform-admin',
    disabled: false,
  });
  // A few analysts and readers are disabled once the shares are done; they never contribute.
  for (const user of random.sample(
    users.filter((u) => u.role === 'analyst' || u.role === 'read-only'),
    random.int(0, 2),
  )) {
    user.disabled = true;
  }
  return users;
}

function makeTokens(random: Random, users: UserFact[]): TokenFact[] {
  const tokens: TokenFact[] = users.map((user) => ({
    key: user.key,
    user: user.key,
    scopes: [],
    state: 'active',
  }));
  for (const user of users) {
    if (random.chance(0.3)) {
      tokens.push({ key: `${user.key}~read`, user: user.key, scopes: ['read'], state: 'active' });
    }
    if (random.chance(0.2)) {
      tokens.push({ key: `${user.key}~write`, user: user.key, scopes: ['write'], state: 'active' });
    }
    if (random.chance(0.15)) {
      tokens.push({ key: `${user.key}~revoked`, user: user.key, scopes: [], state: 'revoked' });
    }
    if (random.chance(0.15)) {
      tokens.push({ key: `${user.key}~expired`, user: user.key, scopes: [], state: 'expired' });
    }
  }
  return tokens;
}

function makeCharter(random: Random): CharterFact {
  return {
    defaultTlp: random.pick(DEFAULT_TLPS),
    allowAnonymous: random.chance(0.5),
    publishClear: random.chance(0.4),
  };
}

function makeCommunities(
  random: Random,
  size: WorldSize,
  organisations: OrganisationFact[],
  users: UserFact[],
): { communities: CommunityFact[]; collections: CollectionFact[] } {
  const communities: CommunityFact[] = [];
  const collections: CollectionFact[] = [];
  const count = random.int(...size.communities);
  for (let i = 0; i < count; i++) {
    const members = random.sample(
      organisations.map((o) => o.key),
      random.int(1, Math.min(3, organisations.length - 1)),
    );
    // The creator is an org admin of the first member: it becomes the first moderator.
    const creator = users.find(
      (u) => u.organisation === members[0] && u.role === 'org-admin',
    ) as UserFact;
    const moderators = [creator.key];
    const extra = users.filter(
      (u) => members.includes(u.organisation) && u.key !== creator.key && !u.disabled,
    );
    if (extra.length > 0 && random.chance(0.4)) moderators.push(random.pick(extra).key);
    communities.push({
      key: `community${i}`,
      name: `Community ${i}`,
      description: `Trust group ${i}`,
      charter: makeCharter(random),
      members,
      moderators,
      identityId: '',
    });
    const collectionCount = random.int(1, 2);
    for (let j = 0; j < collectionCount; j++) {
      collections.push({
        key: `collection${i}-${j}`,
        community: `community${i}`,
        title: `C${i}.${j}`,
      });
    }
  }
  return { communities, collections };
}

/** Users who may write a collection, by role alone; disabled users are left out. */
function writersOf(world: World, collection: string): UserFact[] {
  const charters = replay(world, 0).charters;
  return world.users.filter(
    (u) => !u.disabled && roleRights(world, u, collection, charters)?.canWrite === true,
  );
}

function makeShare(
  random: Random,
  world: World,
  collection: string,
  contributor: UserFact,
  object: StixObject,
): ShareEvent {
  const red = markedLevels(object).includes('red');
  const community = world.communities.find(
    (c) => c.key === world.collections.find((k) => k.key === collection)?.community,
  ) as CommunityFact;
  let via: ShareEvent['via'] = random.chance(0.3) ? 'api' : 'taxii';
  let recipients: string[] = [];
  if (red) {
    const roll = random.next();
    via = roll < 0.85 ? 'api' : 'taxii';
    if (roll < 0.75) {
      recipients = random
        .sample(
          world.users.filter((u) => u.key !== contributor.key),
          random.int(1, 3),
        )
        .map((u) => u.key);
    }
  }
  const anonymous = community.charter.allowAnonymous ? random.chance(0.3) : random.chance(0.05);
  // Only the sharing API takes the anonymous flag.
  if (anonymous) via = 'api';
  return {
    kind: 'share',
    collection,
    contributor: contributor.key,
    via,
    anonymous,
    recipients,
    object,
  };
}

/** Generates a world; equal seeds and sizes give equal worlds. */
export function generateWorld(seed: number, size: WorldSize = DEFAULT_SIZE): World {
  const random = new Random(seed);
  const organisations = makeOrganisations(random, size);
  const users = makeUsers(random, organisations);
  const tokens = makeTokens(random, users);
  const { communities, collections } = makeCommunities(random, size, organisations, users);
  const world: World = { seed, organisations, users, tokens, communities, collections, events: [] };

  const identities = new Map(organisations.map((o) => [o.key, `identity--${random.uuid()}`]));
  const bases = pickObjects(random, random.int(...size.objects));
  const shares: ShareEvent[][] = [];
  for (const base of bases) {
    const home = random.pick(collections).key;
    const writers = writersOf(world, home);
    const nonWriters = users.filter((u) => !u.disabled && !writers.includes(u));
    const versions = makeVersions(
      random,
      base,
      random.int(1, size.maxVersions),
      identities.get(random.pick(organisations).key) as string,
    );
    const objectShares: ShareEvent[] = [];
    for (const version of versions) {
      const useOutsider = nonWriters.length > 0 && random.chance(0.06);
      const contributor = useOutsider ? random.pick(nonWriters) : random.pick(writers);
      objectShares.push(makeShare(random, world, home, contributor, version));
    }
    // Sometimes share versions out of `modified` order.
    if (random.chance(0.2)) objectShares.reverse();

    const first = objectShares[0] as ShareEvent;
    if (first.anonymous && random.chance(0.5)) {
      // A later post of the same version, not anonymous: it must change nothing.
      objectShares.push({ ...first, anonymous: false, object: structuredClone(first.object) });
    }
    if (random.chance(0.25)) {
      // A re-share attempt into a collection of another community.
      const homeCommunity = collections.find((k) => k.key === home)?.community;
      const elsewhere = collections.filter((k) => k.community !== homeCommunity);
      if (elsewhere.length > 0) {
        const target = random.pick(elsewhere).key;
        const targetWriters = writersOf(world, target);
        // Half the attempts come from writers whose organisation reads nothing of the home
        // community when there are any: they probe with a value held only by another
        // community, which must not stop the share.
        const probers = targetWriters.filter(
          (u) =>
            homeCommunity !== undefined &&
            !isMember(world, u.organisation, homeCommunity) &&
            !isClientOfMember(world, u.organisation, homeCommunity),
        );
        const sharers = probers.length > 0 && random.chance(0.5) ? probers : targetWriters;
        if (sharers.length > 0) {
          const version = random.pick(versions);
          objectShares.push(
            makeShare(random, world, target, random.pick(sharers), structuredClone(version)),
          );
        }
      }
    }
    shares.push(objectShares);
  }

  // Interleave the objects' shares, keeping each object's own order, with charter changes.
  const queues = shares.map((queue) => [...queue]);
  const events: WorldEvent[] = [];
  while (queues.some((q) => q.length > 0)) {
    const queue = random.pick(queues.filter((q) => q.length > 0));
    events.push(queue.shift() as ShareEvent);
    if (random.chance(0.06)) {
      const community = random.pick(communities).key;
      const change: Partial<CharterFact> = random.chance(0.6)
        ? { defaultTlp: random.pick(DEFAULT_TLPS) }
        : random.chance(0.5)
          ? { allowAnonymous: random.chance(0.5) }
          : { publishClear: random.chance(0.5) };
      events.push({ kind: 'charter', community, change });
    }
  }
  world.events = events;
  return world;
}
