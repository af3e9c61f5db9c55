/**
 * Administration commands: collections, users and tokens. They work on the store
 * directly, so they run with or without a server. Who may use a collection follows from
 * the community that owns it (`cairn community`). A collection made here belongs to no
 * community, so only platform admins may use it.
 */
import type { Command } from 'commander';
import { tokenIdOf } from '../../auth/tokens.ts';
import { CairnError } from '../../errors.ts';
import type { TokenScope, TokenView, UserRole } from '../../sharing/service.ts';
import { checkAlias, checkName } from '../../sharing/guard.ts';
import { microsToTaxii, nowMicros } from '../../stix/timestamp.ts';
import { STIX_MEDIA_TYPE } from '../../taxii/media.ts';
import { withStore, type GlobalOptions } from '../context.ts';
import {
  actingOption,
  findUser,
  parseChoice,
  withServices,
  type SharingOptions,
} from './sharing-context.ts';

const SCOPES: TokenScope[] = ['read', 'write', 'admin'];
const ROLES: readonly UserRole[] = ['platform-admin', 'org-admin', 'analyst', 'read-only'];

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function parseScopes(raw: string | undefined): TokenScope[] {
  if (raw === undefined) return [];
  if (raw.trim() === '') {
    throw new CairnError(
      'invalid-parameter',
      `--scopes is empty: name at least one of ${SCOPES.join(', ')}, or leave the option out for all of the user's rights`,
    );
  }
  const scopes = raw.split(',').map((scope) => scope.trim());
  for (const scope of scopes) {
    if (!SCOPES.includes(scope as TokenScope)) {
      throw new CairnError(
        'invalid-parameter',
        `--scopes: ${JSON.stringify(scope)} is not one of ${SCOPES.join(', ')}`,
      );
    }
  }
  return scopes as TokenScope[];
}

/** The longest token lifetime `--expires-in` accepts, in days (about 100 years). */
const MAX_EXPIRY_DAYS = 36_500;

/** Reads `--expires-in` as a whole number of days. */
function parseDays(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const days = Number(raw);
  if (!/^[0-9]+$/.test(raw.trim()) || days < 1 || days > MAX_EXPIRY_DAYS) {
    throw new CairnError(
      'invalid-parameter',
      `--expires-in ${JSON.stringify(raw)} must be a whole number of days from 1 to ${MAX_EXPIRY_DAYS}`,
    );
  }
  return days;
}

function registerCollection(program: Command): void {
  const collection = program.command('collection').description('create and list TAXII collections');

  collection
    .command('create <title>')
    .description('create a collection and print its id')
    .option('--alias <alias>', 'a short name usable in URLs instead of the id')
    .option('--description <text>', 'a description shown to TAXII clients')
    .option('--api-root <name>', 'API root to create it in (default: the configured default root)')
    .action(async (title: string, _options, command: Command) => {
      const options = command.optsWithGlobals<
        GlobalOptions & { alias?: string; description?: string; apiRoot?: string }
      >();
      const checkedTitle = checkName(title, 'collection title');
      if (options.alias !== undefined) checkAlias(options.alias);
      await withStore(options, async ({ store, config }) => {
        const created = await store.createCollection({
          apiRoot: options.apiRoot ?? config.taxii.defaultApiRoot,
          title: checkedTitle,
          ...(options.alias ? { alias: options.alias } : {}),
          ...(options.description ? { description: options.description } : {}),
          mediaTypes: [STIX_MEDIA_TYPE],
        });
        print(created.id);
      });
    });

  collection
    .command('list')
    .description('list collections with their object counts')
    .option('--api-root <name>', 'API root to list (default: the configured default root)')
    .action(async (_options, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions & { apiRoot?: string }>();
      await withStore(options, async ({ store, config }) => {
        const root = options.apiRoot ?? config.taxii.defaultApiRoot;
        for (const item of await store.listCollections(root)) {
          const counts = await store.countCollection(item.id);
          print(
            `${item.id}\t${item.alias ?? '-'}\t${counts.objects} objects\t${counts.versions} versions\t${item.title}`,
          );
        }
      });
    });
}

