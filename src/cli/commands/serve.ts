/**
 * `cairn serve`: runs the TAXII server until SIGINT or SIGTERM.
 */
import type { Command } from 'commander';
import { createLogger } from '../../log/logger.ts';
import { startServer } from '../../server.ts';
import { configFrom, type GlobalOptions } from '../context.ts';

/** How long a stop may take before the process exits anyway, in milliseconds. */
const STOP_TIMEOUT_MS = 10_000;

/** Runs a logging call whose failure (for instance EPIPE on stdout) must not stop shutdown. */
function quietly(log: () => void): void {
  try {
    log();
  } catch {
    // The log destination is gone; there is nowhere left to report this.
  }
}

interface ServeOptions extends GlobalOptions {
  host?: string;
  port?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the TAXII 2.1 server')
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .option('-p, --port <number>', 'TCP port to listen on (default 8470; 0 picks a free port)')
    .action(async (_options: ServeOptions, command: Command) => {
      const options = command.optsWithGlobals<ServeOptions>();
      const overrides: Record<string, unknown> = {};
      if (options.host) overrides.host = options.host;
      if (options.port !== undefined) {
        const port = Number(options.port);
        if (!Number.isInteger(port))
          throw new Error(`--port ${options.port} is not a whole number`);
        overrides.port = port;
      }
      const config = configFrom(options, overrides);
      const logger = createLogger(config.log.level);
      const server = await startServer(config, logger);
      printWelcome(server.url, config.taxii.defaultApiRoot, server.setup);

      const stop = (signal: string) => {
        // A log destination that has gone away (a closed pipe) must not keep the process
        // alive, so the exit does not wait on logging, and a timer ends a stuck close.
        setTimeout(() => process.exit(1), STOP_TIMEOUT_MS);
        quietly(() => logger.info({ signal }, 'stopping'));
        server.close().then(
          () => process.exit(0),
          (error: unknown) => {
            quietly(() => logger.error({ err: error }, 'stop failed'));
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
}

function printWelcome(
  url: string,
  apiRoot: string,
  setup: Awaited<ReturnType<typeof startServer>>['setup'],
): void {
  const lines = [
    '',
    `Cairn is listening on ${url}`,
    `  TAXII discovery:  ${url}/taxii2/`,
    `  API root:         ${url}/${apiRoot}/`,
  ];
  if (setup.defaultCollection) {
    lines.push(
      `  Collection:       ${url}/${apiRoot}/collections/${setup.defaultCollection.id}/ (alias "default")`,
    );
  }
  if (setup.adminToken) {
    lines.push(
      '',
      `  An admin user "${setup.adminToken.userName}" was created. Its API token is shown only this once:`,
      '',
      `    ${setup.adminToken.token}`,
      '',
      '  Authenticate with either of:',
      `    curl -H "Authorization: Bearer <token>" -H "Accept: application/taxii+json;version=2.1" ${url}/taxii2/`,
      `    curl -u ${setup.adminToken.userName}:<token> -H "Accept: application/taxii+json;version=2.1" ${url}/taxii2/`,
    );
  } else {
    lines.push('', '  Authenticate with an API token: `cairn token create <user>` makes one.');
  }
  process.stderr.write(`${lines.join('\n')}\n\n`);
}
