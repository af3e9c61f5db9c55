/**
 * Builds a generated world in a running Cairn through its public interfaces: the JSON API
 * under /api/v1/ for organisations, users, tokens, communities and API shares, and TAXII
 * POST for TAXII shares. It records what the server returned for every share attempt, so
 * the oracle replays exactly the accepted ones.
 */
import { issueToken } from '../auth/tokens.ts';
import { nowMicros } from '../stix/timestamp.ts';
import { call, type CallResult, type TestServer } from '../testing/server.ts';
import { collectionOf, predictShare, replay, userOf } from './oracle.ts';
import type { Finding } from './findings.ts';
import type { ShareEvent, World } from './world.ts';

/** Parsed JSON of a response, read loosely as the server's own tests do. */
export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Server ids and secrets of a built world, keyed by the world's keys. */
export interface BuiltWorld {
  world: World;
  organisationIds: Map<string, string>;
  userIds: Map<string, string>;
  tokens: Map<string, string>;
  communityIds: Map<string, string>;
  /** Collection key → TAXII collection id and its API root path segment. */
  collections: Map<string, { id: string; apiRoot: string }>;
  /** TAXII status resources of share attempts: event index → API root and status id. */
  statuses: Map<number, { apiRoot: string; id: string }>;
  /** Server responses to share attempts, by event index, for messages and probes. */
  shareDetails: Map<number, string>;
  /** Share attempts whose outcome differs from the oracle's prediction. */
  findings: Finding[];
}

/** Calls the JSON API; throws with the response when the status is not the expected one. */
export async function api(
  server: TestServer,
  method: string,
  path: string,
  token: string | null,
  body?: object,
): Promise<CallResult> {
  return call(server, `${server.url}/api/v1${path}`, {
    method,
    token,
    accept: 'application/json',
    ...(body !== undefined ? { body, contentType: 'application/json' } : {}),
  });
}

async function expectOk(
  server: TestServer,
  method: string,
  path: string,
  token: string,
  body?: object,
): Promise<Json> {
  const result = await api(server, method, path, token, body);
  if (result.status < 200 || result.status > 299) {
    throw new Error(`${method} /api/v1${path} failed with ${result.status}: ${result.text}`);
  }
  return result.json as Json;
}

function required<T>(map: Map<string, T>, key: string, what: string): T {
  const value = map.get(key);
  if (value === undefined) throw new Error(`${what} ${key} was not built`);
  return value;
}

async function buildPeople(server: TestServer, built: BuiltWorld): Promise<void> {
  const { world } = built;
  const admin = server.adminToken;
  for (const organisation of world.organisations) {
    const created = await expectOk(server, 'POST', '/organisations', admin, {
      name: `${organisation.name} (world ${world.seed})`,
    });
    built.organisationIds.set(organisation.key, created.id as string);
  }
  for (const organisation of world.organisations) {
    const providerId = required(built.organisationIds, organisation.key, 'organisation');
    for (const client of organisation.clients) {
      await expectOk(server, 'POST', `/organisations/${providerId}/clients`, admin, {
        clientId: required(built.organisationIds, client, 'organisation'),
      });
    }
  }
  for (const user of world.users) {
    const organisationId = required(built.organisationIds, user.organisation, 'organisation');
    const created = await expectOk(
      server,
      'POST',
      `/organisations/${organisationId}/users`,
      admin,
      {
        name: `w${world.seed}-${user.key}`,
        role: user.role,
      },
    );
    built.userIds.set(user.key, created.id as string);
  }
  for (const token of world.tokens) {
    const userId = required(built.userIds, token.user, 'user');
    if (token.state === 'expired') {
      // The API takes whole or fractional days ahead only, so an expired token is issued
      // on the store with an expiry in the past.
      const record = await server.server.store.getUser(userId);
      if (!record) throw new Error(`user ${userId} not found in the store`);
      const issued = await issueToken(server.server.store, record, {
        scopes: token.scopes,
        expiresAt: nowMicros() - 1,
      });
      built.tokens.set(token.key, issued.token);
      continue;
    }
    const created = await expectOk(server, 'POST', `/users/${userId}/tokens`, admin, {
      label: token.key,
      ...(token.scopes.length > 0 ? { scopes: token.scopes } : {}),
    });
    built.tokens.set(token.key, created.token as string);
    if (token.state === 'revoked') {
      await expectOk(server, 'DELETE', `/tokens/${created.record.id as string}`, admin);
    }
  }
}

