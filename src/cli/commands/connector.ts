/**
 * `cairn connector`: add, list, show, run and remove connectors on the store directly. `run`
 * runs the connector in this process at once, taking the same lease a server's scheduler
 * takes, so the two never run it together.
 */
import type { Command } from 'commander';
import { CairnError } from '../../errors.ts';
import { createLogger } from '../../log/logger.ts';
import { ConnectorScheduler } from '../../connectors/scheduler.ts';
import { secretBoxFrom } from '../../connectors/secrets.ts';
import { ConnectorService } from '../../connectors/service.ts';
import { sourceFor } from '../../connectors/sources.ts';
import { configuredWarninglists } from '../../connectors/warninglists.ts';
import {
  CONNECTOR_KINDS,
  LIST_MODES,
  WARNING_LIST_POLICIES,
  type ConnectorAuth,
} from '../../connectors/definition.ts';
import type { RunHealth } from '../../connectors/state.ts';
import { connectorJson } from '../../connectors/views.ts';
import { microsToTaxii } from '../../stix/timestamp.ts';
import { findCollection } from '../context.ts';
import {
  actingOption,
  parseChoice,
  parseList,
  print,
  withServices,
  type SharingOptions,
} from './sharing-context.ts';

interface AddOptions extends SharingOptions {
  kind: string;
  url: string;
  collection: string;
  apiRoot?: string;
  interval: string;
  tokenEnv?: string;
  username?: string;
  passwordEnv?: string;
  headerEnv?: string[];
  warningLists?: string;
  reliability?: string;
  types?: string;
  pageSize?: string;
  csvMap?: string;
  label?: string[];
  batchSize?: string;
  timeout?: string;
  listMode?: string;
  listedValidity?: string;
  disabled?: boolean;
}

function parseInteger(option: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]+$/.test(raw)) {
    throw new CairnError(
      'invalid-parameter',
      `${option} ${JSON.stringify(raw)} is not a whole number`,
    );
  }
  return Number(raw);
}

/** Reads a secret from the named environment variable, so it never shows in a process list. */
function secretFrom(option: string, variable: string): string {
  const value = process.env[variable];
  if (value === undefined || value === '') {
    throw new CairnError(
      'invalid-parameter',
      `${option} ${variable}: the environment variable is not set or empty`,
    );
  }
  return value;
}

function authFrom(options: AddOptions): ConnectorAuth {
  if (options.tokenEnv !== undefined && options.username !== undefined) {
    throw new CairnError('invalid-parameter', 'give either --token-env or --username, not both');
  }
  if (options.tokenEnv !== undefined) {
    return { type: 'bearer', token: secretFrom('--token-env', options.tokenEnv) };
  }
  if (options.username !== undefined) {
    if (options.passwordEnv === undefined) {
      throw new CairnError('invalid-parameter', '--username needs --password-env VARIABLE');
    }
    return {
      type: 'basic',
      username: options.username,
      password: secretFrom('--password-env', options.passwordEnv),
    };
  }
  return { type: 'none' };
}

