/**
 * Cost of the access filter on a TAXII page: latency of a GET of 1,000 objects from a
 * community's collection, for three readers, next to the same objects in a collection with
 * no sharing facts (the core figure of bench/taxii-page.ts).
 *
 *   npm run build && node --import tsx bench/access-overhead.ts [objects=1000000]
 *
 * Fills one store through the Store interface: 1,000 organisations with 2 users each, 50
 * communities of 20 member organisations, 250 provider → client relations, and one
 * collection of community 0 holding `objects` real indicators under new ids. Their audiences
 * follow a fixed mix: 70 % members (GREEN, AMBER+STRICT), 10 % everyone (CLEAR), 15 %
 * members and clients (AMBER), 5 % RED with 1 to 3 recipients. The same object versions go,
 * without sharing facts, into a second collection that belongs to no community. Then it
 * starts the compiled server and requests pages of `limit=1000` at random `added_after`
 * positions, 20 warm-up and 300 measured requests per reader, the readers taking turns:
 *
 * - `core`: the platform admin on the collection without sharing facts;
 * - `admin`: the platform admin, who reads like a member (RED only when named);
 * - `member`: an analyst of a member organisation of community 0;
 * - `client`: an analyst of a client organisation of a member, who reads only CLEAR and
 *   AMBER versions, so each of its pages passes over about 4 times as many rows.
 *
 * Only starts with at least 1,000 versions visible to every reader after them are used, so
 * every page is full. The goal: the member's p99 at most 20 % above the core figure recorded
 * in docs/benchmarks.md (p99 13.2 ms, p50 6.1 ms at 1,000,000 objects).
 *
 * NOTE: the sharing facts are set directly on the prepared versions, so the stored JSON has
 * no TLP `object_marking_refs`. The read path does not look at them, but the page bytes
 * differ from a real marked share by those few properties.
 *
 * Three runs on 2026-12-04, 1,000,000 objects, 2 cores (Intel Xeon), 24 GiB, Node 20.20.2,
 * with other processes loading the cores (load average about 5, 3 and 2):
 *
 *   reader   p50 ms              p99 ms
 *   core     12.9 / 8.1 / 7.9    64.1 / 27.1 / 27.0
 *   admin    13.4 / 8.3 / 8.1    48.1 / 24.1 / 27.3
 *   member   13.3 / 8.3 / 8.1    48.9 / 31.1 / 27.9
 *   client   17.1 / 11.9 / 10.8  48.8 / 37.6 / 31.6
 *
 * In every run the member's p50 is within 3 % of the core p50 and equal to the admin's. Its
 * p99 (the 4th slowest of 300) was 0.76, 1.15 and 1.03 times the core p99, a spread from the
 * load and not from the filter. The core p99 itself stayed far above the recorded 13.2 ms,
 * so the 20 % goal against that figure could not be checked on this loaded machine.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueToken } from '../src/auth/tokens.ts';
import { validateObject } from '../src/stix/index.ts';
import { microsToTaxii } from '../src/stix/timestamp.ts';
import { buildIdentity } from '../src/store/identity.ts';
import { openStore } from '../src/store/index.ts';
import type {
  Audience,
  EntrySharing,
  PreparedObject,
  Role,
  Store,
  TlpLevel,
  UserRecord,
} from '../src/store/store.ts';
import { freshCopy, machine, percentile, realIndicators, startServerProcess } from './lib.ts';

const objectCount = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(objectCount) || objectCount < 10_000) {
  throw new Error(
    `invalid object count "${process.argv[2]}": give an integer of at least 10000 (default 1000000)`,
  );
}

const ORGANISATIONS = 1000;
const USERS_PER_ORGANISATION = 2;
const COMMUNITIES = 50;
const MEMBERS_PER_COMMUNITY = ORGANISATIONS / COMMUNITIES;
/** Clients of the first member organisation of each community, taken from the next community. */
const CLIENTS_PER_PROVIDER = 5;
const PAGE = 1000;
const WARM_UP = 20;
const REQUESTS = 300;
/** The goal: the member's p99 at most this factor of the recorded core p99. */
const GOAL_FACTOR = 1.2;
const RECORDED_CORE = { p50ms: 6.1, p99ms: 13.2 };

