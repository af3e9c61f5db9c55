/**
 * `cairn webhook`: webhooks through the JSON API of a running server (docs/webhooks.md).
 * Unlike most commands these do not open the store file: the server that sends the
 * deliveries owns them, so changes go through it and take effect at once.
 */
import type { Command } from 'commander';

import { CairnError } from '../../errors.ts';
import { configFrom, type GlobalOptions } from '../context.ts';
import { parseChoice, parseList, print } from './sharing-context.ts';

interface ServerOptions extends GlobalOptions {
  url?: string;
  token?: string;
}

interface AddOptions extends ServerOptions {
  description?: string;
  watchlist?: string;
  collections?: string;
  community?: string;
  types?: string;
  labels?: string;
  tlp?: string;
  minConfidence?: string;
}

const TLP_LEVELS = ['clear', 'green', 'amber', 'amber+strict', 'red'] as const;
const STATES = ['pending', 'delivered', 'dead', 'failed'] as const;

/** Time allowed for one API call; a test ping waits up to the server's delivery timeout. */
const REQUEST_TIMEOUT_MS = 60_000;

/** Adds the options that locate the server and authenticate to it. */
function serverOptions(command: Command): Command {
  return command
    .option(
      '--url <url>',
      'server base URL (default $CAIRN_URL, else the configured host and port)',
    )
    .option(
      '--token <token>',
      'API token (default $CAIRN_TOKEN, which keeps it out of process lists)',
    );
}

interface Connection {
  base: string;
  token: string;
}

function connect(options: ServerOptions): Connection {
  const token = options.token ?? process.env.CAIRN_TOKEN;
  if (!token) {
    throw new CairnError(
      'unauthenticated',
      'no API token: set CAIRN_TOKEN or pass --token (`cairn token create USER` makes one)',
    );
  }
  let base = options.url ?? process.env.CAIRN_URL;
  if (!base) {
    const config = configFrom(options);
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    base = `http://${host}:${config.port}`;
  }
  try {
    new URL(base);
  } catch {
    throw new CairnError(
      'invalid-parameter',
      `server URL ${JSON.stringify(base)} is not a URL: pass one such as http://127.0.0.1:8470`,
    );
  }
  return { base: base.replace(/\/+$/, ''), token };
}

