/**
 * Retro-hunts with the key index against a plain check of every stored object, on the
 * Echap stalkerware bundle shared into the Ring community plus SCOs, observed data and
 * objects that the list owners may not see.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../log/logger.ts';
import { objectTlp } from '../sharing/markings.ts';
import { TLP_2_AMBER, TLP_2_CLEAR, TLP_2_GREEN, TLP_2_RED } from '../stix/tlp.ts';
import { LATEST_VERSION, type TlpLevel } from '../store/store.ts';
import { dataPath } from '../testing/data.ts';
import { indicator } from '../testing/stix.ts';
import { readerJson, viewOf, WatchAccess } from './access.ts';
import { AlertBus } from './bus.ts';
import { WatchIndex } from './engine.ts';
import { buildEntry, type EntryInput } from './entries.ts';
import { referenceIds } from './follower.ts';
import { HuntRunner, queueHunt, type HuntOptions } from './hunt.ts';
import { createTestDatabase } from '../store/postgres/database.test-helper.ts';
import { HuntKeyIndexer } from './hunt-index.ts';
import { makeWatchWorld, type WatchWorld } from './fixtures.test-helper.ts';
import type { HuntJob, WatchEntry, WatchList } from './model.ts';
import { WatchRepository } from './repository.ts';

const BUNDLE = 'stalkerware-indicators/generated/stalkerware.stix2';

type Stix = Record<string, unknown> & { id: string; type: string };

function entries(inputs: EntryInput[]): WatchEntry[] {
  return inputs.map((input) => {
    const result = buildEntry(input, 0);
    assert.ok(result.ok, `entry ${JSON.stringify(input)}: ${result.ok ? '' : result.reason}`);
    return result.entry;
  });
}

function sco(type: string, fields: Record<string, unknown>): Stix {
  return { type, spec_version: '2.1', id: `${type}--${randomUUID()}`, ...fields };
}

function observed(fields: Record<string, unknown>): Stix {
  return {
    type: 'observed-data',
    spec_version: '2.1',
    id: `observed-data--${randomUUID()}`,
    created: '2024-01-01T00:00:00.000Z',
    modified: '2024-01-01T00:00:00.000Z',
    first_observed: '2024-01-01T00:00:00.000Z',
    last_observed: '2024-01-01T00:00:00.000Z',
    number_observed: 1,
    ...fields,
  };
}

/** An alert or a reference match, as the fields both must agree on. */
function matchKey(entryId: string, objectId: string, match: Record<string, unknown>): string {
  return [entryId, objectId, match.kind, match.how, match.value, match.path].join('|');
}

const database = await createTestDatabase();

after(async () => {
  if (typeof database !== 'string') await database.drop();
});

/** Selects the bundle objects a run shares: all of them, or malware and some indicators. */
type Selection = (objects: Stix[]) => Stix[];

runHuntCases(
  'retro-hunt with the key index on SQLite',
  () => makeWatchWorld(),
  (all) => all,
);
runHuntCases(
  'retro-hunt with the key index on PostgreSQL',
  async () => {
    if (typeof database === 'string') throw new Error(database);
    return makeWatchWorld(await database.freshSchema());
  },
  (all) => [
    ...all.filter((object) => object.type === 'malware'),
    ...all.filter((object) => object.type === 'indicator').slice(0, 2_000),
  ],
  typeof database === 'string' ? database : false,
);

