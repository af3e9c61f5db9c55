/**
 * What every JSON API route shares: the server's dependencies, the authenticated caller
 * and the request id.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import type { Caller } from '../auth/tokens.ts';
import type { CairnConfig } from '../config/config.ts';
import type { WarninglistLookup } from '../ingest/formats/index.ts';
import type { Logger } from '../log/logger.ts';
import type { Actor, SharingServices } from '../sharing/service.ts';
import type { Store } from '../store/store.ts';
import type { WatchRuntime } from '../watch/runtime.ts';
import type { WebhookService } from '../webhooks/service.ts';

export interface ApiDeps {
  store: Store;
  config: CairnConfig;
  logger: Logger;
  services: SharingServices;
  /** Absent in applications built without webhooks; their routes then answer 503. */
  webhooks?: WebhookService;
  /** Absent in applications built without watch lists; their routes then answer 503. */
  watch?: WatchRuntime;
  /** Warning lists that exports leave out; absent when none are configured. */
  warninglists?: WarninglistLookup;
}

export interface ApiEnv {
  Variables: {
    deps: ApiDeps;
    caller: Caller;
    requestId: string;
  };
}

export type ApiContext = Context<ApiEnv>;

/** Where every JSON API path starts. */
export const API_BASE = '/api/v1';

/** The services of the server handling the request. */
export function services(c: ApiContext): SharingServices {
  return c.var.deps.services;
}

/** The authenticated caller as the services expect it, with the client's address for audit. */
export function actorOf(c: ApiContext): Actor {
  const { user, token } = c.var.caller;
  const address = clientAddress(c);
  return { userId: user.id, tokenId: token.id, ...(address ? { sourceAddress: address } : {}) };
}

function clientAddress(c: ApiContext): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    // Requests built in memory (app.request) have no socket.
    return undefined;
  }
}
