/**
 * Retro-hunts: a new or changed watch list is checked against the objects already stored in
 * every collection its view may read (see access.ts), page by page through
 * store.queryObjects. The job document counts progress and records how far each collection
 * got, so a job resumes where it stopped after a restart, on any node: jobs are claimed
 * through their `due` time and the lease is renewed with every page.
 */
import type { Logger } from '../log/logger.ts';
import { objectTlp } from '../sharing/markings.ts';
import { SCO_TYPES } from '../stix/index.ts';
import { nowMicros } from '../stix/timestamp.ts';
import {
  LATEST_VERSION,
  StoreConflictError,
  type CommunityRecord,
  type Store,
  type StoredVersionWithJson,
  type TlpLevel,
} from '../store/store.ts';
import { readerJson, viewOf, type ReadableCollection, type WatchAccess } from './access.ts';
import { recordAlert } from './alerts.ts';
import type { AlertBus } from './bus.ts';
import { WatchIndex } from './engine.ts';
import { referenceIds } from './follower.ts';
import type { HuntJob, WatchList } from './model.ts';
import { inspectPattern } from '../pattern/index.ts';
import { newId, type StoredJob, type WatchRepository } from './repository.ts';

export interface HuntOptions {
  /** Objects read per page. */
  pageSize: number;
  /** How often due jobs are looked for (ms). */
  pollMs: number;
  /** Lease time of a job after its last progress write (ms). */
  leaseMs: number;
  /** Alerts one job creates at most before it stops with `truncated`. */
  maxAlerts: number;
}

export const HUNT_DEFAULTS: HuntOptions = {
  pageSize: 1_000,
  pollMs: 1_000,
  leaseMs: 60_000,
  maxAlerts: 10_000,
};

export interface HuntDeps {
  store: Store;
  repository: WatchRepository;
  access: WatchAccess;
  bus: AlertBus;
  logger: Logger;
}

/** Creates the queued retro-hunt job of a list and cancels its earlier unfinished jobs. */
export async function queueHunt(
  repository: WatchRepository,
  list: WatchList,
  listRevision: number,
): Promise<HuntJob> {
  const now = nowMicros();
  for await (const job of repository.listJobs(list.id)) {
    if (job.state !== 'queued' && job.state !== 'running') continue;
    const stored = await repository.getJob(job.id);
    if (!stored) continue;
    try {
      const cancelled: HuntJob = {
        ...stored.job,
        state: 'cancelled',
        finishedAt: now,
        updatedAt: now,
      };
      await repository.putJob(cancelled, stored.revision, undefined);
    } catch (error) {
      // The runner wrote progress meanwhile; it sees the newer job when it next reloads.
      if (!(error instanceof StoreConflictError)) throw error;
    }
  }
  const job: HuntJob = {
    id: newId(),
    watchlistId: list.id,
    listRevision,
    state: 'queued',
    collections: [],
    scanned: 0,
    matched: 0,
    alerts: 0,
    truncated: false,
    createdAt: now,
    updatedAt: now,
  };
  await repository.putJob(job, 0, now);
  return job;
}

/**
 * Returns the object types a list can match, to narrow the store queries; undefined when
 * any type can match (a filter entry without `types`).
 */
export function huntTypes(list: WatchList): string[] | undefined {
  const types = new Set<string>();
  for (const entry of list.entries) {
    if (entry.type === 'filter') {
      if (!entry.filter.types) return undefined;
      for (const type of entry.filter.types) types.add(type);
    } else if (entry.type === 'pattern') {
      for (const type of SCO_TYPES) types.add(type);
      types.add('observed-data');
      try {
        for (const type of inspectPattern(entry.pattern).comparisons.keys()) types.add(type);
      } catch {
        // A pattern that no longer parses matches nothing.
      }
    } else {
      for (const type of SCO_TYPES) types.add(type);
      types.add('observed-data');
      types.add('indicator');
    }
  }
  return [...types].sort();
}

class JobCancelled extends Error {}

export class HuntRunner {
  private readonly options: HuntOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly communities = new Map<string, Promise<CommunityRecord | undefined>>();

  constructor(
    private readonly deps: HuntDeps,
    options: Partial<HuntOptions> = {},
  ) {
    this.options = { ...HUNT_DEFAULTS, ...options };
  }

