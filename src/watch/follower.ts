/**
 * Raises alerts as objects arrive: follows the event log from a checkpoint document, woken
 * by the event notifier and by a fallback timer, and checks every new object version
 * against the loaded watch lists. A match becomes an alert only when the version is visible
 * to the list's view (see access.ts), and values hidden from that view by granular
 * markings or by the markings of referenced SCOs never match.
 *
 * One node at a time follows the log: the checkpoint document is a lease claimed through
 * `due`, renewed with every checkpoint write and released on stop. Another node takes over
 * when the lease runs out, from the last checkpoint, so a crash repeats at most one batch.
 * Alerts are keyed by entry and object, so a repeated event changes nothing.
 */
import { eventObject } from '../events/feed.ts';
import type { EventNotifier } from '../events/notifier.ts';
import type { Logger } from '../log/logger.ts';
import { nowMicros } from '../stix/timestamp.ts';
import {
  StoreConflictError,
  type AccessFilter,
  type EventRecord,
  type Store,
} from '../store/store.ts';
import { readerJson, viewKey, viewOf, type WatchAccess, type WatchView } from './access.ts';
import { recordAlert } from './alerts.ts';
import type { AlertBus } from './bus.ts';
import type { EntryMatch, WatchIndex } from './engine.ts';
import type { WatchRepository } from './repository.ts';

export interface FollowerOptions {
  /** Events read from the log at once. */
  batchSize: number;
  /** Interval of the fallback run, for announcements lost or made on another node (ms). */
  fallbackMs: number;
  /** Lease time of the log after the last checkpoint write (ms). */
  leaseMs: number;
}

export const FOLLOWER_DEFAULTS: FollowerOptions = {
  batchSize: 500,
  fallbackMs: 1_000,
  leaseMs: 30_000,
};

/** The state document of the follower. */
const CHECKPOINT_ID = 'follower';
/** Most `object_refs` of one observed-data object resolved for matching. */
const MAX_REFERENCES = 1_000;

interface Checkpoint {
  seq: number;
}

export interface FollowerDeps {
  store: Store;
  repository: WatchRepository;
  engine: WatchIndex;
  access: WatchAccess;
  bus: AlertBus;
  logger: Logger;
  notifier?: EventNotifier;
}

/** A match that survived the view check, with the object as the view sees it. */
interface ViewMatch {
  match: EntryMatch;
  object: Readonly<Record<string, unknown>>;
}

