/**
 * Authentication of JSON API requests, through the authenticator the TAXII server also
 * uses, so both count failed attempts together. Failures use the JSON API error format.
 */
import type { MiddlewareHandler } from 'hono';
import { CHALLENGE, sourceAddress, type HttpAuthenticator } from '../auth/http.ts';
import { CairnError } from '../errors.ts';
import type { ApiEnv } from './context.ts';
import { errorJson } from './errors.ts';

export function authenticateWith(authenticator: HttpAuthenticator): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const outcome = await authenticator.authenticate(
      c.req.header('authorization'),
      sourceAddress(c),
    );
    if (outcome.ok) {
      c.set('caller', outcome.caller);
      await next();
      return;
    }
    if (outcome.status === 429) {
      return errorJson(new CairnError('too-many-requests', outcome.message), {
        'Retry-After': String(outcome.retryAfterSeconds),
      });
    }
    return errorJson(new CairnError('unauthenticated', outcome.message), {
      'WWW-Authenticate': CHALLENGE,
    });
  };
}
