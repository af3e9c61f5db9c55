/**
 * What every TAXII route shares: the server's dependencies, the caller, TAXII responses
 * and the collection look-up that enforces read and write rights.
 */
import type { Context } from 'hono';
import type { HttpAuthenticator } from '../auth/http.ts';
import type { Caller } from '../auth/tokens.ts';
import type { CairnConfig } from '../config/config.ts';
import { CairnError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import {
  accessFilter,
  collectionRights,
  isVisible,
  loadCollectionContext,
  type CollectionRights,
} from '../sharing/access.ts';
import type { AccessFilter, ApiRootRecord, CollectionRecord, Store } from '../store/store.ts';
import type { CursorSigner } from './cursor.ts';
import type { EnvelopePool } from './envelope-pool.ts';
import { TAXII_MEDIA_TYPE } from './media.ts';

export interface TaxiiDeps {
  store: Store;
  config: CairnConfig;
  logger: Logger;
  signer: CursorSigner;
  /** Worker threads for POSTed envelopes; without it they are validated on the main thread. */
  envelopes?: EnvelopePool;
  /** Shared with the JSON API so both count failed attempts together; made when absent. */
  authenticator?: HttpAuthenticator;
}

export interface TaxiiEnv {
  Variables: {
    deps: TaxiiDeps;
    caller: Caller;
    requestId: string;
    sourceAddress: string;
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

/** A collection the caller may see, with the caller's rights on it. */
export interface VisibleCollection {
  collection: CollectionRecord;
  rights: CollectionRights;
}

/** Collections of an API root that the caller may read or write, sorted by id. */
export async function visibleCollections(
  c: TaxiiContext,
  rootName: string,
): Promise<VisibleCollection[]> {
  const { store } = c.var.deps;
  const visible: VisibleCollection[] = [];
  for (const collection of await store.listCollections(rootName)) {
    const context = await loadCollectionContext(store, c.var.caller, collection);
    const rights = collectionRights(c.var.caller, context);
    if (isVisible(rights)) visible.push({ collection, rights });
  }
  return visible;
}

/**
 * Finds the API root in the path. API roots are not hidden: each returns the
 * collections that the caller may see, possibly none.
 */
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
  /** The store filter that hides the versions the caller may not see. */
  access: AccessFilter;
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
  const { store } = c.var.deps;
  const name = c.req.param('root') ?? '';
  const idOrAlias = c.req.param('collection') ?? '';
  const root = await store.getApiRoot(name);
  const collection = root && (await store.getCollection(root.name, idOrAlias));
  const context = collection && (await loadCollectionContext(store, c.var.caller, collection));
  const rights = context && collectionRights(c.var.caller, context);
  if (!root) fail('not-found', `API root "${name}" not found: GET /taxii2/ lists the API roots`);
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
  return { root, collection, rights, access: accessFilter(c.var.caller, rights) };
}

export function searchParams(c: TaxiiContext): URLSearchParams {
  const url = c.req.url;
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
}