  start(): void {
    this.timer = setInterval(() => this.wake(), this.options.pollMs);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  wake(): void {
    if (this.stopped || this.running) return;
    this.running = this.runDue()
      .catch((error: unknown) => this.deps.logger.error({ err: error }, 'retro-hunt runner failed'))
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Runs every due job, one after the other; resolves when none is left. */
  async runDue(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const now = nowMicros();
      const [claimed] = await this.deps.repository.claimJobs(now, now + this.leaseMicros(), 1);
      if (!claimed) return;
      await this.run(claimed);
    }
  }

  private leaseMicros(): number {
    return this.options.leaseMs * 1000;
  }

  private async run(claimed: StoredJob): Promise<void> {
    let stored = claimed;
    const save = async (change: Partial<HuntJob>, due: number | undefined): Promise<void> => {
      const job: HuntJob = { ...stored.job, ...change, updatedAt: nowMicros() };
      try {
        stored = await this.deps.repository.putJob(job, stored.revision, due);
      } catch (error) {
        if (error instanceof StoreConflictError) throw new JobCancelled();
        throw error;
      }
    };
    const { logger } = this.deps;
    if (stored.job.state !== 'queued' && stored.job.state !== 'running') {
      await save({}, undefined);
      return;
    }
    try {
      const current = await this.deps.repository.getList(stored.job.watchlistId);
      if (!current || !current.list.enabled) {
        await save({ state: 'cancelled', finishedAt: nowMicros() }, undefined);
        return;
      }
      await this.hunt(current.list, current.revision, () => stored.job, save);
      logger.info(
        {
          jobId: stored.job.id,
          watchlistId: stored.job.watchlistId,
          scanned: stored.job.scanned,
          alerts: stored.job.alerts,
        },
        'retro-hunt finished',
      );
    } catch (error) {
      if (error instanceof JobCancelled) {
        logger.info({ jobId: stored.job.id }, 'retro-hunt cancelled');
        return;
      }
      logger.error({ err: error, jobId: stored.job.id }, 'retro-hunt failed');
      try {
        await save(
          { state: 'failed', error: (error as Error).message, finishedAt: nowMicros() },
          undefined,
        );
      } catch (saveError) {
        if (!(saveError instanceof JobCancelled)) throw saveError;
      }
    }
  }

  private async hunt(
    list: WatchList,
    revision: number,
    currentJob: () => HuntJob,
    save: (change: Partial<HuntJob>, due: number | undefined) => Promise<void>,
  ): Promise<void> {
    const view = viewOf(list);
    const readable = await this.deps.access.readableCollections(view);
    const byId = new Map(readable.map((item) => [item.collection.id, item]));
    const lease = () => nowMicros() + this.leaseMicros();

    let job = currentJob();
    if (job.state === 'queued') {
      const collections = readable.map((item) => ({
        id: item.collection.id,
        addedAfter: 0,
        done: false,
      }));
      await save(
        { state: 'running', collections, startedAt: nowMicros(), listRevision: revision },
        lease(),
      );
      job = currentJob();
    }

    const engine = new WatchIndex();
    engine.setList(list, revision);
    const types = huntTypes(list);
    const counters = { scanned: job.scanned, matched: job.matched, alerts: job.alerts };

    for (let index = 0; index < job.collections.length; index++) {
      const position = job.collections[index]!;
      const target = byId.get(position.id);
      let addedAfter = position.addedAfter;
      // A collection the view may no longer read is skipped, which also keeps its data hidden.
      let done = position.done || target === undefined;
      while (!done) {
        if (this.stopped) return;
        const page = await this.deps.store.queryObjects({
          collectionId: position.id,
          versions: LATEST_VERSION,
          limit: this.options.pageSize,
          access: target!.filter,
          ...(addedAfter > 0 ? { addedAfter } : {}),
          ...(types ? { types } : {}),
        });
        for (const item of page.items) {
          const created = await this.checkVersion(engine, list, target!, item, counters);
          counters.alerts += created;
          if (counters.alerts >= this.options.maxAlerts) break;
        }
        addedAfter = page.items.at(-1)?.dateAdded ?? addedAfter;
        done = !page.more || counters.alerts >= this.options.maxAlerts;
        const collections = currentJob().collections.map((item, at) =>
          at === index ? { id: item.id, addedAfter, done } : item,
        );
        await save({ collections, ...counters }, lease());
      }
      if (counters.alerts >= this.options.maxAlerts) {
        await save({ state: 'done', truncated: true, finishedAt: nowMicros() }, undefined);
        return;
      }
    }
    await save({ state: 'done', finishedAt: nowMicros(), ...counters }, undefined);
  }

  /** Checks one stored version; returns how many alerts it created or updated. */
  private async checkVersion(
    engine: WatchIndex,
    list: WatchList,
    target: ReadableCollection,
    item: StoredVersionWithJson,
    counters: { scanned: number; matched: number },
  ): Promise<number> {
    counters.scanned++;
    const json = readerJson(item, target.rights.widest);
    const object = JSON.parse(json) as Record<string, unknown>;
    const refIds = referenceIds(object);
    let references: Map<string, unknown> | undefined;
    if (refIds.length > 0) {
      const page = await this.deps.store.queryObjects({
        collectionId: target.collection.id,
        ids: refIds,
        limit: refIds.length,
        access: target.filter,
      });
      references = new Map(
        page.items.map((sco) => [
          sco.id,
          JSON.parse(readerJson(sco, target.rights.widest)) as unknown,
        ]),
      );
    }
    const tlp = await this.versionTlp(object, target);
    const communityId = target.collection.communityId;
    const matches = engine.match({
      object,
      tlp,
      ...(references ? { references } : {}),
      ...(communityId === undefined ? {} : { communityId }),
    });
    counters.matched += matches.length;

    let recordedCount = 0;
    for (const match of matches) {
      const sources = await this.deps.access.sources(viewOf(list), item.id);
      const recorded = await recordAlert(this.deps.repository, {
        entry: match.entry,
        object,
        detail: match.detail,
        collectionId: target.collection.id,
        tlp,
        sources,
        origin: 'retro-hunt',
        now: nowMicros(),
      });
      if (!recorded) continue;
      recordedCount++;
      this.deps.bus.publish({ change: recorded.change, alert: recorded.alert, list });
    }
    return recordedCount;
  }

  /**
   * The TLP levels of a stored version: its TLP markings, else its community's default
   * TLP as it is now (the default when the version was added is not kept with it).
   */
  private async versionTlp(
    object: Readonly<Record<string, unknown>>,
    target: ReadableCollection,
  ): Promise<TlpLevel[]> {
    const levels = objectTlp(object);
    if (levels.length > 0 || target.collection.communityId === undefined) return levels;
    const id = target.collection.communityId;
    let community = this.communities.get(id);
    if (!community) {
      community = this.deps.store.getCommunity(id);
      this.communities.set(id, community);
    }
    const found = await community;
    return found ? [found.defaultTlp] : [];
  }
}
