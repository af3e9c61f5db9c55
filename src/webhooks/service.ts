/**
 * Webhooks (docs/webhooks.md): registration with the rules of who may manage which, the
 * subscription of webhooks to a watch list's alerts, the signed test ping, the delivery log
 * and dead-letter retries, and the dispatchers and worker that run on every server node.
 *
 * Who may do what:
 * - platform admins manage every webhook;
 * - org admins manage the webhooks of their organisation;
 * - analysts register webhooks and manage those they registered;
 * - read-only users manage none.
 * Deliveries carry only what the registering user may read, checked again before each
 * attempt. A webhook the caller may not manage is reported as not found (404), like one
 * that does not exist. Alert webhooks are subscribed by those who may change the watch
 * list (see WatchService) and delivered while their user may see it (see AlertAudience).
 */
import { randomUUID } from 'node:crypto';

import { tokenAllows } from '../auth/tokens.ts';
import { CairnError } from '../errors.ts';
import { CursorCodec } from '../events/cursor.ts';
import type { EventNotifier } from '../events/notifier.ts';
import type { Logger } from '../log/logger.ts';
import { collectionRights, loadCollectionContext } from '../sharing/access.ts';
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
import type { DocumentRecord, Store } from '../store/store.ts';
import { WatchService } from '../watch/service.ts';
import { AlertDispatcher } from './alert-dispatcher.ts';
import { deleteWebhookDocuments, WebhookDispatcher, type DispatcherOptions } from './dispatcher.ts';
import { parseEndpointUrl } from './endpoint-url.ts';
import { checkFilter } from './filter.ts';
import {
  deliveryKind,
  newDeliveryId,
  WEBHOOK_KIND,
  type AttemptRecord,
  type DeliveryBody,
  type DeliveryState,
  type WebhookBody,
  type WebhookFilter,
} from './records.ts';
import { droppedDeadLetters } from './retention.ts';
import { WebhookSender } from './sender.ts';
import { newWebhookSecret } from './signature.ts';
import {
  attemptRecord,
  deliveryPayload,
  signedHeaders,
  WebhookWorker,
  type WorkerOptions,
} from './worker.ts';