/** Reads `--header-env NAME=VARIABLE` options into headers whose values come from the environment. */
function headersFrom(options: AddOptions): Record<string, string> | undefined {
  if (!options.headerEnv?.length) return undefined;
  const headers: Record<string, string> = {};
  for (const pair of options.headerEnv) {
    const equals = pair.indexOf('=');
    if (equals < 1 || equals === pair.length - 1) {
      throw new CairnError(
        'invalid-parameter',
        `--header-env ${JSON.stringify(pair)} must be NAME=VARIABLE, such as Authorization=MISP_KEY`,
      );
    }
    headers[pair.slice(0, equals)] = secretFrom('--header-env', pair.slice(equals + 1));
  }
  return headers;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function describeHealth(health: RunHealth | undefined): string {
  if (health === undefined) return 'never run';
  const when = microsToTaxii(health.finishedAt ?? health.startedAt);
  const counts = `${health.objectsIn} in, ${health.added} added, ${health.duplicates} duplicates, ${health.rejected} rejected`;
  return `${health.outcome} at ${when} (${counts})${health.error ? `: ${health.error}` : ''}`;
}

function printRun(health: RunHealth): void {
  print(describeHealth(health));
  for (const [reason, count] of Object.entries(health.rejectedByReason)) {
    print(`  rejected ${count} × ${reason}`);
  }
  for (const failure of health.failures.slice(0, 10)) print(`  ${failure.id}: ${failure.message}`);
  for (const warning of health.warnings.slice(0, 10)) print(`  warning: ${warning}`);
}

export function registerConnector(program: Command): void {
  const connector = program
    .command('connector')
    .description('pull threat data from TAXII servers, MISP feeds, CSV files and text lists');

  actingOption(
    connector
      .command('add <name>')
      .description('add a connector; it runs at once when a server schedules connectors')
      .requiredOption('--kind <kind>', `one of ${CONNECTOR_KINDS.join(', ')}`)
      .requiredOption('--url <url>', 'source URL (http or https), or absolute file path')
      .requiredOption('--collection <id|alias>', 'collection the objects go to')
      .option('--api-root <name>', 'API root of the collection (default: the default root)')
      .requiredOption('--interval <seconds>', 'seconds between the end of a run and the next')
      .option('--token-env <variable>', 'environment variable holding a Bearer token')
      .option('--username <name>', 'user name for HTTP Basic authentication')
      .option('--password-env <variable>', 'environment variable holding the Basic password')
      .option(
        '--header-env <name=variable>',
        'request header whose value comes from an environment variable, such as Authorization=MISP_KEY for a MISP auth key; repeatable',
        collect,
      )
      .option('--warning-lists <policy>', `one of ${WARNING_LIST_POLICIES.join(', ')}`, 'drop')
      .option('--reliability <grade>', 'Admiralty source reliability, A to F', 'F')
      .option('--types <types>', 'TAXII only: STIX types to request, separated by commas')
      .option('--page-size <n>', 'TAXII only: objects to request per page')
      .option(
        '--csv-map <mapping>',
        'CSV only: the column mapping, as for cairn import --csv-map, such as value=indicator,type=type',
      )
      .option(
        '--label <label>',
        'label added to every indicator that CSV, text and MISP sources produce; repeatable',
        collect,
      )
      .option('--batch-size <n>', 'objects stored per transaction and checkpoint (default: 500)')
      .option(
        '--list-mode <mode>',
        'CSV and text only: snapshot (each read lists every current value; values no longer listed expire) or delta (default: snapshot)',
      )
      .option(
        '--listed-validity <seconds>',
        'CSV and text snapshots: seconds a listed value stays valid after a run (default: 2592000, 30 days)',
      )
      .option(
        '--timeout <seconds>',
        'seconds to wait for response headers, then for each piece of the body (default: 60)',
      )
      .option('--disabled', 'add it without scheduling it'),
  ).action(async (name: string, _options, command: Command) => {
    const options = command.optsWithGlobals<AddOptions>();
    await withServices(options, async (context) => {
      const collection = await findCollection(context, options.collection, options.apiRoot);
      const service = new ConnectorService(context.store, secretBoxFrom(context.config), {
        allowPrivateTargets: context.config.connectors.allowPrivateTargets,
      });
      const types = parseList(options.types);
      const pageSize = parseInteger('--page-size', options.pageSize);
      const batchSize = parseInteger('--batch-size', options.batchSize);
      const timeoutSeconds = parseInteger('--timeout', options.timeout);
      const listedValiditySeconds = parseInteger('--listed-validity', options.listedValidity);
      const headers = headersFrom(options);
      const view = await service.create(context.actor, {
        name,
        kind: parseChoice('--kind', options.kind, CONNECTOR_KINDS),
        url: options.url,
        auth: authFrom(options),
        ...(headers ? { headers } : {}),
        collection: collection.id,
        intervalSeconds: parseInteger('--interval', options.interval),
        enabled: !options.disabled,
        warningLists: parseChoice(
          '--warning-lists',
          options.warningLists ?? 'drop',
          WARNING_LIST_POLICIES,
        ),
        reliability: parseChoice('--reliability', options.reliability ?? 'F', [
          'A',
          'B',
          'C',
          'D',
          'E',
          'F',
        ] as const),
        ...(types ? { types } : {}),
        ...(pageSize !== undefined ? { pageSize } : {}),
        ...(options.csvMap !== undefined ? { csvMapping: options.csvMap } : {}),
        ...(options.label?.length ? { labels: options.label } : {}),
        ...(batchSize !== undefined ? { batchSize } : {}),
        ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
        ...(options.listMode !== undefined
          ? { listMode: parseChoice('--list-mode', options.listMode, LIST_MODES) }
          : {}),
        ...(listedValiditySeconds !== undefined ? { listedValiditySeconds } : {}),
      });
      print(view.connector.id);
    });
  });

  actingOption(
    connector.command('list').description('connectors with their last run, one per line'),
  ).action(async (_options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const views = await new ConnectorService(context.store).list(context.actor);
      for (const view of views) {
        const next =
          view.nextRunAt === undefined ? 'disabled' : `next ${microsToTaxii(view.nextRunAt)}`;
        print(
          [
            view.connector.id,
            view.connector.name,
            view.connector.kind,
            view.running ? 'running' : next,
            describeHealth(view.state.lastRun),
          ].join('\t'),
        );
      }
    });
  });

  actingOption(
    connector
      .command('show <connector>')
      .description('one connector (id or name) as JSON, with its checkpoint and health'),
  ).action(async (reference: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const view = await new ConnectorService(context.store).show(context.actor, reference);
      print(JSON.stringify(connectorJson(view), null, 2));
    });
  });

  actingOption(
    connector
      .command('run <connector>')
      .description('run a connector (id or name) now in this process and print its health'),
  ).action(async (reference: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const service = new ConnectorService(context.store);
      // Checks the acting user may manage it before running it.
      const view = await service.show(context.actor, reference);
      if (!(await service.mayManage(context.actor, view.connector))) {
        throw new CairnError(
          'forbidden',
          'only platform admins and org admins of its organisation may run a connector',
        );
      }
      const logger = createLogger('warn', process.stderr);
      const warninglists = await configuredWarninglists(context.config, logger);
      const secrets = secretBoxFrom(context.config);
      const scheduler = new ConnectorScheduler(
        {
          store: context.store,
          logger,
          sourceFor,
          ...(warninglists ? { warninglists } : {}),
          ...(secrets ? { secrets } : {}),
          allowPrivateTargets: context.config.connectors.allowPrivateTargets,
        },
        { leaseMs: context.config.connectors.maxRunMinutes * 60_000 },
      );
      // Ctrl-C or a service stop ends the run as a stopped one, so its state is saved and
      // the connector is scheduled again instead of staying claimed.
      const stop = (signal: NodeJS.Signals): void => {
        void scheduler.stop(`cairn connector run received ${signal}`);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let result;
      try {
        result = await scheduler.runNow(view.connector.id);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      printRun(result.health);
      if (result.health.outcome === 'failed') process.exitCode = 1;
      else if (result.health.outcome === 'partial') process.exitCode = 2;
    });
  });

  actingOption(
    connector
      .command('remove <connector>')
      .description('remove a connector (id or name) and its run state; stored objects stay'),
  ).action(async (reference: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      await new ConnectorService(context.store).remove(context.actor, reference);
    });
  });
}