type ReaderName = 'core' | 'admin' | 'member' | 'client';

const dir = mkdtempSync(join(tmpdir(), 'cairn-access-'));
const location = `sqlite:${join(dir, 'bench.db')}`;
const now = Date.now() * 1000;

/** A small deterministic generator (mulberry32), so every run stores the same mix. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface World {
  organisations: string[];
  users: UserRecord[];
  communityId: string;
  admin: UserRecord;
  member: UserRecord;
  client: UserRecord;
}

/** Users of organisation `index`, in creation order. */
function usersOf(world: Pick<World, 'users'>, index: number): UserRecord[] {
  const first = index * USERS_PER_ORGANISATION;
  return world.users.slice(first, first + USERS_PER_ORGANISATION);
}

async function createWorld(store: Store): Promise<World> {
  const organisations: string[] = [];
  for (let i = 0; i < ORGANISATIONS; i += 1) {
    const name = `organisation-${i}`;
    const identity = buildIdentity({ name, identityClass: 'organization' });
    const created = await store.createOrganisation({
      id: randomUUID(),
      name,
      identity: JSON.stringify(identity),
      createdAt: now,
    });
    organisations.push(created.id);
  }

  const users: UserRecord[] = [];
  for (let i = 0; i < ORGANISATIONS * USERS_PER_ORGANISATION; i += 1) {
    // The first user runs the platform; the others are analysts.
    const role: Role = i === 0 ? 'platform-admin' : 'analyst';
    const organisationId = organisations[Math.floor(i / USERS_PER_ORGANISATION)]!;
    users.push(
      await store.createUser({
        id: randomUUID(),
        name: `user-${i}`,
        organisationId,
        role,
        createdAt: now,
        disabled: false,
      }),
    );
  }

  const communities: string[] = [];
  for (let c = 0; c < COMMUNITIES; c += 1) {
    const name = `community-${c}`;
    const firstMember = c * MEMBERS_PER_COMMUNITY;
    const community = await store.createCommunity(
      {
        id: randomUUID(),
        name,
        description: '',
        defaultTlp: 'green',
        allowAnonymous: false,
        publishClear: false,
        identity: JSON.stringify(buildIdentity({ name, identityClass: 'group' })),
        createdAt: now,
      },
      organisations[firstMember]!,
      usersOf({ users }, firstMember)[0]!.id,
    );
    for (let m = 1; m < MEMBERS_PER_COMMUNITY; m += 1) {
      await store.addMember(community.id, organisations[firstMember + m]!);
    }
    communities.push(community.id);
  }

  for (let c = 0; c < COMMUNITIES; c += 1) {
    const provider = organisations[c * MEMBERS_PER_COMMUNITY]!;
    const next = ((c + 1) % COMMUNITIES) * MEMBERS_PER_COMMUNITY;
    for (let k = 0; k < CLIENTS_PER_PROVIDER; k += 1) {
      await store.addClient(provider, organisations[next + 10 + k]!);
    }
  }

  return {
    organisations,
    users,
    communityId: communities[0]!,
    admin: users[0]!,
    // Organisation 5 is a member of community 0 and contributes nothing below.
    member: usersOf({ users }, 5)[1]!,
    // Organisation 30 is in community 1 and a client of organisation 0, a member of community 0.
    client: usersOf({ users }, MEMBERS_PER_COMMUNITY + 10)[1]!,
  };
}

