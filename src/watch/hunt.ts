/**
 * Retro-hunts: a new or changed watch list is checked against the latest version of every
 * object stored in the collections its view may read (see access.ts). Value entries look
 * up the key index (hunt-keys.ts) and read only the versions it finds, plus those added
 * after its mark. Pattern and filter entries read the object types they need (see
 * hunt-plan.ts). Every version is read through the view's access filter, so a list never
 * reads what its owner may not.
 *
 * The job document counts progress and records the step and position of each collection,
 * so a job resumes where it stopped after a restart, on any node: jobs are claimed through
 * their `due` time and the lease is renewed with every page.
 */
import type { Logger } from '../log/logger.ts';
import { objectTlp } from '../sharing/markings.ts';
import { nowMicros } from '../stix/timestamp.ts';
import {
  LATEST_VERSION,
  StoreConflictError,
  type CommunityRecord,
  type HuntKey,
  type Store,
  type StoredVersionWithJson,
  type TlpLevel,
} from '../store/store.ts';
import { readerJson, viewOf, type ReadableCollection, type WatchAccess } from './access.ts';
import { recordAlert } from './alerts.ts';
import type { AlertBus } from './bus.ts';
import type { EntryMatch } from './engine.ts';
import { referenceIds } from './follower.ts';
import { KEYED_TYPES, objectKeys } from './hunt-keys.ts';
import { HuntPlan } from './hunt-plan.ts';
import type { HuntJob, HuntPosition, WatchList } from './model.ts';
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

type Step = NonNullable<HuntPosition['step']>;

/** The steps of a collection's hunt, in order (see HuntPosition). */
const STEPS: readonly Step[] = ['keys', 'tail', 'scan'];

/** The end of a step or of a collection's hunt: finished, stopped with the runner, or at maxAlerts. */
type Outcome = 'done' | 'stopped' | 'truncated';

/** Saves a collection's new position, with the job's counters. */
type Progress = (position: HuntPosition) => Promise<void>;

/** One running job: its list, plan and counters, and how to save a collection's position. */
interface HuntRun {
  list: WatchList;
  plan: HuntPlan;
  counters: { scanned: number; matched: number; alerts: number };
  save(index: number, position: HuntPosition): Promise<void>;
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
    const readable = await this.deps.access.readableCollections(viewOf(list));
    const byId = new Map(readable.map((item) => [item.collection.id, item]));
    const plan = new HuntPlan(list, revision);

    if (currentJob().state === 'queued') {
      const collections: HuntPosition[] = [];
      for (const item of readable) {
        collections.push(await this.startPosition(plan, item));
      }
      await save(
        { state: 'running', collections, startedAt: nowMicros(), listRevision: revision },
        this.lease(),
      );
    }

