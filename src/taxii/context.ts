/**
 * What every TAXII route shares: the server's dependencies, the caller, TAXII responses
 * and the collection look-up that enforces read and write rights.
 */
import type { Context } from 'hono';
import type { Caller } from '../auth/tokens.ts';
import type { CairnConfig } from '../config/config.ts';
import { CairnError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { collectionRights, isVisible, type CollectionRights } from '../sharing/access.ts';
import type { ApiRootRecord, CollectionRecord, Store } from '../store/store.ts';
import type { CursorSigner } from './cursor.ts';
import { TAXII_MEDIA_TYPE } from './media.ts';

export interface TaxiiDeps {
  store: Store;
  config: CairnConfig;
  logger: Logger;
  signer: CursorSigner;
}

export interface TaxiiEnv {
  Variables: {
    deps: TaxiiDeps;
    caller: Caller;
    requestId: string;
  };
}

export type TaxiiContext = Context<TaxiiEnv>;

/** Sends a TAXII JSON body, already serialised, with the exact TAXII media type. */
export function taxiiResponse(
  status: number,
  body: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { 'Content-Type': TAXII_MEDIA_TYPE, ...headers },
  });
}

export function taxiiJson(
  status: number,
  value: unknown,
  headers?: Record<string, string>,
): Response {
  return taxiiResponse(status, JSON.stringify(value), headers);
}

/** An error message resource (TAXII 2.1 section 3.6.1). */
export function errorResponse(error: CairnError, headers?: Record<string, string>): Response {
  return taxiiJson(
    error.status,
    {
      title: error.title,
      description: error.message,
      error_code: error.code,
      http_status: String(error.status),
      ...(error.details ? { details: error.details } : {}),
    },
    headers,
  );
}

export function fail(code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new CairnError(code, message, details);
}

export async function loadApiRoot(c: TaxiiContext): Promise<ApiRootRecord> {
  const name = c.req.param('root') ?? '';
  const root = await c.var.deps.store.getApiRoot(name);
  if (!root) fail('not-found', `API root "${name}" not found: GET /taxii2/ lists the API roots`);
  return root;
}

export interface LoadedCollection {
  root: ApiRootRecord;
  collection: CollectionRecord;
  rights: CollectionRights;
}

/**
 * Finds the collection in the path and checks the caller's rights. A collection the
 * caller may neither read nor write is reported exactly like one that does not exist
 * (TAXII 2.1 Appendix B: do not reveal what the caller may not see).
 */
export async function loadCollection(
  c: TaxiiContext,
  need: 'read' | 'write' | 'any',
): Promise<LoadedCollection> {
  const root = await loadApiRoot(c);
  const { store } = c.var.deps;
  const idOrAlias = c.req.param('collection') ?? '';
  const collection = await store.getCollection(root.name, idOrAlias);
  const rights = collection ? await collectionRights(store, c.var.caller, collection) : undefined;
  if (!collection || !rights || !isVisible(rights)) {
    fail('not-found', `collection "${idOrAlias}" not found in API root "${root.name}"`);
  }
  if (need === 'read' && !rights.canRead) {
    fail('forbidden', `you may not read collection "${idOrAlias}" (can_read is false for you)`);
  }
  if (need === 'write' && !rights.canWrite) {
    fail(
      'forbidden',
      `you may not add objects to collection "${idOrAlias}" (can_write is false for you)`,
    );
  }
  return { root, collection, rights };
}

export function searchParams(c: TaxiiContext): URLSearchParams {
  const url = c.req.url;
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
}