function registerUser(program: Command): void {
  const user = program
    .command('user')
    .description('list and change users; `cairn org user add` creates them');

  user
    .command('list')
    .description('list every user with their organisation and role')
    .action(async (_options, command: Command) => {
      await withStore(command.optsWithGlobals<GlobalOptions>(), async ({ store }) => {
        const organisations = new Map(
          (await store.listOrganisations()).map((item) => [item.id, item.name]),
        );
        for (const item of await store.listUsers()) {
          const organisation = organisations.get(item.organisationId) ?? item.organisationId;
          print(
            `${item.name}\t${item.id}\t${organisation}\t${item.role}${item.disabled ? '\tdisabled' : ''}`,
          );
        }
      });
    });

  actingOption(
    user
      .command('set <user>')
      .description("change a user's role, or disable or enable them (name or id)")
      .option('--role <role>', 'the new role: platform-admin, org-admin, analyst or read-only')
      .option('--disable', 'stop the user: their tokens fail with 401 until enabled again')
      .option('--enable', 'let a disabled user sign in again'),
  ).action(async (reference: string, _options, command: Command) => {
    const options = command.optsWithGlobals<
      SharingOptions & { role?: string; disable?: boolean; enable?: boolean }
    >();
    if (options.disable && options.enable) {
      throw new CairnError('invalid-parameter', 'pass --disable or --enable, not both');
    }
    const role =
      options.role === undefined ? undefined : parseChoice('--role', options.role, ROLES);
    let disabled: boolean | undefined;
    if (options.disable) disabled = true;
    if (options.enable) disabled = false;
    if (role === undefined && disabled === undefined) {
      throw new CairnError(
        'invalid-parameter',
        'nothing to change: pass --role, --disable or --enable',
      );
    }
    await withServices(options, async (context) => {
      const target = await findUser(context, reference);
      const changed = await context.services.updateUser(context.actor, target.id, {
        ...(role !== undefined ? { role } : {}),
        ...(disabled !== undefined ? { disabled } : {}),
      });
      print(
        `${changed.name}\t${changed.id}\t${changed.role}${changed.disabled ? '\tdisabled' : ''}`,
      );
    });
  });
}

function tokenState(token: TokenView): string {
  if (token.revokedAt !== undefined) return 'revoked';
  if (token.expiresAt !== undefined && token.expiresAt < nowMicros()) return 'expired';
  return 'active';
}

function registerToken(program: Command): void {
  const token = program.command('token').description('manage API tokens');

  actingOption(
    token
      .command('create <user>')
      .description('create an API token for a user (name or id) and print it once')
      .option('--label <text>', 'a note saying what the token is for')
      .option(
        '--scopes <list>',
        "comma-separated subset of read,write,admin (default: all of the user's rights)",
      )
      .option('--expires-in <days>', 'days until the token stops working (default: never)'),
  ).action(async (reference: string, _options, command: Command) => {
    const options = command.optsWithGlobals<
      SharingOptions & { label?: string; scopes?: string; expiresIn?: string }
    >();
    const scopes = parseScopes(options.scopes);
    const expiresInDays = parseDays(options.expiresIn);
    await withServices(options, async (context) => {
      const owner = await findUser(context, reference);
      const issued = await context.services.createToken(context.actor, owner.id, {
        ...(scopes.length > 0 ? { scopes } : {}),
        ...(options.label ? { label: options.label } : {}),
        ...(expiresInDays !== undefined ? { expiresInDays } : {}),
      });
      process.stderr.write(
        `token ${issued.record.id} for ${owner.name}; it is shown only this once:\n`,
      );
      print(issued.token);
    });
  });

  actingOption(
    token
      .command('list [user]')
      .description("list tokens (never their secrets): one user's, or everyone's"),
  ).action(async (reference: string | undefined, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const owners = reference
        ? [await findUser(context, reference)]
        : await context.store.listUsers();
      for (const owner of owners) {
        for (const item of await context.services.listTokens(context.actor, owner.id)) {
          const used = item.lastUsedAt ? microsToTaxii(item.lastUsedAt) : 'never used';
          print(
            `${item.id}\t${owner.name}\t${tokenState(item)}\t${item.scopes.join(',') || 'all'}\t${used}\t${item.label}`,
          );
        }
      }
    });
  });

  actingOption(
    token
      .command('revoke <id>')
      .description('revoke a token at once, given its id (`cairn token list`) or the whole token'),
  ).action(async (id: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      // A whole token is reduced to its id, so its secret is never echoed.
      const tokenId = tokenIdOf(id) ?? id;
      await context.services.revokeToken(context.actor, tokenId);
      print(`revoked ${tokenId}`);
    });
  });
}

export function registerAdmin(program: Command): void {
  registerCollection(program);
  registerUser(program);
  registerToken(program);
}
