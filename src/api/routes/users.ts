/** Users of an organisation and their API tokens (docs/sharing.md, "People and organisations"). */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { actorOf, services, type ApiEnv } from '../context.ts';
import { errorResponses, jsonBody, jsonResponse, NO_CONTENT } from '../openapi-parts.ts';
import * as schemas from '../schemas.ts';
import { tokenJson, userJson } from '../views.ts';

const createUser = createRoute({
  operationId: 'createUser',
  method: 'post',
  path: '/organisations/{id}/users',
  tags: ['Users'],
  summary:
    'Create a user in the organisation (platform admins, its org admins); only platform admins grant platform-admin',
  request: { params: schemas.IdParam, body: jsonBody(schemas.NewUser) },
  responses: {
    201: jsonResponse(schemas.User, 'the new user'),
    ...errorResponses(403, 404, 409, 413, 415),
  },
});

const listUsers = createRoute({
  operationId: 'listUsers',
  method: 'get',
  path: '/organisations/{id}/users',
  tags: ['Users'],
  summary: "The organisation's users (platform admins, its org admins)",
  request: { params: schemas.IdParam },
  responses: {
    200: jsonResponse(z.array(schemas.User), 'users'),
    ...errorResponses(403, 404),
  },
});

const updateUser = createRoute({
  operationId: 'updateUser',
  method: 'patch',
  path: '/users/{id}',
  tags: ['Users'],
  summary: "Change a user's role or disable them (platform admins, their org admins)",
  request: { params: schemas.IdParam, body: jsonBody(schemas.UserChange) },
  responses: {
    200: jsonResponse(schemas.User, 'the changed user'),
    ...errorResponses(403, 404, 409, 413, 415),
  },
});

const createToken = createRoute({
  operationId: 'createToken',
  method: 'post',
  path: '/users/{id}/tokens',
  tags: ['Tokens'],
  summary: 'Issue an API token; the secret is in this response only (the user, org admins)',
  request: { params: schemas.IdParam, body: jsonBody(schemas.NewToken) },
  responses: {
    201: jsonResponse(schemas.IssuedToken, 'the token and its record'),
    ...errorResponses(403, 404, 413, 415),
  },
});

const listTokens = createRoute({
  operationId: 'listTokens',
  method: 'get',
  path: '/users/{id}/tokens',
  tags: ['Tokens'],
  summary: "A user's token records, never their secrets",
  request: { params: schemas.IdParam },
  responses: {
    200: jsonResponse(z.array(schemas.Token), 'token records'),
    ...errorResponses(403, 404),
  },
});

const revokeToken = createRoute({
  operationId: 'revokeToken',
  method: 'delete',
  path: '/tokens/{id}',
  tags: ['Tokens'],
  summary: 'Revoke a token at once',
  request: { params: schemas.TokenIdParam },
  responses: { 204: NO_CONTENT, ...errorResponses(403, 404) },
});

export function registerUsers(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(createUser, async (c) => {
    const { id } = c.req.valid('param');
    const created = await services(c).createUser(actorOf(c), id, c.req.valid('json'));
    return c.json(userJson(created), 201);
  });

  app.openapi(listUsers, async (c) => {
    const { id } = c.req.valid('param');
    return c.json((await services(c).listUsers(actorOf(c), id)).map(userJson), 200);
  });

  app.openapi(updateUser, async (c) => {
    const { id } = c.req.valid('param');
    const changed = await services(c).updateUser(actorOf(c), id, c.req.valid('json'));
    return c.json(userJson(changed), 200);
  });

  app.openapi(createToken, async (c) => {
    const { id } = c.req.valid('param');
    const issued = await services(c).createToken(actorOf(c), id, c.req.valid('json'));
    return c.json({ token: issued.token, record: tokenJson(issued.record) }, 201);
  });

  app.openapi(listTokens, async (c) => {
    const { id } = c.req.valid('param');
    return c.json((await services(c).listTokens(actorOf(c), id)).map(tokenJson), 200);
  });

  app.openapi(revokeToken, async (c) => {
    const { id } = c.req.valid('param');
    await services(c).revokeToken(actorOf(c), id);
    return c.body(null, 204);
  });
}
