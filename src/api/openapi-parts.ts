/**
 * Building blocks for route definitions: JSON bodies, JSON responses and the error
 * responses each route may return, described once for the OpenAPI document.
 */
import type { z } from '@hono/zod-openapi';
import { ErrorBody } from './schemas.ts';

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { 'application/json': { schema } } } as const;
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } } as const;
}

const ERROR_DESCRIPTIONS = {
  400: 'invalid input: the message names the field and the value',
  401: 'missing, invalid, revoked or expired token',
  403: 'the caller may see the resource but not act on it',
  404: 'not found, or not visible to the caller',
  409: 'conflict: a duplicate name, or removing the last moderator or member',
  413: 'request body too large',
  415: 'request body not sent as application/json',
  422: 'a sharing rule is broken',
} as const;

type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

/** Error responses: 400 and 401 always, plus the statuses given. */
export function errorResponses<S extends ErrorStatus>(...statuses: S[]) {
  const all: ErrorStatus[] = [400, 401, ...statuses];
  return Object.fromEntries(
    all.map((status) => [status, jsonResponse(ErrorBody, ERROR_DESCRIPTIONS[status])]),
  ) as Record<400 | 401 | S, ReturnType<typeof jsonResponse<typeof ErrorBody>>>;
}

export const NO_CONTENT = { description: 'done; no body' } as const;
