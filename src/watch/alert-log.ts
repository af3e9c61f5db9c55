/**
 * The alert log of each watch list: one record per alert created or updated, numbered
 * 1, 2, 3… within the list without gaps. Alert streams and alert webhooks on every node
 * read it after the last number they handled, so an alert raised on one node reaches
 * readers on all of them, and a reader that missed an announcement loses nothing.
 *
 * A writer takes a number by creating its record: it tries the number after the head and,
 * when another writer created that record first, the next one. So a record is created only
 * after the record before it was committed, and a reader that lists the records after its
 * position in id order never passes one that is committed later.
 *
 * Store layout: records are documents of kind `alert-log`, owner = watch list id,
 * id = `<list id>:<number, 12 digits>`, body = AlertLogRecord. The head document
 * `alert-log-head/<list id>` contains the highest number written, as a starting point for
 * writers and for readers that start at the live end.
 */
import { StoreConflictError, type DocumentWrite, type Store } from '../store/store.ts';
import type { Alert } from './model.ts';

export const ALERT_LOG_KIND = 'alert-log';
export const ALERT_LOG_HEAD_KIND = 'alert-log-head';

export interface AlertLogOptions {
  /** Records kept per list; older ones are deleted as new ones arrive. */
  keep: number;
  /** Appends between two prunes of a list's log. */
  pruneEvery: number;
}

export const ALERT_LOG_DEFAULTS: AlertLogOptions = { keep: 10_000, pruneEvery: 500 };
/** Numbers a writer tries before it gives up on a list that other writers keep filling. */
const MAX_PROBES = 1_000;
const PAGE = 500;

/** `created` for a new alert, `updated` when a newer version of its object matched. */
export type AlertChange = 'created' | 'updated';

/** One record of a list's alert log: the alert as this change left it. */
export interface AlertLogRecord {
  seq: number;
  change: AlertChange;
  alert: Alert;
}

interface Head {
  seq: number;
  /** The revision of the head document, 0 when it does not exist. */
  revision: number;
}

/** Returns the document id of a record; ids of one list sort in number order. */
export function alertLogId(watchlistId: string, seq: number): string {
  return `${watchlistId}:${String(seq).padStart(12, '0')}`;
}

export class AlertLog {
  readonly #options: AlertLogOptions;

  constructor(
    private readonly store: Store,
    options: Partial<AlertLogOptions> = {},
  ) {
    this.#options = { ...ALERT_LOG_DEFAULTS, ...options };
  }

  /**
   * Appends the change of an alert to its list's log and returns the record's number. With
   * `alongside`, normally the write of the alert itself, both are stored in one
   * transaction or neither is, so no alert change goes without its record. A conflict of
   * `alongside` is thrown as StoreConflictError for the caller to read again and retry.
   * Every `pruneEvery` records it deletes those beyond the newest `keep`.
   */
  async append(alert: Alert, change: AlertChange, alongside?: DocumentWrite): Promise<number> {
    const watchlistId = alert.watchlistId;
    // Read fresh, never cached: a number below the head may have been pruned and so be free.
    let head = await this.#readHead(watchlistId);
    let seq = head.seq + 1;
    for (let probes = 1; ; probes++) {
      const record: AlertLogRecord = { seq, change, alert };
      const recordWrite: DocumentWrite = {
        document: {
          kind: ALERT_LOG_KIND,
          id: alertLogId(watchlistId, seq),
          owner: watchlistId,
          body: JSON.stringify(record),
        },
        expectRevision: 0,
      };
      try {
        if (alongside === undefined) {
          await this.store.putDocument(recordWrite.document, 0);
        } else {
          await this.store.putDocuments([alongside, recordWrite]);
        }
        break;
      } catch (error) {
        if (!(error instanceof StoreConflictError)) throw error;
        // Records are never rewritten, so when the number's record exists, the conflict
        // was on it; otherwise it was on `alongside`.
        if (alongside !== undefined) {
          const existing = await this.store.getDocument(ALERT_LOG_KIND, recordWrite.document.id);
          if (existing === undefined) throw error;
        }
        if (probes >= MAX_PROBES) {
          throw new Error(
            `failed to append to the alert log of watch list ${watchlistId}: ` +
              `${MAX_PROBES} numbers after ${head.seq} were taken by other writers`,
            { cause: error },
          );
        }
      }
      // Another writer took the number. On the first miss, jump to the stored head when
      // other writers moved it further meanwhile.
      if (probes === 1) {
        head = await this.#readHead(watchlistId);
        seq = Math.max(seq, head.seq) + 1;
      } else {
        seq += 1;
      }
    }
    await this.#advanceHead(watchlistId, seq, head);
    const { keep, pruneEvery } = this.#options;
    if (seq % pruneEvery === 0) await this.#prune(watchlistId, seq - keep);
    return seq;
  }

