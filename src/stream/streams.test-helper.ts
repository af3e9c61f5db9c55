/**
 * Fixtures of the stream tests: a small world of organisations and communities on a real
 * server, TAXII posts, and readers that collect stream messages with a deadline.
 */
import assert from 'node:assert/strict';

import {
  makeCommunity,
  makeOrganisation,
  makeUser,
  type TestUser,
} from '../sharing/fixtures.test-helper.ts';
import type { CollectionRecord, CommunityRecord } from '../store/store.ts';
import { call, type TestServer } from '../testing/server.ts';
import type { StixFixture } from '../testing/stix.ts';
import { openStream, type ReceivedMessage } from './client.ts';

export interface World {
  /** Analyst of organisation A, member of community A. */
  alice: TestUser;
  /** Analyst of organisation B, member of community B only. */
  bob: TestUser;
  /** Analyst of organisation C, a client of A. */
  carol: TestUser;
  communityA: CommunityRecord;
  collectionA: CollectionRecord;
  communityB: CommunityRecord;
  collectionB: CollectionRecord;
}

/** Organisations A, B and C (a client of A), a community of each of A and B. */
export async function makeWorld(server: TestServer): Promise<World> {
  const store = server.server.store;
  const [orgA, orgB, orgC] = await Promise.all(
    ['Org A', 'Org B', 'Org C'].map((name) => makeOrganisation(store, name)),
  );
  await store.addClient(orgA!.id, orgC!.id);
  const alice = await makeUser(store, orgA!, 'alice');
  const bob = await makeUser(store, orgB!, 'bob');
  const carol = await makeUser(store, orgC!, 'carol');
  const a = await makeCommunity(store, 'ring-a', [orgA!], alice.user);
  const b = await makeCommunity(store, 'ring-b', [orgB!], bob.user);
  return {
    alice,
    bob,
    carol,
    communityA: a.community,
    collectionA: a.collection,
    communityB: b.community,
    collectionB: b.collection,
  };
}

/** Posts objects over TAXII and checks that every one was stored. */
export async function post(
  server: TestServer,
  token: string,
  collection: CollectionRecord,
  objects: StixFixture[],
): Promise<void> {
  const response = await call(server, `collections/${collection.id}/objects/`, {
    method: 'POST',
    token,
    body: { objects },
  });
  assert.equal(response.status, 202, response.text);
  assert.equal(response.json.failure_count, 0, response.text);
}

export interface CollectOptions {
  lastEventId?: string;
  /** Stop once this returns true for the messages so far. */
  until: (messages: ReceivedMessage[]) => boolean;
  timeoutMs?: number;
}

/** Reads one stream until `until` holds, then closes it; fails after the timeout. */
export async function collect(
  url: string,
  token: string,
  options: CollectOptions,
): Promise<ReceivedMessage[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 10_000);
  const messages: ReceivedMessage[] = [];
  try {
    const stream = openStream(url, {
      token,
      signal: controller.signal,
      ...(options.lastEventId !== undefined ? { lastEventId: options.lastEventId } : {}),
    });
    for await (const message of stream) {
      messages.push(message);
      if (options.until(messages)) break;
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  if (!options.until(messages)) {
    assert.fail(
      `stream ${url} ended before the expected messages; got ${messages.length}: ` +
        JSON.stringify(messages.map((message) => message.event)),
    );
  }
  return messages;
}

/** Returns the messages that carry events. */
export function eventsOf(messages: ReceivedMessage[]): ReceivedMessage[] {
  return messages.filter((message) =>
    ['created', 'updated', 'revoked', 'deleted'].includes(message.event),
  );
}

/** Counts the event messages so far; for `until`. */
export function eventCount(messages: ReceivedMessage[]): number {
  return eventsOf(messages).length;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
