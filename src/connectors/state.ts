/**
 * The run state of a connector: the source's checkpoint and the health of the current and
 * last runs, kept in one document of kind `connector-state`. The runner writes it after each
 * committed batch, so the checkpoint never runs ahead of the stored objects.
 */
import type { Store } from '../store/store.ts';
import { CONNECTOR_STATE_DOCUMENT } from './definition.ts';

/** Rejections kept with their message per run; the rest are only counted. */
export const MAX_KEPT_FAILURES = 20;
/** Errors and warnings kept per run. */
export const MAX_KEPT_MESSAGES = 20;

export type RunOutcome = 'running' | 'succeeded' | 'partial' | 'failed';

export interface RunHealth {
  /** Microseconds since the epoch. */
  startedAt: number;
  finishedAt?: number;
  outcome: RunOutcome;
  /** Objects the source produced, rejected ones included. */
  objectsIn: number;
  added: number;
  duplicates: number;
  rejected: number;
  /** Rejected objects per reason code (a validator rule, `warning-list`, `csv-row`, ...). */
  rejectedByReason: Record<string, number>;
  /** The first rejections, with their messages. */
  failures: Array<{ id: string; message: string }>;
  /** Objects stored although a value of theirs is on a warning list (policies `label`, `lower`). */
  flagged: number;
  batches: number;
  retries: number;
  warnings: string[];
  /** Why the run stopped, for a failed run. */
  error?: string;
}

export interface ConnectorState {
  checkpoint?: unknown;
  current?: RunHealth;
  lastRun?: RunHealth;
  /**
   * The last run that read any object or record (`objectsIn` above 0). A later run that
   * finds the input unchanged replaces `lastRun` but not this, so the counts of the last
   * real read stay visible.
   */
  lastRunWithData?: RunHealth;
  lastSuccessAt?: number;
  consecutiveFailures: number;
  runs: number;
}

export function emptyHealth(startedAt: number): RunHealth {
  return {
    startedAt,
    outcome: 'running',
    objectsIn: 0,
    added: 0,
    duplicates: 0,
    rejected: 0,
    rejectedByReason: {},
    failures: [],
    flagged: 0,
    batches: 0,
    retries: 0,
    warnings: [],
  };
}

export async function loadState(
  store: Store,
  connectorId: string,
): Promise<{ state: ConnectorState; revision: number }> {
  const document = await store.getDocument(CONNECTOR_STATE_DOCUMENT, connectorId);
  if (document === undefined) return { state: { consecutiveFailures: 0, runs: 0 }, revision: 0 };
  return { state: JSON.parse(document.body) as ConnectorState, revision: document.revision };
}

/**
 * Writes the state if nobody else wrote it since `revision`, and returns the new revision.
 * Throws StoreConflictError otherwise: another runner took over the connector.
 */
export async function saveState(
  store: Store,
  connectorId: string,
  owner: string,
  state: ConnectorState,
  revision: number,
): Promise<number> {
  const stored = await store.putDocument(
    { kind: CONNECTOR_STATE_DOCUMENT, id: connectorId, owner, body: JSON.stringify(state) },
    revision,
  );
  return stored.revision;
}
