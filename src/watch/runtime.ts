/**
 * Watch lists in a running server: the matching engine loaded with every list, the event
 * log follower that raises alerts, the retro-hunt runner, and the bus that delivers alerts.
 * The engine applies changes made on this node at once. Changes made on other nodes arrive
 * through a timer that reads the generation document and reloads the lists whose revision
 * moved.
 *
 * Every alert recorded here is announced through the notifier, so the alert streams and
 * alert webhooks of every node read it from the list's alert log at once.
 */
import { LocalNotifier, type EventNotifier } from '../events/notifier.ts';
import type { Logger } from '../log/logger.ts';
import type { Store } from '../store/store.ts';
import { WatchAccess } from './access.ts';
import type { AlertLog } from './alert-log.ts';
import { AlertBus } from './bus.ts';
import { WatchIndex } from './engine.ts';
import { AlertFollower, type FollowerOptions } from './follower.ts';
import { HuntRunner, type HuntOptions } from './hunt.ts';
import type { BackgroundPacer } from '../events/pacing.ts';
import { HuntKeyIndexer, type HuntIndexOptions } from './hunt-index.ts';
import type { WatchList } from './model.ts';
import { ValueIndexFeed } from './value-index.ts';
import { WatchService, type ListChangeListener } from './service.ts';

export interface WatchRuntimeOptions {
  /** How often the generation document is read for changes made on other nodes (ms). */
  reloadMs: number;
  /** Whether to build the value index of the bulk look-up when the runtime starts. */
  valueIndex: boolean;
  follower: Partial<FollowerOptions>;
  hunt: Partial<HuntOptions>;
  /**
   * The store the value index reads the event log through, in place of the runtime's. The
   * server passes one that gives way to writes (see src/events/pacing.ts).
   */
  valueIndexStore?: Store;
  huntIndex: Partial<HuntIndexOptions>;
  /** Pacer that makes the key indexer of retro-hunts give way to writes, as the value index does. */
  huntIndexPacer?: Pick<BackgroundPacer, 'turn'>;
}

export const RUNTIME_DEFAULTS: WatchRuntimeOptions = {
  reloadMs: 2_000,
  valueIndex: true,
  follower: {},
  hunt: {},
  huntIndex: {},
};

/** Loads every stored list into a new engine. */
export async function loadEngine(service: WatchService): Promise<WatchIndex> {
  const engine = new WatchIndex();
  for await (const stored of service.repository.allLists()) {
    engine.setList(stored.list, stored.revision);
  }
  return engine;
}

export class WatchRuntime implements ListChangeListener {
  readonly engine = new WatchIndex();
  readonly bus = new AlertBus();
  readonly service: WatchService;
  readonly access: WatchAccess;
  readonly follower: AlertFollower;
  readonly hunter: HuntRunner;
  /** Keeps the key index that retro-hunts look value entries up in. */
  readonly huntKeys: HuntKeyIndexer;
  /** The value index of the bulk look-up; `state` says whether it is ready. */
  readonly values: ValueIndexFeed;
  private valuesBuilt: Promise<void> | undefined;
  /** Carries alert announcements: the server's notifier, or one of this process alone. */
  private readonly alertNotifier: EventNotifier;
  private readonly options: WatchRuntimeOptions;
  private generation = -1;
  private reloading: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    notifier?: EventNotifier,
    options: Partial<WatchRuntimeOptions> = {},
  ) {
    this.options = { ...RUNTIME_DEFAULTS, ...options };
    this.service = new WatchService(store, this);
    this.access = new WatchAccess(store);
    const deps = {
      store,
      repository: this.service.repository,
      access: this.access,
      bus: this.bus,
      logger,
    };
    this.follower = new AlertFollower(
      { ...deps, engine: this.engine, ...(notifier ? { notifier } : {}) },
      this.options.follower,
    );
    this.hunter = new HuntRunner(deps, this.options.hunt);
    this.huntKeys = new HuntKeyIndexer(
      store,
      logger,
      this.options.huntIndex,
      this.options.huntIndexPacer,
    );
    this.values = new ValueIndexFeed(this.options.valueIndexStore ?? store, logger, notifier);
    this.alertNotifier = notifier ?? new LocalNotifier();
    this.bus.subscribe((notice) => this.alertNotifier.announceAlerts(notice.alert.watchlistId));
  }

  /** The alert log of every list, which alert streams read from. */
  get alertLog(): AlertLog {
    return this.service.repository.alertLog;
  }

  /**
   * Calls `listener` whenever the list may have new records in its alert log, on this node
   * or another. Returns a function that stops it.
   */
  listenAlerts(watchlistId: string, listener: () => void): () => void {
    return this.alertNotifier.listenAlerts((announced) => {
      if (announced === undefined || announced === watchlistId) listener();
    });
  }

  async start(): Promise<void> {
    await this.reload();
    this.timer = setInterval(() => {
      this.reload().catch((error: unknown) =>
        this.logger.error({ err: error }, 'watch list reload failed'),
      );
    }, this.options.reloadMs);
    this.timer.unref();
    this.follower.start();
    this.hunter.start();
    this.huntKeys.start();
    if (this.options.valueIndex) {
      // Built in the background: the bulk look-up answers 503 until it is ready.
      this.valuesBuilt = this.values
        .start()
        .catch((error: unknown) => this.logger.error({ err: error }, 'value index build failed'));
    }
    this.logger.info(
      { lists: this.engine.listCount, entries: this.engine.entryCount },
      'watch lists loaded',
    );
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.reloading;
    await Promise.all([
      this.follower.stop(),
      this.hunter.stop(),
      this.huntKeys.stop(),
      this.values.stop(),
    ]);
    await this.valuesBuilt;
  }

  listChanged(list: WatchList, revision: number): void {
    const loaded = this.engine.getList(list.id);
    if (!loaded || loaded.revision < revision) this.engine.setList(list, revision);
    this.hunter.wake();
  }

  listDeleted(id: string): void {
    this.engine.removeList(id);
  }

  /** Reloads the lists changed since the last reload; does nothing when none changed. */
  reload(): Promise<void> {
    this.reloading ??= this.reloadChanged().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async reloadChanged(): Promise<void> {
    const repository = this.service.repository;
    const generation = await repository.generation();
    if (generation === this.generation) return;
    const loaded = this.engine.revisions();
    const present = new Set<string>();
    let changed = 0;
    for await (const stored of repository.allLists()) {
      present.add(stored.list.id);
      if (loaded.get(stored.list.id) === stored.revision) continue;
      this.engine.setList(stored.list, stored.revision);
      changed++;
    }
    for (const id of loaded.keys()) {
      if (!present.has(id)) {
        this.engine.removeList(id);
        changed++;
      }
    }
    this.generation = generation;
    if (changed > 0) this.hunter.wake();
  }
}
