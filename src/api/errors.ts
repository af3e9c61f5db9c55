/**
 * Error responses of the JSON API: `{"error": {"code", "message"}}` with the HTTP status
 * of the error catalog in src/errors.ts, and the hook that turns a failed zod validation
 * into one such error naming the field and the value sent.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { z } from 'zod';
import { CairnError, STORE_RETRY_AFTER_SECONDS, STORE_UNAVAILABLE_MESSAGE } from '../errors.ts';
import { StoreUnavailableError } from '../store/store.ts';
import type { ApiEnv } from './context.ts';

/** The longest excerpt of a rejected value quoted back in an error message, in characters. */
const MAX_QUOTED_VALUE = 80;

export function errorJson(error: CairnError, headers: Record<string, string> = {}): Response {
  const body = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
    },
  };
  return new Response(JSON.stringify(body), {
    status: error.status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** Quotes a rejected value briefly, so a huge or hostile value cannot flood the message. */
export function quote(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // Too deep to serialise: String() of a nested list recurses as deeply, so name the type.
    text = Array.isArray(value) ? 'a deeply nested list' : 'a deeply nested object';
  }
  return text.length > MAX_QUOTED_VALUE ? `${text.slice(0, MAX_QUOTED_VALUE)}…` : text;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = data;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, key)) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Fields whose values may be secrets, so a message never quotes them: passwords, tokens, headers. */
const SECRET_FIELD = /(^|\.)(password|token|secretKey)$|(^|\.)headers(\.|$)/;

const TARGET_NAMES: Record<string, string> = {
  json: 'body field',
  query: 'query parameter',
  param: 'path parameter',
};

/** Describes the first zod issue: where it is, what was sent and what is expected. */
export function describeIssue(target: string, data: unknown, error: z.ZodError): string {
  // An unknown key comes first because it is often a misspelt field that also shows as missing.
  const issue =
    error.issues.find((candidate) => candidate.code === 'unrecognized_keys') ?? error.issues[0];
  if (!issue) return `invalid ${target}`;
  const where = TARGET_NAMES[target] ?? target;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => JSON.stringify(key)).join(', ');
    const prefix = issue.path.length ? ` in ${JSON.stringify(issue.path.join('.'))}` : '';
    return `unknown ${where}${issue.keys.length > 1 ? 's' : ''} ${keys}${prefix}: remove ${issue.keys.length > 1 ? 'them' : 'it'}`;
  }
  if (issue.path.length === 0) {
    return target === 'json'
      ? `the request body must be a JSON object (got ${quote(data)}): ${issue.message}`
      : `invalid ${where}s: ${issue.message}`;
  }
  const name = issue.path.join('.');
  const sent = valueAt(data, issue.path);
  if (sent === undefined) return `${where} ${JSON.stringify(name)} is missing: it is required`;
  if (SECRET_FIELD.test(name))
    return `${where} ${JSON.stringify(name)} is invalid: ${issue.message}`;
  return `${where} ${JSON.stringify(name)} is invalid (got ${quote(sent)}): ${issue.message}`;
}

type HookResult = { target: string } & (
  { success: true; data: unknown } | { success: false; error: z.ZodError }
);

/**
 * The validation hook for every route: a failed check becomes a 400 naming the field.
 * @hono/zod-validator 0.9.1 also passes the raw input as `data` on failure, although its
 * type leaves it out; the message quotes the rejected value from it.
 */
export function validationHook(result: HookResult): void {
  if (result.success) return;
  const sent = (result as { data?: unknown }).data;
  throw new CairnError('invalid-parameter', describeIssue(result.target, sent, result.error));
}

/** Turns any failure into the JSON API error format; unexpected ones are logged as 500. */
export function handleError(error: Error, c: Context<ApiEnv>): Response {
  if (error instanceof CairnError) return errorJson(error);
  if (error instanceof HTTPException) return errorJson(fromHttpException(error));
  if (error instanceof StoreUnavailableError) {
    c.var.deps.logger.warn(
      { err: error.message, requestId: c.get('requestId'), path: c.req.path },
      'store unavailable',
    );
    return errorJson(new CairnError('unavailable', STORE_UNAVAILABLE_MESSAGE), {
      'Retry-After': String(STORE_RETRY_AFTER_SECONDS),
    });
  }
  c.var.deps.logger.error(
    { err: error, requestId: c.get('requestId'), path: c.req.path },
    'request failed',
  );
  return errorJson(
    new CairnError(
      'internal',
      `the server could not complete the request; quote request id ${c.get('requestId') ?? 'unknown'} when reporting it`,
    ),
  );
}

/** Maps the exceptions hono and its validators throw (bad JSON, wrong media type, size). */
function fromHttpException(error: HTTPException): CairnError {
  switch (error.status) {
    case 400:
      return new CairnError(
        'invalid-json',
        `the request body is not valid JSON (${error.message}): send a JSON object with Content-Type: application/json`,
      );
    case 413:
      return new CairnError('payload-too-large', error.message);
    case 415:
      return new CairnError(
        'unsupported-media-type',
        'the request body must be sent with Content-Type: application/json',
      );
    default:
      return new CairnError('bad-request', error.message);
  }
}
