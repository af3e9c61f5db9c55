/**
 * What the organisation, community, invitation and token commands share: the sharing
 * services over the local store, and the user they act as. By default that is the first
 * enabled platform admin, which the first `cairn serve` creates. `--as USER` picks another
 * user for steps that only an organisation's own admin may take, such as accepting an
 * invitation.
 */
import type { Command } from 'commander';
import type { CairnConfig } from '../../config/config.ts';
import { CairnError } from '../../errors.ts';
import { createSharingServices, type Actor, type SharingServices } from '../../sharing/service.ts';
import type { Store } from '../../store/store.ts';
import { withStore, type GlobalOptions } from '../context.ts';

export interface SharingOptions extends GlobalOptions {
  as?: string;
}

export interface SharingContext {
  config: CairnConfig;
  store: Store;
  services: SharingServices;
  actor: Actor;
}

export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Adds the `--as` option every sharing command takes. */
export function actingOption(command: Command): Command {
  return command.option(
    '--as <user>',
    'user name to act as (default: the first platform admin); audit entries name this user',
  );
}

async function findActor(store: Store, userName: string | undefined): Promise<Actor> {
  if (userName !== undefined) {
    const user = await store.getUserByName(userName);
    if (!user) {
      throw new CairnError(
        'not-found',
        `--as: user ${JSON.stringify(userName)} not found: \`cairn user list\` shows user names`,
      );
    }
    return { userId: user.id };
  }
  const admin = (await store.listUsers()).find(
    (user) => user.role === 'platform-admin' && !user.disabled,
  );
  if (!admin) {
    throw new CairnError(
      'not-found',
      'no enabled platform admin in this store: run `cairn serve` once to create one, or pass --as USER',
    );
  }
  return { userId: admin.id };
}

/** Opens the store, builds the services and runs `run` as the chosen user. */
export async function withServices<T>(
  options: SharingOptions,
  run: (context: SharingContext) => Promise<T>,
): Promise<T> {
  return withStore(options, async ({ store, config }) => {
    const actor = await findActor(store, options.as);
    const services = createSharingServices(store, {
      defaultApiRoot: config.taxii.defaultApiRoot,
    });
    return run({ config, store, services, actor });
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Names are looked up in the store itself, not through the services, because the CLI
// operator can read the store file anyway. The services still decide what the acting user
// may do.

/** Finds an organisation by id or by name (names compare without regard to case). */
export async function findOrganisation(
  context: SharingContext,
  reference: string,
): Promise<{ id: string; name: string }> {
  const { store } = context;
  const found = UUID.test(reference)
    ? await store.getOrganisation(reference)
    : await store.getOrganisationByName(reference);
  if (!found) {
    throw new CairnError(
      'not-found',
      `organisation ${JSON.stringify(reference)} not found: \`cairn org list\` shows names and ids`,
    );
  }
  return found;
}

/** Finds a community by id or by name (names compare without regard to case). */
export async function findCommunity(
  context: SharingContext,
  reference: string,
): Promise<{ id: string; name: string }> {
  const { store } = context;
  const found = UUID.test(reference)
    ? await store.getCommunity(reference)
    : await store.getCommunityByName(reference);
  if (!found) {
    throw new CairnError(
      'not-found',
      `community ${JSON.stringify(reference)} not found: \`cairn community list\` shows names and ids`,
    );
  }
  return found;
}

/** Finds a user by id or name. */
export async function findUser(context: SharingContext, reference: string) {
  const user = UUID.test(reference)
    ? await context.store.getUser(reference)
    : await context.store.getUserByName(reference);
  if (!user) {
    throw new CairnError(
      'not-found',
      `user ${JSON.stringify(reference)} not found: \`cairn user list\` shows user names`,
    );
  }
  return user;
}

/** Parses a comma-separated option into trimmed, non-empty items. */
export function parseList(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** Checks an option against its allowed values, naming both on failure. */
export function parseChoice<T extends string>(
  option: string,
  raw: string,
  allowed: readonly T[],
): T {
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new CairnError(
      'invalid-parameter',
      `${option} ${JSON.stringify(raw)} is not one of ${allowed.join(', ')}`,
    );
  }
  return raw as T;
}
