/** The audit log (docs/sharing.md, "Audit log"): pages, and an export as JSON lines. */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { actorOf, services, type ApiEnv } from '../context.ts';
import { errorResponses, jsonResponse } from '../openapi-parts.ts';
import * as schemas from '../schemas.ts';
import { auditEntryJson } from '../views.ts';

const TAGS = ['Audit'];

const queryAudit = createRoute({
  operationId: 'queryAudit',
  method: 'get',
  path: '/audit',
  tags: TAGS,
  summary: "Audit entries, newest first (platform admins: all; org admins: their organisation's)",
  request: { query: schemas.AuditQuery },
  responses: {
    200: jsonResponse(schemas.AuditPage, 'one page and the cursor of the next'),
    ...errorResponses(403),
  },
});

const exportAudit = createRoute({
  operationId: 'exportAudit',
  method: 'get',
  path: '/audit/export',
  tags: TAGS,
  summary: 'Every matching audit entry as JSON lines, newest first',
  request: { query: schemas.AuditExportQuery },
  responses: {
    // The body has no content schema here because @hono/zod-openapi 1.6.3 types only JSON
    // and text bodies; the description names the line format instead.
    200: { description: 'application/x-ndjson: one AuditEntry JSON object per line' },
    ...errorResponses(403),
  },
});

export function registerAudit(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(queryAudit, async (c) => {
    const page = await services(c).queryAudit(actorOf(c), c.req.valid('query'));
    return c.json(
      { entries: page.entries.map(auditEntryJson), ...(page.next ? { next: page.next } : {}) },
      200,
    );
  });

  app.openapi(exportAudit, async (c) => {
    const entries = services(c).exportAudit(actorOf(c), c.req.valid('query'));
    // Take the first entry before the status is sent, so a refusal still becomes an error.
    const iterator = entries[Symbol.asyncIterator]();
    const first = await iterator.next();
    let current = first;
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (current.done) {
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(`${JSON.stringify(auditEntryJson(current.value))}\n`));
        try {
          current = await iterator.next();
        } catch (error) {
          // The status line is already sent, so the client sees a cut-off body.
          c.var.deps.logger.error(
            { err: error, requestId: c.get('requestId') },
            'audit export failed',
          );
          controller.error(error);
        }
      },
      async cancel() {
        await iterator.return?.();
      },
    });
    return c.body(body, 200, { 'Content-Type': 'application/x-ndjson' });
  });
}
