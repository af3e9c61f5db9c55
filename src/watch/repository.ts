/**
 * Reading and writing watch lists, alerts, retro-hunt jobs and follower state as store
 * documents (see model.ts for the layout). Writes of lists bump a generation document, so
 * every node notices a change with one small read and reloads only the lists whose
 * revision moved.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  StoreConflictError,
  type DocumentRecord,
  type NewDocument,
  type Store,
} from '../store/store.ts';
import { AlertLog, type AlertChange } from './alert-log.ts';
import {
  ALERT_KIND,
  HUNT_KIND,
  STATE_KIND,
  WATCHLIST_KIND,
  type Alert,
  type HuntJob,
  type WatchList,
} from './model.ts';

const PAGE = 500;
/** Writes of one alert change tried before a conflict is passed to the caller. */
const MAX_ALERT_ATTEMPTS = 10;
const GENERATION_ID = 'generation';

export interface StoredList {
  list: WatchList;
  revision: number;
}

export interface StoredAlert {
  alert: Alert;
  revision: number;
}

export interface StoredJob {
  job: HuntJob;
  revision: number;
  due?: number;
}

/** Returns the de-duplication key of the alert of one entry and one object. */
export function alertKey(entryId: string, objectId: string): string {
  return `${entryId}|${objectId}`;
}

/** A stored alert change with the number of its alert log record. */
export interface AlertWrite {
  alert: Alert;
  change: AlertChange;
  seq: number;
}

function alertDocument(alert: Alert): NewDocument {
  return {
    kind: ALERT_KIND,
    id: alert.id,
    owner: alert.watchlistId,
    key: alertKey(alert.entryId, alert.objectId),
    body: JSON.stringify(alert),
  };
}

function parse<T>(document: DocumentRecord): T {
  return JSON.parse(document.body) as T;
}

export class WatchRepository {
  /** Every alert change of each list, in order, for delivery (see alert-log.ts). */
  readonly alertLog: AlertLog;

  constructor(readonly store: Store) {
    this.alertLog = new AlertLog(store);
  }

  /** Visits every document of a kind (and owner), page by page, in id order. */
  async *documents(kind: string, owner?: string): AsyncGenerator<DocumentRecord> {
    let afterId: string | undefined;
    for (;;) {
      const page = await this.store.listDocuments({
        kind,
        limit: PAGE,
        ...(owner === undefined ? {} : { owner }),
        ...(afterId === undefined ? {} : { afterId }),
      });
      yield* page;
      if (page.length < PAGE) return;
      afterId = page.at(-1)!.id;
    }
  }

  // Watch lists.

  async getList(id: string): Promise<StoredList | undefined> {
    const document = await this.store.getDocument(WATCHLIST_KIND, id);
    return document && { list: parse<WatchList>(document), revision: document.revision };
  }

  /** Lists of one organisation: its own and those of its users, private ones included. */
  async *organisationLists(organisationId: string): AsyncGenerator<StoredList> {
    for await (const document of this.documents(WATCHLIST_KIND, organisationId)) {
      yield { list: parse<WatchList>(document), revision: document.revision };
    }
  }

  async *allLists(): AsyncGenerator<StoredList> {
    for await (const document of this.documents(WATCHLIST_KIND)) {
      yield { list: parse<WatchList>(document), revision: document.revision };
    }
  }

  /**
   * Writes a list. `expectRevision` 0 creates it; another number replaces that revision and
   * throws StoreConflictError when someone changed the list meanwhile.
   */
  async putList(list: WatchList, expectRevision: number): Promise<StoredList> {
    const document = await this.store.putDocument(
      { kind: WATCHLIST_KIND, id: list.id, owner: list.organisationId, body: JSON.stringify(list) },
      expectRevision,
    );
    await this.bumpGeneration();
    return { list, revision: document.revision };
  }

  /** Deletes a list with its alerts, alert log and retro-hunt jobs. */
  async deleteList(id: string): Promise<boolean> {
    const deleted = await this.store.deleteDocument(WATCHLIST_KIND, id);
    if (!deleted) return false;
    await this.bumpGeneration();
    for (const kind of [ALERT_KIND, HUNT_KIND]) {
      // Collect ids first: deleting while paging by id would skip nothing, but reads simpler.
      const ids: string[] = [];
      for await (const document of this.documents(kind, id)) ids.push(document.id);
      for (const documentId of ids) await this.store.deleteDocument(kind, documentId);
    }
    await this.alertLog.remove(id);
    return true;
  }

  /** Returns the generation of the set of lists, which changes whenever a list is written. */
  async generation(): Promise<number> {
    const document = await this.store.getDocument(STATE_KIND, GENERATION_ID);
    return document?.revision ?? 0;
  }

