/**
 * Watch lists (docs/watch.md): lists and their entries, retro-hunt jobs, and the alert
 * stream of one list as Server-Sent Events.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { CairnError } from '../../errors.ts';
import type { AlertLog, AlertLogRecord } from '../../watch/alert-log.ts';
import { actorOf, type ApiEnv } from '../context.ts';
import { errorResponses, jsonBody, jsonResponse, NO_CONTENT } from '../openapi-parts.ts';
import { Id, IdParam } from '../schemas.ts';
import {
  alertJson,
  CreatedWatchList,
  EntriesResult,
  EntryPage,
  entryJson,
  HuntJobView,
  jobJson,
  listJson,
  NewEntries,
  NewEntry,
  NewWatchList,
  WatchList,
  WatchListChange,
  watchRuntime,
} from './watch-schemas.ts';

const TAGS = ['Watch lists'];

/** Time between heartbeats and access re-checks of an alert stream (ms). */
export const ALERT_STREAM_HEARTBEAT_MS = 15_000;
/**
 * Time between two reads of the alert log without an announcement (ms), for announcements
 * lost between nodes.
 */
export const ALERT_STREAM_POLL_MS = 2_000;
/** How long one write may wait for a client that reads nothing before the stream ends (ms). */
const ALERT_STREAM_STALL_MS = 30_000;
/** Alert log records read at once. */
const ALERT_STREAM_PAGE = 100;
/** How long an EventSource client waits before reconnecting (ms). */
const SSE_RETRY_MS = 2_000;
/** Alert streams one token may hold open at once, on one node. */
export const MAX_ALERT_STREAMS_PER_TOKEN = 10;

/** Open alert streams by token id, on this node. */
const openStreams = new Map<string, number>();

const EntryParams = z.object({
  id: Id.openapi({ param: { name: 'id', in: 'path' } }),
  entryId: Id.openapi({ param: { name: 'entryId', in: 'path' } }),
});

const JobParams = z.object({
  id: Id.openapi({ param: { name: 'id', in: 'path' } }),
  jobId: Id.openapi({ param: { name: 'jobId', in: 'path' } }),
});

const AlertStreamQuery = z.strictObject({
  from: z.string().max(100).optional().openapi({
    description:
      'where to start: the id of an alert stream message, or `start` for the whole retained log; the Last-Event-ID header wins over it. Without either the stream starts with new alerts',
  }),
});

