/**
 * Organisations and their client organisations (docs/sharing.md, "People and
 * organisations").
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import { actorOf, services, type ApiEnv } from '../context.ts';
import { errorResponses, jsonBody, jsonResponse, NO_CONTENT } from '../openapi-parts.ts';
import * as schemas from '../schemas.ts';
import { organisationJson } from '../views.ts';

const TAGS = ['Organisations'];

const createOrganisation = createRoute({
  operationId: 'createOrganisation',
  method: 'post',
  path: '/organisations',
  tags: TAGS,
  summary: 'Create an organisation and its STIX identity (platform admins)',
  request: { body: jsonBody(schemas.NewOrganisation) },
  responses: {
    201: jsonResponse(schemas.Organisation, 'the new organisation'),
    ...errorResponses(403, 409, 413, 415),
  },
});

const listOrganisations = createRoute({
  operationId: 'listOrganisations',
  method: 'get',
  path: '/organisations',
  tags: TAGS,
  summary: "All organisations for platform admins; the caller's own for others",
  responses: {
    200: jsonResponse(z.array(schemas.Organisation), 'organisations'),
    ...errorResponses(),
  },
});

const getOrganisation = createRoute({
  operationId: 'getOrganisation',
  method: 'get',
  path: '/organisations/{id}',
  tags: TAGS,
  summary: 'One organisation (platform admins and its members)',
  request: { params: schemas.IdParam },
  responses: {
    200: jsonResponse(schemas.Organisation, 'the organisation'),
    ...errorResponses(404),
  },
});

const addClient = createRoute({
  operationId: 'addClient',
  method: 'post',
  path: '/organisations/{id}/clients',
  tags: TAGS,
  summary: 'Make `clientId` a client organisation of `id` (platform admins)',
  request: { params: schemas.IdParam, body: jsonBody(schemas.NewClient) },
  responses: { 204: NO_CONTENT, ...errorResponses(403, 404, 409, 413, 415) },
});

const removeClient = createRoute({
  operationId: 'removeClient',
  method: 'delete',
  path: '/organisations/{id}/clients/{clientId}',
  tags: TAGS,
  summary: 'End a provider and client relation (platform admins)',
  request: { params: schemas.ClientParams },
  responses: { 204: NO_CONTENT, ...errorResponses(403, 404) },
});

export function registerOrganisations(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(createOrganisation, async (c) => {
    const input = c.req.valid('json');
    const created = await services(c).createOrganisation(actorOf(c), {
      name: input.name,
      ...(input.sectors ? { sectors: input.sectors } : {}),
      ...(input.contact !== undefined ? { contactInformation: input.contact } : {}),
    });
    return c.json(organisationJson(created), 201);
  });

  app.openapi(listOrganisations, async (c) => {
    const found = await services(c).listOrganisations(actorOf(c));
    return c.json(found.map(organisationJson), 200);
  });

  app.openapi(getOrganisation, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(organisationJson(await services(c).getOrganisation(actorOf(c), id)), 200);
  });

  app.openapi(addClient, async (c) => {
    const { id } = c.req.valid('param');
    const { clientId } = c.req.valid('json');
    await services(c).addClient(actorOf(c), id, clientId);
    return c.body(null, 204);
  });

  app.openapi(removeClient, async (c) => {
    const { id, clientId } = c.req.valid('param');
    await services(c).removeClient(actorOf(c), id, clientId);
    return c.body(null, 204);
  });
}
