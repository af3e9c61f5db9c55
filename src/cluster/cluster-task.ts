/**
 * Housekeeping that every node schedules but that should run once per interval across all
 * nodes sharing a store: the status purge, the event-log prune, the sweep of expired
 * authentication failures.
 *
 * Each task is one document whose `due` is its next run. Every node checks now and then,
 * and the node whose claimDocuments takes the document runs the task. The claim itself
 * moves `due` one interval on, so the others find nothing due. A node that dies while running
 * leaves the task due at the end of that interval, when another node runs it. The jobs
 * are idempotent deletes, so a run repeated after such a failure does no harm.
 */
import type { Logger } from '../log/logger.ts';
import { nowMicros } from '../stix/timestamp.ts';
import { StoreConflictError, type Store } from '../store/store.ts';

export interface ClusterTaskOptions {
  /** Names the task in documents and logs: lowercase letters, digits and dashes. */
  name: string;
  /** Time between two runs anywhere in the cluster (ms). */
  intervalMs: number;
  /** How often this node looks whether the task is due (ms); a tenth of the interval by default. */
  checkMs?: number;
  /** Does the work; returns what it did, such as a count, for the log line. */
  run: () => Promise<number>;
}

/** Returns the document kind of a task, which has one document of id `schedule`. */
export function taskKind(name: string): string {
  return `cluster.task.${name}`;
}

const SCHEDULE_ID = 'schedule';

export class ClusterTask {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #options: Required<ClusterTaskOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<boolean> | undefined;
  #created = false;

  constructor(store: Store, logger: Logger, options: ClusterTaskOptions) {
    if (!/^[a-z0-9-]{1,64}$/.test(options.name)) {
      throw new Error(
        `invalid task name "${options.name}": use lowercase letters, digits and dashes`,
      );
    }
    if (!(options.intervalMs >= 1)) {
      throw new RangeError(`invalid interval ${options.intervalMs} ms for task ${options.name}`);
    }
    this.#store = store;
    this.#options = {
      checkMs: Math.max(1, Math.min(options.intervalMs / 10, 60_000)),
      ...options,
    };
    this.#logger = logger.child({ task: options.name });
  }

  /** Looks at once, then every checkMs with a little jitter so nodes do not look in step. */
  start(): void {
    if (this.#timer) return;
    const look = () => {
      void this.runIfDue();
      const jitter = 0.8 + Math.random() * 0.4;
      this.#timer = setTimeout(look, this.#options.checkMs * jitter);
      this.#timer.unref();
    };
    look();
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** Runs the task when it is due and this node claims it; returns whether it ran here. */
  runIfDue(): Promise<boolean> {
    this.#running ??= this.#claimAndRun().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #claimAndRun(): Promise<boolean> {
    const kind = taskKind(this.#options.name);
    try {
      if (!this.#created) await this.#createSchedule(kind);
      const now = nowMicros();
      const claimed = await this.#store.claimDocuments(
        kind,
        now,
        now + this.#options.intervalMs * 1000,
        1,
      );
      if (claimed.length === 0) return false;
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not check whether a cluster task is due');
      return false;
    }
    const started = performance.now();
    try {
      const result = await this.#options.run();
      this.#logger.info(
        { result, ms: Math.round(performance.now() - started) },
        'cluster task done',
      );
    } catch (error) {
      this.#logger.error({ err: error }, 'cluster task failed; it runs again next interval');
    }
    return true;
  }

  /** Creates the schedule, due now, unless a node did already. */
  async #createSchedule(kind: string): Promise<void> {
    try {
      await this.#store.putDocument({ kind, id: SCHEDULE_ID, due: nowMicros(), body: '{}' }, 0);
    } catch (error) {
      if (!(error instanceof StoreConflictError)) throw error;
    }
    this.#created = true;
  }
}