const EntryQuery = z.strictObject({
  after: Id.optional().openapi({ description: 'the id of the last entry of the previous page' }),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

const createList = createRoute({
  operationId: 'createWatchList',
  method: 'post',
  path: '/watchlists',
  tags: TAGS,
  summary:
    'Create a watch list owned by the caller or, for org admins and analysts, by their organisation; a retro-hunt over stored data starts at once',
  request: { body: jsonBody(NewWatchList) },
  responses: {
    201: jsonResponse(CreatedWatchList, 'the list and the outcome of each entry'),
    ...errorResponses(403, 409, 413, 415),
  },
});

const listLists = createRoute({
  operationId: 'listWatchLists',
  method: 'get',
  path: '/watchlists',
  tags: TAGS,
  summary: "The caller's lists and those shared with the caller's organisation",
  responses: {
    200: jsonResponse(z.array(WatchList), 'lists, without entries'),
    ...errorResponses(),
  },
});

const getList = createRoute({
  operationId: 'getWatchList',
  method: 'get',
  path: '/watchlists/{id}',
  tags: TAGS,
  summary: 'One watch list, without its entries',
  request: { params: IdParam },
  responses: { 200: jsonResponse(WatchList, 'the list'), ...errorResponses(404) },
});

const updateList = createRoute({
  operationId: 'updateWatchList',
  method: 'patch',
  path: '/watchlists/{id}',
  tags: TAGS,
  summary: 'Rename, describe, share, enable or disable a list',
  request: { params: IdParam, body: jsonBody(WatchListChange) },
  responses: { 200: jsonResponse(WatchList, 'the changed list'), ...errorResponses(403, 404, 409) },
});

const deleteList = createRoute({
  operationId: 'deleteWatchList',
  method: 'delete',
  path: '/watchlists/{id}',
  tags: TAGS,
  summary: 'Delete a list with its alerts and retro-hunt jobs',
  request: { params: IdParam },
  responses: { 204: NO_CONTENT, ...errorResponses(403, 404) },
});

const listEntries = createRoute({
  operationId: 'listWatchEntries',
  method: 'get',
  path: '/watchlists/{id}/entries',
  tags: TAGS,
  summary: 'Entries of a list in the order they were added',
  request: { params: IdParam, query: EntryQuery },
  responses: { 200: jsonResponse(EntryPage, 'one page'), ...errorResponses(404) },
});

const addEntries = createRoute({
  operationId: 'addWatchEntries',
  method: 'post',
  path: '/watchlists/{id}/entries',
  tags: TAGS,
  summary:
    'Add entries: each is checked alone, duplicates are skipped, and a retro-hunt of the list starts',
  request: { params: IdParam, body: jsonBody(NewEntries) },
  responses: {
    200: jsonResponse(EntriesResult, 'the outcome of each entry'),
    ...errorResponses(403, 404, 409, 413, 415),
  },
});

const deleteEntry = createRoute({
  operationId: 'deleteWatchEntry',
  method: 'delete',
  path: '/watchlists/{id}/entries/{entryId}',
  tags: TAGS,
  summary: 'Remove one entry; its alerts stay',
  request: { params: EntryParams },
  responses: { 204: NO_CONTENT, ...errorResponses(403, 404, 409) },
});

const startHunt = createRoute({
  operationId: 'startRetroHunt',
  method: 'post',
  path: '/watchlists/{id}/hunts',
  tags: TAGS,
  summary: 'Run the list over the stored data again; earlier unfinished runs are cancelled',
  request: { params: IdParam },
  responses: { 202: jsonResponse(HuntJobView, 'the queued job'), ...errorResponses(403, 404) },
});

const listHunts = createRoute({
  operationId: 'listRetroHunts',
  method: 'get',
  path: '/watchlists/{id}/hunts',
  tags: TAGS,
  summary: 'Retro-hunt jobs of a list, newest first, with their progress counters',
  request: { params: IdParam },
  responses: { 200: jsonResponse(z.array(HuntJobView), 'jobs'), ...errorResponses(404) },
});

const getHunt = createRoute({
  operationId: 'getRetroHunt',
  method: 'get',
  path: '/watchlists/{id}/hunts/{jobId}',
  tags: TAGS,
  summary: 'One retro-hunt job with its progress counters',
  request: { params: JobParams },
  responses: { 200: jsonResponse(HuntJobView, 'the job'), ...errorResponses(404) },
});

const alertStream = createRoute({
  operationId: 'streamWatchListAlerts',
  method: 'get',
  path: '/watchlists/{id}/alerts/stream',
  tags: TAGS,
  summary:
    'New and updated alerts of a list as Server-Sent Events (`alert`, `alert-updated`), raised on any node, with heartbeats; resumes after Last-Event-ID',
  request: { params: IdParam, query: AlertStreamQuery },
  responses: {
    200: {
      description:
        "an event stream; each `data` is an Alert and each `id` its position in the list's alert log. A `resync` message means that the alerts after the requested position are no longer kept or that the position is unknown. It ends with an `end` event when the list is gone or the caller may no longer see it",
      content: { 'text/event-stream': { schema: z.string() } },
    },
    ...errorResponses(400, 404),
    429: { description: 'the token has too many alert streams open' },
  },
});

export function registerWatchLists(app: OpenAPIHono<ApiEnv>): void {
  // Request bodies refer to the entry schema by name only; see entryInputs.
  app.openAPIRegistry.register('NewWatchEntry', NewEntry);
  app.openapi(createList, async (c) => {
    const created = await watchRuntime(c).service.createList(actorOf(c), c.req.valid('json'));
    return c.json(
      {
        watchlist: listJson(created.list),
        entries: { ...created.entries, added: created.entries.added.map(entryJson) },
      },
      201,
    );
  });

  app.openapi(listLists, async (c) => {
    const lists = await watchRuntime(c).service.listLists(actorOf(c));
    return c.json(lists.map(listJson), 200);
  });

  app.openapi(getList, async (c) => {
    const stored = await watchRuntime(c).service.getList(actorOf(c), c.req.valid('param').id);
    const { entries, ...rest } = stored.list;
    return c.json(
      listJson({ ...rest, entryCount: entries.length, revision: stored.revision }),
      200,
    );
  });

  app.openapi(updateList, async (c) => {
    const changed = await watchRuntime(c).service.updateList(
      actorOf(c),
      c.req.valid('param').id,
      c.req.valid('json'),
    );
    return c.json(listJson(changed), 200);
  });

  app.openapi(deleteList, async (c) => {
    await watchRuntime(c).service.deleteList(actorOf(c), c.req.valid('param').id);
    return c.body(null, 204);
  });

  app.openapi(listEntries, async (c) => {
    const { after, limit = 1_000 } = c.req.valid('query');
    const stored = await watchRuntime(c).service.getList(actorOf(c), c.req.valid('param').id);
    const entries = stored.list.entries;
    const start = after === undefined ? 0 : entries.findIndex((entry) => entry.id === after) + 1;
    const page = start > 0 || after === undefined ? entries.slice(start, start + limit) : [];
    const more = start + page.length < entries.length && page.length > 0;
    return c.json(
      { entries: page.map(entryJson), ...(more ? { next: page.at(-1)!.id } : {}) },
      200,
    );
  });

  app.openapi(addEntries, async (c) => {
    const result = await watchRuntime(c).service.addEntries(
      actorOf(c),
      c.req.valid('param').id,
      c.req.valid('json').entries,
    );
    return c.json({ ...result, added: result.added.map(entryJson) }, 200);
  });

  app.openapi(deleteEntry, async (c) => {
    const { id, entryId } = c.req.valid('param');
    await watchRuntime(c).service.removeEntries(actorOf(c), id, [entryId]);
    return c.body(null, 204);
  });

  app.openapi(startHunt, async (c) => {
    const job = await watchRuntime(c).service.startHunt(actorOf(c), c.req.valid('param').id);
    return c.json(jobJson(job), 202);
  });

  app.openapi(listHunts, async (c) => {
    const jobs = await watchRuntime(c).service.listJobs(actorOf(c), c.req.valid('param').id);
    return c.json(jobs.map(jobJson), 200);
  });

  app.openapi(getHunt, async (c) => {
    const { id, jobId } = c.req.valid('param');
    const job = await watchRuntime(c).service.getJob(actorOf(c), id, jobId);
    return c.json(jobJson(job), 200);
  });

  app.openapi(alertStream, async (c) => {
    const runtime = watchRuntime(c);
    const actor = actorOf(c);
    const { id } = c.req.valid('param');
    // Fails with 404 before the stream opens when the caller may not see the list.
    await runtime.service.getList(actor, id);
    const lastEventId = c.req.header('last-event-id');
    const start = await startPosition(runtime.alertLog, id, lastEventId, c.req.valid('query').from);
    const tokenId = c.var.caller.token.id;
    const open = openStreams.get(tokenId) ?? 0;
    if (open >= MAX_ALERT_STREAMS_PER_TOKEN) {
      c.header('Retry-After', '10');
      throw new CairnError(
        'too-many-requests',
        `this token already has ${open} alert streams open, the maximum: close one first`,
      );
    }
    openStreams.set(tokenId, open + 1);
    c.header('X-Accel-Buffering', 'no');
    c.header('Cache-Control', 'no-store');
    const response = streamSSE(c, async (stream) => {
      try {
        await pumpAlerts(stream, runtime, actor, id, start);
      } finally {
        const left = (openStreams.get(tokenId) ?? 1) - 1;
        if (left <= 0) openStreams.delete(tokenId);
        else openStreams.set(tokenId, left);
      }
    });
    return response as unknown as ReturnType<typeof c.json<never, 200>>;
  });
}

/** The start of an alert stream, with the reason when it differs from the requested one. */
interface StartPosition {
  /** The alert log number after which the stream sends alerts. */
  seq: number;
  resync?: 'cursor-pruned' | 'cursor-unknown';
}

/**
 * Reads the start of an alert stream from Last-Event-ID, else from `from`. A position past
 * the log's head, or one that is not a number, starts at the head with a resync: after the
 * list was recreated, or from a client of an older server, whose ids were alert ids. In
 * `from` such a value is more likely a mistake and is rejected.
 */
async function startPosition(
  log: AlertLog,
  watchlistId: string,
  lastEventId: string | undefined,
  from: string | undefined,
): Promise<StartPosition> {
  const fromHeader = lastEventId !== undefined && lastEventId !== '';
  const text = fromHeader ? lastEventId : from;
  const head = await log.head(watchlistId);
  if (text === undefined || text === '') return { seq: head };
  if (text === 'start' && !fromHeader) return { seq: 0 };
  if (!/^\d{1,15}$/.test(text)) {
    if (fromHeader) return { seq: head, resync: 'cursor-unknown' };
    throw new CairnError(
      'invalid-parameter',
      `from ${JSON.stringify(text.slice(0, 40))} is not valid: give the id of an alert stream message, or start`,
    );
  }
  const seq = Number(text);
  if (seq > head) return { seq: head, resync: 'cursor-unknown' };
  const [oldest] = await log.read(watchlistId, 0, 1);
  if (oldest !== undefined && seq < oldest.seq - 1) {
    return { seq: oldest.seq - 1, resync: 'cursor-pruned' };
  }
  return { seq };
}

/**
 * Writes the list's alerts to the stream, from its start position on, until the client goes
 * or may no longer see the list. Alerts come from the list's alert log, so alerts raised on
 * any node arrive. An announcement wakes the stream at once, and a read every
 * ALERT_STREAM_POLL_MS finds those whose announcement was lost.
 */
async function pumpAlerts(
  stream: SSEStreamingApi,
  runtime: ReturnType<typeof watchRuntime>,
  actor: ReturnType<typeof actorOf>,
  watchlistId: string,
  start: StartPosition,
): Promise<void> {
  let cursor = start.seq;
  let closed = false;
  let announced = true;
  let wake: (() => void) | undefined;
  const unlisten = runtime.listenAlerts(watchlistId, () => {
    announced = true;
    wake?.();
  });
  stream.onAbort(() => {
    closed = true;
    wake?.();
  });
  const send = async (write: Promise<unknown>): Promise<boolean> => {
    if (await withinStallTime(write)) return !closed;
    stream.abort();
    return false;
  };
  try {
    if (!(await send(stream.write(`retry: ${SSE_RETRY_MS}\n\n`)))) return;
    if (start.resync && !(await send(writeResync(stream, start.resync, cursor)))) return;
    let nextCheck = Date.now() + ALERT_STREAM_HEARTBEAT_MS;
    let nextPoll = Date.now() + ALERT_STREAM_POLL_MS;
    while (!closed) {
      if (!announced) {
        const until = Math.min(nextCheck, nextPoll);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.max(0, until - Date.now())).unref();
        });
        wake = undefined;
      }
      if (closed) break;
      if (announced || Date.now() >= nextPoll) {
        announced = false;
        nextPoll = Date.now() + ALERT_STREAM_POLL_MS;
        for (;;) {
          const records = await runtime.alertLog.read(watchlistId, cursor, ALERT_STREAM_PAGE);
          const first = records[0];
          if (first !== undefined && first.seq > cursor + 1) {
            // The client fell behind by more than the log keeps.
            if (!(await send(writeResync(stream, 'cursor-pruned', first.seq - 1)))) return;
          }
          for (const record of records) {
            if (!(await send(writeAlert(stream, record)))) return;
            cursor = record.seq;
          }
          if (records.length < ALERT_STREAM_PAGE) break;
        }
      }
      if (Date.now() >= nextCheck) {
        nextCheck = Date.now() + ALERT_STREAM_HEARTBEAT_MS;
        try {
          await runtime.service.getList(actor, watchlistId);
        } catch {
          await stream.writeSSE({ event: 'end', data: '{"reason":"the list is gone or hidden"}' });
          break;
        }
        if (!(await send(stream.write(': heartbeat\n\n')))) return;
      }
    }
  } finally {
    unlisten();
  }
}

function writeAlert(stream: SSEStreamingApi, record: AlertLogRecord): Promise<void> {
  return stream.writeSSE({
    event: record.change === 'created' ? 'alert' : 'alert-updated',
    id: String(record.seq),
    data: JSON.stringify(alertJson(record.alert)),
  });
}

/** Tells the client that alerts after its position are not sent, and moves its position on. */
function writeResync(stream: SSEStreamingApi, reason: string, seq: number): Promise<void> {
  return stream.writeSSE({ event: 'resync', id: String(seq), data: JSON.stringify({ reason }) });
}

/** Resolves true when the write completes within ALERT_STREAM_STALL_MS, else false. */
async function withinStallTime(write: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ALERT_STREAM_STALL_MS);
  });
  try {
    return await Promise.race([write.then(() => true as const), stalled]);
  } finally {
    clearTimeout(timer);
  }
}
