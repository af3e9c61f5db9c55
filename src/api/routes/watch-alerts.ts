/** Alerts of watch lists (docs/watch.md): listing most urgent first and acknowledging. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { actorOf, type ApiEnv } from '../context.ts';
import { errorResponses, jsonBody, jsonResponse } from '../openapi-parts.ts';
import { Id, IdParam } from '../schemas.ts';
import { AlertPage, AlertView, alertJson, TimeParam, watchRuntime } from './watch-schemas.ts';

const TAGS = ['Alerts'];

const AlertQuery = z.strictObject({
  state: z.enum(['open', 'acknowledged']).optional(),
  watchlist: Id.optional(),
  since: TimeParam.optional().openapi({
    description: 'only alerts created or updated at or after this time',
  }),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().min(1).max(200).optional(),
});

const Acknowledge = z
  .strictObject({ ids: z.array(Id).min(1).max(1000) })
  .openapi('AcknowledgeAlerts');

const listAlerts = createRoute({
  operationId: 'listAlerts',
  method: 'get',
  path: '/alerts',
  tags: TAGS,
  summary:
    'Alerts of the watch lists the caller sees, most urgent first (priority, then most recently updated)',
  request: { query: AlertQuery },
  responses: { 200: jsonResponse(AlertPage, 'one page'), ...errorResponses(404) },
});

const getAlert = createRoute({
  operationId: 'getAlert',
  method: 'get',
  path: '/alerts/{id}',
  tags: TAGS,
  summary: 'One alert',
  request: { params: IdParam },
  responses: { 200: jsonResponse(AlertView, 'the alert'), ...errorResponses(404) },
});

const acknowledgeOne = createRoute({
  operationId: 'acknowledgeAlert',
  method: 'post',
  path: '/alerts/{id}/ack',
  tags: TAGS,
  summary: 'Acknowledge one alert; a later version of its object opens it again',
  request: { params: IdParam },
  responses: { 200: jsonResponse(AlertView, 'the alert'), ...errorResponses(403, 404, 409) },
});

const acknowledgeMany = createRoute({
  operationId: 'acknowledgeAlerts',
  method: 'post',
  path: '/alerts/ack',
  tags: TAGS,
  summary: 'Acknowledge several alerts; returns the ones that were open',
  request: { body: jsonBody(Acknowledge) },
  responses: {
    200: jsonResponse(z.array(AlertView), 'the alerts changed'),
    ...errorResponses(403, 404, 409, 415),
  },
});

export function registerAlerts(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(listAlerts, async (c) => {
    const { watchlist, ...query } = c.req.valid('query');
    const page = await watchRuntime(c).service.listAlerts(actorOf(c), {
      ...query,
      ...(watchlist ? { watchlistId: watchlist } : {}),
    });
    return c.json(
      { alerts: page.alerts.map(alertJson), ...(page.next ? { next: page.next } : {}) },
      200,
    );
  });

  app.openapi(getAlert, async (c) => {
    const alert = await watchRuntime(c).service.getAlert(actorOf(c), c.req.valid('param').id);
    return c.json(alertJson(alert), 200);
  });

  app.openapi(acknowledgeOne, async (c) => {
    const { id } = c.req.valid('param');
    const service = watchRuntime(c).service;
    await service.acknowledge(actorOf(c), [id]);
    return c.json(alertJson(await service.getAlert(actorOf(c), id)), 200);
  });

  app.openapi(acknowledgeMany, async (c) => {
    const changed = await watchRuntime(c).service.acknowledge(actorOf(c), c.req.valid('json').ids);
    return c.json(changed.map(alertJson), 200);
  });
}
