/**
 * `cairn org`: organisations, their client organisations and their users, through the
 * same sharing services as the JSON API (docs/sharing.md, "People and organisations").
 */
import type { Command } from 'commander';
import type { UserRole } from '../../sharing/service.ts';
import {
  actingOption,
  findOrganisation,
  parseChoice,
  parseList,
  print,
  withServices,
  type SharingOptions,
} from './sharing-context.ts';

const ROLES: readonly UserRole[] = ['platform-admin', 'org-admin', 'analyst', 'read-only'];

function registerClient(org: Command): void {
  const client = org
    .command('client')
    .description('manage client organisations (a provider and its customers)');

  actingOption(
    client
      .command('add <provider> <client>')
      .description('make <client> a client organisation of <provider> (names or ids)'),
  ).action(async (provider: string, clientName: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const from = await findOrganisation(context, provider);
      const to = await findOrganisation(context, clientName);
      await context.services.addClient(context.actor, from.id, to.id);
      print(`${to.name} is now a client of ${from.name}`);
    });
  });

  actingOption(
    client
      .command('remove <provider> <client>')
      .description('end the provider and client relation (names or ids)'),
  ).action(async (provider: string, clientName: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const from = await findOrganisation(context, provider);
      const to = await findOrganisation(context, clientName);
      await context.services.removeClient(context.actor, from.id, to.id);
      print(`${to.name} is no longer a client of ${from.name}`);
    });
  });
}

function registerOrgUser(org: Command): void {
  const user = org.command('user').description("manage an organisation's users");

  actingOption(
    user
      .command('add <org> <name>')
      .description('create a user in an organisation; give them a token with `cairn token create`')
      .option(
        '--role <role>',
        "the user's role: org-admin, analyst or read-only (platform-admin: platform admins only)",
        'analyst',
      ),
  ).action(async (orgName: string, name: string, _options, command: Command) => {
    const options = command.optsWithGlobals<SharingOptions & { role: string }>();
    const role = parseChoice('--role', options.role, ROLES);
    await withServices(options, async (context) => {
      const organisation = await findOrganisation(context, orgName);
      const created = await context.services.createUser(context.actor, organisation.id, {
        name,
        role,
      });
      print(`${created.name}\t${created.id}\t${created.role}`);
    });
  });

  actingOption(user.command('list <org>').description("list an organisation's users")).action(
    async (orgName: string, _options, command: Command) => {
      await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
        const organisation = await findOrganisation(context, orgName);
        for (const item of await context.services.listUsers(context.actor, organisation.id)) {
          print(`${item.name}\t${item.id}\t${item.role}${item.disabled ? '\tdisabled' : ''}`);
        }
      });
    },
  );
}

export function registerOrg(program: Command): void {
  const org = program.command('org').description('manage organisations, clients and users');

  actingOption(
    org
      .command('create <name>')
      .description('create an organisation and its STIX identity, and print its id')
      .option('--sectors <list>', 'comma-separated STIX industry sectors, e.g. financial-services')
      .option('--contact <text>', 'contact information for its STIX identity'),
  ).action(async (name: string, _options, command: Command) => {
    const options = command.optsWithGlobals<
      SharingOptions & { sectors?: string; contact?: string }
    >();
    const sectors = parseList(options.sectors);
    await withServices(options, async ({ services, actor }) => {
      const created = await services.createOrganisation(actor, {
        name,
        ...(sectors ? { sectors } : {}),
        ...(options.contact !== undefined ? { contactInformation: options.contact } : {}),
      });
      print(created.id);
    });
  });

  actingOption(
    org.command('list').description('list organisations with their ids and client counts'),
  ).action(async (_options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      for (const item of await context.services.listOrganisations(context.actor)) {
        print(`${item.id}\t${item.name}\t${item.clients.length} clients`);
      }
    });
  });

  registerClient(org);
  registerOrgUser(org);
}