    const job = currentJob();
    const run: HuntRun = {
      list,
      plan,
      counters: { scanned: job.scanned, matched: job.matched, alerts: job.alerts },
      save: async (index, position) => {
        const collections = currentJob().collections.map((item, at) =>
          at === index ? position : item,
        );
        await save({ collections, ...run.counters }, this.lease());
      },
    };
    for (let index = 0; index < job.collections.length; index++) {
      let position = job.collections[index]!;
      const target = byId.get(position.id);
      // A collection the view may no longer read is skipped, which also keeps its data hidden.
      if (position.done || target === undefined) continue;
      if (position.step === undefined) {
        position = await this.startPosition(plan, target);
      }
      const outcome = await this.huntCollection(run, index, position, target);
      if (outcome === 'stopped') return;
      if (outcome === 'truncated') {
        await save(
          { state: 'done', truncated: true, finishedAt: nowMicros(), ...run.counters },
          undefined,
        );
        return;
      }
    }
    await save({ state: 'done', finishedAt: nowMicros(), ...run.counters }, undefined);
  }

  private lease(): number {
    return nowMicros() + this.leaseMicros();
  }

  /** Returns where a collection's hunt starts: its first step, with the index mark. */
  private async startPosition(plan: HuntPlan, target: ReadableCollection): Promise<HuntPosition> {
    const id = target.collection.id;
    const keysUpTo = plan.hasValues ? await this.deps.store.huntKeyMark(id) : 0;
    return { id, addedAfter: keysUpTo, done: false, step: this.firstStep(plan), keysUpTo };
  }

  private firstStep(plan: HuntPlan): Step {
    return plan.hasValues ? 'keys' : 'scan';
  }

  /** Runs the remaining steps of one collection, saving the position after every page. */
  private async huntCollection(
    run: HuntRun,
    index: number,
    start: HuntPosition,
    target: ReadableCollection,
  ): Promise<Outcome> {
    let position = start;
    const progress: Progress = async (next) => {
      position = next;
      await run.save(index, next);
    };
    for (const step of STEPS.slice(STEPS.indexOf(position.step!))) {
      if (position.step !== step) {
        const addedAfter = step === 'tail' ? (position.keysUpTo ?? 0) : 0;
        position = {
          id: position.id,
          done: false,
          step,
          addedAfter,
          keysUpTo: position.keysUpTo ?? 0,
        };
      }
      let outcome: Outcome;
      if (step === 'keys') outcome = await this.keysStep(run, position, progress, target);
      else if (step === 'tail') outcome = await this.tailStep(run, position, progress, target);
      else outcome = await this.scanStep(run, position, progress, target);
      if (outcome !== 'done') return outcome;
    }
    await run.save(index, { ...position, done: true });
    return 'done';
  }

  /** Checks the objects that the key index finds for the list's value entries. */
  private async keysStep(
    run: HuntRun,
    position: HuntPosition,
    progress: Progress,
    target: ReadableCollection,
  ): Promise<Outcome> {
    const keysUpTo = position.keysUpTo ?? 0;
    // Without a mark nothing is indexed yet, and the tail step reads every version.
    if (!run.plan.hasValues || keysUpTo === 0) return 'done';
    const queries = run.plan.terms.queries();
    let queryNumber = position.keyQuery ?? 0;
    let after: HuntKey | undefined =
      position.afterKey !== undefined && position.afterObjectId !== undefined
        ? { key: position.afterKey, objectId: position.afterObjectId }
        : undefined;
    while (queryNumber < queries.length) {
      if (this.stopped) return 'stopped';
      const rows = await this.deps.store.findHuntKeys({
        collectionId: target.collection.id,
        ...queries[queryNumber]!,
        ...(after ? { after } : {}),
        limit: this.options.pageSize,
      });
      const outcome = await this.checkCandidates(run, target, rows, keysUpTo);
      if (rows.length < this.options.pageSize) {
        queryNumber++;
        after = undefined;
      } else {
        after = rows.at(-1);
      }
      const { afterKey: _key, afterObjectId: _objectId, ...rest } = position;
      await progress({
        ...rest,
        keyQuery: queryNumber,
        ...(after ? { afterKey: after.key, afterObjectId: after.objectId } : {}),
      });
      if (outcome === 'truncated') return outcome;
    }
    return 'done';
  }

  /**
   * Checks the objects of a page of key rows. An object found by several rows is checked at
   * one of them, its owner (see HuntTerms.owner), so it is checked once over the whole step.
   */
  private async checkCandidates(
    run: HuntRun,
    target: ReadableCollection,
    rows: readonly HuntKey[],
    keysUpTo: number,
  ): Promise<Outcome> {
    if (rows.length === 0) return 'done';
    const ids = [...new Set(rows.map((row) => row.objectId))];
    // The view's filter: a version the list's owner may not read never comes back.
    const page = await this.deps.store.queryObjects({
      collectionId: target.collection.id,
      ids,
      versions: LATEST_VERSION,
      limit: ids.length,
      access: target.filter,
    });
    const latest = new Map(page.items.map((item) => [item.id, item]));
    const parsed = new Map<string, { object: Record<string, unknown>; owner?: string }>();
    for (const row of rows) {
      const item = latest.get(row.objectId);
      // A version added after the mark is the tail step's.
      if (item === undefined || item.dateAdded > keysUpTo) continue;
      let candidate = parsed.get(item.id);
      if (candidate === undefined) {
        const object = JSON.parse(readerJson(item, target.rights.widest)) as Record<
          string,
          unknown
        >;
        const owner = run.plan.terms.owner(objectKeys(object));
        candidate = owner === undefined ? { object } : { object, owner };
        parsed.set(item.id, candidate);
      }
      if (candidate.owner !== row.key) continue;
      run.counters.scanned++;
      await this.checkValues(run, target, item, candidate.object);
      if (run.counters.alerts >= this.options.maxAlerts) return 'truncated';
    }
    return 'done';
  }

  /** Checks, for value entries, the latest versions added after the index's mark. */
  private async tailStep(
    run: HuntRun,
    position: HuntPosition,
    progress: Progress,
    target: ReadableCollection,
  ): Promise<Outcome> {
    if (!run.plan.hasValues) return 'done';
    return this.readVersions(run, position, progress, target, [...KEYED_TYPES], async (item) => {
      const object = JSON.parse(readerJson(item, target.rights.widest)) as Record<string, unknown>;
      await this.checkValues(run, target, item, object);
    });
  }

  /** Reads the types that pattern and filter entries need, parsing only possible matches. */
  private async scanStep(
    run: HuntRun,
    position: HuntPosition,
    progress: Progress,
    target: ReadableCollection,
  ): Promise<Outcome> {
    const communityId = target.collection.communityId;
    const types = run.plan.scanTypes(communityId);
    if (types !== undefined && types.length === 0) return 'done';
    return this.readVersions(run, position, progress, target, types, async (item) => {
      const json = readerJson(item, target.rights.widest);
      const candidates = run.plan.candidates({ type: item.type, communityId, json });
      if (candidates === undefined) return;
      const object = JSON.parse(json) as Record<string, unknown>;
      const references = candidates.patterns
        ? await this.loadReferences(target, object)
        : undefined;
      const tlp = await this.versionTlp(object, target);
      const matches = run.plan.matchScan(candidates, {
        object,
        tlp,
        ...(references ? { references } : {}),
        ...(communityId === undefined ? {} : { communityId }),
      });
      await this.recordMatches(run, target, item, object, tlp, matches);
    });
  }

  /**
   * Reads the latest versions of a collection that the view may see, of the given types
   * (undefined: all), after `position.addedAfter`, and calls `check` on each. Every version
   * read counts as scanned.
   */
  private async readVersions(
    run: HuntRun,
    position: HuntPosition,
    progress: Progress,
    target: ReadableCollection,
    types: string[] | undefined,
    check: (item: StoredVersionWithJson) => Promise<void>,
  ): Promise<Outcome> {
    let addedAfter = position.addedAfter;
    for (;;) {
      if (this.stopped) return 'stopped';
      const page = await this.deps.store.queryObjects({
        collectionId: target.collection.id,
        versions: LATEST_VERSION,
        limit: this.options.pageSize,
        access: target.filter,
        ...(addedAfter > 0 ? { addedAfter } : {}),
        ...(types ? { types } : {}),
      });
      let truncated = false;
      for (const item of page.items) {
        run.counters.scanned++;
        await check(item);
        addedAfter = item.dateAdded;
        if (run.counters.alerts >= this.options.maxAlerts) {
          truncated = true;
          break;
        }
      }
      await progress({ ...position, addedAfter });
      if (truncated) return 'truncated';
      if (!page.more) return 'done';
    }
  }

  /** Checks one parsed version against the value entries and records its alerts. */
  private async checkValues(
    run: HuntRun,
    target: ReadableCollection,
    item: StoredVersionWithJson,
    object: Record<string, unknown>,
  ): Promise<void> {
    const references = await this.loadReferences(target, object);
    const tlp = await this.versionTlp(object, target);
    const communityId = target.collection.communityId;
    const matches = run.plan.values.match({
      object,
      tlp,
      ...(references ? { references } : {}),
      ...(communityId === undefined ? {} : { communityId }),
    });
    await this.recordMatches(run, target, item, object, tlp, matches);
  }

  /** Loads the SCOs that observed data references, as the view may see them. */
  private async loadReferences(
    target: ReadableCollection,
    object: Readonly<Record<string, unknown>>,
  ): Promise<Map<string, unknown> | undefined> {
    const refIds = referenceIds(object);
    if (refIds.length === 0) return undefined;
    const page = await this.deps.store.queryObjects({
      collectionId: target.collection.id,
      ids: refIds,
      limit: refIds.length,
      access: target.filter,
    });
    return new Map(
      page.items.map((sco) => [
        sco.id,
        JSON.parse(readerJson(sco, target.rights.widest)) as unknown,
      ]),
    );
  }

  /** Records the alerts of a version's matches and counts them. */
  private async recordMatches(
    run: HuntRun,
    target: ReadableCollection,
    item: StoredVersionWithJson,
    object: Readonly<Record<string, unknown>>,
    tlp: TlpLevel[],
    matches: readonly EntryMatch[],
  ): Promise<void> {
    run.counters.matched += matches.length;
    for (const match of matches) {
      const sources = await this.deps.access.sources(viewOf(run.list), item.id);
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
      run.counters.alerts++;
      this.deps.bus.publish({ change: recorded.change, alert: recorded.alert, list: run.list });
    }
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
