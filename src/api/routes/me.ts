/** `GET /me`: the caller's user, organisation and communities. */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { actorOf, services, type ApiEnv } from '../context.ts';
import { errorResponses, jsonResponse } from '../openapi-parts.ts';
import * as schemas from '../schemas.ts';
import { meJson } from '../views.ts';

const getMe = createRoute({
  operationId: 'getMe',
  method: 'get',
  path: '/me',
  tags: ['Caller'],
  summary: "The caller's user, organisation and communities",
  responses: { 200: jsonResponse(schemas.Me, 'the caller'), ...errorResponses() },
});

export function registerMe(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(getMe, async (c) => c.json(meJson(await services(c).me(actorOf(c))), 200));
}
