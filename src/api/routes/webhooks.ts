/**
 * Webhooks (docs/webhooks.md): registration, subscriptions to a watch list's alerts, the
 * delivery log, test pings and retries.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';

import { CairnError } from '../../errors.ts';
import { microsToTaxii } from '../../stix/timestamp.ts';
import type { AttemptRecord } from '../../webhooks/records.ts';
import type { DeliveryView, WebhookService, WebhookView } from '../../webhooks/service.ts';
import { actorOf, type ApiContext, type ApiEnv } from '../context.ts';
import { errorResponses, jsonBody, jsonResponse, NO_CONTENT } from '../openapi-parts.ts';
import { Id, IdParam } from '../schemas.ts';

const TAGS = ['Webhooks'];

const Timestamp = z.string().openapi({ format: 'date-time' });
const StixType = z.string().regex(/^[a-z0-9][a-z0-9-]{1,249}$/, 'must be a STIX type name');

const Filter = z
  .strictObject({
    collections: z.array(Id).min(1).max(100).optional(),
    communityId: Id.optional(),
    types: z.array(StixType).min(1).max(100).optional(),
    labels: z.array(z.string().min(1).max(250)).min(1).max(100).optional(),
    tlp: z
      .array(z.enum(['clear', 'green', 'amber', 'amber+strict', 'red']))
      .min(1)
      .max(5)
      .optional(),
    minConfidence: z.number().int().min(0).max(100).optional(),
  })
  .openapi('WebhookFilter', {
    description:
      'every field narrows: collections (ORed), or one community; STIX types, labels and TLP levels (each ORed); the least confidence',
  });

const EndpointUrl = z.string().min(1).max(2048).openapi({
  description: 'https:// URL; http:// only to a loopback IP address such as 127.0.0.1',
  example: 'https://hooks.example.com/cairn',
});

const NewWebhook = z
  .strictObject({
    url: EndpointUrl,
    description: z.string().max(500).optional(),
    filter: Filter.optional(),
  })
  .openapi('NewWebhook');

const NewAlertWebhook = z
  .strictObject({ url: EndpointUrl, description: z.string().max(500).optional() })
  .openapi('NewAlertWebhook');

const Webhook = z
  .object({
    id: Id,
    url: z.string(),
    description: z.string(),
    filter: Filter,
    organisationId: Id,
    createdBy: Id.openapi({ description: 'the user whose access decides what is delivered' }),
    createdAt: Timestamp,
    watchlistId: Id.optional().openapi({
      description: "set for a webhook of a watch list's alerts, which receives no store events",
    }),
  })
  .openapi('Webhook');

const CreatedWebhook = z
  .object({
    webhook: Webhook,
    secret: z.string().openapi({
      description: 'the signing secret, shown only in this response',
      example: 'whsec_…',
    }),
  })
  .openapi('CreatedWebhook');

const Attempt = z
  .object({
    at: Timestamp,
    durationMs: z.number(),
    status: z.number().int().optional(),
    error: z.string().optional(),
    redirectHost: z.string().optional(),
    responseExcerpt: z.string().optional(),
  })
  .openapi('WebhookAttempt');

const DeliveryState = z.enum(['pending', 'delivered', 'dead', 'failed']);

const Delivery = z
  .object({
    id: z.string(),
    webhookId: Id,
    state: DeliveryState.openapi({
      description: 'pending, delivered, dead (retries used up), failed (a test ping)',
    }),
    kind: z.enum(['created', 'updated', 'revoked', 'deleted', 'ping', 'alert', 'alert-updated']),
    eventId: z.string().optional(),
    alertId: Id.optional().openapi({ description: 'the alert an alert delivery carries' }),
    collectionId: Id.optional(),
    objectId: z.string().optional(),
    objectType: z.string().optional(),
    createdAt: Timestamp,
    attempts: z.number().int(),
    nextAttemptAt: Timestamp.optional(),
    finishedAt: Timestamp.optional(),
    lastError: z.string().optional(),
    history: z.array(Attempt).openapi({ description: 'the latest attempts, oldest first' }),
  })
  .openapi('WebhookDelivery');

const WebhookDetail = z
  .object({ webhook: Webhook, recentDeliveries: z.array(Delivery) })
  .openapi('WebhookDetail');

const DeliveryPage = z
  .object({
    deliveries: z.array(Delivery),
    next: z.string().optional().openapi({ description: 'pass as `after` for older ones' }),
    droppedDeadLetters: z.number().int().openapi({
      description: 'dead letters deleted, oldest first, because the webhook had more than the cap',
    }),
  })
  .openapi('WebhookDeliveryPage');

const DeliveryId = z.string().regex(/^\d{16}-[0-9a-f]{10}$/, 'must be a delivery id');

const DeliveryParams = z.object({
  id: Id.openapi({ param: { name: 'id', in: 'path' } }),
  did: DeliveryId.openapi({ param: { name: 'did', in: 'path' } }),
});

const ListQuery = z.strictObject({
  organisationId: Id.optional().openapi({ description: 'platform admins: one organisation' }),
});

const DeliveryQuery = z.strictObject({
  state: DeliveryState.optional(),
  after: DeliveryId.optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

const createWebhook = createRoute({
  operationId: 'createWebhook',
  method: 'post',
  path: '/webhooks',
  tags: TAGS,
  summary:
    "Register a webhook for the caller's organisation (platform admins, org admins, analysts); the secret is in this response only",
  request: { body: jsonBody(NewWebhook) },
  responses: {
    201: jsonResponse(CreatedWebhook, 'the webhook and its signing secret'),
    ...errorResponses(403, 404, 409, 413, 415),
  },
});

const listWebhooks = createRoute({
  operationId: 'listWebhooks',
  method: 'get',
  path: '/webhooks',
  tags: TAGS,
  summary:
    "Webhooks the caller manages: platform admins all, org admins their organisation's, analysts their own",
  request: { query: ListQuery },
  responses: {
    200: jsonResponse(z.array(Webhook), 'webhooks, never their secrets'),
    ...errorResponses(),
  },
});

const getWebhook = createRoute({
  operationId: 'getWebhook',
  method: 'get',
  path: '/webhooks/{id}',
  tags: TAGS,
  summary: 'One webhook with its most recent deliveries',
  request: { params: IdParam },
  responses: { 200: jsonResponse(WebhookDetail, 'the webhook'), ...errorResponses(404) },
});

const deleteWebhook = createRoute({
  operationId: 'deleteWebhook',
  method: 'delete',
  path: '/webhooks/{id}',
  tags: TAGS,
  summary: 'Delete a webhook and its deliveries; sending stops at once',
  request: { params: IdParam },
  responses: { 204: NO_CONTENT, ...errorResponses(403, 404) },
});

const testWebhook = createRoute({
  operationId: 'testWebhook',
  method: 'post',
  path: '/webhooks/{id}/test',
  tags: TAGS,
  summary: 'Send a signed ping now, once, and return its outcome',
  request: { params: IdParam },
  responses: { 200: jsonResponse(Delivery, 'the ping delivery'), ...errorResponses(403, 404) },
});

const listDeliveries = createRoute({
  operationId: 'listWebhookDeliveries',
  method: 'get',
  path: '/webhooks/{id}/deliveries',
  tags: TAGS,
  summary: 'Deliveries newest first; state=dead lists the dead letters',
  request: { params: IdParam, query: DeliveryQuery },
  responses: { 200: jsonResponse(DeliveryPage, 'one page'), ...errorResponses(404) },
});

const retryDelivery = createRoute({
  operationId: 'retryWebhookDelivery',
  method: 'post',
  path: '/webhooks/{id}/deliveries/{did}/retry',
  tags: TAGS,
  summary: 'Put a dead letter back in the queue with a fresh set of attempts',
  request: { params: DeliveryParams },
  responses: {
    202: jsonResponse(Delivery, 'the delivery, pending again'),
    ...errorResponses(403, 404, 409),
  },
});

const subscribeAlerts = createRoute({
  operationId: 'createWatchListWebhook',
  method: 'post',
  path: '/watchlists/{id}/webhooks',
  tags: TAGS,
  summary:
    "Subscribe a webhook to a watch list's new and updated alerts (those who change the list); the secret is in this response only",
  request: { params: IdParam, body: jsonBody(NewAlertWebhook) },
  responses: {
    201: jsonResponse(CreatedWebhook, 'the webhook and its signing secret'),
    ...errorResponses(403, 404, 409, 413, 415),
  },
});

const listAlertWebhooks = createRoute({
  operationId: 'listWatchListWebhooks',
  method: 'get',
  path: '/watchlists/{id}/webhooks',
  tags: TAGS,
  summary: "The webhooks of a watch list's alerts that the caller manages",
  request: { params: IdParam },
  responses: {
    200: jsonResponse(z.array(Webhook), 'webhooks, never their secrets'),
    ...errorResponses(404),
  },
});

function time(micros: number | undefined): string | undefined {
  return micros === undefined ? undefined : microsToTaxii(micros);
}

function webhookJson(view: WebhookView) {
  return { ...view, createdAt: microsToTaxii(view.createdAt) };
}

function attemptJson(attempt: AttemptRecord) {
  return { ...attempt, at: microsToTaxii(attempt.at) };
}

function deliveryJson(view: DeliveryView) {
  return {
    ...view,
    createdAt: microsToTaxii(view.createdAt),
    nextAttemptAt: time(view.nextAttemptAt),
    finishedAt: time(view.finishedAt),
    history: view.history.map(attemptJson),
  };
}

function webhooks(c: ApiContext): WebhookService {
  const service = c.var.deps.webhooks;
  if (service === undefined) {
    throw new CairnError('unavailable', 'webhooks are not set up on this server');
  }
  return service;
}

export function registerWebhooks(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(createWebhook, async (c) => {
    const created = await webhooks(c).create(actorOf(c), c.req.valid('json'));
    return c.json({ webhook: webhookJson(created.webhook), secret: created.secret }, 201, {
      'Cache-Control': 'no-store',
    });
  });

  app.openapi(listWebhooks, async (c) => {
    const { organisationId } = c.req.valid('query');
    const list = await webhooks(c).list(actorOf(c), organisationId);
    return c.json(list.map(webhookJson), 200);
  });

  app.openapi(getWebhook, async (c) => {
    const detail = await webhooks(c).get(actorOf(c), c.req.valid('param').id);
    return c.json(
      {
        webhook: webhookJson(detail.webhook),
        recentDeliveries: detail.recentDeliveries.map(deliveryJson),
      },
      200,
    );
  });

  app.openapi(deleteWebhook, async (c) => {
    await webhooks(c).remove(actorOf(c), c.req.valid('param').id);
    return c.body(null, 204);
  });

  app.openapi(testWebhook, async (c) => {
    const ping = await webhooks(c).test(actorOf(c), c.req.valid('param').id);
    return c.json(deliveryJson(ping), 200);
  });

  app.openapi(listDeliveries, async (c) => {
    const page = await webhooks(c).listDeliveries(
      actorOf(c),
      c.req.valid('param').id,
      c.req.valid('query'),
    );
    return c.json(
      {
        deliveries: page.deliveries.map(deliveryJson),
        ...(page.next ? { next: page.next } : {}),
        droppedDeadLetters: page.droppedDeadLetters,
      },
      200,
    );
  });

  app.openapi(subscribeAlerts, async (c) => {
    const created = await webhooks(c).subscribeAlerts(
      actorOf(c),
      c.req.valid('param').id,
      c.req.valid('json'),
    );
    return c.json({ webhook: webhookJson(created.webhook), secret: created.secret }, 201, {
      'Cache-Control': 'no-store',
    });
  });

  app.openapi(listAlertWebhooks, async (c) => {
    const list = await webhooks(c).listForWatchList(actorOf(c), c.req.valid('param').id);
    return c.json(list.map(webhookJson), 200);
  });

  app.openapi(retryDelivery, async (c) => {
    const { id, did } = c.req.valid('param');
    const retried = await webhooks(c).retry(actorOf(c), id, did);
    return c.json(deliveryJson(retried), 202);
  });
}
