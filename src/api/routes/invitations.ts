/**
 * Joining a community: a moderator invites an organisation and its org admin accepts, or
 * an org admin asks to join and a moderator approves (docs/sharing.md, "Communities").
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { actorOf, services, type ApiEnv } from '../context.ts';
import { errorResponses, jsonBody, jsonResponse } from '../openapi-parts.ts';
import * as schemas from '../schemas.ts';
import { invitationJson } from '../views.ts';

const TAGS = ['Invitations'];

const inviteOrganisation = createRoute({
  operationId: 'inviteOrganisation',
  method: 'post',
  path: '/communities/{id}/invitations',
  tags: TAGS,
  summary: 'Invite an organisation (moderators, platform admins)',
  request: { params: schemas.IdParam, body: jsonBody(schemas.NewInvitation) },
  responses: {
    201: jsonResponse(schemas.Invitation, 'the pending invitation'),
    ...errorResponses(403, 404, 409, 413, 415),
  },
});

const requestToJoin = createRoute({
  operationId: 'requestToJoin',
  method: 'post',
  path: '/communities/{id}/requests',
  tags: TAGS,
  summary: 'Ask to join the community (org admins of a non-member organisation)',
  request: { params: schemas.IdParam },
  responses: {
    201: jsonResponse(schemas.Invitation, 'the pending request'),
    ...errorResponses(403, 404, 409),
  },
});

const listInvitations = createRoute({
  operationId: 'listInvitations',
  method: 'get',
  path: '/invitations',
  tags: TAGS,
  summary: 'Pending invitations and requests the caller may answer or has sent',
  responses: {
    200: jsonResponse(z.array(schemas.Invitation), 'invitations and requests'),
    ...errorResponses(),
  },
});

const acceptInvitation = createRoute({
  operationId: 'acceptInvitation',
  method: 'post',
  path: '/invitations/{id}/accept',
  tags: TAGS,
  summary: 'Join: org admin of the invited organisation, or a moderator for a request',
  request: { params: schemas.IdParam },
  responses: {
    200: jsonResponse(schemas.Invitation, 'the accepted invitation'),
    ...errorResponses(403, 404, 409),
  },
});

const declineInvitation = createRoute({
  operationId: 'declineInvitation',
  method: 'post',
  path: '/invitations/{id}/decline',
  tags: TAGS,
  summary: 'Decline an invitation or a request (same callers as accept)',
  request: { params: schemas.IdParam },
  responses: {
    200: jsonResponse(schemas.Invitation, 'the declined invitation'),
    ...errorResponses(403, 404, 409),
  },
});

export function registerInvitations(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(inviteOrganisation, async (c) => {
    const { id } = c.req.valid('param');
    const { organisationId } = c.req.valid('json');
    return c.json(invitationJson(await services(c).invite(actorOf(c), id, organisationId)), 201);
  });

  app.openapi(requestToJoin, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(invitationJson(await services(c).requestToJoin(actorOf(c), id)), 201);
  });

  app.openapi(listInvitations, async (c) => {
    const found = await services(c).listInvitations(actorOf(c));
    return c.json(found.map(invitationJson), 200);
  });

  app.openapi(acceptInvitation, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(invitationJson(await services(c).acceptInvitation(actorOf(c), id)), 200);
  });

  app.openapi(declineInvitation, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(invitationJson(await services(c).declineInvitation(actorOf(c), id)), 200);
  });
}
