/**
 * Runs due connectors. Every node of a deployment may run a scheduler: each pass claims due
 * connector documents with Store.claimDocuments, which moves their due time to the end of a
 * short claim in the same step, so a run happens on one node only. While the run goes on,
 * the node renews the claim, and a run that finds its claim taken or the connector removed
 * stops. A node that dies mid-run leaves the connector due again when its last claim ends,
 * within `claimMs`, and the next run resumes from the checkpoint.
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
  /** Maximum run time in milliseconds: the run is stopped after it. */
  leaseMs: number;
  /**
   * Milliseconds one claim lasts. The running node renews it every third of this, so it is
   * also the longest a connector stays blocked after its node died.
   */
  claimMs: number;
  /** Runs at once on this node. */
  concurrency: number;
}

export const SCHEDULER_DEFAULTS: SchedulerOptions = {
  pollMs: 5000,
  leaseMs: 60 * 60 * 1000,
  claimMs: 60 * 1000,
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

  /**
   * Stops claiming, aborts the runs in progress and waits for them to save their state.
   * `reason` ends the error of each stopped run.
   */
  async stop(reason = 'the server is stopping'): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.stopping.abort(new Error(reason));
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
    const claimedUntil = now + this.claimMicros();
    try {
      await this.store.putDocument({ ...rest, due: claimedUntil }, revision);
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
    const claim = this.holdClaim(connector.id, claimedUntil);
    try {
      return await runConnector(this.deps, connector, claim.signal);
    } finally {
      claim.release();
      if (!claim.lost) await this.reschedule(connector.id, undefined);
    }
  }

  private claimMicros(): number {
    return this.options.claimMs * 1000;
  }

  /**
   * Renews the claim on a connector every third of `claimMs` until released. Returns the
   * signal for its run, which aborts when the server stops or the run passes `leaseMs`. It
   * also aborts when the claim is lost: the connector was removed, or its due time is no
   * longer the one this node wrote, because another node claimed it after a late renewal.
   */
  private holdClaim(
    connectorId: string,
    claimedUntil: number,
  ): { signal: AbortSignal; release: () => void; readonly lost: boolean } {
    const lostClaim = new AbortController();
    let heldUntil = claimedUntil;
    let renewing: Promise<void> = Promise.resolve();
    const renew = async (): Promise<void> => {
      const problem = await this.renewClaim(connectorId, heldUntil).then(
        (due) => {
          if (typeof due === 'number') heldUntil = due;
          return typeof due === 'string' ? due : undefined;
        },
        (error: unknown) => {
          // A store that cannot be reached now may respond at the next renewal.
          this.logger.warn(
            { err: error, connector: connectorId },
            'renewing a connector claim failed',
          );
          return undefined;
        },
      );
      if (problem !== undefined) {
        this.logger.warn(
          { connector: connectorId, problem },
          'connector claim lost; stopping its run',
        );
        lostClaim.abort(new Error(problem));
      }
    };
    const timer = setInterval(
      () => {
        renewing = renewing.then(renew);
      },
      Math.max(1, Math.floor(this.options.claimMs / 3)),
    );
    timer.unref();
    return {
      signal: AbortSignal.any([
        this.stopping.signal,
        lostClaim.signal,
        AbortSignal.timeout(Math.max(1000, this.options.leaseMs - 5000)),
      ]),
      release: () => clearInterval(timer),
      get lost() {
        return lostClaim.signal.aborted;
      },
    };
  }

  /**
   * Moves the connector's due time to a new claim end if it is still `heldUntil`. Returns the
   * new due time, or why the claim is lost.
   */
  private async renewClaim(connectorId: string, heldUntil: number): Promise<number | string> {
    for (let attempt = 1; attempt <= RESCHEDULE_ATTEMPTS; attempt++) {
      const current = await this.store.getDocument(CONNECTOR_DOCUMENT, connectorId);
      if (current === undefined) return 'the connector was removed';
      if (current.due !== heldUntil) return 'another run claimed the connector';
      const { due: _held, revision, updatedAt: _updated, ...rest } = current;
      const due = nowMicros() + this.claimMicros();
      try {
        await this.store.putDocument({ ...rest, due }, revision);
        return due;
      } catch (error) {
        // A change of the definition meanwhile keeps the due time: read it again.
        if (!(error instanceof StoreConflictError)) throw error;
      }
    }
    return heldUntil;
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
        now + this.claimMicros(),
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
    const claim = this.holdClaim(connector.id, document.due ?? nowMicros() + this.claimMicros());
    try {
      await runConnector(this.deps, connector, claim.signal);
    } catch (error) {
      this.logger.error(
        { err: error, connector: connector.id },
        'connector run could not save its state',
      );
    } finally {
      claim.release();
    }
    // The run that took the claim over schedules the connector.
    if (claim.lost) return;
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
