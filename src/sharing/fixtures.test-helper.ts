/**
 * Test fixtures for the sharing model, written straight to the store: organisations,
 * users with tokens, communities and their collections.
 */
import { randomUUID } from 'node:crypto';

import { issueToken } from '../auth/tokens.ts';
import { addUser } from '../auth/users.ts';
import { nowMicros } from '../stix/timestamp.ts';
import { buildIdentity } from '../store/identity.ts';
import type {
  Charter,
  CollectionRecord,
  CommunityRecord,
  OrganisationRecord,
  Role,
  Store,
  TokenScope,
  UserRecord,
} from '../store/store.ts';

export async function makeOrganisation(store: Store, name: string): Promise<OrganisationRecord> {
  return store.createOrganisation({
    id: randomUUID(),
    name,
    identity: JSON.stringify(buildIdentity({ name, identityClass: 'organization' })),
    createdAt: nowMicros(),
  });
}

export interface TestUser {
  user: UserRecord;
  token: string;
}

export async function makeUser(
  store: Store,
  organisation: OrganisationRecord,
  name: string,
  role: Role = 'analyst',
  scopes: TokenScope[] = [],
): Promise<TestUser> {
  const user = await addUser(store, name, role, organisation.id);
  const { token } = await issueToken(store, user, { scopes });
  return { user, token };
}

export interface TestCommunity {
  community: CommunityRecord;
  collection: CollectionRecord;
}

/** Creates a community of the members, moderated by `moderator`, owning one collection. */
export async function makeCommunity(
  store: Store,
  name: string,
  members: OrganisationRecord[],
  moderator: UserRecord,
  charter: Partial<Charter> = {},
  apiRoot = 'default',
): Promise<TestCommunity> {
  const community = await store.createCommunity(
    {
      id: randomUUID(),
      name,
      description: `${name} test community`,
      defaultTlp: 'green',
      allowAnonymous: false,
      publishClear: false,
      ...charter,
      identity: JSON.stringify(buildIdentity({ name, identityClass: 'group' })),
      createdAt: nowMicros(),
    },
    members[0]!.id,
    moderator.id,
  );
  for (const member of members.slice(1)) await store.addMember(community.id, member.id);
  const collection = await store.createCollection({
    apiRoot,
    title: name,
    alias: name,
    communityId: community.id,
  });
  return { community, collection };
}
