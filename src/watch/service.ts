/**
 * The watch list services that the JSON API and the CLI call. Each method takes the acting
 * user, checks the rules below, audits every change, and throws CairnError:
 *
 * - a list shared with its organisation (every organisation-owned list is) is visible to
 *   the users of the organisation, and a private list only to its owner. A list the caller
 *   may not see is 404, as if it did not exist;
 * - a user-owned list is changed by its owner, an organisation-owned list by the
 *   organisation's org admins and analysts; read-only users change no list and acknowledge
 *   no alert, and every change needs a token with the `write` scope.
 */
import { CairnError } from '../errors.ts';
import {
  conflictsAs409,
  forbidden,
  Guard,
  invalid,
  notFound,
  type Acting,
} from '../sharing/guard.ts';
import type { Actor } from '../sharing/service.ts';
import { nowMicros } from '../stix/timestamp.ts';
import type { Store } from '../store/store.ts';
import { decodePosition, encodePosition, queryAlerts } from './alerts.ts';
import { buildEntry, entryIdentity, type EntryInput } from './entries.ts';
import { queueHunt } from './hunt.ts';
import {
  MAX_ENTRIES_PER_LIST,
  MAX_LISTS_PER_ORGANISATION,
  type Alert,
  type AlertState,
  type HuntJob,
  type OwnerType,
  type Visibility,
  type WatchEntry,
  type WatchList,
} from './model.ts';
import { newId, WatchRepository, type StoredList } from './repository.ts';

/** Maximum length of a list name and of a description, in characters. */
export const MAX_LIST_NAME = 200;
export const MAX_LIST_DESCRIPTION = 10_000;
/** Most entries added, or removed, in one call. */
export const MAX_ENTRIES_PER_CALL = 10_000;
/** Most alerts acknowledged in one call. */
export const MAX_ACKNOWLEDGE = 1_000;

export interface NewWatchList {
  name: string;
  description?: string;
  /** The owner of the list; defaults to the acting user. */
  owner?: OwnerType;
  /** Defaults to `private` for user-owned lists; organisation-owned lists are always shared. */
  visibility?: Visibility;
  enabled?: boolean;
  /** EntryInput objects, or any values a request holds: each is checked alone. */
  entries?: ReadonlyArray<EntryInput | unknown>;
}

export interface WatchListChange {
  name?: string;
  description?: string;
  visibility?: Visibility;
  enabled?: boolean;
}

export interface RejectedEntry {
  /** Position of the entry in the request. */
  index: number;
  reason: string;
}

export interface EntriesResult {
  added: WatchEntry[];
  /** Entries that watch what the list already watches; they were skipped. */
  duplicates: number;
  rejected: RejectedEntry[];
}

/** A list without its entries, for listings. */
export type WatchListSummary = Omit<WatchList, 'entries'> & {
  entryCount: number;
  revision: number;
};

export interface AlertListing {
  alerts: Alert[];
  /** Page token of the next page, when there is one. */
  next?: string;
}

/** Told about each list change, so the node that made it applies it at once. */
export interface ListChangeListener {
  listChanged(list: WatchList, revision: number): void;
  listDeleted(id: string): void;
}

export function summarise({ list, revision }: StoredList): WatchListSummary {
  const { entries, ...rest } = list;
  return { ...rest, entryCount: entries.length, revision };
}

export class WatchService {
  readonly repository: WatchRepository;
  private readonly guard: Guard;

  constructor(
    readonly store: Store,
    private readonly listener?: ListChangeListener,
  ) {
    this.repository = new WatchRepository(store);
    this.guard = new Guard(store);
  }

  private canSee(acting: Acting, list: WatchList): boolean {
    if (acting.user.organisationId !== list.organisationId) return false;
    return list.visibility === 'organisation' || list.ownerUserId === acting.user.id;
  }

  private requireChange(acting: Acting, list: WatchList): void {
    if (acting.user.role === 'read-only') {
      throw forbidden('read-only users may not change watch lists');
    }
    if (list.ownerType === 'user' && list.ownerUserId !== acting.user.id) {
      throw forbidden(`watch list ${list.id} belongs to another user; only its owner changes it`);
    }
  }

  /** Loads a list the caller may see, or fails with 404. */
  private async visibleList(acting: Acting, id: string): Promise<StoredList> {
    const stored = await this.repository.getList(id);
    if (!stored || !this.canSee(acting, stored.list)) {
      throw notFound(
        `watch list ${id} not found: \`cairn watch list\` or GET /api/v1/watchlists shows yours`,
      );
    }
    return stored;
  }

