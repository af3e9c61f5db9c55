/**
 * The parts that change when Cairn runs as several nodes on one shared store. Announcements
 * go over NATS instead of staying within the process. Failed-authentication counts live in
 * the store instead of in memory. Housekeeping runs on one node per interval.
 * The server calls these once at start, and commands that run once, such as
 * `cairn watch hunt`, create their notifier here too. Nothing else names NATS.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { FailureLimiter, type FailureCounter } from '../auth/http.ts';
import { bootstrap, type BootstrapResult } from '../bootstrap.ts';
import type { CairnConfig } from '../config/config.ts';
import type { LocalSignal, NatsNotifier } from '../events/nats-notifier.ts';
import { LocalNotifier, type EventNotifier } from '../events/notifier.ts';
import type { Logger } from '../log/logger.ts';
import { nowMicros } from '../stix/timestamp.ts';
import { StoreConflictError, type Store } from '../store/store.ts';
import { ClusterTask } from './cluster-task.ts';
import { StoreFailureCounter } from './failure-counts.ts';

export { ClusterTask } from './cluster-task.ts';
export { StoreFailureCounter } from './failure-counts.ts';

/** Returns the stream and subjects of the announcements for a configured prefix. */
export function natsNames(prefix: string): {
  stream: string;
  subject: string;
  accessSubject: string;
  alertSubject: string;
} {
  return {
    stream: `${prefix}-events`,
    subject: `${prefix}.events.committed`,
    accessSubject: `${prefix}.access.changed`,
    alertSubject: `${prefix}.alerts.recorded`,
  };
}

/**
 * Returns whether other server processes may share the store. A database server may serve
 * several nodes, while a SQLite file serves one server process.
 */
export function isSharedStore(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

const SETUP_KIND = 'cluster.setup';
const SETUP_ID = 'first-start';
/** How long a node may take over first-start setup before another node takes over. */
const SETUP_LEASE_MS = 30_000;
const SETUP_WAIT_MS = 100;

/**
 * Runs first-start setup on one node at a time. Nodes starting together on an empty store
 * would otherwise both find no admin and no default collection and both create them. A
 * document claim serializes them: the first node sets up and marks the document done, and
 * the others then run setup, which finds every record and creates nothing. A node that
 * dies during setup leaves the claim to expire after SETUP_LEASE_MS.
 */
export async function bootstrapNode(
  store: Store,
  config: CairnConfig,
  logger: Logger,
): Promise<BootstrapResult> {
  try {
    await store.putDocument({ kind: SETUP_KIND, id: SETUP_ID, due: 0, body: '{}' }, 0);
  } catch (error) {
    if (!(error instanceof StoreConflictError)) throw error;
  }
  const deadline = Date.now() + 2 * SETUP_LEASE_MS;
  for (;;) {
    const now = nowMicros();
    const [claimed] = await store.claimDocuments(SETUP_KIND, now, now + SETUP_LEASE_MS * 1000, 1);
    if (claimed) {
      let result: BootstrapResult;
      try {
        result = await bootstrap(store, config, { createAdmin: true });
      } catch (error) {
        // Let the next start, here or on another node, set up at once instead of after the lease.
        await store
          .putDocument({ kind: SETUP_KIND, id: SETUP_ID, due: 0, body: '{}' })
          .catch(() => undefined);
        throw error;
      }
      await store.putDocument({ kind: SETUP_KIND, id: SETUP_ID, body: '{"done":true}' });
      return result;
    }
    const setup = await store.getDocument(SETUP_KIND, SETUP_ID);
    if (setup && (JSON.parse(setup.body) as { done?: boolean }).done === true) {
      return bootstrap(store, config, { createAdmin: true });
    }
    if (Date.now() > deadline) {
      throw new Error(
        "first-start setup is held by another node that does not finish: check the other nodes' logs, then start again",
      );
    }
    logger.debug('waiting for another node to finish first-start setup');
    await new Promise((resolve) => setTimeout(resolve, SETUP_WAIT_MS));
  }
}

/** Creates and starts the NATS notifier, or returns undefined when no URL is configured. */
async function startNats(
  config: CairnConfig,
  store: Store,
  logger: Logger,
  accessChanges?: LocalSignal,
): Promise<NatsNotifier | undefined> {
  const { url, prefix, fallbackPollSeconds, replicas } = config.nats;
  if (url === undefined) return undefined;
  // Loaded here, so a single node without NATS does not spend start-up time on its client.
  const { NatsNotifier } = await import('../events/nats-notifier.ts');
  const notifier = new NatsNotifier({
    servers: url,
    ...natsNames(prefix),
    latestSeq: async () => (await store.eventBounds()).last,
    logger,
    fallbackMs: fallbackPollSeconds * 1000,
    replicas,
  });
  if (accessChanges) notifier.relayAccessChanges(accessChanges);
  notifier.start();
  return notifier;
}

/**
 * Creates the notifier: NATS when a URL is configured, else announcements within this
 * process only. With NATS, `accessChanges` (when given) is relayed between the nodes too.
 */
export async function createNotifier(
  config: CairnConfig,
  store: Store,
  logger: Logger,
  accessChanges?: LocalSignal,
): Promise<EventNotifier> {
  return (await startNats(config, store, logger, accessChanges)) ?? new LocalNotifier();
}

/**
 * Creates the notifier of a command that runs once, such as `cairn watch hunt`, and waits
 * up to `waitMs` for NATS, because announcements made before the connection are not sent.
 * Without NATS, or when it does not respond in time, announcements reach this process
 * only, and servers find the command's work at their next poll of the store.
 */
export async function createCommandNotifier(
  config: CairnConfig,
  store: Store,
  logger: Logger,
  waitMs: number,
): Promise<EventNotifier> {
  const notifier = await startNats(config, store, logger);
  if (notifier === undefined) return new LocalNotifier();
  const listening = notifier.listening().then(() => true);
  if (!(await Promise.race([listening, sleep(waitMs, false, { ref: false })]))) {
    logger.warn(
      { waitMs },
      'NATS did not respond in time; servers pick up the announcements at their next poll',
    );
  }
  return notifier;
}

/**
 * Creates failure counts in the store when it is shared, so every node applies the same
 * limits. With SQLite one server process serves the file, so memory is enough and faster.
 */
export function createFailureCounter(config: CairnConfig, store: Store): FailureCounter {
  return isSharedStore(config.store) ? new StoreFailureCounter(store) : new FailureLimiter();
}

const STATUS_PURGE_INTERVAL_MS = 10 * 60 * 1000;
const FAILURE_SWEEP_INTERVAL_MS = 5 * 60 * 1000;

export interface Housekeeping {
  stop(): Promise<void>;
}

/**
 * Starts the periodic jobs that keep the store small, each claimed so that one node runs
 * it per interval: the status purge and, with shared counts, the sweep of expired
 * authentication failures.
 */
export function startHousekeeping(
  store: Store,
  logger: Logger,
  failures: FailureCounter,
): Housekeeping {
  const tasks = [
    new ClusterTask(store, logger, {
      name: 'status-purge',
      intervalMs: STATUS_PURGE_INTERVAL_MS,
      run: () => store.purgeStatuses(nowMicros()),
    }),
  ];
  if (failures instanceof StoreFailureCounter) {
    tasks.push(
      new ClusterTask(store, logger, {
        name: 'auth-failure-sweep',
        intervalMs: FAILURE_SWEEP_INTERVAL_MS,
        run: () => failures.sweep(),
      }),
    );
  }
  for (const task of tasks) task.start();
  return {
    async stop() {
      await Promise.all(tasks.map((task) => task.stop()));
    },
  };
}
