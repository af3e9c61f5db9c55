/**
 * The bulk look-up (docs/watch.md): `POST /api/v1/check` reads a streamed body of text
 * lines and streams NDJSON back, one line per input line that mentions a known observable,
 * then a summary line. The body has no size limit because it is read line by line and never
 * held whole.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { CairnError } from '../../errors.ts';
import { CheckSession } from '../../watch/check.ts';
import { readLines } from '../../watch/lines.ts';
import { actorOf, type ApiEnv } from '../context.ts';
import { errorResponses } from '../openapi-parts.ts';
import { watchRuntime } from './watch-schemas.ts';

/** The Retry-After value, in seconds, while the value index is built. */
const BUILD_RETRY_SECONDS = 10;

const check = createRoute({
  operationId: 'checkObservables',
  method: 'post',
  path: '/check',
  tags: ['Alerts'],
  summary:
    'Look up the observables of text lines (proxy logs, DNS logs, CSV) in the indicators, SCOs, sightings and watch lists the caller may see',
  description:
    'The body is any text, read as UTF-8 lines of up to 8,192 characters. The response is NDJSON: `{"line": n, "matches": [...]}` for each line with a match, then `{"summary": {...}}`. A failure after the response started ends it with `{"error": {...}}`.',
  responses: {
    200: {
      description: 'NDJSON, one object per line',
      content: { 'application/x-ndjson': { schema: z.string() } },
    },
    ...errorResponses(),
    503: {
      description: 'the observable index is still being built; retry after Retry-After seconds',
    },
  },
});

export function registerCheck(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(check, async (c) => {
    const runtime = watchRuntime(c);
    const acting = await runtime.service.resolve(actorOf(c));
    if (runtime.values.state !== 'ready') {
      c.header('Retry-After', String(BUILD_RETRY_SECONDS));
      throw new CairnError(
        'unavailable',
        `the observable index is being built (${runtime.values.built} objects read so far): retry in ${BUILD_RETRY_SECONDS} s`,
      );
    }
    const body = c.req.raw.body;
    if (body === null) {
      throw new CairnError(
        'invalid-parameter',
        'the request has no body: send text lines to look up',
      );
    }
    const session = new CheckSession({
      store: c.var.deps.store,
      index: runtime.values.index,
      engine: runtime.engine,
      caller: c.var.caller,
      listVisible: (list) => runtime.service.visibleTo(acting, list),
    });
    const results = session.run(readLines(body as unknown as AsyncIterable<Uint8Array>));
    const encoder = new TextEncoder();
    const logger = c.var.deps.logger;
    const requestId = c.var.requestId;
    let finished = false;

    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (finished) return;
        try {
          const next = await results.next();
          if (!next.done) {
            controller.enqueue(encoder.encode(`${JSON.stringify(next.value)}\n`));
            return;
          }
          finished = true;
          controller.enqueue(encoder.encode(`${JSON.stringify({ summary: session.summary })}\n`));
          controller.close();
          logger.info({ requestId, ...session.summary }, 'check finished');
        } catch (error) {
          finished = true;
          logger.error({ err: error, requestId }, 'check failed');
          const message = `the look-up failed after ${session.summary.lines} lines; quote request id ${requestId} when reporting it`;
          controller.enqueue(
            encoder.encode(`${JSON.stringify({ error: { code: 'internal', message } })}\n`),
          );
          controller.close();
        }
      },
      async cancel() {
        finished = true;
        await results.return(undefined);
      },
    });
    return new Response(stream, {
      status: 200,
      headers: { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' },
    }) as unknown as ReturnType<typeof c.json<never, 200>>;
  });
}