  private async save(acting: Acting, list: WatchList, expectRevision: number, hunt: boolean) {
    const stored = await conflictsAs409(this.repository.putList(list, expectRevision));
    this.listener?.listChanged(stored.list, stored.revision);
    if (hunt && list.enabled) await queueHunt(this.repository, list, stored.revision);
    return stored;
  }

  async createList(
    actor: Actor,
    input: NewWatchList,
  ): Promise<{ list: WatchListSummary; entries: EntriesResult }> {
    const acting = await this.guard.resolve(actor, 'write');
    if (acting.user.role === 'read-only')
      throw forbidden('read-only users may not create watch lists');
    const owner = input.owner ?? 'user';
    if (owner === 'organisation' && input.visibility === 'private') {
      throw invalid(
        'a list the organisation owns is shared with it: leave out visibility or set "organisation"',
      );
    }
    const name = checkName(input.name);
    const description = checkDescription(input.description);
    let count = 0;
    for await (const _ of this.repository.organisationLists(acting.user.organisationId)) count++;
    if (count >= MAX_LISTS_PER_ORGANISATION) {
      throw new CairnError(
        'conflict',
        `the organisation has ${count} watch lists, the maximum: remove unused ones first`,
      );
    }

    const now = nowMicros();
    const entries = this.buildEntries([], input.entries ?? [], now);
    const list: WatchList = {
      id: newId(),
      name,
      ...(description ? { description } : {}),
      ownerType: owner,
      ...(owner === 'user' ? { ownerUserId: acting.user.id } : {}),
      organisationId: acting.user.organisationId,
      visibility: owner === 'organisation' ? 'organisation' : (input.visibility ?? 'private'),
      enabled: input.enabled ?? true,
      entries: entries.added,
      createdBy: acting.user.id,
      createdAt: now,
      updatedAt: now,
    };
    const stored = await this.save(acting, list, 0, true);
    await this.guard.audit(acting, 'watchlist.create', list.id, {
      name,
      owner,
      entries: entries.added.length,
    });
    return { list: summarise(stored), entries };
  }

