/**
 * `cairn community`: communities, their collections, moderators and members, through the
 * same sharing services as the JSON API (docs/sharing.md, "Communities").
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { CairnError } from '../../errors.ts';
import { microsToTaxii } from '../../stix/timestamp.ts';
import type { DefaultTlp } from '../../sharing/service.ts';
import {
  actingOption,
  findCommunity,
  findOrganisation,
  findUser,
  parseChoice,
  parseList,
  print,
  withServices,
  type SharingOptions,
} from './sharing-context.ts';

const TLPS: readonly DefaultTlp[] = ['clear', 'green', 'amber', 'amber+strict'];

interface CreateOptions extends SharingOptions {
  description?: string;
  defaultTlp?: string;
  allowAnonymous?: boolean;
  publishClear?: boolean;
}

function registerCommunityCollection(community: Command): void {
  const collection = community
    .command('collection')
    .description("manage a community's TAXII collections");

  actingOption(
    collection
      .command('create <community> <title>')
      .description('create a TAXII collection owned by the community and print its id')
      .option('--alias <alias>', 'a short name usable in TAXII URLs instead of the id')
      .option('--description <text>', 'a description shown to TAXII clients'),
  ).action(async (reference: string, title: string, _options, command: Command) => {
    const options = command.optsWithGlobals<
      SharingOptions & { alias?: string; description?: string }
    >();
    await withServices(options, async (context) => {
      const target = await findCommunity(context, reference);
      const created = await context.services.createCollection(context.actor, target.id, {
        title,
        ...(options.alias !== undefined ? { alias: options.alias } : {}),
        ...(options.description !== undefined ? { description: options.description } : {}),
      });
      print(created.id);
    });
  });
}

function registerModerator(community: Command): void {
  const moderator = community.command('moderator').description("manage a community's moderators");

  actingOption(
    moderator
      .command('add <community> <user>')
      .description('make a user of a member organisation a moderator'),
  ).action(async (reference: string, userName: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const target = await findCommunity(context, reference);
      const user = await findUser(context, userName);
      await context.services.addModerator(context.actor, target.id, user.id);
      print(`${user.name} moderates ${target.name}`);
    });
  });

  actingOption(
    moderator
      .command('remove <community> <user>')
      .description('remove a moderator; the last one cannot be removed'),
  ).action(async (reference: string, userName: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const target = await findCommunity(context, reference);
      const user = await findUser(context, userName);
      await context.services.removeModerator(context.actor, target.id, user.id);
      print(`${user.name} no longer moderates ${target.name}`);
    });
  });
}

function registerMember(community: Command): void {
  const member = community.command('member').description("manage a community's members");

  actingOption(
    member
      .command('remove <community> <org>')
      .description('remove a member organisation; the last one cannot be removed'),
  ).action(async (reference: string, orgName: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const target = await findCommunity(context, reference);
      const organisation = await findOrganisation(context, orgName);
      await context.services.removeMember(context.actor, target.id, organisation.id);
      print(`${organisation.name} is no longer a member of ${target.name}`);
    });
  });
}

/** Reads the STIX objects of a bundle, a TAXII envelope, an array or a single object. */
async function readObjects(file: string): Promise<unknown[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new CairnError(
      'invalid-json',
      `${file} could not be read as JSON (${(error as Error).message}): pass a STIX bundle or a TAXII envelope`,
    );
  }
  if (Array.isArray(parsed)) return parsed;
  if (parsed !== null && typeof parsed === 'object') {
    const objects = (parsed as { objects?: unknown }).objects;
    if (Array.isArray(objects)) return objects;
    if ('type' in parsed && (parsed as { type: unknown }).type !== 'bundle') return [parsed];
  }
  throw new CairnError(
    'invalid-envelope',
    `${file} holds no STIX objects: pass a STIX bundle, a TAXII envelope or an array of objects`,
  );
}