function runHuntCases(
  name: string,
  makeWorld: () => Promise<WatchWorld>,
  select: Selection,
  skip: string | false = false,
): void {
  describe(name, { skip }, () => {
    let world: WatchWorld;
    let repository: WatchRepository;
    let bundle: Stix[];
    let indicators = 0;
    const hidden: Record<string, string> = {};

    /** Domains and SHA-256 hashes of the bundle's indicators, to watch. */
    const domains: string[] = [];
    const hashes: string[] = [];

    before(async () => {
      world = await makeWorld();
      repository = new WatchRepository(world.store);
      bundle = select(
        (JSON.parse(readFileSync(dataPath(BUNDLE), 'utf8')) as { objects: Stix[] }).objects,
      );
      // The bundle repeats some indicator ids; the store keeps one latest version of each.
      indicators = new Set(bundle.filter((object) => object.type === 'indicator').map((o) => o.id))
        .size;
      for (const object of bundle) {
        const pattern = String(object.pattern ?? '');
        const domain = /^\[domain-name:value\s*=\s*'([^']+)'\]$/.exec(pattern)?.[1];
        const hash = /^\[file:hashes\.sha256\s*=\s*'([^']+)'\]$/.exec(pattern)?.[1];
        if (domain) domains.push(domain);
        if (hash) hashes.push(hash);
      }
      for (let start = 0; start < bundle.length; start += 5_000) {
        await share('beta-analyst', 'ring', bundle.slice(start, start + 5_000));
      }

      const scos = [
        sco('domain-name', { value: domains[0] }),
        sco('domain-name', { value: `deep.${domains[1]}` }),
        sco('ipv4-addr', { value: '198.51.100.23' }),
        sco('url', { value: `https://${domains[2]}/upload.php` }),
        sco('file', { hashes: { 'SHA-256': hashes[0]!.toUpperCase() } }),
        sco('file', { hashes: { 'SHA3-256': hashes[1] } }),
      ];
      await share('beta-analyst', 'ring', scos);
      await share('beta-analyst', 'ring', [
        observed({ objects: { '0': { type: 'domain-name', value: domains[3] } } }),
        observed({ object_refs: [scos[2]!.id, scos[0]!.id] }),
        observed({ object_refs: [scos[5]!.id] }),
        observed({
          objects: {
            '0': { type: 'domain-name', value: domains[9] },
            '1': { type: 'domain-name', value: domains[10] },
          },
        }),
      ]);
      // Several watched values in one object: it is still checked once.
      await share('beta-analyst', 'ring', [
        indicator({
          pattern:
            `[domain-name:value = '${domains[11]}'] OR [domain-name:value = '${domains[12]}']` +
            ` OR [file:hashes.'SHA-256' = '${hashes[2]}']`,
        }),
      ]);

      // RED for another user, hidden from alpha's lists.
      const red = indicator({
        pattern: `[domain-name:value = '${domains[4]}']`,
        object_marking_refs: [TLP_2_RED.id],
      });
      await share('beta-analyst', 'ring', [red], [world.users['beta-analyst']!.id]);
      hidden.red = red.id;
      // A GREEN version that a RED one replaced: the latest version is the one checked.
      const replaced = indicator({
        pattern: `[domain-name:value = '${domains[5]}']`,
        object_marking_refs: [TLP_2_GREEN.id],
      });
      await share('beta-analyst', 'ring', [replaced]);
      await share(
        'beta-analyst',
        'ring',
        [
          {
            ...replaced,
            modified: '2024-02-01T00:00:00.000Z',
            object_marking_refs: [TLP_2_RED.id],
          },
        ],
        [world.users['beta-analyst']!.id],
      );
      hidden.replaced = replaced.id;
      // AMBER and CLEAR in a community alpha is not in.
      const amber = indicator({
        pattern: `[domain-name:value = '${domains[6]}']`,
        object_marking_refs: [TLP_2_AMBER.id],
      });
      const clear = indicator({
        pattern: `[domain-name:value = '${domains[7]}']`,
        object_marking_refs: [TLP_2_CLEAR.id],
      });
      await share('gamma-analyst', 'den', [amber, clear]);
      hidden.amber = amber.id;
      hidden.clear = clear.id;
      // RED naming alpha's analyst: her private lists see it, her organisation's lists do not.
      const personal = indicator({
        pattern: `[domain-name:value = '${domains[8]}']`,
        object_marking_refs: [TLP_2_RED.id],
      });
      await share('beta-analyst', 'ring', [personal], [world.users['alpha-analyst']!.id]);
      hidden.personal = personal.id;
    });

    after(async () => {
      await world.dispose();
    });

    async function share(
      actor: string,
      collection: string,
      objects: unknown[],
      recipients?: string[],
    ) {
      const result = await world.services.share(
        world.actors[actor]!,
        world.collections[collection]!,
        objects,
        recipients ? { recipients } : {},
      );
      assert.equal(result.failures.length, 0, JSON.stringify(result.failures.slice(0, 3)));
    }

    /** Returns the entries of the mixed list: every value kind, patterns and filters. */
    function mixedInputs(): EntryInput[] {
      return [
        ...domains.slice(0, 40).map((value) => ({ value })),
        { value: 'appspot.com', subdomains: true },
        ...hashes.slice(0, 5).map((value) => ({ type: 'hash' as const, value })),
        { value: '198.51.100.0/24' },
        { value: '203.0.113.9' },
        { value: 'http://tracker.example/gate.php' },
        { value: 'spy@tracker.example' },
        { value: 'AS64500' },
        { type: 'pattern', pattern: "[domain-name:value LIKE '%.appspot.com']" },
        { type: 'pattern', pattern: "[ipv4-addr:value ISSUBSET '198.51.100.0/24']" },
        { type: 'filter', filter: { names: ['TheTruthSpy', 'mSpy'] } },
        { type: 'filter', filter: { types: ['malware'], tlp: ['green'] } },
        { type: 'filter', filter: { types: ['indicator'], tlp: ['red'] } },
      ];
    }

    function valueInputs(): EntryInput[] {
      return [
        ...domains.slice(0, 60).map((value) => ({ value })),
        { value: 'appspot.com', subdomains: true },
        ...hashes.slice(0, 20).map((value) => ({ type: 'hash' as const, value })),
        { value: '198.51.100.0/24' },
      ];
    }

    /** Stores a new list and returns it with its revision. */
    async function newList(
      owner: string,
      inputs: EntryInput[],
      shared: boolean,
    ): Promise<{ list: WatchList; revision: number }> {
      const user = world.users[owner]!;
      const list: WatchList = {
        id: randomUUID(),
        name: `hunt ${randomUUID()}`,
        ownerType: 'user',
        ownerUserId: user.id,
        organisationId: user.organisationId,
        visibility: shared ? 'organisation' : 'private',
        enabled: true,
        entries: entries(inputs),
        createdBy: user.id,
        createdAt: 0,
        updatedAt: 0,
      };
      const stored = await repository.putList(list, 0);
      return { list, revision: stored.revision };
    }

    function runner(options: Partial<HuntOptions> = {}, bus = new AlertBus()): HuntRunner {
      return new HuntRunner(
        {
          store: world.store,
          repository,
          access: new WatchAccess(world.store),
          bus,
          logger: createLogger('silent'),
        },
        options,
      );
    }

    async function hunt(list: WatchList, revision: number, options: Partial<HuntOptions> = {}) {
      const job = await queueHunt(repository, list, revision);
      await runner(options).runDue();
      return (await repository.getJob(job.id))!.job;
    }

    async function alertKeys(list: WatchList): Promise<Set<string>> {
      const keys = new Set<string>();
      for await (const alert of repository.listAlerts(list.id)) {
        keys.add(matchKey(alert.entryId, alert.objectId, { ...alert.match }));
      }
      return keys;
    }

    /**
     * Checks every latest version the list's view may read with one engine holding all its
     * entries, as retro-hunts did before the key index, and returns the matches.
     */
    async function referenceScan(list: WatchList): Promise<Set<string>> {
      const engine = new WatchIndex();
      engine.setList(list, 1);
      const access = new WatchAccess(world.store);
      const found = new Set<string>();
      for (const { collection, rights, filter } of await access.readableCollections(viewOf(list))) {
        const community = collection.communityId
          ? await world.store.getCommunity(collection.communityId)
          : undefined;
        let addedAfter = 0;
        for (;;) {
          const page = await world.store.queryObjects({
            collectionId: collection.id,
            versions: LATEST_VERSION,
            access: filter,
            limit: 1_000,
            ...(addedAfter > 0 ? { addedAfter } : {}),
          });
          for (const item of page.items) {
            const object = JSON.parse(readerJson(item, rights.widest)) as Record<string, unknown>;
            const ids = referenceIds(object);
            const references = new Map<string, unknown>();
            if (ids.length > 0) {
              const scos = await world.store.queryObjects({
                collectionId: collection.id,
                ids,
                limit: ids.length,
                access: filter,
              });
              for (const found of scos.items) {
                references.set(found.id, JSON.parse(readerJson(found, rights.widest)));
              }
            }
            let tlp: TlpLevel[] = objectTlp(object);
            if (tlp.length === 0 && community) tlp = [community.defaultTlp];
            const matches = engine.match({
              object,
              tlp,
              references,
              ...(collection.communityId ? { communityId: collection.communityId } : {}),
            });
            for (const match of matches) {
              found.add(matchKey(match.entry.entry.id, item.id, { ...match.detail }));
            }
          }
          addedAfter = page.items.at(-1)?.dateAdded ?? addedAfter;
          if (!page.more) break;
        }
      }
      return found;
    }

    async function indexEverything(): Promise<void> {
      const indexer = new HuntKeyIndexer(world.store, createLogger('silent'), { pageSize: 700 });
      await indexer.catchUp();
      const mark = await world.store.huntKeyMark(world.collections.ring!);
      assert.ok(mark > 0, 'the ring collection is indexed');
    }

    let unindexed: { job: HuntJob; alerts: Set<string> } | undefined;

    it('without the index reads every keyed version', async () => {
      const { list, revision } = await newList('alpha-analyst', valueInputs(), false);
      const job = await hunt(list, revision);
      assert.equal(job.state, 'done');
      assert.ok(job.scanned >= indicators, `scanned ${job.scanned} of ${indicators} indicators`);
      const alerts = await alertKeys(list);
      assert.deepEqual(alerts, await referenceScan(list));
      assert.ok(alerts.size > 40, `only ${alerts.size} alerts`);
      unindexed = { job, alerts };
    });

    it('with the index finds the same alerts and reads few versions', async () => {
      await indexEverything();
      const { list, revision } = await newList('alpha-analyst', valueInputs(), false);
      const job = await hunt(list, revision);
      assert.equal(job.state, 'done');
      assert.ok(job.scanned < indicators / 4, `scanned ${job.scanned}`);
      assert.equal(job.matched, unindexed!.job.matched);
      assert.equal(job.alerts, unindexed!.job.alerts);
      assert.ok(job.collections.every((position) => position.done));
      const alerts = await alertKeys(list);
      assert.deepEqual(alerts, await referenceScan(list));
      assert.equal(alerts.size, unindexed!.alerts.size);
    });

    it('matches a full check for every kind of entry', async () => {
      await indexEverything();
      for (const [owner, shared] of [
        ['alpha-analyst', false],
        ['alpha-analyst', true],
        ['beta-analyst', false],
        ['gamma-analyst', false],
      ] as const) {
        const { list, revision } = await newList(owner, mixedInputs(), shared);
        const job = await hunt(list, revision);
        assert.equal(job.state, 'done', job.error);
        const alerts = await alertKeys(list);
        const expected = await referenceScan(list);
        assert.deepEqual(alerts, expected, `${owner} ${shared ? 'organisation' : 'private'} list`);
        assert.equal(job.alerts, alerts.size);
        assert.equal(job.matched, expected.size, 'each object is checked once');
        const kinds = new Set([...alerts].map((key) => key.split('|')[2]));
        if (owner !== 'gamma-analyst') {
          assert.deepEqual([...kinds].sort(), ['filter', 'indicator', 'pattern', 'value']);
        }
      }
    });

    it('never alerts on objects the owner may not see', async () => {
      await indexEverything();
      const objectsOf = async (list: WatchList) => {
        const ids = new Set<string>();
        for await (const alert of repository.listAlerts(list.id)) ids.add(alert.objectId);
        return ids;
      };
      const mine = await newList('alpha-analyst', mixedInputs(), false);
      const ours = await newList('alpha-analyst', mixedInputs(), true);
      const gammas = await newList('gamma-analyst', mixedInputs(), false);
      for (const { list, revision } of [mine, ours, gammas]) await hunt(list, revision);

      const privateIds = await objectsOf(mine.list);
      const organisationIds = await objectsOf(ours.list);
      const gammaIds = await objectsOf(gammas.list);
      for (const name of ['red', 'replaced', 'amber', 'clear']) {
        assert.equal(privateIds.has(hidden[name]!), false, `private list alerted on ${name}`);
        assert.equal(
          organisationIds.has(hidden[name]!),
          false,
          `organisation list alerted on ${name}`,
        );
      }
      assert.equal(privateIds.has(hidden.personal!), true, 'a RED version naming the owner');
      assert.equal(organisationIds.has(hidden.personal!), false, 'RED on an organisation list');
      // The index has the hidden objects: the community that may see them finds them.
      assert.equal(gammaIds.has(hidden.amber!), true);
      assert.equal(gammaIds.has(hidden.clear!), true);
      assert.equal(gammaIds.has(hidden.red!), false);
    });

    it('resumes after every interruption with the same result', async () => {
      await indexEverything();
      const whole = await newList('alpha-analyst', mixedInputs(), false);
      const expectedJob = await hunt(whole.list, whole.revision, { pageSize: 7 });

      const { list, revision } = await newList('alpha-analyst', mixedInputs(), false);
      const queued = await queueHunt(repository, list, revision);
      let restarts = 0;
      for (;;) {
        const stored = (await repository.getJob(queued.id))!.job;
        if (stored.state === 'done') break;
        assert.ok(restarts < 500, 'the hunt makes no progress');
        const bus = new AlertBus();
        const interrupted = runner({ pageSize: 7, leaseMs: 1 }, bus);
        // Stop at the first alert; the runner finishes its page and saves its position.
        const unsubscribe = bus.subscribe(() => void interrupted.stop());
        await interrupted.runDue();
        unsubscribe();
        restarts++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const job = (await repository.getJob(queued.id))!.job;
      assert.ok(restarts > 10, `only ${restarts} runs`);
      assert.equal(job.scanned, expectedJob.scanned);
      assert.equal(job.matched, expectedJob.matched);
      assert.equal(job.alerts, expectedJob.alerts);
      assert.deepEqual(await alertKeys(list), await referenceScan(list));
    });

    it('stops at maxAlerts and never records an alert twice', async () => {
      await indexEverything();
      const { list, revision } = await newList('alpha-analyst', valueInputs(), false);
      const capped = await hunt(list, revision, { maxAlerts: 5 });
      assert.equal(capped.state, 'done');
      assert.equal(capped.truncated, true);
      assert.equal(capped.alerts, 5);
      assert.equal((await alertKeys(list)).size, 5);

      const again = await hunt(list, revision);
      assert.equal(again.truncated, false);
      const total = (await alertKeys(list)).size;
      assert.equal(again.alerts, total - 5);
      const third = await hunt(list, revision);
      assert.equal(third.alerts, 0, 'the same versions raise no new alert');
      assert.ok(third.matched > 0);
    });

    it('restarts collections of a job without steps', async () => {
      await indexEverything();
      const { list, revision } = await newList('alpha-analyst', mixedInputs(), false);
      const queued = await queueHunt(repository, list, revision);
      const stored = (await repository.getJob(queued.id))!;
      // A running job as written before hunts had steps, halfway through the collection.
      const legacy: HuntJob = {
        ...stored.job,
        state: 'running',
        collections: [{ id: world.collections.ring!, addedAfter: 12_345, done: false }],
      };
      await repository.putJob(legacy, stored.revision, 0);
      await runner().runDue();
      const job = (await repository.getJob(queued.id))!.job;
      assert.equal(job.state, 'done', job.error);
      assert.equal(job.collections[0]!.done, true);
      assert.deepEqual(await alertKeys(list), await referenceScan(list));
    });

    it('finds objects added after the index mark', async () => {
      await indexEverything();
      const late = indicator({ pattern: `[domain-name:value = 'late.${domains[0]}']` });
      await share('alpha-analyst', 'ring', [late]);
      const { list, revision } = await newList(
        'alpha-analyst',
        [{ value: domains[0]!, subdomains: true }],
        false,
      );
      const job = await hunt(list, revision);
      const position = job.collections.find((item) => item.id === world.collections.ring)!;
      assert.ok(position.keysUpTo! > 0);
      const alerted = new Set<string>();
      for await (const alert of repository.listAlerts(list.id)) alerted.add(alert.objectId);
      assert.ok(alerted.has(late.id), 'the tail step found the new indicator');
      assert.deepEqual(await alertKeys(list), await referenceScan(list));
    });
  });
}
