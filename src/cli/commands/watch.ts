/**
 * `cairn watch` and `cairn alerts`: watch lists, their entries and retro-hunts, and the
 * alerts they raise, through the same services as the JSON API (docs/watch.md). Commands
 * act on the store directly; a running server picks list changes up within seconds.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { CairnError } from '../../errors.ts';
import { createCommandNotifier } from '../../cluster/index.ts';
import type { EventNotifier } from '../../events/notifier.ts';
import { createLogger } from '../../log/logger.ts';
import { microsToTaxii, nowMicros, timestampToMicros } from '../../stix/timestamp.ts';
import { WatchAccess, viewOf } from '../../watch/access.ts';
import { describeAlert } from '../../watch/alerts.ts';
import { AlertBus } from '../../watch/bus.ts';
import { describeEntry } from '../../watch/engine.ts';
import type { EntryInput } from '../../watch/entries.ts';
import { HuntRunner } from '../../watch/hunt.ts';
import type { Alert, AlertState, HuntJob, ObjectFilter } from '../../watch/model.ts';
import { WatchService, type EntriesResult } from '../../watch/service.ts';
import {
  actingOption,
  parseChoice,
  print,
  withServices,
  type SharingContext,
  type SharingOptions,
} from './sharing-context.ts';

interface EntryOptions {
  pattern?: string[];
  filter?: string[];
  file?: string;
  subdomains?: boolean;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function entryOptions(command: Command): Command {
  return command
    .option('--subdomains', 'domain values also match every subdomain')
    .option('--pattern <stix>', 'a STIX pattern entry (repeatable)', collect)
    .option(
      '--filter <json>',
      'an object filter entry as JSON, such as \'{"names":["emotet"]}\' (repeatable)',
      collect,
    )
    .option(
      '--file <file>',
      'values, one per line; empty lines and lines starting with # are skipped',
    );
}

/** Builds the entry inputs of the values and the entry options of a command. */
async function entryInputs(values: string[], options: EntryOptions): Promise<EntryInput[]> {
  const inputs: EntryInput[] = [];
  const subdomains = options.subdomains ? { subdomains: true } : {};
  const valueInput = (value: string): EntryInput =>
    subdomains.subdomains && value.includes('.') && !/[:/@]/.test(value) && !/^[0-9.]+$/.test(value)
      ? { value, ...subdomains }
      : { value };
  for (const value of values) inputs.push(valueInput(value));
  if (options.file) {
    let text: string;
    try {
      text = await readFile(options.file, 'utf8');
    } catch (error) {
      throw new CairnError(
        'not-found',
        `cannot read ${options.file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
    for (const line of text.split('\n')) {
      const value = line.trim();
      if (value && !value.startsWith('#')) inputs.push(valueInput(value));
    }
  }
  for (const pattern of options.pattern ?? []) inputs.push({ type: 'pattern', pattern });
  for (const raw of options.filter ?? []) {
    let filter: ObjectFilter;
    try {
      filter = JSON.parse(raw) as ObjectFilter;
    } catch {
      throw new CairnError(
        'invalid-parameter',
        `--filter ${JSON.stringify(raw.slice(0, 80))} is not JSON: write it as '{"names":["emotet"]}'`,
      );
    }
    inputs.push({ type: 'filter', filter });
  }
  return inputs;
}

function printEntriesResult(result: EntriesResult, inputs: EntryInput[]): void {
  print(
    `added ${result.added.length}, duplicates ${result.duplicates}, rejected ${result.rejected.length}`,
  );
  for (const rejected of result.rejected.slice(0, 20)) {
    const input = inputs[rejected.index];
    const shown = input?.value ?? input?.pattern ?? JSON.stringify(input?.filter);
    print(`  ${shown}: ${rejected.reason}`);
  }
  if (result.rejected.length > 20) print(`  (and ${result.rejected.length - 20} more)`);
}

/** Time a hunt waits for NATS before it runs without announcing to other processes (ms). */
const NATS_WAIT_MS = 5_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Finds a list the acting user may see, by id or by name. */
async function findList(service: WatchService, context: SharingContext, reference: string) {
  if (UUID.test(reference)) return service.getList(context.actor, reference);
  const matches = (await service.listLists(context.actor)).filter(
    (list) => list.name === reference,
  );
  if (matches.length === 0) {
    throw new CairnError(
      'not-found',
      `watch list ${JSON.stringify(reference)} not found: \`cairn watch list\` shows names and ids`,
    );
  }
  if (matches.length > 1) {
    throw new CairnError(
      'invalid-parameter',
      `${matches.length} watch lists are named ${JSON.stringify(reference)}: give the id instead`,
    );
  }
  return service.getList(context.actor, matches[0]!.id);
}

/** Runs the queued retro-hunt of a list in this process, with a progress bar on stderr. */
async function followHunt(
  context: SharingContext,
  service: WatchService,
  job: HuntJob,
  quiet: boolean,
) {
  const { store } = context;
  // Progress counts collections: a hunt that finds its candidates in the key index reads
  // only a few of the stored objects, so a count of objects would stop far short of the end.
  const stored = await service.repository.getList(job.watchlistId);
  const total = stored
    ? (await new WatchAccess(store).readableCollections(viewOf(stored.list))).length
    : 0;

  // Alerts are announced as a server announces its own, so the alert streams and webhooks
  // of running servers deliver them at once instead of at their next poll.
  const notifier = await createCommandNotifier(
    context.config,
    store,
    createLogger('warn', process.stderr),
    NATS_WAIT_MS,
  );
  try {
    return await runHunt(context, service, job, total, quiet, notifier);
  } finally {
    await notifier.close();
  }
}

/** Runs the hunt of `followHunt` and draws its progress. */
async function runHunt(
  context: SharingContext,
  service: WatchService,
  job: HuntJob,
  total: number,
  quiet: boolean,
  notifier: EventNotifier,
) {
  const { store } = context;
  const bus = new AlertBus();
  bus.subscribe((notice) => notifier.announceAlerts(notice.alert.watchlistId));
  const runner = new HuntRunner({
    store,
    repository: service.repository,
    access: new WatchAccess(store),
    bus,
    logger: createLogger('silent'),
  });
  const bar =
    quiet || !process.stderr.isTTY
      ? undefined
      : new cliProgress.SingleBar(
          {
            format:
              'retro-hunt [{bar}] {percentage}% | {value}/{total} collections | {scanned} objects read | {alerts} alerts',
            stream: process.stderr,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
  bar?.start(Math.max(total, 1), 0, { scanned: 0, alerts: 0 });

  const running = runner.runDue();
  let current = job;
  for (;;) {
    const latest = await service.repository.getJob(job.id);
    if (latest) current = latest.job;
    const finished = ['done', 'failed', 'cancelled'].includes(current.state);
    const done = current.collections.filter((item) => item.done).length;
    bar?.update(finished && current.state === 'done' ? Math.max(total, 1) : Math.min(done, total), {
      scanned: current.scanned,
      alerts: current.alerts,
    });
    if (finished) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await running;
  bar?.stop();
  return current;
}

function printJob(job: HuntJob): void {
  const done = job.collections.filter((item) => item.done).length;
  print(
    `retro-hunt ${job.id}: ${job.state}, ${job.scanned} objects scanned in ${done}/${job.collections.length} collections, ${job.matched} matches, ${job.alerts} alerts${job.truncated ? ' (stopped at the alert limit)' : ''}${job.error ? `: ${job.error}` : ''}`,
  );
}

export function registerWatch(program: Command): void {
  const watch = program
    .command('watch')
    .description('watch lists: values, patterns and filters that raise alerts');

  actingOption(
    entryOptions(
      watch
        .command('add <name> [values...]')
        .description(
          'create a watch list with values (IP, CIDR, domain, URL, e-mail, hash, ASN), patterns and filters, then run it over the stored data',
        )
        .option('--description <text>', 'what the list is for')
        .option('--org', 'owned by your organisation (org admins and analysts) instead of you')
        .option(
          '--shared',
          'visible to your whole organisation (lists your organisation owns always are)',
        )
        .option('--no-hunt', 'do not wait for the retro-hunt over the stored data')
        .option('-q, --quiet', 'no progress bar'),
    ),
  ).action(async (name: string, values: string[], _options, command: Command) => {
    const options = command.optsWithGlobals<
      SharingOptions &
        EntryOptions & {
          description?: string;
          org?: boolean;
          shared?: boolean;
          hunt: boolean;
          quiet?: boolean;
        }
    >();
    await withServices(options, async (context) => {
      const service = new WatchService(context.store);
      const inputs = await entryInputs(values, options);
      const created = await service.createList(context.actor, {
        name,
        ...(options.description ? { description: options.description } : {}),
        owner: options.org ? 'organisation' : 'user',
        ...(options.shared ? { visibility: 'organisation' as const } : {}),
        entries: inputs,
      });
      print(created.list.id);
      printEntriesResult(created.entries, inputs);
      if (!options.hunt) return;
      const [job] = await service.listJobs(context.actor, created.list.id);
      if (job) printJob(await followHunt(context, service, job, options.quiet ?? false));
    });
  });

  actingOption(watch.command('list').description('list the watch lists you see')).action(
    async (_options, command: Command) => {
      await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
        const lists = await new WatchService(context.store).listLists(context.actor);
        if (lists.length === 0)
          print('no watch lists: create one with `cairn watch add NAME VALUE...`');
        for (const list of lists) {
          const owner = list.ownerType === 'organisation' ? 'organisation' : list.visibility;
          print(
            `${list.id}  ${list.name}  ${list.entryCount} entries  ${owner}${list.enabled ? '' : '  disabled'}`,
          );
        }
      });
    },
  );

  actingOption(
    watch
      .command('show <list>')
      .description('show a watch list, its latest retro-hunt and open alerts'),
  ).action(async (reference: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const service = new WatchService(context.store);
      const { list, revision } = await findList(service, context, reference);
      print(`${list.name} (${list.id}), revision ${revision}`);
      if (list.description) print(list.description);
      print(
        `owner: ${list.ownerType === 'organisation' ? 'organisation' : `user ${list.ownerUserId}`}, visibility: ${list.visibility}, ${list.enabled ? 'enabled' : 'disabled'}`,
      );
      const counts = new Map<string, number>();
      for (const entry of list.entries) counts.set(entry.type, (counts.get(entry.type) ?? 0) + 1);
      print(
        `entries: ${list.entries.length} (${[...counts].map(([type, count]) => `${type} ${count}`).join(', ') || 'none'})`,
      );
      const [job] = await service.listJobs(context.actor, list.id);
      if (job) printJob(job);
      const open = await service.listAlerts(context.actor, {
        watchlistId: list.id,
        state: 'open',
        limit: 10,
      });
      print(`open alerts (most urgent first):${open.alerts.length === 0 ? ' none' : ''}`);
      for (const alert of open.alerts) print(`  ${alert.id}  ${describeAlert(alert)}`);
    });
  });

  actingOption(
    watch.command('remove <list>').description('delete a watch list with its alerts'),
  ).action(async (reference: string, _options, command: Command) => {
    await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
      const service = new WatchService(context.store);
      const { list } = await findList(service, context, reference);
      await service.deleteList(context.actor, list.id);
      print(`removed ${list.name} (${list.id})`);
    });
  });

  actingOption(
    entryOptions(
      watch
        .command('entries <list> [values...]')
        .description('list the entries of a watch list, or add values, patterns and filters to it')
        .option('--remove <entry id>', 'remove an entry by id (repeatable)', collect),
    ),
  ).action(async (reference: string, values: string[], _options, command: Command) => {
    const options = command.optsWithGlobals<
      SharingOptions & EntryOptions & { remove?: string[] }
    >();
    await withServices(options, async (context) => {
      const service = new WatchService(context.store);
      const { list } = await findList(service, context, reference);
      const inputs = await entryInputs(values, options);
      if (options.remove?.length) {
        const removed = await service.removeEntries(context.actor, list.id, options.remove);
        print(`removed ${removed} entries`);
      }
      if (inputs.length > 0) {
        printEntriesResult(await service.addEntries(context.actor, list.id, inputs), inputs);
      }
      if (inputs.length === 0 && !options.remove?.length) {
        for (const entry of list.entries) {
          print(
            `${entry.id}  ${entry.type}  ${describeEntry(entry)}${entry.comment ? `  # ${entry.comment}` : ''}`,
          );
        }
      }
    });
  });

  actingOption(
    watch
      .command('hunt <list>')
      .description('run a watch list over the stored data again, with a progress bar')
      .option('-q, --quiet', 'no progress bar'),
  ).action(async (reference: string, _options, command: Command) => {
    const options = command.optsWithGlobals<SharingOptions & { quiet?: boolean }>();
    await withServices(options, async (context) => {
      const service = new WatchService(context.store);
      const { list } = await findList(service, context, reference);
      const job = await service.startHunt(context.actor, list.id);
      printJob(await followHunt(context, service, job, options.quiet ?? false));
    });
  });
}

