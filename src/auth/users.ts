/**
 * Users: people or programs that hold API tokens.
 */
import { randomUUID } from 'node:crypto';
import { CairnError } from '../errors.ts';
import { nowMicros } from '../stix/timestamp.ts';
import type { Role, Store, UserRecord } from '../store/store.ts';

/** User names appear in HTTP Basic credentials, so they cannot contain a colon. */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/** Creates a user of an organisation; throws CairnError for a bad or taken name. */
export async function addUser(
  store: Store,
  name: string,
  role: Role,
  organisationId: string,
): Promise<UserRecord> {
  if (!USER_NAME.test(name)) {
    throw new CairnError(
      'invalid-parameter',
      `user name ${JSON.stringify(name)} is not valid: use 1 to 128 letters, digits, ".", "_", "@" or "-", starting with a letter or digit`,
    );
  }
  if (await store.getUserByName(name)) {
    throw new CairnError('conflict', `a user named ${JSON.stringify(name)} already exists`);
  }
  return store.createUser({
    id: randomUUID(),
    name,
    organisationId,
    role,
    createdAt: nowMicros(),
    disabled: false,
  });
}
