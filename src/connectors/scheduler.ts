/**
 * Runs due connectors. Every node of a deployment may run a scheduler: each pass claims due
 * connector documents with Store.claimDocuments, which moves their due time to the end of a
 * lease in the same step, so a run happens on one node only. A node that dies mid-run leaves
 * the connector due again when the lease ends, and the next run resumes from the checkpoint.
 */
import { CairnError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { microsToTaxii, nowMicros } from '../stix/timestamp.ts';
import { StoreConflictError, type DocumentRecord, type Store } from '../store/store.ts';
import { CONNECTOR_DOCUMENT, type Connector } from './definition.ts';
import { runConnector, type RunnerDeps, type RunResult } from './runner.ts';
import { hasPlaintextSecrets, sealSecrets } from './secrets.ts';
import { connectorOf } from './service.ts';
import { loadState } from './state.ts';

export interface SchedulerOptions {
  /** Milliseconds between two claim passes. */
  pollMs: number;
  /** Maximum run time in milliseconds: the claim lasts this long and the run is stopped after it. */
  leaseMs: number;
  /** Runs at once on this node. */
  concurrency: number;
}

export const SCHEDULER_DEFAULTS: SchedulerOptions = {
  pollMs: 5000,
  leaseMs: 60 * 60 * 1000,
  concurrency: 2,
};

/** Attempts to write the next due time when the definition changes under the scheduler. */
const RESCHEDULE_ATTEMPTS = 5;

export class ConnectorScheduler {
  private readonly options: SchedulerOptions;
  private readonly running = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private passing: Promise<number> | undefined;
  /** Connectors whose plaintext secrets were reported, so each is logged once. */
  private readonly plaintextReported = new Set<string>();

  constructor(
    private readonly deps: RunnerDeps,
    options: Partial<SchedulerOptions> = {},
  ) {
    this.options = { ...SCHEDULER_DEFAULTS, ...options };
  }

  get store(): Store {
    return this.deps.store;
  }

  get logger(): Logger {
    return this.deps.logger;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.pass(), this.options.pollMs);
    this.timer.unref();
    void this.pass();
  }

  /** Claims the due connectors this node has room for and starts their runs; returns how many. */
  pass(): Promise<number> {
    this.passing ??= this.claimAndStart().finally(() => {
      this.passing = undefined;
    });
    return this.passing;
  }

  /** Waits until no run is in progress on this node. */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.passing) {
      await Promise.allSettled([...this.running.values(), this.passing]);
    }
  }

  /** Stops claiming, aborts the runs in progress and waits for them to save their state. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.stopping.abort(new Error('the server is stopping'));
    await this.idle();
  }

  /**
   * Runs one connector now, whether due or not, as `cairn connector run` does. Takes the
   * same lease a scheduler pass takes, so a scheduler on a server never runs it at the same
   * time; throws 409 when a run holds it already.
   */
  async runNow(connectorId: string): Promise<RunResult> {
    const now = nowMicros();
    const document = await this.store.getDocument(CONNECTOR_DOCUMENT, connectorId);
    if (document === undefined) {
      throw new CairnError('not-found', `connector ${connectorId} not found`);
    }
    if (document.due !== undefined && document.due > now) {
      const { state } = await loadState(this.store, connectorId);
      if (state.current !== undefined) {
        throw new CairnError(
          'conflict',
          `connector ${connectorId} is running elsewhere until ${microsToTaxii(document.due)} at the latest: wait for that run to end`,
        );
      }
    }
    const { revision, updatedAt: _updated, due: _due, ...rest } = document;
    try {
      await this.store.putDocument({ ...rest, due: now + this.options.leaseMs * 1000 }, revision);
    } catch (error) {
      if (error instanceof StoreConflictError) {
        throw new CairnError(
          'conflict',
          `connector ${connectorId} was just claimed by a scheduler`,
        );
      }
      throw error;
    }
    const connector = connectorOf(document);
    const signal = AbortSignal.any([
      this.stopping.signal,
      AbortSignal.timeout(Math.max(1000, this.options.leaseMs - 5000)),
    ]);
    try {
      return await runConnector(this.deps, connector, signal);
    } finally {
      await this.reschedule(connector.id, undefined);
    }
  }

  private async claimAndStart(): Promise<number> {
    if (this.stopping.signal.aborted) return 0;
    const room = this.options.concurrency - this.running.size;
    if (room <= 0) return 0;
    const now = nowMicros();
    let claimed: DocumentRecord[];
    try {
      claimed = await this.store.claimDocuments(
        CONNECTOR_DOCUMENT,
        now,
        now + this.options.leaseMs * 1000,
        room,
      );
    } catch (error) {
      this.logger.error({ err: error }, 'claiming due connectors failed');
      return 0;
    }
    for (const document of claimed) {
      const run = this.runClaimed(document).finally(() => this.running.delete(document.id));
      this.running.set(document.id, run);
    }
    return claimed.length;
  }

  private async runClaimed(document: DocumentRecord): Promise<void> {
    const connector = connectorOf(document);
    if (!connector.enabled) {
      await this.reschedule(connector.id, undefined);
      return;
    }
    const signal = AbortSignal.any([
      this.stopping.signal,
      AbortSignal.timeout(Math.max(1000, this.options.leaseMs - 5000)),
    ]);
    try {
      await runConnector(this.deps, connector, signal);
    } catch (error) {
      this.logger.error(
        { err: error, connector: connector.id },
        'connector run could not save its state',
      );
    }
    // A run cut short by a stop is picked up again at once, here or on another node.
    const next = this.stopping.signal.aborted ? nowMicros() : undefined;
    await this.reschedule(connector.id, next);
  }

  /**
   * Sets the next due time from the stored definition, which may have changed meanwhile.
   * Secrets stored in plaintext before encryption existed are encrypted in the same write.
   */
  private async reschedule(connectorId: string, dueAt: number | undefined): Promise<void> {
    for (let attempt = 1; attempt <= RESCHEDULE_ATTEMPTS; attempt++) {
      const current = await this.store.getDocument(CONNECTOR_DOCUMENT, connectorId);
      if (current === undefined) return;
      const connector: Connector = connectorOf(current);
      const due = connector.enabled
        ? (dueAt ?? nowMicros() + connector.intervalSeconds * 1_000_000)
        : undefined;
      const { due: _lease, revision, updatedAt: _updated, ...rest } = current;
      const body = this.sealedBody(connector) ?? rest.body;
      try {
        await this.store.putDocument(
          { ...rest, body, ...(due !== undefined ? { due } : {}) },
          revision,
        );
        return;
      } catch (error) {
        if (!(error instanceof StoreConflictError) || /document key/.test(error.message)) {
          this.logger.error(
            { err: error, connector: connectorId },
            'rescheduling a connector failed',
          );
          return;
        }
      }
    }
    this.logger.error({ connector: connectorId }, 'rescheduling a connector kept conflicting');
  }

  /** Returns the body with plaintext secrets encrypted, or undefined when nothing changes. */
  private sealedBody(connector: Connector): string | undefined {
    if (!hasPlaintextSecrets(connector)) return undefined;
    if (this.deps.secrets === undefined) {
      if (!this.plaintextReported.has(connector.id)) {
        this.plaintextReported.add(connector.id);
        this.logger.warn(
          { connector: connector.id },
          'connector secrets are stored unencrypted: set connectors.secretKey so the next save encrypts them',
        );
      }
      return undefined;
    }
    return JSON.stringify(sealSecrets(connector, this.deps.secrets));
  }
}
