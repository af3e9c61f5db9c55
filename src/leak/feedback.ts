/**
 * The feedback check of the leak suite, from the rule of docs/sharing.md ("Feedback")
 * alone: every token posts one sighting on every object, and every token's correlation view
 * must then count exactly the organisations that share a community with it.
 *
 * The oracle's rule: an organisation gives feedback on an object in each community C of
 * which it is a member and in a collection of which its token reads a version of the object.
 * A reader counts that feedback when it reads a version of the object in a collection of C
 * as a member of C or as a platform admin. The check counts organisations, so running it
 * again on the same world expects the same results.
 */
import { isDeepStrictEqual } from 'node:util';

import type { TestServer } from '../testing/server.ts';
import { api, describeCaller, type BuiltWorld } from './build.ts';
import type { Finding } from './findings.ts';
import {
  authenticate,
  isMember,
  scopeAllows,
  tokenOf,
  visibleVersions,
  type ShareIndexEntry,
} from './oracle.ts';

const RULE_GIVE =
  'feedback is accepted only from a member that sees the object in a collection of its community';
const RULE_COUNT =
  'feedback counts only for readers that see the object as members of the community it was given in';

/** Returns the communities in whose collections the token reads a version of the object. */
function communitiesSeeing(
  built: BuiltWorld,
  state: ShareIndexEntry,
  tokenKey: string,
  objectId: string,
): Set<string> {
  const found = new Set<string>();
  for (const collection of built.world.collections) {
    const versions = visibleVersions(built.world, tokenKey, collection.key, state);
    if (versions.some((version) => version.id === objectId)) found.add(collection.community);
  }
  return found;
}

/**
 * Returns the communities where the token's organisation gives feedback on the object
 * (`give`), or whose feedback on the object the token counts (`count`).
 */
function feedbackScopes(
  built: BuiltWorld,
  state: ShareIndexEntry,
  tokenKey: string,
  objectId: string,
  purpose: 'give' | 'count',
): Set<string> {
  const { world } = built;
  const user = authenticate(world, tokenKey);
  const token = tokenOf(world, tokenKey);
  if (!user || !scopeAllows(token, 'read')) return new Set();
  if (purpose === 'give' && !scopeAllows(token, 'write')) return new Set();
  const seeing = communitiesSeeing(built, state, tokenKey, objectId);
  if (purpose === 'count' && user.role === 'platform-admin') return seeing;
  return new Set([...seeing].filter((c) => isMember(world, user.organisation, c)));
}

/** Posts a sighting from every token on every object and checks every correlation view. */
export async function checkFeedback(
  server: TestServer,
  built: BuiltWorld,
  state: ShareIndexEntry,
  findings: Finding[],
): Promise<void> {
  const { world } = built;
  const objectIds = [...new Set(state.stored.map((version) => version.id))].sort();
  const tokens = world.tokens.filter((token) => authenticate(world, token.key));
  // Organisation key → communities in which it gave feedback, per object.
  const feedbackGiven = new Map<string, Map<string, Set<string>>>();

  for (const token of tokens) {
    const secret = built.tokens.get(token.key) as string;
    const organisation = authenticate(world, token.key)!.organisation;
    for (const objectId of objectIds) {
      const scopes = feedbackScopes(built, state, token.key, objectId, 'give');
      const result = await api(server, 'POST', `/objects/${objectId}/sightings`, secret, {
        count: 1,
      });
      const accepted = result.status === 200;
      if (accepted !== scopes.size > 0) {
        findings.push({
          caller: describeCaller(world, token.key),
          path: `POST /api/v1/objects/${objectId}/sightings`,
          object: objectId,
          rule: RULE_GIVE,
          detail: `status ${result.status}; expected ${scopes.size > 0 ? 200 : 'a refusal'}`,
        });
      }
      if (!accepted) continue;
      const byObject = feedbackGiven.get(organisation) ?? new Map<string, Set<string>>();
      const communities = byObject.get(objectId) ?? new Set<string>();
      for (const scope of scopes) communities.add(scope);
      byObject.set(objectId, communities);
      feedbackGiven.set(organisation, byObject);
    }
  }

  for (const token of tokens) {
    const secret = built.tokens.get(token.key) as string;
    for (const objectId of objectIds) {
      const result = await api(server, 'GET', `/objects/${objectId}/correlation`, secret);
      if (result.status !== 200) continue;
      const counting = feedbackScopes(built, state, token.key, objectId, 'count');
      const expected = [...feedbackGiven]
        .filter(([, byObject]) =>
          [...(byObject.get(objectId) ?? [])].some((scope) => counting.has(scope)),
        )
        .map(([organisation]) => organisation)
        .sort();
      const feedback = (result.json?.feedback ?? {}) as { organisations?: number };
      if (!isDeepStrictEqual(feedback.organisations, expected.length)) {
        findings.push({
          caller: describeCaller(world, token.key),
          path: `GET /api/v1/objects/${objectId}/correlation`,
          object: objectId,
          rule: RULE_COUNT,
          detail: `counted ${feedback.organisations} organisations; expected ${expected.length} (${expected.join(',')})`,
        });
      }
    }
  }
}
