/**
 * Export feeds (docs/exports.md) that security tools poll with an API token: blocklists,
 * CSV, Suricata and Snort rules, a MISP event or a STIX bundle of the active indicators the
 * caller may read, of one collection or of a saved export. Bodies are streamed.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Caller } from '../../auth/tokens.ts';
import { CairnError } from '../../errors.ts';
import { CONTENT_TYPES, EXPORT_FORMATS, type Feed } from '../../export/feeds.ts';
import {
  EXPORT_DOCUMENT,
  FeedQuery,
  NewSavedExport,
  createSavedExport,
  feedFor,
  findSavedExport,
  listSavedExports,
  parseFormat,
  readableCollection,
} from '../../export/service.ts';
import { tokenAllows } from '../../auth/tokens.ts';
import type { ApiContext, ApiEnv } from '../context.ts';
import { errorResponses, jsonBody, jsonResponse, NO_CONTENT } from '../openapi-parts.ts';

const TAGS = ['Exports'];

const FormatParam = z
  .string()
  .openapi({ param: { name: 'format', in: 'path' }, description: EXPORT_FORMATS.join(', ') });

const CollectionFeedParams = z.object({
  collection: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'collection', in: 'path' }, description: 'collection id or alias' }),
  format: FormatParam,
});

const SavedFeedParams = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }),
  format: FormatParam,
});

const SavedIdParam = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) });

const SavedExportJson = z.record(z.string(), z.unknown()).openapi('SavedExport');

const FEED_RESPONSE = {
  description:
    'the feed, streamed: text/plain (blocklist, suricata, snort), text/csv, application/json (MISP event) or application/stix+json (bundle)',
} as const;

const collectionFeed = createRoute({
  operationId: 'exportCollection',
  method: 'get',
  path: '/exports/collections/{collection}/{format}',
  tags: TAGS,
  summary: 'Active indicators of a collection the caller reads, in one export format',
  request: { params: CollectionFeedParams, query: FeedQuery },
  responses: { 200: FEED_RESPONSE, ...errorResponses(403, 404) },
});

const savedFeed = createRoute({
  operationId: 'exportSaved',
  method: 'get',
  path: '/exports/saved/{id}/{format}',
  tags: TAGS,
  summary: 'Active indicators of a saved export, in one export format',
  request: { params: SavedFeedParams, query: FeedQuery },
  responses: { 200: FEED_RESPONSE, ...errorResponses(403, 404) },
});

const createSaved = createRoute({
  operationId: 'createSavedExport',
  method: 'post',
  path: '/exports/saved',
  tags: TAGS,
  summary: 'Save an export: collections, observable types, a minimum score and a sid range',
  request: { body: jsonBody(NewSavedExport) },
  responses: {
    201: jsonResponse(SavedExportJson, 'the saved export'),
    ...errorResponses(403, 404, 413, 415),
  },
});

const listSaved = createRoute({
  operationId: 'listSavedExports',
  method: 'get',
  path: '/exports/saved',
  tags: TAGS,
  summary: "The caller's saved exports",
  responses: { 200: jsonResponse(z.array(SavedExportJson), 'saved exports'), ...errorResponses() },
});

const deleteSaved = createRoute({
  operationId: 'deleteSavedExport',
  method: 'delete',
  path: '/exports/saved/{id}',
  tags: TAGS,
  summary: 'Delete a saved export',
  request: { params: SavedIdParam },
  responses: { 204: NO_CONTENT, ...errorResponses(404) },
});

function readingCaller(c: ApiContext): Caller {
  const { caller } = c.var;
  if (!tokenAllows(caller.token, 'read')) {
    throw new CairnError('forbidden', 'this token lacks the "read" scope that exports need');
  }
  return caller;
}

/**
 * Streams a feed. The first chunk is produced before the status is sent, so a failure to
 * start (an unknown collection, a bad sid range) is still a JSON error.
 */
async function streamFeed(c: ApiContext, feed: Feed, format: string): Promise<Response> {
  const iterator = feed.chunks[Symbol.asyncIterator]();
  let next = await iterator.next();
  const encoder = new TextEncoder();
  const logger = c.var.deps.logger;
  const requestId = c.get('requestId');
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (next.done) {
          controller.close();
          logger.info({ requestId, format, ...feed.counts }, 'export written');
          return;
        }
        controller.enqueue(encoder.encode(next.value));
        next = await iterator.next();
      } catch (error) {
        logger.error({ err: error, requestId, format }, 'export failed while streaming');
        controller.error(error);
      }
    },
    async cancel() {
      await iterator.return(undefined);
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      'Content-Type': CONTENT_TYPES[parseFormat(format)],
      'Cache-Control': 'no-store',
      'X-Request-Id': requestId,
    },
  });
}

export function registerExports(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(collectionFeed, async (c) => {
    const caller = readingCaller(c);
    const { collection, format } = c.req.valid('param');
    const { store, config } = c.var.deps;
    const source = await readableCollection(store, caller, collection, config.taxii.defaultApiRoot);
    const feed = feedFor(
      store,
      parseFormat(format),
      [source],
      c.req.valid('query'),
      `collection:${source.collectionId}`,
      `Cairn export of ${source.collection.title}`,
      c.var.deps.warninglists,
    );
    // The stream type is not one @hono/zod-openapi 1.6.3 can describe in the route.
    return (await streamFeed(c, feed, format)) as never;
  });

  app.openapi(savedFeed, async (c) => {
    const caller = readingCaller(c);
    const { id, format } = c.req.valid('param');
    const { store, config } = c.var.deps;
    const saved = await findSavedExport(store, caller, id);
    const sources = [];
    for (const collection of saved.collections) {
      sources.push(
        await readableCollection(store, caller, collection, config.taxii.defaultApiRoot),
      );
    }
    const query = c.req.valid('query');
    const feed = feedFor(
      store,
      parseFormat(format),
      sources,
      {
        ...(saved.types ? { types: saved.types } : {}),
        min_score: query.min_score ?? saved.minScore,
        ...(query.type !== undefined ? { type: query.type } : {}),
        ...((query.sid_start ?? saved.sidStart) !== undefined
          ? { sid_start: query.sid_start ?? saved.sidStart }
          : {}),
        ...((query.sid_end ?? saved.sidEnd) !== undefined
          ? { sid_end: query.sid_end ?? saved.sidEnd }
          : {}),
      },
      `${EXPORT_DOCUMENT}:${saved.id}`,
      saved.name,
      c.var.deps.warninglists,
    );
    return (await streamFeed(c, feed, format)) as never;
  });

  app.openapi(createSaved, async (c) => {
    const caller = readingCaller(c);
    const { store, config } = c.var.deps;
    const saved = await createSavedExport(
      store,
      caller,
      c.req.valid('json'),
      config.taxii.defaultApiRoot,
    );
    return c.json(saved as unknown as Record<string, unknown>, 201);
  });

  app.openapi(listSaved, async (c) => {
    const saved = await listSavedExports(c.var.deps.store, c.var.caller);
    return c.json(saved as unknown as Array<Record<string, unknown>>, 200);
  });

  app.openapi(deleteSaved, async (c) => {
    const { id } = c.req.valid('param');
    await findSavedExport(c.var.deps.store, c.var.caller, id);
    await c.var.deps.store.deleteDocument(EXPORT_DOCUMENT, id);
    return c.body(null, 204);
  });
}
