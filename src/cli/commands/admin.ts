/**
 * Administration commands: collections, users, tokens and collection grants.
 * They work on the store directly, so they run with or without a server.
 */
import type { Command } from 'commander';
import { issueToken } from '../../auth/tokens.ts';
import { addUser } from '../../auth/users.ts';
import { CairnError } from '../../errors.ts';
import { microsToTaxii, nowMicros } from '../../stix/timestamp.ts';
import type { TokenScope } from '../../store/store.ts';
import { STIX_MEDIA_TYPE } from '../../taxii/media.ts';
import { findCollection, withStore, type GlobalOptions } from '../context.ts';

const SCOPES: TokenScope[] = ['read', 'write', 'admin'];

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function parseScopes(raw: string | undefined): TokenScope[] {
  if (!raw) return [];
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

function parseDays(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const days = Number(raw);
  if (!Number.isFinite(days) || days <= 0) {
    throw new CairnError(
      'invalid-parameter',
      `--expires-in ${JSON.stringify(raw)} must be a number of days greater than 0`,
    );
  }
  return nowMicros() + Math.round(days * 86_400_000_000);
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
      await withStore(options, async ({ store, config }) => {
        const created = await store.createCollection({
          apiRoot: options.apiRoot ?? config.taxii.defaultApiRoot,
          title,
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

  collection
    .command('grant <collection> <user>')
    .description('set what a user may do in a collection (admins may do everything)')
    .option('--read', 'allow reading')
    .option('--write', 'allow adding objects')
    .option('--api-root <name>', 'API root of the collection')
    .action(async (idOrAlias: string, userName: string, _options, command: Command) => {
      const options = command.optsWithGlobals<
        GlobalOptions & { read?: boolean; write?: boolean; apiRoot?: string }
      >();
      await withStore(options, async (context) => {
        const target = await findCollection(context, idOrAlias, options.apiRoot);
        const user = await context.store.getUserByName(userName);
        if (!user)
          throw new CairnError(
            'not-found',
            `user ${JSON.stringify(userName)} not found: run \`cairn user list\``,
          );
        const grant = {
          collectionId: target.id,
          userId: user.id,
          canRead: !!options.read,
          canWrite: !!options.write,
        };
        await context.store.setGrant(grant);
        print(`${userName} on ${target.id}: can_read=${grant.canRead} can_write=${grant.canWrite}`);
      });
    });
}

function registerUser(program: Command): void {
  const user = program.command('user').description('manage users');
  user
    .command('add <name>')
    .description('create a user; give them a token with `cairn token create`')
    .option('--admin', 'make the user an administrator (all collections, all rights)')
    .action(async (name: string, _options, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions & { admin?: boolean }>();
      await withStore(options, async ({ store }) => {
        const created = await addUser(store, name, options.admin ? 'admin' : 'user');
        print(`${created.name}\t${created.id}\t${created.role}`);
      });
    });
  user
    .command('list')
    .description('list users')
    .action(async (_options, command: Command) => {
      await withStore(command.optsWithGlobals<GlobalOptions>(), async ({ store }) => {
        for (const item of await store.listUsers()) {
          print(`${item.name}\t${item.id}\t${item.role}${item.disabled ? '\tdisabled' : ''}`);
        }
      });
    });
}

function registerToken(program: Command): void {
  const token = program.command('token').description('manage API tokens');
  token
    .command('create <user>')
    .description('create an API token for a user and print it once')
    .option('--label <text>', 'a note saying what the token is for')
    .option(
      '--scopes <list>',
      "comma-separated subset of read,write,admin (default: all of the user's rights)",
    )
    .option('--expires-in <days>', 'days until the token stops working (default: never)')
    .action(async (userName: string, _options, command: Command) => {
      const options = command.optsWithGlobals<
        GlobalOptions & { label?: string; scopes?: string; expiresIn?: string }
      >();
      const scopes = parseScopes(options.scopes);
      const expiresAt = parseDays(options.expiresIn);
      await withStore(options, async ({ store }) => {
        const owner = await store.getUserByName(userName);
        if (!owner)
          throw new CairnError(
            'not-found',
            `user ${JSON.stringify(userName)} not found: run \`cairn user add ${userName}\` first`,
          );
        const issued = await issueToken(store, owner, {
          scopes,
          ...(options.label ? { label: options.label } : {}),
          ...(expiresAt !== undefined ? { expiresAt } : {}),
        });
        process.stderr.write(
          `token ${issued.record.id} for ${owner.name}; it is shown only this once:\n`,
        );
        print(issued.token);
      });
    });
  token
    .command('list [user]')
    .description('list tokens (never their secrets)')
    .action(async (userName: string | undefined, _options, command: Command) => {
      await withStore(command.optsWithGlobals<GlobalOptions>(), async ({ store }) => {
        const owner = userName ? await store.getUserByName(userName) : undefined;
        if (userName && !owner)
          throw new CairnError('not-found', `user ${JSON.stringify(userName)} not found`);
        const users = new Map((await store.listUsers()).map((item) => [item.id, item.name]));
        for (const item of await store.listTokens(owner?.id)) {
          const state = item.revokedAt
            ? 'revoked'
            : item.expiresAt && item.expiresAt < nowMicros()
              ? 'expired'
              : 'active';
          const used = item.lastUsedAt ? microsToTaxii(item.lastUsedAt) : 'never used';
          print(
            `${item.id}\t${users.get(item.userId) ?? item.userId}\t${state}\t${item.scopes.join(',') || 'all'}\t${used}\t${item.label}`,
          );
        }
      });
    });
  token
    .command('revoke <id>')
    .description('revoke a token at once')
    .action(async (id: string, _options, command: Command) => {
      await withStore(command.optsWithGlobals<GlobalOptions>(), async ({ store }) => {
        if (!(await store.revokeToken(id, nowMicros()))) {
          throw new CairnError(
            'not-found',
            `token ${JSON.stringify(id)} not found: \`cairn token list\` shows token ids`,
          );
        }
        print(`revoked ${id}`);
      });
    });
}

export function registerAdmin(program: Command): void {
  registerCollection(program);
  registerUser(program);
  registerToken(program);
}
