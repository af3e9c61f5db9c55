/**
 * Communities: charters, collections, moderators and members (docs/sharing.md,
 * "Communities").
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { actorOf, services, type ApiEnv } from '../context.ts';
import { errorResponses, jsonBody, jsonResponse, NO_CONTENT } from '../openapi-parts.ts';
import * as schemas from '../schemas.ts';
import { communityDetailJson, communityJson } from '../views.ts';

const TAGS = ['Communities'];

const createCommunity = createRoute({
  operationId: 'createCommunity',
  method: 'post',
  path: '/communities',
  tags: TAGS,
  summary:
    "Create a community; the creator's organisation is its first member and the creator its first moderator",
  request: { body: jsonBody(schemas.NewCommunity) },
  responses: {
    201: jsonResponse(schemas.CommunityDetail, 'the new community'),
    ...errorResponses(403, 409, 413, 415),
  },
});

const listCommunities = createRoute({
  operationId: 'listCommunities',
  method: 'get',
  path: '/communities',
  tags: TAGS,
  summary: "Communities of the caller's organisation (platform admins: all)",
  responses: {
    200: jsonResponse(z.array(schemas.Community), 'communities'),
    ...errorResponses(),
  },
});

const getCommunity = createRoute({
  operationId: 'getCommunity',
  method: 'get',
  path: '/communities/{id}',
  tags: TAGS,
  summary: 'Charter, members, moderators and collections (members, platform admins)',
  request: { params: schemas.IdParam },
  responses: {
    200: jsonResponse(schemas.CommunityDetail, 'the community'),
    ...errorResponses(404),
  },
});

const updateCharter = createRoute({
  operationId: 'updateCharter',
  method: 'patch',
  path: '/communities/{id}',
  tags: TAGS,
  summary: 'Change the charter (moderators, platform admins)',
  request: { params: schemas.IdParam, body: jsonBody(schemas.CharterChange) },
  responses: {
    200: jsonResponse(schemas.CommunityDetail, 'the changed community'),
    ...errorResponses(403, 404, 413, 415),
  },
});

const createCollection = createRoute({
  operationId: 'createCollection',
  method: 'post',
  path: '/communities/{id}/collections',
  tags: TAGS,
  summary: 'Create a TAXII collection owned by the community (moderators, platform admins)',
  request: { params: schemas.IdParam, body: jsonBody(schemas.NewCollection) },
  responses: {
    201: jsonResponse(schemas.CommunityCollection, 'the new collection'),
    ...errorResponses(403, 404, 409, 413, 415),
  },
});

const addModerator = createRoute({
  operationId: 'addModerator',
  method: 'post',
  path: '/communities/{id}/moderators',
  tags: TAGS,
  summary: 'Add a moderator, a user of a member organisation (moderators, platform admins)',
  request: { params: schemas.IdParam, body: jsonBody(schemas.NewModerator) },
  responses: { 204: NO_CONTENT, ...errorResponses(403, 404, 409, 413, 415, 422) },
});

const removeModerator = createRoute({
  operationId: 'removeModerator',
  method: 'delete',
  path: '/communities/{id}/moderators/{userId}',
  tags: TAGS,
  summary: 'Remove a moderator; never the last one (moderators, platform admins)',
  request: { params: schemas.ModeratorParams },
  responses: { 204: NO_CONTENT, ...errorResponses(403, 404, 409) },
});

const removeMember = createRoute({
  operationId: 'removeMember',
  method: 'delete',
  path: '/communities/{id}/members/{organisationId}',
  tags: TAGS,
  summary:
    'Remove a member organisation, or leave as its org admin; never the last member (moderators, platform admins)',
  request: { params: schemas.MemberParams },
  responses: { 204: NO_CONTENT, ...errorResponses(403, 404, 409) },
});

export function registerCommunities(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(createCommunity, async (c) => {
    const created = await services(c).createCommunity(actorOf(c), c.req.valid('json'));
    return c.json(communityDetailJson(created), 201);
  });

  app.openapi(listCommunities, async (c) => {
    const found = await services(c).listCommunities(actorOf(c));
    return c.json(found.map(communityJson), 200);
  });

  app.openapi(getCommunity, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(communityDetailJson(await services(c).getCommunity(actorOf(c), id)), 200);
  });

  app.openapi(updateCharter, async (c) => {
    const { id } = c.req.valid('param');
    const changed = await services(c).updateCharter(actorOf(c), id, c.req.valid('json'));
    return c.json(communityDetailJson(changed), 200);
  });

  app.openapi(createCollection, async (c) => {
    const { id } = c.req.valid('param');
    const created = await services(c).createCollection(actorOf(c), id, c.req.valid('json'));
    return c.json(created, 201);
  });

  app.openapi(addModerator, async (c) => {
    const { id } = c.req.valid('param');
    await services(c).addModerator(actorOf(c), id, c.req.valid('json').userId);
    return c.body(null, 204);
  });

  app.openapi(removeModerator, async (c) => {
    const { id, userId } = c.req.valid('param');
    await services(c).removeModerator(actorOf(c), id, userId);
    return c.body(null, 204);
  });

  app.openapi(removeMember, async (c) => {
    const { id, organisationId } = c.req.valid('param');
    await services(c).removeMember(actorOf(c), id, organisationId);
    return c.body(null, 204);
  });
}
