/**
 * Retro-hunt speed: one new watch list run over the objects already stored.
 *
 *   node --import tsx bench/watch-retrohunt.ts [objects=1000000] [entries=1000] [matching=1]
 *
 * Fills one SQLite store through the Store interface with `objects` real stalkerware
 * indicators under new ids, in one community collection (GREEN, members' audience, as a
 * share of one member gives them). Then it creates a list of `entries` domains as an
 * organisation of that community, `matching` of them from the same feed and the rest
 * unknown, and times its retro-hunt job from queue to done, through the HuntRunner the
 * server uses. The feed's 5,046 indicators repeat under new ids, so each matching domain
 * finds about objects / 5,046 indicators, and every match writes an alert document. The
 * goal: under 10 s for 1,000,000 objects.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log/logger.ts';
import { validateObject } from '../src/stix/index.ts';
import { buildIdentity } from '../src/store/identity.ts';
import { openStore } from '../src/store/index.ts';
import type { EntrySharing, PreparedObject, Store } from '../src/store/store.ts';
import { WatchAccess } from '../src/watch/access.ts';
import { AlertBus } from '../src/watch/bus.ts';
import { HuntRunner, queueHunt } from '../src/watch/hunt.ts';
import type { WatchList } from '../src/watch/model.ts';
import { WatchRepository } from '../src/watch/repository.ts';
import { freshCopy, machine, realIndicators } from './lib.ts';

const objectCount = Number(process.argv[2] ?? 1_000_000);
const entryCount = Number(process.argv[3] ?? 1_000);
const matchingCount = Number(process.argv[4] ?? 1);
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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-retrohunt-'));
  const store = await openStore(`sqlite:${join(dir, 'bench.db')}`);
  try {
    await store.createApiRoot({ name: 'default', title: 'default', maxContentLength: 1 << 24 });
    const fillStarted = performance.now();
    const world = await fillCommunity(store, objectCount);
    const fillSeconds = (performance.now() - fillStarted) / 1000;

    const domains = realIndicators()
      .map(
        (indicator) =>
          /^\[domain-name:value\s*=\s*'([^']+)'\]$/.exec(String(indicator.pattern))?.[1],
      )
      .filter((domain): domain is string => domain !== undefined)
      .slice(0, matchingCount);
    for (let i = domains.length; i < entryCount; i++) domains.push(`unknown${i}.example.org`);
    const list: WatchList = {
      id: randomUUID(),
      name: 'retro-hunt bench',
      ownerType: 'organisation',
      organisationId: world.organisationId,
      visibility: 'organisation',
      enabled: true,
      entries: domains.map((value) => ({ id: randomUUID(), addedAt: now, type: 'domain', value })),
      createdBy: world.userId,
      createdAt: now,
      updatedAt: now,
    };
    const repository = new WatchRepository(store);
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
    const started = performance.now();
    const job = await queueHunt(repository, list, stored.revision);
    await runner.runDue();
    const seconds = (performance.now() - started) / 1000;
    const done = (await repository.getJob(job.id))!.job;

    console.log(`retro-hunt, ${machine()}`);
    console.log(`store: ${objectCount} indicators filled in ${fillSeconds.toFixed(0)} s`);
    console.log(
      `one list of ${list.entries.length} domains: ${done.state}, ${done.scanned} objects scanned, ` +
        `${done.matched} matches, ${done.alerts} alerts, in ${seconds.toFixed(1)} s ` +
        `(${Math.round(done.scanned / seconds)} objects/s; goal under 10 s for 1,000,000)`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
