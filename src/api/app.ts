/**
 * Assembles the JSON API under `/api/v1/` (docs/api.md): request logging, authentication
 * shared with TAXII, body size limits, the routes, the OpenAPI document and one error
 * handler that writes every failure as `{"error": {"code", "message"}}`.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { randomUUID } from 'node:crypto';
import { CairnError } from '../errors.ts';
import { API_BASE, type ApiDeps, type ApiEnv } from './context.ts';
import { errorJson, handleError, validationHook } from './errors.ts';
import { registerOpenApi } from './openapi.ts';
import { registerAudit } from './routes/audit.ts';
import { registerCommunities } from './routes/communities.ts';
import { registerConnectors } from './routes/connectors.ts';
import { registerCorrelation } from './routes/correlation.ts';
import { registerExports } from './routes/exports.ts';
import { registerInvitations } from './routes/invitations.ts';
import { registerMe } from './routes/me.ts';
import { registerOrganisations } from './routes/organisations.ts';
import { registerShares } from './routes/shares.ts';
import { registerUsers } from './routes/users.ts';
import { registerWatchLists } from './routes/watch.ts';
import { registerAlerts } from './routes/watch-alerts.ts';
import { registerCheck } from './routes/watch-check.ts';
import { registerWebhooks } from './routes/webhooks.ts';

/** Max body of an administration request, in octets. Shares use the TAXII maxContentLength. */
export const MAX_ADMIN_BODY = 64 * 1024;

export const OPENAPI_PATH = `${API_BASE}/openapi.json`;

/** Paths whose bodies the administration limit does not apply to (see createApiApp). */
const WATCH_BODY_PATHS = /^\/api\/v1\/(?:watchlists(?:\/|$)|check\/?$)/;

function logRequests(): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = randomUUID();
    c.set('requestId', requestId);
    await next();
    c.header('X-Request-Id', requestId);
    const status = c.res.status;
    c.var.deps.logger[status >= 500 ? 'error' : 'info'](
      {
        requestId,
        method: c.req.method,
        path: c.req.path,
        status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        user: c.get('caller')?.user.name,
      },
      'request',
    );
  };
}

function limitBody(maxSize: number): MiddlewareHandler<ApiEnv> {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new CairnError(
        'payload-too-large',
        `the request body is larger than ${maxSize} octets: send less`,
      );
    },
  });
}

/** Registers 405 responses, with an Allow header, for known paths called with another method. */
function registerMethodNotAllowed(app: OpenAPIHono<ApiEnv>): void {
  const methods = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === 'ALL') continue;
    const known = methods.get(route.path) ?? new Set<string>();
    known.add(route.method);
    methods.set(route.path, known);
  }
  for (const [path, allowed] of methods) {
    const allow = [...allowed].join(', ');
    app.all(path, () =>
      errorJson(new CairnError('method-not-allowed', `this resource supports ${allow} only`), {
        Allow: allow,
      }),
    );
  }
}

export function createApiApp(deps: ApiDeps, authenticate: MiddlewareHandler<ApiEnv>) {
  const app = new OpenAPIHono<ApiEnv>({ strict: false, defaultHook: validationHook });
  app.use('*', async (c, next) => {
    c.set('deps', deps);
    await next();
  });
  app.use('*', logRequests());
  app.use('*', async (c, next) => {
    if (c.req.path === OPENAPI_PATH) return next();
    return authenticate(c, next);
  });
  app.use(`${API_BASE}/collections/:id/shares`, limitBody(deps.config.taxii.maxContentLength));
  // Watch lists take thousands of entries at once; the bulk look-up streams any size of body.
  const watchBodyLimit = limitBody(deps.config.taxii.maxContentLength);
  app.use(`${API_BASE}/watchlists`, watchBodyLimit);
  app.use(`${API_BASE}/watchlists/*`, watchBodyLimit);
  const adminBodyLimit = limitBody(MAX_ADMIN_BODY);
  app.use('*', async (c, next) => {
    if (/\/shares\/?$/.test(c.req.path) || WATCH_BODY_PATHS.test(c.req.path)) return next();
    return adminBodyLimit(c, next);
  });

  const api = app.basePath(API_BASE);
  registerMe(api);
  registerOrganisations(api);
  registerUsers(api);
  registerCommunities(api);
  registerInvitations(api);
  registerShares(api);
  registerAudit(api);
  registerConnectors(api);
  registerExports(api);
  registerCorrelation(api);
  registerWebhooks(api);
  registerWatchLists(api);
  registerAlerts(api);
  registerCheck(api);
  registerOpenApi(api, '/openapi.json');
  registerMethodNotAllowed(app);

  app.notFound((c) =>
    errorJson(
      new CairnError(
        'not-found',
        `no JSON API resource at ${c.req.path}: ${OPENAPI_PATH} lists them`,
      ),
    ),
  );
  app.onError(handleError);
  return app;
}
