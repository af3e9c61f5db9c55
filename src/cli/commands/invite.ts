/**
 * `cairn invite`: joining communities. A moderator invites an organisation and its org
 * admin accepts, or an org admin requests to join and a moderator accepts (docs/sharing.md,
 * "Communities").
 */
import type { Command } from 'commander';
import type { InvitationView } from '../../sharing/service.ts';
import { microsToTaxii } from '../../stix/timestamp.ts';
import {
  actingOption,
  findCommunity,
  findOrganisation,
  print,
  withServices,
  type SharingOptions,
} from './sharing-context.ts';

function describe(invitation: InvitationView): string {
  return [
    invitation.id,
    invitation.kind,
    invitation.state,
    `community ${invitation.communityId}`,
    `organisation ${invitation.organisationId}`,
    microsToTaxii(invitation.createdAt),
  ].join('\t');
}

export function registerInvite(program: Command): void {
  const invite = program
    .command('invite')
    .description('invite organisations into communities, and answer invitations');

  actingOption(
    invite
      .command('send <community> <org>')
      .description(
        'invite an organisation into a community (names or ids); prints the invitation id',
      ),
  ).action(async (reference: string, orgName: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const community = await findCommunity(context, reference);
      const organisation = await findOrganisation(context, orgName);
      const created = await context.services.invite(context.actor, community.id, organisation.id);
      print(created.id);
    });
  });

  actingOption(
    invite
      .command('request <community>')
      .description(
        "ask to join a community (name or id) for the acting user's organisation; the acting user must be its org admin (use --as); prints the request id",
      ),
  ).action(async (reference: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const community = await findCommunity(context, reference);
      const created = await context.services.requestToJoin(context.actor, community.id);
      print(created.id);
    });
  });

  actingOption(
    invite
      .command('list')
      .description('list pending invitations and requests the acting user may answer or has sent'),
  ).action(async (_options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      for (const item of await context.services.listInvitations(context.actor)) {
        print(describe(item));
      }
    });
  });

  actingOption(
    invite
      .command('accept <id>')
      .description(
        "accept: the invited organisation's org admin (use --as), or a moderator for a request",
      ),
  ).action(async (id: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      print(describe(await context.services.acceptInvitation(context.actor, id)));
    });
  });

  actingOption(
    invite.command('decline <id>').description('decline an invitation or a request'),
  ).action(async (id: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      print(describe(await context.services.declineInvitation(context.actor, id)));
    });
  });
}
