/**
 * First-start setup: the default API root and collection, the cursor signing key, and
 * an admin token when the store has no users. Each step is skipped when already done.
 */
import { randomBytes } from 'node:crypto';
import { issueToken } from './auth/tokens.ts';
import { addUser } from './auth/users.ts';
import type { CairnConfig } from './config/config.ts';
import { STIX_MEDIA_TYPE } from './taxii/media.ts';
import type { CollectionRecord, Store } from './store/store.ts';

export interface BootstrapResult {
  signingKey: Buffer;
  defaultCollection?: CollectionRecord;
  /** Set only on the start that created the admin user: the token, to show once. */
  adminToken?: { userName: string; token: string };
}

const SIGNING_KEY_SETTING = 'taxii.cursor_signing_key';

export interface BootstrapOptions {
  /** Create an admin user and token when the store has no users (done by `serve`). */
  createAdmin: boolean;
}

export async function bootstrap(
  store: Store,
  config: CairnConfig,
  options: BootstrapOptions,
): Promise<BootstrapResult> {
  const rootName = config.taxii.defaultApiRoot;
  if (!(await store.getApiRoot(rootName))) {
    await store.createApiRoot({
      name: rootName,
      title: `${config.taxii.title} default API root`,
      maxContentLength: config.taxii.maxContentLength,
    });
  }

  let defaultCollection = await store.getCollection(rootName, 'default');
  if (!defaultCollection && (await store.listCollections(rootName)).length === 0) {
    defaultCollection = await store.createCollection({
      apiRoot: rootName,
      title: 'Default collection',
      description: 'Created on first start',
      alias: 'default',
      mediaTypes: [STIX_MEDIA_TYPE],
    });
  }

  const key = await store.setSettingIfAbsent(
    SIGNING_KEY_SETTING,
    randomBytes(32).toString('base64'),
  );
  const result: BootstrapResult = { signingKey: Buffer.from(key, 'base64') };
  if (defaultCollection) result.defaultCollection = defaultCollection;

  if (options.createAdmin && (await store.listUsers()).length === 0) {
    const admin = await addUser(store, 'admin', 'admin');
    const issued = await issueToken(store, admin, { label: 'created on first start' });
    result.adminToken = { userName: admin.name, token: issued.token };
  }
  return result;
}