/** Calls the JSON API and returns the parsed body, or throws with the server's message. */
async function callApi(
  connection: Connection,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const url = `${connection.base}/api/v1${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        Authorization: `Bearer ${connection.token}`,
        Accept: 'application/json',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      redirect: 'error',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    const reason = (error as Error).cause ?? error;
    throw new CairnError(
      'unavailable',
      `cannot reach the server at ${connection.base} (${String((reason as Error).message ?? reason)}): ` +
        'start it with `cairn serve`, or pass --url or CAIRN_URL',
    );
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const message = (parsed as { error?: { message?: string } } | undefined)?.error?.message;
    throw new CairnError(
      'bad-request',
      `${method} ${path} failed with HTTP ${response.status}: ${message ?? text.slice(0, 200)}`,
    );
  }
  return parsed;
}

interface WebhookJson {
  id: string;
  url: string;
  description: string;
  filter: Record<string, unknown>;
  watchlistId?: string;
}

interface DeliveryJson {
  id: string;
  state: string;
  kind: string;
  objectId?: string;
  attempts: number;
  nextAttemptAt?: string;
  lastError?: string;
  history: Array<{ status?: number; durationMs: number; error?: string }>;
}

/** Describes what a webhook receives: a watch list's alerts, or the events of its filter. */
function describeWebhook(webhook: WebhookJson): string {
  if (webhook.watchlistId !== undefined) return `alerts of watch list ${webhook.watchlistId}`;
  return describeFilter(webhook.filter);
}

function describeFilter(filter: Record<string, unknown>): string {
  const parts = Object.entries(filter).map(
    ([key, value]) => `${key}=${Array.isArray(value) ? value.join(',') : String(value)}`,
  );
  return parts.length > 0 ? parts.join(' ') : 'everything readable';
}

function deliveryLine(delivery: DeliveryJson): string {
  const last = delivery.history.at(-1);
  const outcome = last
    ? `${last.status ?? '-'} ${last.durationMs} ms${last.error ? ` ${last.error}` : ''}`
    : 'not sent yet';
  const next = delivery.nextAttemptAt ? `\tnext ${delivery.nextAttemptAt}` : '';
  return (
    `${delivery.id}\t${delivery.state}\t${delivery.kind}\t${delivery.objectId ?? '-'}` +
    `\tattempts ${delivery.attempts}\t${outcome}${next}`
  );
}

function filterFrom(options: AddOptions): Record<string, unknown> {
  const filter: Record<string, unknown> = {};
  const collections = parseList(options.collections);
  if (collections?.length) filter.collections = collections;
  if (options.community) filter.communityId = options.community;
  const types = parseList(options.types);
  if (types?.length) filter.types = types;
  const labels = parseList(options.labels);
  if (labels?.length) filter.labels = labels;
  const tlp = parseList(options.tlp);
  if (tlp?.length) filter.tlp = tlp.map((level) => parseChoice('--tlp', level, TLP_LEVELS));
  if (options.minConfidence !== undefined) {
    const value = Number(options.minConfidence);
    if (!Number.isInteger(value) || value < 0 || value > 100) {
      throw new CairnError(
        'invalid-parameter',
        `--min-confidence ${options.minConfidence} is not valid: give a whole number from 0 to 100`,
      );
    }
    filter.minConfidence = value;
  }
  return filter;
}

export function registerWebhook(program: Command): void {
  const webhook = program
    .command('webhook')
    .description('manage webhooks on a running server (needs --token or CAIRN_TOKEN)');

  serverOptions(
    webhook
      .command('add <endpoint>')
      .description('register a webhook; prints its id and its signing secret, shown only once')
      .option('--description <text>', 'what the webhook is for')
      .option(
        '--watchlist <id>',
        "send this watch list's new and updated alerts instead of store events (no filter options)",
      )
      .option('--collections <ids>', 'only these collections (comma-separated ids)')
      .option('--community <id>', 'only the collections of this community')
      .option('--types <types>', 'only these STIX types (comma-separated)')
      .option('--labels <labels>', 'only objects with one of these labels (comma-separated)')
      .option(
        '--tlp <levels>',
        'only these TLP levels (comma-separated: clear, green, amber, amber+strict, red)',
      )
      .option('--min-confidence <number>', 'only objects with at least this confidence (0 to 100)'),
  ).action(async (endpoint: string, _options, command: Command) => {
    const options = command.optsWithGlobals<AddOptions>();
    const filter = filterFrom(options);
    const description =
      options.description === undefined ? {} : { description: options.description };
    if (options.watchlist !== undefined && Object.keys(filter).length > 0) {
      throw new CairnError(
        'invalid-parameter',
        '--watchlist takes no filter options: the watch list decides which alerts are sent',
      );
    }
    const connection = connect(options);
    const created = (
      options.watchlist === undefined
        ? await callApi(connection, 'POST', '/webhooks', { url: endpoint, ...description, filter })
        : await callApi(
            connection,
            'POST',
            `/watchlists/${encodeURIComponent(options.watchlist)}/webhooks`,
            { url: endpoint, ...description },
          )
    ) as { webhook: WebhookJson; secret: string };
    print(
      `webhook ${created.webhook.id} registered for ${created.webhook.url}: ${describeWebhook(created.webhook)}`,
    );
    print(`signing secret (shown only this once): ${created.secret}`);
  });

  serverOptions(
    webhook
      .command('list')
      .description('list the webhooks you manage')
      .option('--watchlist <id>', "only the webhooks of this watch list's alerts"),
  ).action(async (_options, command: Command) => {
    const options = command.optsWithGlobals<ServerOptions & { watchlist?: string }>();
    const connection = connect(options);
    const path =
      options.watchlist === undefined
        ? '/webhooks'
        : `/watchlists/${encodeURIComponent(options.watchlist)}/webhooks`;
    const list = (await callApi(connection, 'GET', path)) as WebhookJson[];
    for (const item of list) {
      print(`${item.id}\t${item.url}\t${describeWebhook(item)}\t${item.description}`);
    }
  });

  serverOptions(
    webhook.command('show <id>').description('show a webhook and its most recent deliveries'),
  ).action(async (id: string, _options, command: Command) => {
    const connection = connect(command.optsWithGlobals<ServerOptions>());
    const detail = (await callApi(connection, 'GET', `/webhooks/${encodeURIComponent(id)}`)) as {
      webhook: WebhookJson;
      recentDeliveries: DeliveryJson[];
    };
    print(`${detail.webhook.id}\t${detail.webhook.url}\t${describeWebhook(detail.webhook)}`);
    for (const delivery of detail.recentDeliveries) print(deliveryLine(delivery));
  });

  serverOptions(
    webhook
      .command('test <id>')
      .description('send a signed ping now and print the outcome; exits with 1 when it fails'),
  ).action(async (id: string, _options, command: Command) => {
    const connection = connect(command.optsWithGlobals<ServerOptions>());
    const ping = (await callApi(
      connection,
      'POST',
      `/webhooks/${encodeURIComponent(id)}/test`,
    )) as DeliveryJson;
    print(deliveryLine(ping));
    if (ping.state !== 'delivered') process.exitCode = 1;
  });

  serverOptions(
    webhook
      .command('deliveries <id>')
      .description('list deliveries, newest first')
      .option('--state <state>', 'only pending, delivered, dead or failed deliveries'),
  ).action(async (id: string, _options, command: Command) => {
    const options = command.optsWithGlobals<ServerOptions & { state?: string }>();
    const state =
      options.state === undefined ? undefined : parseChoice('--state', options.state, STATES);
    const connection = connect(options);
    const query = state === undefined ? '' : `?state=${state}`;
    const page = (await callApi(
      connection,
      'GET',
      `/webhooks/${encodeURIComponent(id)}/deliveries${query}`,
    )) as { deliveries: DeliveryJson[]; droppedDeadLetters?: number };
    for (const delivery of page.deliveries) print(deliveryLine(delivery));
    const dropped = page.droppedDeadLetters ?? 0;
    if (dropped > 0 && (state === undefined || state === 'dead')) {
      print(`${dropped} older dead letters were deleted over the cap (webhooks.maxDeadLetters)`);
    }
  });

  serverOptions(
    webhook.command('retry <id> <delivery>').description('send a dead letter again'),
  ).action(async (id: string, delivery: string, _options, command: Command) => {
    const connection = connect(command.optsWithGlobals<ServerOptions>());
    const path = `/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(delivery)}/retry`;
    print(deliveryLine((await callApi(connection, 'POST', path)) as DeliveryJson));
  });

  serverOptions(
    webhook.command('remove <id>').description('delete a webhook and its deliveries'),
  ).action(async (id: string, _options, command: Command) => {
    const connection = connect(command.optsWithGlobals<ServerOptions>());
    await callApi(connection, 'DELETE', `/webhooks/${encodeURIComponent(id)}`);
    print(`webhook ${id} removed`);
  });
}