/** The sharing facts of one version, drawn from the audience mix described above. */
function drawSharing(world: World, random: () => number): EntrySharing {
  // Contributors are users of member organisations 1 to 4 of community 0, so neither the
  // admin (organisation 0) nor the member reader (organisation 5) contributes.
  const contributorOrganisation = 1 + Math.floor(random() * 4);
  const contributor = usersOf(world, contributorOrganisation)[Math.floor(random() * 2)]!;
  const base = {
    contributorId: contributor.id,
    contributorOrganisationId: contributor.organisationId,
    recipients: [] as string[],
    granularMarkings: false,
  };
  const draw = random();
  const withTlp = (levels: TlpLevel[], audience: Audience): EntrySharing => ({
    ...base,
    tlp: levels,
    audience,
  });
  if (draw < 0.5) return withTlp(['green'], 'members');
  if (draw < 0.7) return withTlp(['amber+strict'], 'members');
  if (draw < 0.8) return withTlp(['clear'], 'everyone');
  if (draw < 0.95) return withTlp(['amber'], 'members-and-clients');

  // RED: 1 to 3 recipients among users of organisations 1 to 19 of community 0, and the
  // member reader in a third of them besides. The admin is never named.
  const recipients = new Set<string>();
  const count = 1 + Math.floor(random() * 3);
  while (recipients.size < count) {
    const organisation = 1 + Math.floor(random() * (MEMBERS_PER_COMMUNITY - 1));
    recipients.add(usersOf(world, organisation)[Math.floor(random() * 2)]!.id);
  }
  if (random() < 1 / 3) recipients.add(world.member.id);
  return { ...base, tlp: ['red'], audience: 'recipients', recipients: [...recipients] };
}

/** Whether a reader with `widest` may read the version: the store's filter, restated to count. */
function visible(sharing: EntrySharing, reader: UserRecord, widest: Audience): boolean {
  const order: Audience[] = ['everyone', 'members-and-clients', 'members', 'recipients'];
  if (sharing.contributorId === reader.id) return true;
  if (order.indexOf(sharing.audience) <= order.indexOf(widest)) return true;
  return sharing.audience === 'recipients' && sharing.recipients.includes(reader.id);
}

interface Filled {
  sharedId: string;
  coreId: string;
  /** `added_after` values, one before each batch, in the shared collection. */
  sharedPositions: number[];
  corePositions: number[];
  /** Per batch, the lowest number of its versions that any reader may read. */
  fewestVisible: number[];
}

async function fill(store: Store, world: World): Promise<Filled> {
  const shared = await store.createCollection({
    apiRoot: 'default',
    title: 'shared',
    alias: 'shared',
    communityId: world.communityId,
  });
  const core = await store.createCollection({ apiRoot: 'default', title: 'core', alias: 'core' });
  const templates = realIndicators();
  const random = seededRandom(20261204);
  const filled: Filled = {
    sharedId: shared.id,
    coreId: core.id,
    sharedPositions: [],
    corePositions: [],
    fewestVisible: [],
  };

  for (let done = 0; done < objectCount; done += PAGE) {
    const plain: PreparedObject[] = [];
    const marked: PreparedObject[] = [];
    const seen = { member: 0, client: 0 };
    for (let i = 0; i < Math.min(PAGE, objectCount - done); i += 1) {
      const result = validateObject(freshCopy(templates[(done + i) % templates.length]!));
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      const sharing = drawSharing(world, random);
      if (visible(sharing, world.member, 'members')) seen.member += 1;
      if (visible(sharing, world.client, 'members-and-clients')) seen.client += 1;
      plain.push(result.prepared);
      marked.push({ ...result.prepared, sharing });
    }
    // The admin may read every version the client may read, so these two counts bound all readers.
    filled.fewestVisible.push(Math.min(seen.member, seen.client));
    const addedShared = await store.addObjects(shared.id, marked);
    const addedCore = await store.addObjects(core.id, plain);
    filled.sharedPositions.push(addedShared[0]!.dateAdded - 1);
    filled.corePositions.push(addedCore[0]!.dateAdded - 1);
    if (done % 100_000 === 0) process.stderr.write(`filled ${done}/${objectCount}\n`);
  }
  return filled;
}

/** Batch indexes with at least one full page visible to every reader after their start. */
function fullPageStarts(fewestVisible: number[]): number[] {
  const starts: number[] = [];
  let after = 0;
  for (let batch = fewestVisible.length - 1; batch >= 0; batch -= 1) {
    after += fewestVisible[batch]!;
    if (after >= PAGE) starts.push(batch);
  }
  return starts;
}

