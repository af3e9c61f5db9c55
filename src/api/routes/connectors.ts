/** Connectors (docs/connectors.md): definitions, run requests and health. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { ConnectorChange, NewConnector } from '../../connectors/definition.ts';
import { secretBoxFrom } from '../../connectors/secrets.ts';
import { ConnectorService } from '../../connectors/service.ts';
import { connectorJson } from '../../connectors/views.ts';
import { actorOf, type ApiContext, type ApiEnv } from '../context.ts';
import { errorResponses, jsonBody, jsonResponse, NO_CONTENT } from '../openapi-parts.ts';

const TAGS = ['Connectors'];

/** A connector or a name within the caller's organisation. */
const ConnectorParam = z.object({
  id: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'id', in: 'path' }, description: 'connector id, or its name' }),
});

const ConnectorJson = z.record(z.string(), z.unknown()).openapi('Connector', {
  description:
    'the definition without secret values (secrets names each one as "set"), its schedule (nextRunAt, running) and health (lastRun, lastRunWithData, current, lastSuccessAt, consecutiveFailures, runs)',
});

const createConnector = createRoute({
  operationId: 'createConnector',
  method: 'post',
  path: '/connectors',
  tags: TAGS,
  summary: "Create a connector in the caller's organisation (platform admins, org admins)",
  request: { body: jsonBody(NewConnector) },
  responses: {
    201: jsonResponse(ConnectorJson, 'the new connector; its first run is due at once'),
    ...errorResponses(403, 404, 409, 413, 415),
  },
});

const listConnectors = createRoute({
  operationId: 'listConnectors',
  method: 'get',
  path: '/connectors',
  tags: TAGS,
  summary: "Connectors of the caller's organisation (platform admins: all), with health",
  responses: { 200: jsonResponse(z.array(ConnectorJson), 'connectors'), ...errorResponses() },
});

const getConnector = createRoute({
  operationId: 'getConnector',
  method: 'get',
  path: '/connectors/{id}',
  tags: TAGS,
  summary: 'One connector with its checkpoint and health',
  request: { params: ConnectorParam },
  responses: { 200: jsonResponse(ConnectorJson, 'the connector'), ...errorResponses(404) },
});

const updateConnector = createRoute({
  operationId: 'updateConnector',
  method: 'patch',
  path: '/connectors/{id}',
  tags: TAGS,
  summary: 'Change a connector (platform admins, org admins of its organisation)',
  request: { params: ConnectorParam, body: jsonBody(ConnectorChange) },
  responses: {
    200: jsonResponse(ConnectorJson, 'the changed connector'),
    ...errorResponses(403, 404, 409, 413, 415),
  },
});

const deleteConnector = createRoute({
  operationId: 'deleteConnector',
  method: 'delete',
  path: '/connectors/{id}',
  tags: TAGS,
  summary: 'Remove a connector and its run state; stored objects stay',
  request: { params: ConnectorParam },
  responses: { 204: NO_CONTENT, ...errorResponses(403, 404) },
});

const runConnector = createRoute({
  operationId: 'runConnector',
  method: 'post',
  path: '/connectors/{id}/run',
  tags: TAGS,
  summary: 'Make a connector due now; a scheduler runs it within its poll interval',
  request: { params: ConnectorParam },
  responses: {
    202: jsonResponse(ConnectorJson, 'the connector, due now'),
    ...errorResponses(403, 404, 409),
  },
});

function connectors(c: ApiContext): ConnectorService {
  const { config } = c.var.deps;
  return new ConnectorService(c.var.deps.store, secretBoxFrom(config), {
    allowPrivateTargets: config.connectors.allowPrivateTargets,
  });
}

export function registerConnectors(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(createConnector, async (c) => {
    const view = await connectors(c).create(actorOf(c), c.req.valid('json'));
    return c.json(connectorJson(view), 201);
  });

  app.openapi(listConnectors, async (c) => {
    const views = await connectors(c).list(actorOf(c));
    return c.json(views.map(connectorJson), 200);
  });

  app.openapi(getConnector, async (c) => {
    const view = await connectors(c).show(actorOf(c), c.req.valid('param').id);
    return c.json(connectorJson(view), 200);
  });

  app.openapi(updateConnector, async (c) => {
    const { id } = c.req.valid('param');
    const view = await connectors(c).update(actorOf(c), id, c.req.valid('json'));
    return c.json(connectorJson(view), 200);
  });

  app.openapi(deleteConnector, async (c) => {
    await connectors(c).remove(actorOf(c), c.req.valid('param').id);
    return c.body(null, 204);
  });

  app.openapi(runConnector, async (c) => {
    const view = await connectors(c).requestRun(actorOf(c), c.req.valid('param').id);
    return c.json(connectorJson(view), 202);
  });
}