async function buildCommunities(server: TestServer, built: BuiltWorld): Promise<void> {
  const { world } = built;
  for (const community of world.communities) {
    const creator = community.moderators[0] as string;
    const creatorToken = required(built.tokens, creator, 'token');
    const created = await expectOk(server, 'POST', '/communities', creatorToken, {
      name: `${community.name} (world ${world.seed})`,
      description: community.description,
      ...community.charter,
    });
    const communityId = created.id as string;
    built.communityIds.set(community.key, communityId);
    community.identityId = (created.identity as Record<string, string>).id as string;

    for (const [index, member] of community.members.slice(1).entries()) {
      const organisationId = required(built.organisationIds, member, 'organisation');
      const memberAdmin = world.users.find(
        (u) => u.organisation === member && u.role === 'org-admin',
      );
      if (!memberAdmin) throw new Error(`organisation ${member} has no org admin`);
      const memberAdminToken = required(built.tokens, memberAdmin.key, 'token');
      // Alternate the two ways of joining: invitation accepted by the organisation, or
      // request approved by a moderator.
      if (index % 2 === 0) {
        const invitation = await expectOk(
          server,
          'POST',
          `/communities/${communityId}/invitations`,
          creatorToken,
          { organisationId },
        );
        await expectOk(server, 'POST', `/invitations/${invitation.id}/accept`, memberAdminToken);
      } else {
        const request = await expectOk(
          server,
          'POST',
          `/communities/${communityId}/requests`,
          memberAdminToken,
        );
        await expectOk(server, 'POST', `/invitations/${request.id}/accept`, creatorToken);
      }
    }
    for (const moderator of community.moderators.slice(1)) {
      await expectOk(server, 'POST', `/communities/${communityId}/moderators`, creatorToken, {
        userId: required(built.userIds, moderator, 'user'),
      });
    }
    for (const collection of world.collections.filter((k) => k.community === community.key)) {
      const createdCollection = await expectOk(
        server,
        'POST',
        `/communities/${communityId}/collections`,
        creatorToken,
        { title: `${collection.title} (world ${world.seed})` },
      );
      built.collections.set(collection.key, {
        id: createdCollection.id as string,
        apiRoot: createdCollection.apiRoot as string,
      });
    }
  }
}

/** Runs one share attempt and returns whether the server stored (or already had) it. */
async function runShare(
  server: TestServer,
  built: BuiltWorld,
  event: ShareEvent,
): Promise<{ accepted: boolean; detail: string; statusId?: string }> {
  const token = required(built.tokens, event.contributor, 'token');
  const target = required(built.collections, event.collection, 'collection');
  if (event.via === 'taxii') {
    const result = await call(
      server,
      `${server.url}/${target.apiRoot}/collections/${target.id}/objects/`,
      { method: 'POST', token, body: { objects: [event.object] } },
    );
    const accepted = result.status === 202 && result.json?.success_count === 1;
    return {
      accepted,
      detail: `TAXII POST ${result.status}: ${result.text.slice(0, 1000)}`,
      ...(typeof result.json?.id === 'string' ? { statusId: result.json.id as string } : {}),
    };
  }
  const result = await api(server, 'POST', `/collections/${target.id}/shares`, token, {
    objects: [event.object],
    ...(event.anonymous ? { anonymous: true } : {}),
    ...(event.recipients.length > 0
      ? { recipients: event.recipients.map((u) => required(built.userIds, u, 'user')) }
      : {}),
  });
  const accepted =
    result.status >= 200 && result.status < 300 && result.json?.successes?.length === 1;
  return { accepted, detail: `share API ${result.status}: ${result.text.slice(0, 1000)}` };
}

/**
 * Builds the world on the server. Each share attempt's outcome is written into the event,
 * and attempts whose outcome contradicts the oracle become findings.
 */
export async function buildWorld(server: TestServer, world: World): Promise<BuiltWorld> {
  const built: BuiltWorld = {
    world,
    organisationIds: new Map(),
    userIds: new Map(),
    tokens: new Map(),
    communityIds: new Map(),
    collections: new Map(),
    statuses: new Map(),
    shareDetails: new Map(),
    findings: [],
  };
  await buildPeople(server, built);
  await buildCommunities(server, built);

  for (const [index, event] of world.events.entries()) {
    if (event.kind === 'charter') {
      const community = world.communities.find((c) => c.key === event.community);
      const moderatorToken = required(built.tokens, community?.moderators[0] as string, 'token');
      const communityId = required(built.communityIds, event.community, 'community');
      await expectOk(server, 'PATCH', `/communities/${communityId}`, moderatorToken, event.change);
      continue;
    }
    const prediction = predictShare(world, event, replay(world, index));
    const { accepted, detail, statusId } = await runShare(server, built, event);
    event.outcome = accepted ? 'accepted' : 'rejected';
    built.shareDetails.set(index, detail);
    if (statusId) {
      const apiRoot = required(built.collections, event.collection, 'collection').apiRoot;
      built.statuses.set(index, { apiRoot, id: statusId });
    }
    if (prediction.outcome !== 'either' && prediction.outcome !== event.outcome) {
      built.findings.push({
        caller: event.contributor,
        path: `share #${index} into ${event.collection} via ${event.via}`,
        object: `${event.object.id} version ${event.object.modified}`,
        rule: prediction.rule,
        detail: `expected ${prediction.outcome}, got ${event.outcome}: ${detail}`,
      });
    }
  }

  for (const user of world.users.filter((u) => u.disabled)) {
    await expectOk(
      server,
      'PATCH',
      `/users/${required(built.userIds, user.key, 'user')}`,
      server.adminToken,
      {
        disabled: true,
      },
    );
  }
  return built;
}

/** Names a collection in messages by its world key and community. */
export function describeCollection(world: World, key: string): string {
  return `${key} (${collectionOf(world, key).community})`;
}

/** Names a caller in messages by token key, role and organisation. */
export function describeCaller(world: World, tokenKey: string): string {
  const token = world.tokens.find((t) => t.key === tokenKey);
  const user = userOf(world, token?.user ?? tokenKey);
  const narrowing = token && token.scopes.length > 0 ? ` scopes ${token.scopes.join('+')}` : '';
  const state = token && token.state !== 'active' ? ` ${token.state}` : '';
  return `${tokenKey} [${user.role} of ${user.organisation}${user.disabled ? ', disabled' : ''}${narrowing}${state}]`;
}