const store = await openStore(location);
await store.migrate();
await store.createApiRoot({ name: 'default', title: 'bench', maxContentLength: 16 * 2 ** 20 });
const fillStarted = performance.now();
const world = await createWorld(store);
const filled = await fill(store, world);
const fillSeconds = (performance.now() - fillStarted) / 1000;
const tokens = {
  admin: (await issueToken(store, world.admin)).token,
  member: (await issueToken(store, world.member)).token,
  client: (await issueToken(store, world.client)).token,
};
await store.close();

const server = await startServerProcess(location);
const readers: Array<{ name: ReaderName; token: string; collection: string; positions: number[] }> =
  [
    {
      name: 'core',
      token: tokens.admin,
      collection: filled.coreId,
      positions: filled.corePositions,
    },
    {
      name: 'admin',
      token: tokens.admin,
      collection: filled.sharedId,
      positions: filled.sharedPositions,
    },
    {
      name: 'member',
      token: tokens.member,
      collection: filled.sharedId,
      positions: filled.sharedPositions,
    },
    {
      name: 'client',
      token: tokens.client,
      collection: filled.sharedId,
      positions: filled.sharedPositions,
    },
  ];
const starts = fullPageStarts(filled.fewestVisible);
const times = new Map<ReaderName, number[]>(readers.map((reader) => [reader.name, []]));

async function requestPage(reader: (typeof readers)[number]): Promise<number> {
  const batch = starts[Math.floor(Math.random() * starts.length)]!;
  const after = microsToTaxii(reader.positions[batch]!);
  const sent = performance.now();
  const response = await fetch(
    `${server.url}/default/collections/${reader.collection}/objects/?limit=${PAGE}&added_after=${after}`,
    {
      headers: {
        Authorization: `Bearer ${reader.token}`,
        Accept: 'application/taxii+json;version=2.1',
      },
    },
  );
  const body = (await response.json()) as { objects?: unknown[] };
  const elapsed = performance.now() - sent;
  if (response.status !== 200 || body.objects?.length !== PAGE) {
    throw new Error(
      `${reader.name}: expected a full page of ${PAGE} objects, got HTTP ${response.status} with ${body.objects?.length} objects`,
    );
  }
  return elapsed;
}

// The readers take turns, in an order that rotates, so load from other processes on the
// shared cores falls on all of them alike.
for (let round = 0; round < WARM_UP + REQUESTS; round += 1) {
  for (let turn = 0; turn < readers.length; turn += 1) {
    const reader = readers[(round + turn) % readers.length]!;
    const elapsed = await requestPage(reader);
    if (round >= WARM_UP) times.get(reader.name)!.push(elapsed);
  }
}
await server.stop();
rmSync(dir, { recursive: true, force: true });

const round1 = (value: number): number => Math.round(value * 10) / 10;
const figures: Record<string, { p50ms: number; p99ms: number }> = {};
for (const [name, list] of times) {
  list.sort((a, b) => a - b);
  figures[name] = { p50ms: round1(percentile(list, 50)), p99ms: round1(percentile(list, 99)) };
}
const memberP99 = figures.member!.p99ms;
console.log(
  JSON.stringify({
    benchmark: 'taxii-page-1000-access',
    machine: machine(),
    objects: objectCount,
    fillSeconds: Math.round(fillSeconds),
    requestsPerReader: REQUESTS,
    ...figures,
    goal: {
      memberP99MaxMs: round1(RECORDED_CORE.p99ms * GOAL_FACTOR),
      recordedCore: RECORDED_CORE,
      met: memberP99 <= RECORDED_CORE.p99ms * GOAL_FACTOR,
      memberP99OverRecordedCore: Math.round((memberP99 / RECORDED_CORE.p99ms) * 100) / 100,
      memberP99OverAdmin: Math.round((memberP99 / figures.admin!.p99ms) * 100) / 100,
      memberP99OverCoreInRun: Math.round((memberP99 / figures.core!.p99ms) * 100) / 100,
    },
  }),
);
