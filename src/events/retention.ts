/**
 * Pruning of the event log by age and count, on a timer shared by every node of a cluster.
 */
import { ClusterTask } from '../cluster/cluster-task.ts';
import type { CairnConfig } from '../config/config.ts';
import type { Logger } from '../log/logger.ts';
import { nowMicros } from '../stix/timestamp.ts';
import type { Store } from '../store/store.ts';

const MICROS_PER_DAY = 86_400 * 1_000_000;

/** Prunes events older than `maxAgeDays` and beyond the newest `maxEvents`, once per interval. */
export function createEventPruneTask(
  store: Store,
  logger: Logger,
  settings: CairnConfig['events'],
): ClusterTask {
  return new ClusterTask(store, logger, {
    name: 'event-prune',
    intervalMs: settings.pruneIntervalMinutes * 60_000,
    run: () =>
      store.pruneEvents({
        before: nowMicros() - settings.maxAgeDays * MICROS_PER_DAY,
        maxEvents: settings.maxEvents,
      }),
  });
}