  /** Returns up to `limit` records of the list with numbers above `afterSeq`, in order. */
  async read(watchlistId: string, afterSeq: number, limit: number): Promise<AlertLogRecord[]> {
    const documents = await this.store.listDocuments({
      kind: ALERT_LOG_KIND,
      owner: watchlistId,
      limit,
      ...(afterSeq > 0 ? { afterId: alertLogId(watchlistId, afterSeq) } : {}),
    });
    return documents.map((document) => JSON.parse(document.body) as AlertLogRecord);
  }

  /** Returns the highest number written to the list's log, 0 before the first. */
  async head(watchlistId: string): Promise<number> {
    return (await this.#readHead(watchlistId)).seq;
  }

  /** Deletes the log of a list, for a list that is deleted. */
  async remove(watchlistId: string): Promise<void> {
    for (;;) {
      const page = await this.store.listDocuments({
        kind: ALERT_LOG_KIND,
        owner: watchlistId,
        limit: PAGE,
      });
      for (const document of page) await this.store.deleteDocument(ALERT_LOG_KIND, document.id);
      if (page.length < PAGE) break;
    }
    await this.store.deleteDocument(ALERT_LOG_HEAD_KIND, watchlistId);
  }

  async #readHead(watchlistId: string): Promise<Head> {
    const document = await this.store.getDocument(ALERT_LOG_HEAD_KIND, watchlistId);
    if (document === undefined) return { seq: 0, revision: 0 };
    const { seq } = JSON.parse(document.body) as { seq: number };
    return { seq, revision: document.revision };
  }

  /**
   * Moves the head document up to `seq` with revision-checked writes, so it never moves
   * back when writers finish out of order. Leaves it when it is already at `seq` or beyond.
   */
  async #advanceHead(watchlistId: string, seq: number, read: Head): Promise<void> {
    let head = read;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (head.seq >= seq) return;
      try {
        await this.store.putDocument(
          {
            kind: ALERT_LOG_HEAD_KIND,
            id: watchlistId,
            owner: watchlistId,
            body: JSON.stringify({ seq }),
          },
          head.revision,
        );
        return;
      } catch (error) {
        if (!(error instanceof StoreConflictError)) throw error;
        head = await this.#readHead(watchlistId);
      }
    }
    // NOTE: a head left behind only makes the next writer try a few taken numbers first.
  }

  /**
   * Deletes the list's records numbered `upTo` and below, oldest first. Pruning stays
   * `keep` numbers behind the head, far more than other writers append while one
   * writer goes from reading the head to creating its record, so no pruned number is
   * taken again.
   */
  async #prune(watchlistId: string, upTo: number): Promise<void> {
    if (upTo <= 0) return;
    for (;;) {
      const page = await this.store.listDocuments({
        kind: ALERT_LOG_KIND,
        owner: watchlistId,
        limit: PAGE,
      });
      let deleted = 0;
      for (const document of page) {
        const { seq } = JSON.parse(document.body) as AlertLogRecord;
        if (seq > upTo) return;
        await this.store.deleteDocument(ALERT_LOG_KIND, document.id);
        deleted += 1;
      }
      if (deleted < PAGE) return;
    }
  }
}
