/**
 * First-start setup: the default API root, a local organisation, a `default` community
 * that owns the default collection, the cursor signing key, and an admin token when the
 * store has no users. Each step is skipped when already done.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { issueToken } from './auth/tokens.ts';
import { addUser } from './auth/users.ts';
import type { CairnConfig } from './config/config.ts';
import { CairnError } from './errors.ts';
import { nowMicros } from './stix/timestamp.ts';
import { buildIdentity } from './store/identity.ts';
import type {
  CollectionRecord,
  CommunityRecord,
  OrganisationRecord,
  Store,
} from './store/store.ts';
import { STIX_MEDIA_TYPE } from './taxii/media.ts';

export interface BootstrapResult {
  signingKey: Buffer;
  defaultCollection?: CollectionRecord;
  /** Set only on the start that created the admin user: the token, to show once. */
  adminToken?: { userName: string; token: string };
}

const SIGNING_KEY_SETTING = 'taxii.cursor_signing_key';

/** Names of the organisation and community that first start creates. */
export const LOCAL_ORGANISATION = 'local';
export const DEFAULT_COMMUNITY = 'default';

/**
 * Path segments that are not API roots: TAXII discovery lives at /taxii2/ and the JSON API
 * at /api/, so an API root of that name would be unreachable.
 */
export const RESERVED_API_ROOTS: readonly string[] = ['api', 'taxii2'];

export interface BootstrapOptions {
  /** Create an admin user and token when the store has no users (done by `serve`). */
  createAdmin: boolean;
}

async function localOrganisation(store: Store): Promise<OrganisationRecord> {
  const existing = await store.getOrganisationByName(LOCAL_ORGANISATION);
  if (existing) return existing;

  const identity = buildIdentity({ name: LOCAL_ORGANISATION, identityClass: 'organization' });
  return store.createOrganisation({
    id: randomUUID(),
    name: LOCAL_ORGANISATION,
    identity: JSON.stringify(identity),
    createdAt: nowMicros(),
  });
}

/** Creates the default community, or gives it a moderator when it was created without one. */
async function defaultCommunity(
  store: Store,
  organisation: OrganisationRecord,
  moderatorId: string | undefined,
): Promise<CommunityRecord> {
  const existing = await store.getCommunityByName(DEFAULT_COMMUNITY);
  if (existing) {
    const moderators = await store.listModerators(existing.id);
    if (moderators.length === 0 && moderatorId !== undefined) {
      await store.addModerator(existing.id, moderatorId);
    }
    return existing;
  }
  const identity = buildIdentity({ name: DEFAULT_COMMUNITY, identityClass: 'group' });
  const community: CommunityRecord = {
    id: randomUUID(),
    name: DEFAULT_COMMUNITY,
    description: 'Created on first start',
    defaultTlp: 'green',
    allowAnonymous: false,
    publishClear: false,
    identity: JSON.stringify(identity),
    createdAt: nowMicros(),
  };
  return store.createCommunity(community, organisation.id, moderatorId);
}

export async function bootstrap(
  store: Store,
  config: CairnConfig,
  options: BootstrapOptions,
): Promise<BootstrapResult> {
  const rootName = config.taxii.defaultApiRoot;
  if (RESERVED_API_ROOTS.includes(rootName)) {
    throw new CairnError(
      'invalid-parameter',
      `API root name "${rootName}" is reserved: choose another taxii.defaultApiRoot`,
    );
  }
  if (!(await store.getApiRoot(rootName))) {
    await store.createApiRoot({
      name: rootName,
      title: `${config.taxii.title} default API root`,
      maxContentLength: config.taxii.maxContentLength,
    });
  }

  const key = await store.setSettingIfAbsent(
    SIGNING_KEY_SETTING,
    randomBytes(32).toString('base64'),
  );
  const result: BootstrapResult = { signingKey: Buffer.from(key, 'base64') };

  const users = await store.listUsers();
  const organisation = await localOrganisation(store);
  if (options.createAdmin && users.length === 0) {
    const admin = await addUser(store, 'admin', 'platform-admin', organisation.id);
    const issued = await issueToken(store, admin, { label: 'created on first start' });
    result.adminToken = { userName: admin.name, token: issued.token };
    users.push(admin);
  }

  const moderator = users.find((user) => user.role === 'platform-admin');
  let defaultCollection = await store.getCollection(rootName, 'default');
  if (!defaultCollection && (await store.listCollections(rootName)).length === 0) {
    const community = await defaultCommunity(store, organisation, moderator?.id);
    defaultCollection = await store.createCollection({
      apiRoot: rootName,
      title: 'Default collection',
      description: 'Created on first start',
      alias: 'default',
      mediaTypes: [STIX_MEDIA_TYPE],
      communityId: community.id,
    });
  } else if ((await store.getCommunityByName(DEFAULT_COMMUNITY)) !== undefined) {
    await defaultCommunity(store, organisation, moderator?.id);
  }
  if (defaultCollection) result.defaultCollection = defaultCollection;
  return result;
}