export class AlertFollower {
  private readonly options: FollowerOptions;
  private lease: { revision: number; seq: number; until: number } | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => void) | undefined;
  /** Times from an event's commit to its alerts (ms), for the latency figures. */
  readonly latencies: number[] = [];

  constructor(
    private readonly deps: FollowerDeps,
    options: Partial<FollowerOptions> = {},
  ) {
    this.options = { ...FOLLOWER_DEFAULTS, ...options };
  }

  start(): void {
    this.unlisten = this.deps.notifier?.listen(() => this.wake());
    this.timer = setInterval(() => this.wake(), this.options.fallbackMs);
    this.timer.unref();
    this.wake();
  }

  /** Stops following and hands the log to other nodes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unlisten?.();
    if (this.timer) clearInterval(this.timer);
    await this.running;
    if (this.lease) {
      try {
        await this.deps.repository.putState<Checkpoint>(
          CHECKPOINT_ID,
          { seq: this.lease.seq },
          this.lease.revision,
          nowMicros(),
        );
      } catch (error) {
        if (!(error instanceof StoreConflictError)) throw error;
      }
      this.lease = undefined;
    }
  }

  /** Runs a pass now, or right after the running one. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((error: unknown) => this.deps.logger.error({ err: error }, 'watch follower failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Processes events until the log is read to its end; resolves when done. */
  async drain(): Promise<void> {
    this.wake();
    while (this.running) await this.running;
  }

  private async pass(): Promise<void> {
    if (!(await this.holdLease())) return;
    const { store } = this.deps;
    for (;;) {
      if (this.stopped) return;
      const lease = this.lease!;
      const bounds = await store.eventBounds();
      if (lease.seq < bounds.first - 1) {
        this.deps.logger.warn(
          { checkpoint: lease.seq, first: bounds.first },
          'watch follower missed pruned events; objects added meanwhile raise no live alerts',
        );
        lease.seq = bounds.first - 1;
      }
      const events = await store.readEvents({ afterSeq: lease.seq, limit: this.options.batchSize });
      for (const event of events) await this.handle(event);
      if (events.length > 0) {
        const seq = events.at(-1)!.seq;
        if (!(await this.writeCheckpoint(seq))) return;
      }
      if (events.length < this.options.batchSize) return;
    }
  }

  /** Claims or renews the lease on the log; returns false when another node has it. */
  private async holdLease(): Promise<boolean> {
    const now = nowMicros();
    const leaseMicros = this.options.leaseMs * 1000;
    if (this.lease && this.lease.until - now > leaseMicros / 2) return true;
    if (this.lease) return this.writeCheckpoint(this.lease.seq);

    const { repository, store } = this.deps;
    const claimed = (await repository.claimState(now, now + leaseMicros)).find(
      (document) => document.id === CHECKPOINT_ID,
    );
    if (claimed) {
      const { seq } = JSON.parse(claimed.body) as Checkpoint;
      this.lease = { revision: claimed.revision, seq, until: now + leaseMicros };
      return true;
    }
    if (await repository.getState(CHECKPOINT_ID)) return false;
    // First start: alert on what arrives from now on; retro-hunts cover the stored data.
    const { last } = await store.eventBounds();
    try {
      const revision = await repository.putState<Checkpoint>(
        CHECKPOINT_ID,
        { seq: last },
        0,
        now + leaseMicros,
      );
      this.lease = { revision, seq: last, until: now + leaseMicros };
      return true;
    } catch (error) {
      if (error instanceof StoreConflictError) return false;
      throw error;
    }
  }

  private async writeCheckpoint(seq: number): Promise<boolean> {
    const lease = this.lease!;
    const until = nowMicros() + this.options.leaseMs * 1000;
    try {
      const revision = await this.deps.repository.putState<Checkpoint>(
        CHECKPOINT_ID,
        { seq },
        lease.revision,
        until,
      );
      this.lease = { revision, seq, until };
      return true;
    } catch (error) {
      if (!(error instanceof StoreConflictError)) throw error;
      this.deps.logger.warn({ seq }, 'watch follower lost its lease to another node');
      this.lease = undefined;
      return false;
    }
  }

  private async handle(event: EventRecord): Promise<void> {
    if (event.kind === 'deleted' || event.json === undefined) return;
    if (this.deps.engine.listCount === 0) return;
    let matches: ViewMatch[];
    try {
      matches = await this.matchEvent(event);
    } catch (error) {
      // An object that cannot be parsed or checked must not stop the follower.
      this.deps.logger.error(
        { err: error, seq: event.seq, objectId: event.objectId },
        'watch check of an event failed',
      );
      return;
    }
    const now = nowMicros();
    for (const { match, object } of matches) {
      const list = match.entry.owner.list;
      const sources = await this.deps.access.sources(viewOf(list), event.objectId);
      const recorded = await recordAlert(this.deps.repository, {
        entry: match.entry,
        object,
        detail: match.detail,
        collectionId: event.collectionId,
        tlp: event.sharing.tlp,
        sources,
        origin: 'live',
        now,
      });
      if (!recorded) continue;
      this.deps.bus.publish({ change: recorded.change, alert: recorded.alert, list });
      this.deps.logger.info(
        {
          watchlistId: list.id,
          alertId: recorded.alert.id,
          objectId: event.objectId,
          priority: recorded.alert.priority,
          change: recorded.change,
        },
        'watch alert',
      );
    }
    if (matches.length > 0) {
      this.latencies.push((nowMicros() - event.at) / 1000);
      if (this.latencies.length > 10_000) this.latencies.splice(0, 5_000);
    }
  }

  private async matchEvent(event: EventRecord): Promise<ViewMatch[]> {
    const json = event.json!;
    const object = eventObject(event);
    const refIds = referenceIds(object);
    const references = refIds.length > 0 ? await this.loadReferences(event, refIds) : undefined;
    const base = {
      tlp: event.sharing.tlp,
      ...(event.communityId === undefined ? {} : { communityId: event.communityId }),
    };
    const matches = this.deps.engine.match({
      object,
      ...base,
      ...(references ? { references } : {}),
    });
    if (matches.length === 0) return [];

    const byView = new Map<string, { view: WatchView; matches: EntryMatch[] }>();
    for (const match of matches) {
      const view = viewOf(match.entry.owner.list);
      const key = viewKey(view);
      const group = byView.get(key) ?? { view, matches: [] };
      group.matches.push(match);
      byView.set(key, group);
    }

    const kept: ViewMatch[] = [];
    for (const { view, matches: group } of byView.values()) {
      const { access } = this.deps;
      const visible = await access.visibleJson(view, event);
      if (visible === undefined) continue;
      if (visible === json && refIds.length === 0) {
        for (const match of group) kept.push({ match, object });
        continue;
      }
      // Match again on what the view sees: the redacted object and the SCOs it may read.
      const seen = JSON.parse(visible) as Record<string, unknown>;
      const caller = await access.caller(view);
      const rights = await access.rights(view, event.collectionId);
      const filter: AccessFilter = { widest: rights.widest, userId: caller!.user.id };
      const viewReferences =
        refIds.length > 0 ? await this.loadReferences(event, refIds, filter) : undefined;
      const again = this.deps.engine.match({
        object: seen,
        ...base,
        ...(viewReferences ? { references: viewReferences } : {}),
      });
      const wanted = new Set(group.map((match) => match.entry));
      for (const match of again) {
        if (wanted.has(match.entry)) kept.push({ match, object: seen });
      }
    }
    return kept;
  }

  private async loadReferences(
    event: EventRecord,
    ids: string[],
    access?: AccessFilter,
  ): Promise<Map<string, unknown>> {
    const page = await this.deps.store.queryObjects({
      collectionId: event.collectionId,
      ids,
      limit: ids.length,
      ...(access ? { access } : {}),
    });
    const references = new Map<string, unknown>();
    for (const item of page.items) {
      const json = access ? readerJson(item, access.widest) : item.json;
      references.set(item.id, JSON.parse(json));
    }
    return references;
  }
}

/** Returns the SCO ids an observed-data object references, at most MAX_REFERENCES of them. */
export function referenceIds(object: Readonly<Record<string, unknown>>): string[] {
  if (object.type !== 'observed-data' || !Array.isArray(object.object_refs)) return [];
  const ids = object.object_refs.filter((id): id is string => typeof id === 'string');
  return [...new Set(ids)].slice(0, MAX_REFERENCES);
}