export interface WebhookSettings extends WorkerOptions, DispatcherOptions {
  /** Webhooks one organisation may register at most. */
  maxPerOrganisation: number;
  /** Whether deliveries may go to loopback, private and other non-public addresses. */
  allowPrivateTargets: boolean;
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = {
  concurrencyPerEndpoint: 4,
  timeoutMs: 10_000,
  maxResponseBytes: 4096,
  maxAttempts: 8,
  baseDelayMs: 2_000,
  maxDelayMs: 3_600_000,
  pollMs: 2_000,
  refreshMs: 5_000,
  keepFinished: 100,
  maxDeadLetters: 1000,
  random: Math.random,
  batchSize: 200,
  fallbackMs: 2_000,
  maxPerOrganisation: 250,
  allowPrivateTargets: false,
};

export interface NewWebhook {
  url: string;
  description?: string;
  filter?: unknown;
}

/** A webhook for the alerts of a watch list: it has no filter, the list decides. */
export type NewAlertWebhook = Omit<NewWebhook, 'filter'>;

/** A webhook as the API shows it: everything but the secret. */
export interface WebhookView {
  id: string;
  url: string;
  description: string;
  filter: WebhookFilter;
  organisationId: string;
  createdBy: string;
  createdAt: number;
  /** Set for a webhook of a watch list's alerts. */
  watchlistId?: string;
}

export interface DeliveryView {
  id: string;
  webhookId: string;
  state: DeliveryState;
  kind: DeliveryBody['kind'];
  eventId?: string;
  alertId?: string;
  collectionId?: string;
  objectId?: string;
  objectType?: string;
  createdAt: number;
  attempts: number;
  nextAttemptAt?: number;
  finishedAt?: number;
  lastError?: string;
  history: AttemptRecord[];
}

export interface DeliveryPage {
  deliveries: DeliveryView[];
  /** The id to pass as `after` for the next, older page. */
  next?: string;
  /** Dead letters deleted because the webhook had more than `maxDeadLetters`. */
  droppedDeadLetters: number;
}

/** Recent deliveries shown with one webhook. */
const RECENT_DELIVERIES = 20;
const MAX_DESCRIPTION = 500;
const MAX_PAGE = 100;

export function webhookView(document: DocumentRecord): WebhookView {
  const body = JSON.parse(document.body) as WebhookBody;
  return {
    id: document.id,
    url: body.url,
    description: body.description,
    filter: body.filter,
    organisationId: body.organisationId,
    createdBy: body.createdBy,
    createdAt: body.createdAt,
    ...(body.watchlistId === undefined ? {} : { watchlistId: body.watchlistId }),
  };
}

/** Returns what a delivery carries, for the delivery log: its event or its alert. */
function deliveryContent(body: DeliveryBody) {
  const { event, alert } = body;
  if (event !== undefined) {
    return {
      ...(body.eventId === undefined ? {} : { eventId: body.eventId }),
      collectionId: event.collectionId,
      objectId: event.objectId,
      objectType: event.objectType,
    };
  }
  if (alert !== undefined) {
    return {
      alertId: alert.id,
      collectionId: alert.collectionId,
      objectId: alert.objectId,
      objectType: alert.objectType,
    };
  }
  return {};
}

export function deliveryView(document: DocumentRecord): DeliveryView {
  const body = JSON.parse(document.body) as DeliveryBody;
  return {
    id: document.id,
    webhookId: body.webhookId,
    state: body.state,
    kind: body.kind,
    ...deliveryContent(body),
    createdAt: body.createdAt,
    attempts: body.attempts,
    ...(body.nextAttemptAt === undefined ? {} : { nextAttemptAt: body.nextAttemptAt }),
    ...(body.finishedAt === undefined ? {} : { finishedAt: body.finishedAt }),
    ...(body.lastError === undefined ? {} : { lastError: body.lastError }),
    history: body.history,
  };
}

export class WebhookService {
  readonly #store: Store;
  readonly #guard: Guard;
  readonly #logger: Logger;
  readonly #settings: WebhookSettings;
  readonly #sender: WebhookSender;
  readonly #worker: WebhookWorker;
  readonly #dispatcher: WebhookDispatcher;
  readonly #alertDispatcher: AlertDispatcher;
  readonly #watch: WatchService;
  #cursors: Promise<CursorCodec> | undefined;

