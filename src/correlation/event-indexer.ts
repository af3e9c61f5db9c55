/**
 * Keeps the correlation index current for every write, not only connector runs: it follows
 * the event log and indexes each created, updated or revoked version under the source that
 * contributed it (`org:<id>`, or `operator` for CLI imports). A deleted object leaves the
 * index of its collection once no version of it remains there.
 *
 * One node at a time does the work: each pass claims the cursor document with
 * claimDocuments, reads a page of events after the stored cursor, indexes it and stores the
 * new cursor, so the index is built once and linear in the events. Objects a connector
 * stored are already indexed under the connector and are not counted again under the
 * connector owner's organisation.
 */
import { eventObject } from '../events/feed.ts';
import type { BackgroundPacer } from '../events/pacing.ts';
import { claimLease, releaseLease, type LeaseDocument } from '../events/lease-document.ts';
import { PassLoop } from '../events/pass-loop.ts';
import type { Logger } from '../log/logger.ts';
import type { EventRecord, ObservableRef, Store } from '../store/store.ts';
import { OPERATOR_SOURCE, VALUE_CAP, observableRefs, organisationSource } from './indexer.ts';
import { mayHaveObservables } from './observables.ts';

export const CURSOR_DOCUMENT = 'correlation-cursor';
/** The indexer's name among the readers that the pacer keeps in a convoy. */
const PACED_READER = 'correlation';
const CURSOR_ID = 'events';

export interface EventIndexerOptions {
  /** Milliseconds between passes when the log had nothing new. */
  pollMs: number;
  /** Events read per pass. */
  pageSize: number;
  /**
   * Events read per pass after a full page, while the indexer is behind. Fewer, larger
   * transactions write each index page fewer times per reference.
   */
  catchUpPageSize: number;
  /** Lease of one pass, in milliseconds. */
  leaseMs: number;
}

export const EVENT_INDEXER_DEFAULTS: EventIndexerOptions = {
  pollMs: 2000,
  pageSize: 1000,
  catchUpPageSize: 5000,
  leaseMs: 60_000,
};

function sourceOf(event: EventRecord): string {
  const organisation = event.sharing.contributorOrganisationId;
  return organisation === undefined ? OPERATOR_SOURCE : organisationSource(organisation);
}

/** Whether a connector already indexed the object in the collection. */
function connectorRefKey(ref: Pick<ObservableRef, 'collectionId' | 'objectId'>): string {
  return `${ref.collectionId}|${ref.objectId}`;
}

export class EventIndexer {
  private readonly options: EventIndexerOptions;
  private readonly loop: PassLoop;
  private readonly lease: LeaseDocument;
  /** Whether the last pass read a full page, so the log has more. */
  private behind = false;

  /**
   * With a `pacer`, each pass first waits while the process is busy writing, until its
   * oldest unread event is as old as the pacer allows (see src/events/pacing.ts).
   */
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    options: Partial<EventIndexerOptions> = {},
    private readonly pacer?: Pick<BackgroundPacer, 'turn' | 'convoy' | 'report'>,
  ) {
    this.options = { ...EVENT_INDEXER_DEFAULTS, ...options };
    this.lease = {
      kind: CURSOR_DOCUMENT,
      id: CURSOR_ID,
      initialBody: '{"afterSeq":0}',
      leaseMs: this.options.leaseMs,
    };
    this.loop = new PassLoop(
      () => this.indexPage(),
      this.options.pollMs,
      (error) => this.logger.error({ err: error }, 'correlation indexing failed'),
    );
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Indexes one page of events if this node wins the cursor; returns how many it read. */
  pass(): Promise<number> {
    return this.loop.run();
  }

  private async indexPage(): Promise<number> {
    const cursor = await this.store.getDocument(CURSOR_DOCUMENT, CURSOR_ID);
    if (cursor !== undefined) {
      // Without a new event there is nothing to claim. The pacer waits before the claim, so
      // the lease runs only while the page is indexed.
      const { afterSeq } = JSON.parse(cursor.body) as { afterSeq: number };
      await this.pacer?.convoy({ name: PACED_READER, afterSeq });
      const [next] = await this.store.readEvents({ afterSeq, limit: 1 });
      if (next === undefined) return 0;
      await this.pacer?.turn(next.at);
    }
    const claimed = await claimLease(this.store, this.lease, cursor !== undefined);
    if (claimed === undefined) return 0;
    const { afterSeq } = JSON.parse(claimed.body) as { afterSeq: number };
    this.pacer?.report(PACED_READER, afterSeq);
    const limit = this.behind ? this.options.catchUpPageSize : this.options.pageSize;
    const events = await this.store.readEvents({ afterSeq, limit });
    this.behind = events.length === limit;
    await this.indexEvents(events);
    const last = events[events.length - 1]?.seq ?? afterSeq;
    const released = await releaseLease(
      this.store,
      this.lease,
      claimed,
      JSON.stringify({ afterSeq: last }),
    );
    if (!released) {
      // References are idempotent, so the node that holds the lease now only repeats work.
      this.logger.warn({ afterSeq: last }, 'correlation lease ran out before the cursor write');
      return 0;
    }
    if (events.length > 0)
      this.logger.debug({ events: events.length, afterSeq: last }, 'correlation indexed');
    return events.length;
  }

  private async indexEvents(events: EventRecord[]): Promise<void> {
    // The type decides whether a version can name values, so most others are never parsed.
    const found: Array<{ event: EventRecord; refs: ObservableRef[] }> = [];
    for (const event of events) {
      if (event.kind === 'deleted' || event.json === undefined) continue;
      if (!mayHaveObservables(event.objectType)) continue;
      const refs = observableRefs(event.collectionId, sourceOf(event), [eventObject(event)]);
      if (refs.length > 0) found.push({ event, refs });
    }
    if (found.length > 0) {
      const existing = await this.store.objectRefs([
        ...new Set(found.map(({ event }) => event.objectId)),
      ]);
      const byConnector = new Set(
        existing.filter((ref) => ref.source.startsWith('connector:')).map(connectorRefKey),
      );
      const refs = found
        .filter(({ event }) => !byConnector.has(connectorRefKey(event)))
        .flatMap((item) => item.refs);
      if (refs.length > 0) await this.store.addObservableRefs(refs, VALUE_CAP);
    }

    for (const event of events) {
      if (event.kind !== 'deleted') continue;
      if (!(await this.store.hasObject(event.collectionId, event.objectId))) {
        await this.store.removeObjectRefs(event.collectionId, event.objectId);
      }
    }
  }
}