  private async bumpGeneration(): Promise<void> {
    await this.store.putDocument({ kind: STATE_KIND, id: GENERATION_ID, body: '{}' });
  }

  // Alerts.

  async getAlert(id: string): Promise<StoredAlert | undefined> {
    const document = await this.store.getDocument(ALERT_KIND, id);
    return document && { alert: parse<Alert>(document), revision: document.revision };
  }

  async getAlertByKey(entryId: string, objectId: string): Promise<StoredAlert | undefined> {
    const document = await this.store.getDocumentByKey(ALERT_KIND, alertKey(entryId, objectId));
    return document && { alert: parse<Alert>(document), revision: document.revision };
  }

  /** Writes an alert; `expectRevision` 0 creates it (see putList). */
  async putAlert(alert: Alert, expectRevision: number): Promise<StoredAlert> {
    const document = await this.store.putDocument(alertDocument(alert), expectRevision);
    return { alert, revision: document.revision };
  }

  async *listAlerts(watchlistId: string): AsyncGenerator<Alert> {
    for await (const document of this.documents(ALERT_KIND, watchlistId)) {
      yield parse<Alert>(document);
    }
  }

  /**
   * Creates the alert of an entry and object, or changes the stored one with `change`, and
   * appends the change to the list's alert log in the same transaction (see
   * AlertLog.append). Retries when another writer got there first. `create` returns
   * undefined to create no alert and `change` to leave a stored alert as it is. Then nothing
   * is written and undefined is returned.
   */
  async upsertAlert(
    create: () => Alert | undefined,
    change: (current: Alert) => Alert | undefined,
    entryId: string,
    objectId: string,
  ): Promise<AlertWrite | undefined> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.getAlertByKey(entryId, objectId);
      const next = current ? change(current.alert) : create();
      if (!next) return undefined;
      const kind: AlertChange = current ? 'updated' : 'created';
      try {
        const seq = await this.alertLog.append(next, kind, {
          document: alertDocument(next),
          expectRevision: current?.revision ?? 0,
        });
        return { alert: next, change: kind, seq };
      } catch (error) {
        if (!(error instanceof StoreConflictError) || attempt >= MAX_ALERT_ATTEMPTS - 1) {
          throw error;
        }
        // A random pause, longer after each conflict, so writers that collided do not
        // collide again in step.
        await sleep(Math.random() * 2 * (attempt + 1));
      }
    }
  }

  // Retro-hunt jobs.

  async getJob(id: string): Promise<StoredJob | undefined> {
    const document = await this.store.getDocument(HUNT_KIND, id);
    return document && this.storedJob(document);
  }

  private storedJob(document: DocumentRecord): StoredJob {
    return {
      job: parse<HuntJob>(document),
      revision: document.revision,
      ...(document.due === undefined ? {} : { due: document.due }),
    };
  }

  async *listJobs(watchlistId: string): AsyncGenerator<HuntJob> {
    for await (const document of this.documents(HUNT_KIND, watchlistId)) {
      yield parse<HuntJob>(document);
    }
  }

  /** Writes a job; `due` makes it claimable at that time, undefined takes it off the queue. */
  async putJob(job: HuntJob, expectRevision: number, due: number | undefined): Promise<StoredJob> {
    const document: NewDocument = {
      kind: HUNT_KIND,
      id: job.id,
      owner: job.watchlistId,
      body: JSON.stringify(job),
      ...(due === undefined ? {} : { due }),
    };
    const stored = await this.store.putDocument(document, expectRevision);
    return this.storedJob(stored);
  }

  async claimJobs(now: number, leaseUntil: number, limit: number): Promise<StoredJob[]> {
    const claimed = await this.store.claimDocuments(HUNT_KIND, now, leaseUntil, limit);
    return claimed.map((document) => this.storedJob(document));
  }

  // Follower state.

  async getState<T>(id: string): Promise<{ value: T; revision: number; due?: number } | undefined> {
    const document = await this.store.getDocument(STATE_KIND, id);
    if (!document) return undefined;
    return {
      value: parse<T>(document),
      revision: document.revision,
      ...(document.due === undefined ? {} : { due: document.due }),
    };
  }

  async putState<T>(
    id: string,
    value: T,
    expectRevision: number | undefined,
    due?: number,
  ): Promise<number> {
    const document = await this.store.putDocument(
      {
        kind: STATE_KIND,
        id,
        body: JSON.stringify(value),
        ...(due === undefined ? {} : { due }),
      },
      expectRevision,
    );
    return document.revision;
  }

  async claimState(now: number, leaseUntil: number): Promise<DocumentRecord[]> {
    return this.store.claimDocuments(STATE_KIND, now, leaseUntil, 10);
  }
}

export function newId(): string {
  return randomUUID();
}