  constructor(
    store: Store,
    logger: Logger,
    settings: Partial<WebhookSettings> = {},
    notifier?: EventNotifier,
  ) {
    this.#store = store;
    this.#guard = new Guard(store);
    this.#logger = logger;
    this.#settings = { ...DEFAULT_WEBHOOK_SETTINGS, ...settings };
    this.#sender = new WebhookSender(this.#settings.allowPrivateTargets);
    this.#worker = new WebhookWorker(store, this.#sender, logger, this.#settings);
    this.#dispatcher = new WebhookDispatcher(
      store,
      notifier,
      logger,
      this.#settings,
      () => this.#cursorCodec(),
      this.#worker,
    );
    this.#alertDispatcher = new AlertDispatcher(
      store,
      notifier,
      logger,
      this.#settings,
      this.#worker,
    );
    this.#watch = new WatchService(store);
  }

  /**
   * Starts dispatching events and alerts and sending deliveries, including those left by a
   * restart.
   */
  async start(): Promise<void> {
    await this.#worker.start();
    this.#dispatcher.start();
    this.#alertDispatcher.start();
  }

  /** Stops every loop; attempts in flight are cut off and stay due for the next start. */
  async stop(): Promise<void> {
    await this.#dispatcher.stop();
    await this.#alertDispatcher.stop();
    await this.#worker.stop();
    this.#sender.close();
  }

  /**
   * Dispatches every event and alert recorded so far; tests call it to skip the wait for a
   * wake-up.
   */
  async dispatchNow(): Promise<void> {
    await this.#dispatcher.settle();
    await this.#alertDispatcher.settle();
  }

  /** Deliveries in flight on this node, per webhook id. */
  inFlight(): Map<string, number> {
    return this.#worker.inFlight();
  }

  async create(actor: Actor, input: NewWebhook): Promise<{ webhook: WebhookView; secret: string }> {
    const acting = await this.#guard.resolve(actor, 'write');
    this.#requireRegistrar(acting);
    const url = parseEndpointUrl(input.url, this.#settings.allowPrivateTargets);
    const description = checkDescription(input.description);
    const filter = checkFilter(input.filter);
    await this.#checkFilterVisible(acting, filter);
    const startSeq = (await this.#store.eventBounds()).last;
    return this.#register(acting, { url, description, filter, startSeq });
  }

  /**
   * Subscribes a webhook to the alerts of a watch list: those who may change the list do,
   * with the webhook rules above. The webhook receives the list's new and updated alerts
   * from now on, and no store events. It acts under the caller's token, so revoking that
   * token stops its deliveries.
   */
  async subscribeAlerts(
    actor: Actor,
    watchlistId: string,
    input: NewAlertWebhook,
  ): Promise<{ webhook: WebhookView; secret: string }> {
    const acting = await this.#guard.resolve(actor, 'write');
    this.#requireRegistrar(acting);
    if (acting.token !== undefined && !tokenAllows(acting.token, 'read')) {
      // Deliveries act under this token and read the list's alerts with it.
      throw forbidden(
        `this token's scopes (${acting.token.scopes.join(', ')}) do not include "read", which alert deliveries need: use a token with "read" and "write"`,
      );
    }
    const { list } = await this.#watch.getChangeableList(actor, watchlistId);
    const url = parseEndpointUrl(input.url, this.#settings.allowPrivateTargets);
    const description = checkDescription(input.description);
    const startSeq = await this.#watch.repository.alertLog.head(list.id);
    return this.#register(acting, {
      url,
      description,
      filter: {},
      startSeq,
      watchlistId: list.id,
      ...(actor.tokenId === undefined ? {} : { tokenId: actor.tokenId }),
    });
  }

  /** Returns the alert webhooks of a list visible to the caller that the caller manages. */
  async listForWatchList(actor: Actor, watchlistId: string): Promise<WebhookView[]> {
    await this.#watch.getList(actor, watchlistId);
    const views = await this.list(actor);
    return views.filter((view) => view.watchlistId === watchlistId);
  }

  #requireRegistrar(acting: Acting): void {
    if (acting.user.role === 'read-only') {
      throw forbidden('read-only users may not register webhooks: ask an org admin');
    }
  }

  /** Stores a new webhook for the caller's organisation and returns it with its secret. */
  async #register(
    acting: Acting,
    fields: Pick<WebhookBody, 'filter' | 'startSeq' | 'watchlistId' | 'tokenId'> & {
      url: URL;
      description: string;
    },
  ): Promise<{ webhook: WebhookView; secret: string }> {
    const { url, description, filter } = fields;
    const organisationId = acting.user.organisationId;
    const existing = await this.#store.listDocuments({
      kind: WEBHOOK_KIND,
      owner: organisationId,
      limit: this.#settings.maxPerOrganisation,
    });
    if (existing.length >= this.#settings.maxPerOrganisation) {
      throw new CairnError(
        'conflict',
        `the organisation has ${existing.length} webhooks, the most allowed: delete one first`,
      );
    }

    const secret = newWebhookSecret();
    const body: WebhookBody = {
      url: url.href,
      description,
      filter,
      secret,
      organisationId,
      createdBy: acting.user.id,
      createdAt: nowMicros(),
      startSeq: fields.startSeq,
      joined: false,
      ...(fields.watchlistId === undefined ? {} : { watchlistId: fields.watchlistId }),
      ...(fields.tokenId === undefined ? {} : { tokenId: fields.tokenId }),
    };
    const document = await conflictsAs409(
      this.#store.putDocument(
        { kind: WEBHOOK_KIND, id: randomUUID(), owner: organisationId, body: JSON.stringify(body) },
        0,
      ),
    );
    const watched = fields.watchlistId === undefined ? {} : { watchlistId: fields.watchlistId };
    await this.#guard.audit(acting, 'webhook.create', document.id, {
      host: url.host,
      filter,
      ...watched,
    });
    this.#logger.info(
      { webhookId: document.id, organisationId, host: url.host, ...watched },
      'webhook registered',
    );
    this.#worker.wake([document.id]);
    return { webhook: webhookView(document), secret };
  }

  /**
   * Webhooks the caller manages: every one for platform admins (of one organisation when
   * given), their organisation's for org admins, their own for analysts.
   */
  async list(actor: Actor, organisationId?: string): Promise<WebhookView[]> {
    const acting = await this.#guard.resolve(actor, 'read');
    const admin = this.#guard.isPlatformAdmin(acting);
    const owner = admin ? organisationId : acting.user.organisationId;
    const views: WebhookView[] = [];
    let afterId: string | undefined;
    for (;;) {
      const page = await this.#store.listDocuments({
        kind: WEBHOOK_KIND,
        limit: 500,
        ...(owner === undefined ? {} : { owner }),
        ...(afterId === undefined ? {} : { afterId }),
      });
      for (const document of page) {
        const view = webhookView(document);
        if (this.#manages(acting, view)) views.push(view);
      }
      if (page.length < 500) return views;
      afterId = page.at(-1)!.id;
    }
  }

  async get(
    actor: Actor,
    id: string,
  ): Promise<{ webhook: WebhookView; recentDeliveries: DeliveryView[] }> {
    const acting = await this.#guard.resolve(actor, 'read');
    const webhook = await this.#find(acting, id);
    const recent = await this.#store.listDocuments({
      kind: deliveryKind(id),
      limit: RECENT_DELIVERIES,
    });
    return { webhook, recentDeliveries: recent.map(deliveryView) };
  }

  /** Deletes the webhook and all its deliveries; attempts in flight on this node stop. */
  async remove(actor: Actor, id: string): Promise<void> {
    const acting = await this.#guard.resolve(actor, 'write');
    const webhook = await this.#find(acting, id);
    await this.#store.deleteDocument(WEBHOOK_KIND, id);
    this.#worker.forget(id);
    await deleteWebhookDocuments(this.#store, id);
    await this.#guard.audit(acting, 'webhook.delete', id, { host: new URL(webhook.url).host });
    this.#logger.info({ webhookId: id }, 'webhook deleted');
  }

  /** Sends a signed ping at once, without retries, and records it in the delivery log. */
  async test(actor: Actor, id: string): Promise<DeliveryView> {
    const acting = await this.#guard.resolve(actor, 'write');
    await this.#find(acting, id);
    const document = await this.#store.getDocument(WEBHOOK_KIND, id);
    if (document === undefined) throw notFound(`webhook ${id} not found`);
    const webhook = JSON.parse(document.body) as WebhookBody;

    const now = nowMicros();
    const deliveryId = newDeliveryId(now);
    const body: DeliveryBody = {
      webhookId: id,
      state: 'pending',
      kind: 'ping',
      createdAt: now,
      attempts: 0,
      history: [],
    };
    const payload = deliveryPayload(deliveryId, body);
    const headers = signedHeaders(webhook.secret, deliveryId, 'ping', payload);
    const outcome = await this.#sender.send(new URL(webhook.url), payload, headers, {
      timeoutMs: this.#settings.timeoutMs,
      maxResponseBytes: this.#settings.maxResponseBytes,
    });
    const finished: DeliveryBody = {
      ...body,
      state: outcome.ok ? 'delivered' : 'failed',
      attempts: 1,
      history: [attemptRecord(now, outcome)],
      finishedAt: nowMicros(),
      ...(outcome.error === undefined ? {} : { lastError: outcome.error }),
    };
    const stored = await this.#store.putDocument({
      kind: deliveryKind(id),
      id: deliveryId,
      owner: finished.state,
      body: JSON.stringify(finished),
    });
    await this.#guard.audit(acting, 'webhook.test', id, {
      status: outcome.status,
      ok: outcome.ok,
    });
    return deliveryView(stored);
  }

  /** Deliveries newest first, of one state when given, one page at a time. */
  async listDeliveries(
    actor: Actor,
    id: string,
    query: { state?: DeliveryState; after?: string; limit?: number },
  ): Promise<DeliveryPage> {
    const acting = await this.#guard.resolve(actor, 'read');
    await this.#find(acting, id);
    const limit = Math.min(query.limit ?? 50, MAX_PAGE);
    const page = await this.#store.listDocuments({
      kind: deliveryKind(id),
      limit: limit + 1,
      ...(query.state === undefined ? {} : { owner: query.state }),
      ...(query.after === undefined ? {} : { afterId: query.after }),
    });
    const deliveries = page.slice(0, limit).map(deliveryView);
    return {
      deliveries,
      ...(page.length > limit ? { next: deliveries.at(-1)!.id } : {}),
      droppedDeadLetters: await droppedDeadLetters(this.#store, id),
    };
  }

  /** Puts a dead letter back in the queue with its attempt count reset. */
  async retry(actor: Actor, id: string, deliveryId: string): Promise<DeliveryView> {
    const acting = await this.#guard.resolve(actor, 'write');
    await this.#find(acting, id);
    const kind = deliveryKind(id);
    const document = await this.#store.getDocument(kind, deliveryId);
    if (document === undefined) {
      throw notFound(`delivery ${deliveryId} of webhook ${id} not found`);
    }
    const body = JSON.parse(document.body) as DeliveryBody;
    if (body.state !== 'dead') {
      throw new CairnError(
        'conflict',
        `delivery ${deliveryId} is ${body.state}, not dead: only dead letters are retried`,
      );
    }
    const now = nowMicros();
    const { finishedAt: _finished, ...rest } = body;
    const requeued: DeliveryBody = { ...rest, state: 'pending', attempts: 0, nextAttemptAt: now };
    const stored = await conflictsAs409(
      this.#store.putDocument(
        {
          kind,
          id: deliveryId,
          owner: 'pending',
          ...(document.key === undefined ? {} : { key: document.key }),
          due: now,
          body: JSON.stringify(requeued),
        },
        document.revision,
      ),
    );
    await this.#guard.audit(acting, 'webhook.retry', id, { deliveryId });
    this.#worker.wake([id]);
    return deliveryView(stored);
  }

  /** Returns the server's event cursor codec, loading it from the store on first use. */
  #cursorCodec(): Promise<CursorCodec> {
    this.#cursors ??= CursorCodec.load(this.#store).catch((error: unknown) => {
      this.#cursors = undefined;
      throw error;
    });
    return this.#cursors;
  }

  /** Loads a webhook the caller manages, or throws 404. */
  async #find(acting: Acting, id: string): Promise<WebhookView> {
    const document = await this.#store.getDocument(WEBHOOK_KIND, id);
    const view = document === undefined ? undefined : webhookView(document);
    if (view === undefined || !this.#manages(acting, view)) {
      throw notFound(`webhook ${id} not found`);
    }
    return view;
  }

  #manages(acting: Acting, webhook: WebhookView): boolean {
    const { user } = acting;
    if (user.role === 'platform-admin') return true;
    if (user.role === 'org-admin') return webhook.organisationId === user.organisationId;
    if (user.role === 'analyst') return webhook.createdBy === user.id;
    return false;
  }

  /** Rejects filters naming collections or a community the caller may not read. */
  async #checkFilterVisible(acting: Acting, filter: WebhookFilter): Promise<void> {
    const caller = this.#guard.caller(acting);
    for (const id of filter.collections ?? []) {
      const collection = await this.#store.getCollectionById(id);
      const rights =
        collection === undefined
          ? undefined
          : collectionRights(caller, await loadCollectionContext(this.#store, caller, collection));
      if (rights === undefined || !rights.canRead) {
        throw notFound(`collection ${JSON.stringify(id)} in filter.collections not found`);
      }
    }
    if (filter.communityId !== undefined && !this.#guard.isPlatformAdmin(acting)) {
      const community = await this.#store.getCommunity(filter.communityId);
      const relation =
        community === undefined
          ? undefined
          : await this.#store.communityRelation(community.id, acting.user.organisationId);
      const readable =
        relation !== undefined && (relation.member || relation.client || community!.publishClear);
      if (!readable) {
        throw notFound(
          `community ${JSON.stringify(filter.communityId)} in filter.communityId not found`,
        );
      }
    }
  }
}

function checkDescription(input: unknown): string {
  const description = input ?? '';
  if (typeof description !== 'string' || description.length > MAX_DESCRIPTION) {
    throw invalid(`description is not valid: send text of at most ${MAX_DESCRIPTION} characters`);
  }
  return description;
}
