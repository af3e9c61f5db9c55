/**
 * A small world for alert delivery tests on a running server: organisation Acme in
 * community Ring with its users and tokens, and organisation Beta outside it. Helpers make
 * watch lists through the JSON API, post indicators over TAXII, and read an alert stream
 * in the background.
 */
import assert from 'node:assert/strict';

import { issueToken } from '../auth/tokens.ts';
import { addUser } from '../auth/users.ts';
import { makeCommunity, makeOrganisation } from '../sharing/fixtures.test-helper.ts';
import type {
  CollectionRecord,
  CommunityRecord,
  OrganisationRecord,
  Role,
  Store,
  UserRecord,
} from '../store/store.ts';
import { openStream, type ReceivedMessage } from '../stream/client.ts';
import { indicator, type StixFixture } from '../testing/stix.ts';
import { call, TAXII, type CallResult, type TestServer } from '../testing/server.ts';

const JSON_TYPE = 'application/json';

/** A user with an API token and the token's record id, for revoking it. */
export interface WorldUser {
  user: UserRecord;
  token: string;
  tokenId: string;
}

export interface AlertWorld {
  acme: OrganisationRecord;
  beta: OrganisationRecord;
  /** Users by `<organisation>-<role>`: acme-admin, acme-analyst, acme-reader, beta-analyst. */
  users: Record<string, WorldUser>;
  ring: CommunityRecord;
  collection: CollectionRecord;
}

/** Creates a user of the organisation with an API token. */
export async function makeWorldUser(
  store: Store,
  organisation: OrganisationRecord,
  name: string,
  role: Role,
): Promise<WorldUser> {
  const user = await addUser(store, name, role, organisation.id);
  const issued = await issueToken(store, user);
  return { user, token: issued.token, tokenId: issued.record.id };
}

/** Creates the organisations, users and community Ring (Acme only) in the store. */
export async function makeAlertWorld(store: Store): Promise<AlertWorld> {
  const acme = await makeOrganisation(store, 'Acme');
  const beta = await makeOrganisation(store, 'Beta');
  const users: Record<string, WorldUser> = {
    'acme-admin': await makeWorldUser(store, acme, 'acme-admin', 'org-admin'),
    'acme-analyst': await makeWorldUser(store, acme, 'acme-analyst', 'analyst'),
    'acme-reader': await makeWorldUser(store, acme, 'acme-reader', 'read-only'),
    'beta-analyst': await makeWorldUser(store, beta, 'beta-analyst', 'analyst'),
  };
  const { community, collection } = await makeCommunity(
    store,
    'ring',
    [acme],
    users['acme-admin']!.user,
  );
  return { acme, beta, users, ring: community, collection };
}

/** Calls the JSON API of a server with a token. */
export function api(
  server: TestServer,
  token: string,
  path: string,
  options: { method?: string; body?: unknown } = {},
): Promise<CallResult> {
  return call(server, `${server.url}/api/v1${path}`, {
    token,
    accept: JSON_TYPE,
    contentType: JSON_TYPE,
    ...(options.method ? { method: options.method } : {}),
    ...(options.body !== undefined ? { body: options.body as object } : {}),
  });
}

/** Creates a list of IP address entries through the API and returns its id. */
export async function createWatchList(
  server: TestServer,
  token: string,
  addresses: string[],
  owner: 'user' | 'organisation' = 'organisation',
): Promise<string> {
  const created = await api(server, token, '/watchlists', {
    method: 'POST',
    body: {
      name: `watch ${addresses.join(' ')}`,
      owner,
      entries: addresses.map((value) => ({ value })),
    },
  });
  assert.equal(created.status, 201, created.text);
  return created.json.watchlist.id as string;
}

/** Returns an indicator whose pattern mentions the address, as version `modified`. */
export function addressIndicator(
  address: string,
  modified = '2024-05-01T10:00:00.000Z',
  id?: string,
): StixFixture {
  return indicator({
    ...(id === undefined ? {} : { id }),
    created: '2024-05-01T10:00:00.000Z',
    modified,
    pattern: `[ipv4-addr:value = '${address}']`,
  });
}

/**
 * Posts objects as Acme's analyst over TAXII, to the world's collection unless another is
 * given, and checks they were stored.
 */
export async function postObjects(
  server: TestServer,
  world: AlertWorld,
  objects: StixFixture[],
  collectionId = world.collection.id,
): Promise<void> {
  const posted = await call(server, `${server.root}collections/${collectionId}/objects/`, {
    token: world.users['acme-analyst']!.token,
    method: 'POST',
    contentType: TAXII,
    body: { objects },
  });
  assert.equal(posted.status, 202, posted.text);
  assert.equal(posted.json.failure_count, 0, posted.text);
}

/** An alert stream read in the background, with its messages so far. */
export interface StreamReader {
  messages: ReceivedMessage[];
  /** Waits until a message passes `check`, and returns it. */
  waitFor(
    check: (message: ReceivedMessage) => boolean,
    what: string,
    ms?: number,
  ): Promise<ReceivedMessage>;
  close(): Promise<void>;
}

/**
 * Opens the alert stream of a list and collects its messages until `close`. Tests give a
 * position (Last-Event-ID or `from`), because a stream without one starts at the head as
 * of the request, which a test cannot observe.
 */
export function readAlertStream(
  server: TestServer,
  watchlistId: string,
  token: string,
  options: { lastEventId?: string; query?: string } = {},
): StreamReader {
  const controller = new AbortController();
  const messages: ReceivedMessage[] = [];
  let failure: unknown;
  const url = `${server.url}/api/v1/watchlists/${watchlistId}/alerts/stream${options.query ?? ''}`;
  const reading = (async () => {
    try {
      const stream = openStream(url, {
        token,
        signal: controller.signal,
        ...(options.lastEventId === undefined ? {} : { lastEventId: options.lastEventId }),
      });
      for await (const message of stream) messages.push(message);
    } catch (error) {
      if (!controller.signal.aborted) failure = error;
    }
  })();
  return {
    messages,
    async waitFor(check, description, ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = messages.find(check);
        if (found) return found;
        if (failure !== undefined) throw failure;
        if (Date.now() > deadline) {
          const seen = messages.map((message) => message.event).join(', ');
          assert.fail(
            `timed out after ${ms} ms waiting for ${description}; received: ${seen || 'nothing'}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      controller.abort();
      await reading;
    },
  };
}
