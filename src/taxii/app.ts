/**
 * Assembles the TAXII 2.1 HTTP application: request logging, authentication, content
 * negotiation, the resource routes and one error handler that turns every failure into
 * a TAXII error message with the TAXII media type.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { randomUUID } from 'node:crypto';
import { CHALLENGE, HttpAuthenticator, sourceAddress } from '../auth/http.ts';
import { CairnError, STORE_RETRY_AFTER_SECONDS, STORE_UNAVAILABLE_MESSAGE } from '../errors.ts';
import { StoreUnavailableError } from '../store/store.ts';
import { type TaxiiDeps, type TaxiiEnv, errorResponse } from './context.ts';
import { acceptsTaxii } from './media.ts';
import { registerCollections } from './routes/collections.ts';
import { registerDiscovery } from './routes/discovery.ts';
import { registerManifest } from './routes/manifest.ts';
import { registerObjects } from './routes/objects.ts';
import { registerStatus } from './routes/status.ts';

/** Paths and the methods they serve, for 405 responses with an Allow header. */
const ROUTES: Array<[string, string[]]> = [
  ['/taxii2', ['GET']],
  ['/:root', ['GET']],
  ['/:root/status/:status', ['GET']],
  ['/:root/collections', ['GET']],
  ['/:root/collections/:collection', ['GET']],
  ['/:root/collections/:collection/manifest', ['GET']],
  ['/:root/collections/:collection/objects', ['GET', 'POST']],
  ['/:root/collections/:collection/objects/:object', ['GET', 'DELETE']],
  ['/:root/collections/:collection/objects/:object/versions', ['GET']],
];

function authenticate(authenticator: HttpAuthenticator): MiddlewareHandler<TaxiiEnv> {
  return async (c, next) => {
    const address = sourceAddress(c);
    c.set('sourceAddress', address);
    const outcome = await authenticator.authenticate(c.req.header('authorization'), address);
    if (outcome.ok) {
      c.set('caller', outcome.caller);
      await next();
      return;
    }
    if (outcome.status === 429) {
      return errorResponse(new CairnError('too-many-requests', outcome.message), {
        'Retry-After': String(outcome.retryAfterSeconds),
      });
    }
    return errorResponse(new CairnError('unauthenticated', outcome.message), {
      'WWW-Authenticate': CHALLENGE,
    });
  };
}

function negotiate(): MiddlewareHandler<TaxiiEnv> {
  return async (c, next) => {
    const accept = c.req.header('accept');
    if (!acceptsTaxii(accept, c.var.deps.config.taxii.lenientMediaTypes)) {
      throw new CairnError(
        'not-acceptable',
        `Accept ${JSON.stringify(accept ?? '')} does not allow a TAXII 2.1 response: send Accept: application/taxii+json;version=2.1`,
      );
    }
    await next();
  };
}

/** The request path as sent, trailing slash included, without the query. */
function rawPath(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  const query = url.indexOf('?', start);
  return url.slice(start, query < 0 ? undefined : query);
}

function logRequests(): MiddlewareHandler<TaxiiEnv> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = randomUUID();
    c.set('requestId', requestId);
    await next();
    c.header('X-Request-Id', requestId);
    const status = c.res.status;
    const level = status >= 500 ? 'error' : 'info';
    c.var.deps.logger[level](
      {
        requestId,
        method: c.req.method,
        path: rawPath(c.req.url),
        status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        user: c.get('caller')?.user.name,
        tokenId: c.get('caller')?.token.id,
        sourceAddress: c.get('sourceAddress'),
      },
      'request',
    );
  };
}

export function createTaxiiApp(deps: TaxiiDeps): Hono<TaxiiEnv> {
  // Paths are matched with or without their trailing slash: TAXII 2.1 section 3.1 gives
  // every URL a trailing slash, but some clients drop it (for instance on status URLs).
  // In this mode Hono strips the slash before routing, so routes are written without it.
  const app = new Hono<TaxiiEnv>({ strict: false });

  app.use('*', async (c, next) => {
    c.set('deps', deps);
    await next();
  });
  app.use('*', logRequests());
  app.use('*', authenticate(deps.authenticator ?? new HttpAuthenticator(deps.store, deps.logger)));
  app.use('*', negotiate());

  registerDiscovery(app);
  registerStatus(app);
  registerCollections(app);
  registerManifest(app);
  registerObjects(app);

  for (const [path, methods] of ROUTES) {
    app.all(path, () => {
      throw new CairnError(
        'method-not-allowed',
        `this resource supports ${methods.join(', ')} only`,
      );
    });
  }

  app.notFound((c) =>
    errorResponse(
      new CairnError(
        'not-found',
        `no TAXII resource at ${c.req.path}: GET /taxii2/ lists the API roots`,
      ),
    ),
  );
  app.onError((error, c) => {
    if (error instanceof CairnError) {
      if (error.code === 'method-not-allowed') {
        const allowed = ROUTES.find(([path]) => c.req.routePath === path)?.[1] ?? ['GET'];
        return errorResponse(error, { Allow: allowed.join(', ') });
      }
      return errorResponse(error);
    }
    if (error instanceof StoreUnavailableError) {
      deps.logger.warn(
        { err: error.message, requestId: c.get('requestId'), path: c.req.path },
        'store unavailable',
      );
      return errorResponse(new CairnError('unavailable', STORE_UNAVAILABLE_MESSAGE), {
        'Retry-After': String(STORE_RETRY_AFTER_SECONDS),
      });
    }
    deps.logger.error(
      { err: error, requestId: c.get('requestId'), path: c.req.path },
      'request failed',
    );
    return errorResponse(
      new CairnError(
        'internal',
        `the server could not complete the request; quote request id ${c.get('requestId') ?? 'unknown'} when reporting it`,
      ),
    );
  });
  return app;
}
