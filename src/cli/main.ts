/**
 * The `cairn` command line: a server, imports and exports, and administration of
 * collections, organisations, users, tokens, communities and invitations.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config.ts';
import { CairnError } from '../errors.ts';
import { StoreConflictError, StoreUnavailableError } from '../store/store.ts';
import { registerAdmin } from './commands/admin.ts';
import { registerCommunity } from './commands/community.ts';
import { registerConnector } from './commands/connector.ts';
import { registerExport } from './commands/export.ts';
import { registerImport } from './commands/import.ts';
import { registerInvite } from './commands/invite.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerOrg } from './commands/org.ts';
import { registerServe } from './commands/serve.ts';
import { registerStream } from './commands/stream.ts';
import { registerWebhook } from './commands/webhook.ts';
import { registerAlerts, registerWatch } from './commands/watch.ts';
import { registerCheck } from './commands/check.ts';

const program = new Command()
  .name('cairn')
  .description('Cairn threat-intelligence exchange: STIX 2.1 over TAXII 2.1')
  .option(
    '-c, --config <file>',
    'configuration file (JSON); default $CAIRN_CONFIG, then ./cairn.json',
  )
  .option(
    '-s, --store <location>',
    'store location, e.g. sqlite:./data/cairn.db; overrides the configuration',
  )
  .showHelpAfterError();

registerServe(program);
registerImport(program);
registerExport(program);
registerStream(program);
registerAdmin(program);
registerOrg(program);
registerCommunity(program);
registerInvite(program);
registerMigrate(program);
registerWebhook(program);
registerWatch(program);
registerAlerts(program);
registerCheck(program);
registerConnector(program);

// A reader that stops early (`cairn … | head`) closes the pipe; that ends the output, not
// in a stack trace. Any other write error is still reported.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  process.stderr.write(`cairn: cannot write the output: ${error.message}\n`);
  process.exit(1);
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  if (
    error instanceof CairnError ||
    error instanceof ConfigError ||
    error instanceof StoreConflictError ||
    error instanceof StoreUnavailableError
  ) {
    process.stderr.write(`cairn: ${error.message}\n`);
    process.exit(1);
  }
  if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    process.stderr.write(
      `cairn: ${(error as Error).message}: another program uses that port; choose another with --port or CAIRN_PORT\n`,
    );
    process.exit(1);
  }
  // Anything else is unexpected: its message still comes first, then the stack for a report.
  process.stderr.write(`cairn: ${(error as Error).message ?? String(error)}\n`);
  if (process.env.CAIRN_DEBUG) process.stderr.write(`${(error as Error).stack ?? ''}\n`);
  else process.stderr.write('cairn: set CAIRN_DEBUG=1 to print the stack trace\n');
  process.exit(1);
}
