/**
 * Correlation and scoring (docs/exports.md, "Scores" and "Correlation"): where an object's
 * values are seen and its score, values looked up directly, sighting and false-positive
 * reports, and the reliability grade of an organisation's contributions.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { getConnInfo } from '@hono/node-server/conninfo';
import { tokenAllows } from '../../auth/tokens.ts';
import { CorrelationService, MAX_SIGHTING_COUNT } from '../../correlation/service.ts';
import { CairnError } from '../../errors.ts';
import { RELIABILITY_GRADES, setOrganisationReliability } from '../../scoring/reliability.ts';
import { microsToTaxii } from '../../stix/timestamp.ts';
import type { FeedbackSummary } from '../../scoring/feedback.ts';
import type { ApiContext, ApiEnv } from '../context.ts';
import { errorResponses, jsonBody, jsonResponse, NO_CONTENT } from '../openapi-parts.ts';

const TAGS = ['Correlation'];

const ObjectParam = z.object({
  id: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9-]{1,248}--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      'must be a STIX id',
    )
    .openapi({
      param: { name: 'id', in: 'path' },
      example: 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f',
    }),
});

const Json = z.record(z.string(), z.unknown());

const getObject = createRoute({
  operationId: 'correlateObject',
  method: 'get',
  path: '/objects/{id}/correlation',
  tags: TAGS,
  summary:
    'Collections, sources and communities that mention the values of an object, its feedback and, for an indicator, its score; only what the caller reads counts',
  request: { params: ObjectParam },
  responses: { 200: jsonResponse(Json, 'the correlation'), ...errorResponses(404) },
});

const lookupValue = createRoute({
  operationId: 'correlateValue',
  method: 'get',
  path: '/correlation',
  tags: TAGS,
  summary: 'Objects, sources and communities that mention one value, given as type:value',
  request: {
    query: z.object({
      value: z.string().min(3).max(4096).openapi({ example: 'domain:evil.example' }),
    }),
  },
  responses: { 200: jsonResponse(Json, 'the mentions the caller may read'), ...errorResponses() },
});

const sighting = createRoute({
  operationId: 'reportSighting',
  method: 'post',
  path: '/objects/{id}/sightings',
  tags: TAGS,
  summary:
    "Report sightings of an object by the caller's organisation, in each community where it is a member and reads the object; returns the feedback the caller counts",
  request: {
    params: ObjectParam,
    body: jsonBody(
      z.strictObject({ count: z.number().int().min(1).max(MAX_SIGHTING_COUNT).default(1) }),
    ),
  },
  responses: { 200: jsonResponse(Json, 'the new counters'), ...errorResponses(403, 404, 413, 415) },
});

const falsePositive = createRoute({
  operationId: 'reportFalsePositive',
  method: 'post',
  path: '/objects/{id}/false-positive',
  tags: TAGS,
  summary:
    'Report an object as a false positive, once per organisation and community; returns the feedback the caller counts',
  request: {
    params: ObjectParam,
    body: jsonBody(z.strictObject({ note: z.string().max(2000).optional() })),
  },
  responses: {
    200: jsonResponse(Json, 'the new counters'),
    ...errorResponses(403, 404, 409, 413, 415),
  },
});

const setReliability = createRoute({
  operationId: 'setOrganisationReliability',
  method: 'put',
  path: '/reliability/organisations/{id}',
  tags: TAGS,
  summary: "Grade the reliability of an organisation's contributions, A to F (platform admins)",
  request: {
    params: z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) }),
    body: jsonBody(z.strictObject({ grade: z.enum(RELIABILITY_GRADES) })),
  },
  responses: { 204: NO_CONTENT, ...errorResponses(403, 404, 413, 415) },
});

function service(c: ApiContext, scope: 'read' | 'write'): CorrelationService {
  const { caller } = c.var;
  if (!tokenAllows(caller.token, scope)) {
    throw new CairnError('forbidden', `this token lacks the "${scope}" scope`);
  }
  return new CorrelationService(c.var.deps.store, caller);
}

function address(c: ApiContext): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    // Requests built in memory have no socket.
    return undefined;
  }
}

function feedbackJson(feedback: FeedbackSummary): Record<string, unknown> {
  return {
    sightings: feedback.sightings,
    countedSightings: feedback.countedSightings,
    falsePositives: feedback.falsePositives,
    organisations: feedback.organisations,
    ...(feedback.lastSightingAt !== undefined
      ? { lastSightingAt: microsToTaxii(feedback.lastSightingAt) }
      : {}),
  };
}

export function registerCorrelation(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(getObject, async (c) => {
    const result = await service(c, 'read').object(c.req.valid('param').id);
    return c.json(
      {
        ...result,
        seenInSources: result.sources.length,
        feedback: feedbackJson(result.feedback),
        ...(result.score
          ? { score: { ...result.score, expiresAt: microsToTaxii(result.score.expiresAt) } }
          : {}),
      },
      200,
    );
  });

  app.openapi(lookupValue, async (c) => {
    const result = await service(c, 'read').lookup(c.req.valid('query').value);
    return c.json({ ...result }, 200);
  });

  app.openapi(sighting, async (c) => {
    const { id } = c.req.valid('param');
    const { count } = c.req.valid('json');
    const feedback = await service(c, 'write').recordSighting(id, count, address(c));
    return c.json(feedbackJson(feedback), 200);
  });

  app.openapi(falsePositive, async (c) => {
    const { id } = c.req.valid('param');
    const { note } = c.req.valid('json');
    const feedback = await service(c, 'write').reportFalsePositive(id, note, address(c));
    return c.json(feedbackJson(feedback), 200);
  });

  app.openapi(setReliability, async (c) => {
    const { caller } = c.var;
    if (caller.user.role !== 'platform-admin' || !tokenAllows(caller.token, 'admin')) {
      throw new CairnError('forbidden', 'only platform admins may grade organisations');
    }
    const { id } = c.req.valid('param');
    if (!(await c.var.deps.store.getOrganisation(id))) {
      throw new CairnError('not-found', `organisation ${id} not found`);
    }
    await setOrganisationReliability(c.var.deps.store, id, c.req.valid('json').grade);
    return c.body(null, 204);
  });
}