function registerShare(community: Command): void {
  actingOption(
    community
      .command('share <collection> <file>')
      .description(
        'share the STIX objects of a bundle or envelope file into a community collection (id, or alias in the default API root); exits with 1 when any object fails',
      )
      .option('--anonymous', "replace created_by_ref with the community's identity")
      .option(
        '--recipients <users>',
        'comma-separated user names or ids allowed to read the TLP:RED objects',
      ),
  ).action(async (reference: string, file: string, _options, command: Command) => {
    const options = command.optsWithGlobals<
      SharingOptions & { anonymous?: boolean; recipients?: string }
    >();
    const objects = await readObjects(file);
    const failed = await withServices(options, async (context) => {
      const { store, config } = context;
      const collection =
        (await store.getCollectionById(reference)) ??
        (await store.getCollection(config.taxii.defaultApiRoot, reference));
      if (!collection) {
        throw new CairnError(
          'not-found',
          `collection ${JSON.stringify(reference)} not found: \`cairn community show COMMUNITY\` lists its collections`,
        );
      }
      const recipients = [];
      for (const name of parseList(options.recipients) ?? []) {
        recipients.push((await findUser(context, name)).id);
      }
      const result = await context.services.share(context.actor, collection.id, objects, {
        ...(options.anonymous ? { anonymous: true } : {}),
        ...(recipients.length > 0 ? { recipients } : {}),
      });
      for (const success of result.successes) {
        print(`${success.outcome}\t${success.id}\t${success.version}`);
      }
      for (const failure of result.failures) {
        process.stderr.write(`failed\t${failure.id}\t${failure.version}\t${failure.message}\n`);
      }
      process.stderr.write(`${result.successes.length} shared, ${result.failures.length} failed\n`);
      return result.failures.length > 0;
    });
    if (failed) process.exitCode = 1;
  });
}

export function registerCommunity(program: Command): void {
  const community = program
    .command('community')
    .description('manage communities (trust groups), their collections and members');

  actingOption(
    community
      .command('create <name>')
      .description(
        "create a community and print its id; the acting user's organisation is its first member and the user its first moderator",
      )
      .option('--description <text>', 'the charter description')
      .option(
        '--default-tlp <tlp>',
        'TLP of objects without a TLP marking: clear, green, amber or amber+strict',
      )
      .option('--allow-anonymous', 'let members share anonymously, as the community identity')
      .option('--publish-clear', 'let every authenticated user read its TLP:CLEAR objects'),
  ).action(async (name: string, _options, command: Command) => {
    const options = command.optsWithGlobals<CreateOptions>();
    const defaultTlp =
      options.defaultTlp === undefined
        ? undefined
        : parseChoice('--default-tlp', options.defaultTlp, TLPS);
    await withServices(options, async ({ services, actor }) => {
      const created = await services.createCommunity(actor, {
        name,
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(defaultTlp ? { defaultTlp } : {}),
        ...(options.allowAnonymous ? { allowAnonymous: true } : {}),
        ...(options.publishClear ? { publishClear: true } : {}),
      });
      print(created.id);
    });
  });

  actingOption(
    community.command('list').description('list the communities the acting user may see'),
  ).action(async (_options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      for (const item of await context.services.listCommunities(context.actor)) {
        print(`${item.id}\t${item.name}\tdefault TLP ${item.charter.defaultTlp}`);
      }
    });
  });

  actingOption(
    community
      .command('show <community>')
      .description('print the charter, members, moderators and collections (name or id)'),
  ).action(async (reference: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const found = await findCommunity(context, reference);
      const shown = await context.services.getCommunity(context.actor, found.id);
      const { charter } = shown;
      print(`id\t${shown.id}`);
      print(`name\t${shown.name}`);
      print(`created\t${microsToTaxii(shown.createdAt)}`);
      print(`description\t${charter.description}`);
      print(`default TLP\t${charter.defaultTlp}`);
      print(`anonymous sharing\t${charter.allowAnonymous ? 'allowed' : 'not allowed'}`);
      print(`CLEAR published\t${charter.publishClear ? 'yes' : 'no'}`);
      for (const id of shown.members) {
        const member = await context.store.getOrganisation(id);
        print(`member\t${id}\t${member?.name ?? '?'}`);
      }
      for (const id of shown.moderators) {
        const moderator = await context.store.getUser(id);
        print(`moderator\t${id}\t${moderator?.name ?? '?'}`);
      }
      for (const item of shown.collections) {
        print(`collection\t${item.id}\t${item.alias ?? '-'}\t${item.title}`);
      }
    });
  });

  registerCommunityCollection(community);
  registerShare(community);
  registerModerator(community);
  registerMember(community);
}