  async listLists(actor: Actor): Promise<WatchListSummary[]> {
    const acting = await this.guard.resolve(actor, 'read');
    const lists: WatchListSummary[] = [];
    for await (const stored of this.repository.organisationLists(acting.user.organisationId)) {
      if (this.canSee(acting, stored.list)) lists.push(summarise(stored));
    }
    return lists.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  async getList(actor: Actor, id: string): Promise<StoredList> {
    const acting = await this.guard.resolve(actor, 'read');
    return this.visibleList(acting, id);
  }

  /** Loads a list the caller may change, for work on its behalf such as alert webhooks. */
  async getChangeableList(actor: Actor, id: string): Promise<StoredList> {
    const acting = await this.guard.resolve(actor, 'write');
    const stored = await this.visibleList(acting, id);
    this.requireChange(acting, stored.list);
    return stored;
  }

  async updateList(actor: Actor, id: string, change: WatchListChange): Promise<WatchListSummary> {
    const acting = await this.guard.resolve(actor, 'write');
    const stored = await this.visibleList(acting, id);
    this.requireChange(acting, stored.list);
    const list = { ...stored.list };
    if (change.name !== undefined) list.name = checkName(change.name);
    if (change.description !== undefined) list.description = checkDescription(change.description);
    if (change.visibility !== undefined) {
      if (list.ownerType === 'organisation' && change.visibility === 'private') {
        throw invalid('a list the organisation owns stays shared with it');
      }
      list.visibility = change.visibility;
    }
    if (change.enabled !== undefined) list.enabled = change.enabled;
    list.updatedAt = nowMicros();
    // Enabling a list, or widening or narrowing who sees it, changes what it may match.
    const rehunt =
      (change.enabled === true && !stored.list.enabled) ||
      (change.visibility !== undefined && change.visibility !== stored.list.visibility);
    const saved = await this.save(acting, list, stored.revision, rehunt);
    await this.guard.audit(acting, 'watchlist.update', id, { ...change });
    return summarise(saved);
  }

  async deleteList(actor: Actor, id: string): Promise<void> {
    const acting = await this.guard.resolve(actor, 'write');
    const stored = await this.visibleList(acting, id);
    this.requireChange(acting, stored.list);
    await this.repository.deleteList(id);
    this.listener?.listDeleted(id);
    await this.guard.audit(acting, 'watchlist.delete', id, { name: stored.list.name });
  }

  private buildEntries(
    existing: readonly WatchEntry[],
    inputs: ReadonlyArray<EntryInput | unknown>,
    now: number,
  ): EntriesResult {
    if (inputs.length > MAX_ENTRIES_PER_CALL) {
      throw invalid(
        `${inputs.length} entries in one request; send at most ${MAX_ENTRIES_PER_CALL} at a time`,
      );
    }
    const seen = new Set(existing.map(entryIdentity));
    const result: EntriesResult = { added: [], duplicates: 0, rejected: [] };
    inputs.forEach((input, index) => {
      const built = buildEntry(input, now);
      if (!built.ok) {
        result.rejected.push({ index, reason: built.reason });
        return;
      }
      const identity = entryIdentity(built.entry);
      if (seen.has(identity)) {
        result.duplicates++;
        return;
      }
      seen.add(identity);
      result.added.push(built.entry);
    });
    const total = existing.length + result.added.length;
    if (total > MAX_ENTRIES_PER_LIST) {
      throw invalid(
        `the list would hold ${total} entries, more than the ${MAX_ENTRIES_PER_LIST} allowed: split them over several lists`,
      );
    }
    return result;
  }

  async addEntries(
    actor: Actor,
    id: string,
    inputs: ReadonlyArray<EntryInput | unknown>,
  ): Promise<EntriesResult> {
    const acting = await this.guard.resolve(actor, 'write');
    const stored = await this.visibleList(acting, id);
    this.requireChange(acting, stored.list);
    const now = nowMicros();
    const result = this.buildEntries(stored.list.entries, inputs, now);
    if (result.added.length > 0) {
      const list = {
        ...stored.list,
        entries: [...stored.list.entries, ...result.added],
        updatedAt: now,
      };
      await this.save(acting, list, stored.revision, true);
      await this.guard.audit(acting, 'watchlist.entries.add', id, {
        added: result.added.length,
        duplicates: result.duplicates,
        rejected: result.rejected.length,
      });
    }
    return result;
  }

  async removeEntries(actor: Actor, id: string, entryIds: string[]): Promise<number> {
    const acting = await this.guard.resolve(actor, 'write');
    const stored = await this.visibleList(acting, id);
    this.requireChange(acting, stored.list);
    if (entryIds.length > MAX_ENTRIES_PER_CALL) {
      throw invalid(
        `${entryIds.length} entry ids in one request; send at most ${MAX_ENTRIES_PER_CALL}`,
      );
    }
    const removing = new Set(entryIds);
    const entries = stored.list.entries.filter((entry) => !removing.has(entry.id));
    const removed = stored.list.entries.length - entries.length;
    if (removed === 0) {
      throw notFound(
        `none of the entry ids is in watch list ${id}: \`cairn watch entries ${id}\` lists them`,
      );
    }
    await this.save(
      acting,
      { ...stored.list, entries, updatedAt: nowMicros() },
      stored.revision,
      false,
    );
    await this.guard.audit(acting, 'watchlist.entries.remove', id, { removed });
    return removed;
  }

  /** Lists the alerts of the lists the caller sees, most urgent first. */
  async listAlerts(
    actor: Actor,
    query: {
      watchlistId?: string;
      state?: AlertState;
      since?: number;
      limit?: number;
      cursor?: string;
    },
  ): Promise<AlertListing> {
    const acting = await this.guard.resolve(actor, 'read');
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
    let ids: string[];
    if (query.watchlistId !== undefined) {
      ids = [(await this.visibleList(acting, query.watchlistId)).list.id];
    } else {
      ids = [];
      for await (const stored of this.repository.organisationLists(acting.user.organisationId)) {
        if (this.canSee(acting, stored.list)) ids.push(stored.list.id);
      }
    }
    let after;
    if (query.cursor !== undefined) {
      after = decodePosition(query.cursor);
      if (!after)
        throw invalid(
          `cursor ${JSON.stringify(query.cursor.slice(0, 80))} is not a page token of this listing`,
        );
    }
    const page = await queryAlerts(this.repository, {
      watchlistIds: ids,
      limit,
      ...(query.state ? { state: query.state } : {}),
      ...(query.since !== undefined ? { since: query.since } : {}),
      ...(after ? { after } : {}),
    });
    const last = page.alerts.at(-1);
    return { alerts: page.alerts, ...(page.more && last ? { next: encodePosition(last) } : {}) };
  }

  private async visibleAlert(acting: Acting, id: string) {
    const stored = await this.repository.getAlert(id);
    const list = stored && (await this.repository.getList(stored.alert.watchlistId));
    if (!stored || !list || !this.canSee(acting, list.list)) {
      throw notFound(`alert ${id} not found`);
    }
    return stored;
  }

  async getAlert(actor: Actor, id: string): Promise<Alert> {
    const acting = await this.guard.resolve(actor, 'read');
    return (await this.visibleAlert(acting, id)).alert;
  }

  /** Acknowledges alerts; returns the ones changed. Acknowledging twice changes nothing. */
  async acknowledge(actor: Actor, ids: string[]): Promise<Alert[]> {
    const acting = await this.guard.resolve(actor, 'write');
    if (acting.user.role === 'read-only')
      throw forbidden('read-only users may not acknowledge alerts');
    if (ids.length === 0 || ids.length > MAX_ACKNOWLEDGE) {
      throw invalid(`give 1 to ${MAX_ACKNOWLEDGE} alert ids to acknowledge (got ${ids.length})`);
    }
    const changed: Alert[] = [];
    for (const id of new Set(ids)) {
      const stored = await this.visibleAlert(acting, id);
      if (stored.alert.state === 'acknowledged') continue;
      const alert: Alert = {
        ...stored.alert,
        state: 'acknowledged',
        acknowledgedBy: acting.user.id,
        acknowledgedAt: nowMicros(),
      };
      await conflictsAs409(this.repository.putAlert(alert, stored.revision));
      changed.push(alert);
    }
    if (changed.length > 0) {
      await this.guard.audit(acting, 'alert.acknowledge', undefined, {
        alerts: changed.map((alert) => alert.id),
      });
    }
    return changed;
  }

  /** Retro-hunt jobs of a list, newest first. */
  async listJobs(actor: Actor, watchlistId: string): Promise<HuntJob[]> {
    const acting = await this.guard.resolve(actor, 'read');
    await this.visibleList(acting, watchlistId);
    const jobs: HuntJob[] = [];
    for await (const job of this.repository.listJobs(watchlistId)) jobs.push(job);
    return jobs.sort((a, b) => b.createdAt - a.createdAt);
  }

  async getJob(actor: Actor, watchlistId: string, jobId: string): Promise<HuntJob> {
    const acting = await this.guard.resolve(actor, 'read');
    await this.visibleList(acting, watchlistId);
    const stored = await this.repository.getJob(jobId);
    if (!stored || stored.job.watchlistId !== watchlistId) {
      throw notFound(`retro-hunt job ${jobId} not found in watch list ${watchlistId}`);
    }
    return stored.job;
  }

  /** Queues a new retro-hunt of a list over the stored data. */
  async startHunt(actor: Actor, watchlistId: string): Promise<HuntJob> {
    const acting = await this.guard.resolve(actor, 'write');
    const stored = await this.visibleList(acting, watchlistId);
    this.requireChange(acting, stored.list);
    if (!stored.list.enabled)
      throw forbidden(`watch list ${watchlistId} is disabled: enable it first`);
    const job = await queueHunt(this.repository, stored.list, stored.revision);
    await this.guard.audit(acting, 'watchlist.hunt', watchlistId, { jobId: job.id });
    return job;
  }

  /** Loads and checks the acting user, for the bulk look-up. */
  async resolve(actor: Actor): Promise<Acting> {
    return this.guard.resolve(actor, 'read');
  }

  /** Checks whether a list is visible to an acting user. */
  visibleTo(acting: Acting, list: WatchList): boolean {
    return this.canSee(acting, list);
  }
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_LIST_NAME) {
    throw invalid(`the watch list name must be 1 to ${MAX_LIST_NAME} characters`);
  }
  return name.trim();
}

function checkDescription(description: unknown): string | undefined {
  if (description === undefined) return undefined;
  if (typeof description !== 'string' || description.length > MAX_LIST_DESCRIPTION) {
    throw invalid(`the description must be text of at most ${MAX_LIST_DESCRIPTION} characters`);
  }
  return description;
}
