/** Sharing objects into a community collection (docs/sharing.md, "Sharing rules"). */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { actorOf, services, type ApiEnv } from '../context.ts';
import { errorResponses, jsonBody, jsonResponse } from '../openapi-parts.ts';
import * as schemas from '../schemas.ts';
import { shareResultJson } from '../views.ts';

const shareObjects = createRoute({
  operationId: 'shareObjects',
  method: 'post',
  path: '/collections/{id}/shares',
  tags: ['Sharing'],
  summary:
    'Share STIX objects, optionally anonymously or to named RED recipients; each object succeeds or fails alone',
  request: { params: schemas.IdParam, body: jsonBody(schemas.NewShare) },
  responses: {
    200: jsonResponse(schemas.ShareResult, 'per-object outcome, like a TAXII status'),
    ...errorResponses(403, 404, 413, 415, 422),
  },
});

export function registerShares(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(shareObjects, async (c) => {
    const { id } = c.req.valid('param');
    const { objects, anonymous, recipients } = c.req.valid('json');
    const result = await services(c).share(actorOf(c), id, objects, {
      ...(anonymous !== undefined ? { anonymous } : {}),
      ...(recipients ? { recipients } : {}),
    });
    return c.json(shareResultJson(result), 200);
  });
}