const STATES: readonly AlertState[] = ['open', 'acknowledged'];

export function registerAlerts(program: Command): void {
  const alerts = program.command('alerts').description('alerts raised by watch lists');

  actingOption(
    alerts
      .command('list')
      .description('list alerts of the watch lists you see, most urgent first')
      .option('--state <state>', `only alerts in this state: ${STATES.join(', ')}`)
      .option('--watchlist <list>', 'only alerts of this watch list (id or name)')
      .option('--since <time>', 'only alerts created or updated since this RFC 3339 time')
      .option('--limit <n>', 'most alerts shown, 1 to 1000', '50')
      .option('--json', 'print each alert as a JSON line'),
  ).action(async (_options, command: Command) => {
    const options = command.optsWithGlobals<
      SharingOptions & {
        state?: string;
        watchlist?: string;
        since?: string;
        limit: string;
        json?: boolean;
      }
    >();
    const limit = Number(options.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new CairnError(
        'invalid-parameter',
        `--limit ${JSON.stringify(options.limit)} must be a whole number from 1 to 1000`,
      );
    }
    let since: number | undefined;
    if (options.since !== undefined) {
      since = timestampToMicros(options.since);
      if (since === undefined) {
        throw new CairnError(
          'invalid-parameter',
          `--since ${JSON.stringify(options.since)} is not an RFC 3339 UTC time such as 2024-01-31T00:00:00Z`,
        );
      }
    }
    await withServices(options, async (context) => {
      const service = new WatchService(context.store);
      const watchlistId = options.watchlist
        ? (await findList(service, context, options.watchlist)).list.id
        : undefined;
      const page = await service.listAlerts(context.actor, {
        limit,
        ...(options.state ? { state: parseChoice('--state', options.state, STATES) } : {}),
        ...(watchlistId ? { watchlistId } : {}),
        ...(since !== undefined ? { since } : {}),
      });
      for (const alert of page.alerts)
        print(options.json ? JSON.stringify(alertLine(alert)) : textLine(alert));
      if (page.alerts.length === 0 && !options.json) print('no alerts');
      if (page.next && !options.json)
        print(`(more alerts: raise --limit or narrow with --state or --since)`);
    });
  });

  actingOption(alerts.command('ack <alert...>').description('acknowledge alerts by id')).action(
    async (ids: string[], _options, command: Command) => {
      await withServices(command.optsWithGlobals<SharingOptions>(), async (context) => {
        const changed = await new WatchService(context.store).acknowledge(context.actor, ids);
        print(`acknowledged ${changed.length} of ${ids.length} alerts`);
      });
    },
  );
}

function alertLine(alert: Alert) {
  return {
    ...alert,
    createdAt: microsToTaxii(alert.createdAt),
    updatedAt: microsToTaxii(alert.updatedAt),
    ...(alert.acknowledgedAt ? { acknowledgedAt: microsToTaxii(alert.acknowledgedAt) } : {}),
  };
}

function textLine(alert: Alert): string {
  const age = Math.round((nowMicros() - alert.updatedAt) / 60e6);
  const name = alert.objectName ? ` "${alert.objectName}"` : '';
  return `${alert.id}  ${alert.state === 'open' ? 'open' : 'ack '}  ${describeAlert(alert)}${name}  (${age} min ago)`;
}
