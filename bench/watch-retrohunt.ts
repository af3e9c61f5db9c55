/**
 * Retro-hunt speed: one new watch list run over the objects already stored.
 *
 *   node --import tsx bench/watch-retrohunt.ts [objects=1000000] [entries=1000] [matching=1]
 *     [rounds=3] [unindexed=0] [labels=0]
 *
 * Fills one SQLite store through the Store interface with `objects` real stalkerware
 * indicators under new ids, in one community collection (GREEN, members' audience, as a
 * share of one member gives them), and builds the retro-hunt key index over them with the
 * indexer the server runs in the background. Then, `rounds` times, it creates a new list
 * of `entries` domains as an organisation of that community: `matching` of them from the
 * same feed and the rest unknown. It times each list's retro-hunt job from queue to done,
 * through the HuntRunner the server uses. The feed's 5,046 indicators repeat under new ids, so each
 * matching domain finds about objects / 5,046 indicators, and every match writes an alert
 * document. The goal: under 10 s for 1,000,000 objects. With `unindexed=1`, one more
 * hunt runs before the index is built, which reads every version as a hunt does while
 * the index lags behind a bulk import. With `labels=1`, a last list adds a filter entry on
 * a label no object has, so its hunt reads every version but parses none.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log/logger.ts';
import { validateObject } from '../src/stix/index.ts';
import { buildIdentity } from '../src/store/identity.ts';
import { openStore } from '../src/store/index.ts';
import type { EntrySharing, PreparedObject, Store } from '../src/store/store.ts';
import { WatchAccess } from '../src/watch/access.ts';
import { AlertBus } from '../src/watch/bus.ts';
import { HuntRunner, queueHunt } from '../src/watch/hunt.ts';
import { HuntKeyIndexer } from '../src/watch/hunt-index.ts';
import type { WatchList } from '../src/watch/model.ts';
import { WatchRepository } from '../src/watch/repository.ts';
import { freshCopy, machine, realIndicators } from './lib.ts';

const objectCount = Number(process.argv[2] ?? 1_000_000);
const entryCount = Number(process.argv[3] ?? 1_000);
const matchingCount = Number(process.argv[4] ?? 1);
const rounds = Number(process.argv[5] ?? 3);
const unindexed = process.argv[6] === '1';
const labels = process.argv[7] === '1';
const BATCH = 5_000;
const now = Date.now() * 1000;

export async function fillCommunity(
  store: Store,
  count: number,
): Promise<{ organisationId: string; userId: string; collectionId: string }> {
  const organisation = await store.createOrganisation({
    id: randomUUID(),
    name: `bench-${randomUUID()}`,
    identity: JSON.stringify(buildIdentity({ name: 'bench', identityClass: 'organization' })),
    createdAt: now,
  });
  const user = await store.createUser({
    id: randomUUID(),
    name: `analyst-${randomUUID()}`,
    organisationId: organisation.id,
    role: 'analyst',
    createdAt: now,
    disabled: false,
  });
  const community = await store.createCommunity(
    {
      id: randomUUID(),
      name: `community-${randomUUID()}`,
      description: '',
      defaultTlp: 'green',
      allowAnonymous: false,
      publishClear: false,
      identity: JSON.stringify(buildIdentity({ name: 'bench', identityClass: 'group' })),
      createdAt: now,
    },
    organisation.id,
    user.id,
  );
  const collection = await store.createCollection({
    apiRoot: 'default',
    title: 'feed',
    communityId: community.id,
  });
  const sharing: EntrySharing = {
    contributorId: user.id,
    contributorOrganisationId: organisation.id,
    tlp: ['green'],
    audience: 'members',
    recipients: [],
    granularMarkings: false,
  };
  const templates = realIndicators();
  for (let done = 0; done < count; done += BATCH) {
    const batch: PreparedObject[] = [];
    for (let i = 0; i < Math.min(BATCH, count - done); i++) {
      const result = validateObject(freshCopy(templates[(done + i) % templates.length]!));
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      batch.push({ ...result.prepared, sharing });
    }
    await store.addObjects(collection.id, batch);
    if (done % 100_000 === 0) process.stderr.write(`filled ${done}/${count}\n`);
  }
  return { organisationId: organisation.id, userId: user.id, collectionId: collection.id };
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(1))
    .join(' ');
}

/** Creates a new list of domains, and a filter entry on request, and times its retro-hunt. */
async function huntOnce(
  store: Store,
  repository: WatchRepository,
  world: { organisationId: string; userId: string },
  label: string,
  withFilter = false,
): Promise<void> {
  const domains = realIndicators()
    .map(
      (indicator) => /^\[domain-name:value\s*=\s*'([^']+)'\]$/.exec(String(indicator.pattern))?.[1],
    )
    .filter((domain): domain is string => domain !== undefined)
    .slice(0, matchingCount);
  for (let i = domains.length; i < entryCount; i++) domains.push(`unknown${i}.example.org`);
  const list: WatchList = {
    id: randomUUID(),
    name: `retro-hunt bench, ${label}`,
    ownerType: 'organisation',
    organisationId: world.organisationId,
    visibility: 'organisation',
    enabled: true,
    entries: [
      ...domains.map((value) => ({
        id: randomUUID(),
        addedAt: now,
        type: 'domain' as const,
        value,
      })),
      ...(withFilter
        ? [
            {
              id: randomUUID(),
              addedAt: now,
              type: 'filter' as const,
              filter: { labels: ['no-such-label'] },
            },
          ]
        : []),
    ],
    createdBy: world.userId,
    createdAt: now,
    updatedAt: now,
  };
  const stored = await repository.putList(list, 0);

  const runner = new HuntRunner(
    {
      store,
      repository,
      access: new WatchAccess(store),
      bus: new AlertBus(),
      logger: createLogger('warn'),
    },
    { maxAlerts: 1_000_000 },
  );

  const load = loadAverage();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const job = await queueHunt(repository, list, stored.revision);
  await runner.runDue();
  const seconds = (performance.now() - started) / 1000;
  const done = (await repository.getJob(job.id))!.job;
  console.log(
    `${label}: one list of ${list.entries.length} entries: ${done.state}, ` +
      `${done.scanned} objects read, ${done.matched} matches, ${done.alerts} alerts, in ` +
      `${seconds.toFixed(2)} s (${cpuSeconds(cpu).toFixed(2)} CPU s; load average ${load}; ` +
      `goal under 10 s for 1,000,000)`,
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-retrohunt-'));
  const store = await openStore(`sqlite:${join(dir, 'bench.db')}`);
  try {
    await store.createApiRoot({ name: 'default', title: 'default', maxContentLength: 1 << 24 });
    const fillStarted = performance.now();
    const world = await fillCommunity(store, objectCount);
    const fillSeconds = (performance.now() - fillStarted) / 1000;

    console.log(`retro-hunt, ${machine()}`);
    console.log(`store: ${objectCount} indicators filled in ${fillSeconds.toFixed(0)} s`);
    const repository = new WatchRepository(store);
    if (unindexed) await huntOnce(store, repository, world, 'without the key index');

    const indexStarted = performance.now();
    const indexCpu = process.cpuUsage();
    await new HuntKeyIndexer(store, createLogger('warn')).catchUp();
    const indexSeconds = (performance.now() - indexStarted) / 1000;
    const indexCpuSeconds = cpuSeconds(indexCpu);

    console.log(
      `key index: built in ${indexSeconds.toFixed(1)} s (${indexCpuSeconds.toFixed(1)} CPU s,` +
        ` ${Math.round(objectCount / indexSeconds)} objects/s), load average ${loadAverage()}`,
    );
    for (let round = 1; round <= rounds; round++) {
      await huntOnce(store, repository, world, `round ${round}`);
    }
    if (labels) await huntOnce(store, repository, world, 'with a labels filter', true);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
