/**
 * Webhook fan-out: 100 endpoints on loopback receive every event; the figure is the
 * latency from the commit of an object to its arrival at each endpoint, with all endpoints
 * answering, then with one endpoint that never answers.
 *
 *   node --import tsx bench/webhook-fanout.ts [events=100] [events per second=5]
 *
 * The Cairn side (a SQLite store, the sharing services and the webhook service with its
 * default settings: 10 s timeout, 4 requests in flight per endpoint) runs in this process.
 * The receivers run in a child process, so their work does not share this event loop.
 * Objects are shared one at a time at a steady rate, and each commit is announced as the
 * server announces it. The child records the wall-clock arrival time of each request; the
 * latency of a delivery is its arrival minus the time its share call returned. The hanging
 * endpoint's deliveries are left out of the figures of the second run. An optional third
 * argument, `answer` or `hang`, runs only that case.
 *
 * Run 2026-12-04 at commit 0efda9b, 2 cores (AMD EPYC), 24 GiB, Node 20.20.2, other
 * processes sharing the cores (load average 5 to 8), 100 events at 5/s: all respond p50
 * 54 ms, p99 280 ms; one hangs p50 44 ms, p99 164 ms; 0.6 ms of CPU per delivery.
 * docs/benchmarks.md has the other runs.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

import { LocalNotifier } from '../src/events/notifier.ts';
import { createLogger } from '../src/log/logger.ts';
import { makeCommunity, makeOrganisation, makeUser } from '../src/sharing/fixtures.test-helper.ts';
import { createSharingServices } from '../src/sharing/service.ts';
import { openStore } from '../src/store/index.ts';
import { indicator } from '../src/testing/stix.ts';
import { WebhookService } from '../src/webhooks/service.ts';
import { machine, percentile } from './lib.ts';

const ENDPOINTS = 100;

/** Wall-clock time in milliseconds with sub-millisecond resolution, comparable across processes. */
function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Runs the receiver side: 100 servers, of which the first hangs when `hang` is set. */
async function runReceivers(hang: boolean): Promise<void> {
  const arrivals: Array<[number, string, number]> = [];
  const servers: http.Server[] = [];
  for (let index = 0; index < ENDPOINTS; index++) {
    const server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const at = wallMs();
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { objectId?: string };
        arrivals.push([index, body.objectId ?? '', at]);
        if (hang && index === 0) return;
        response.writeHead(204).end();
      });
    });
    server.keepAliveTimeout = 30_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
  }
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  process.send!({ ports });
  for (;;) {
    const [message] = (await once(process, 'message')) as [string];
    if (message === 'report') break;
    const answered = arrivals.filter(([index]) => !(hang && index === 0)).length;
    process.send!({ answered });
  }
  process.send!({ arrivals });
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
}

interface RunResult {
  p50: number;
  p99: number;
  max: number;
  delivered: number;
  expected: number;
  /** CPU time of this process (the Cairn side) per delivery, in milliseconds. */
  cpuMsPerDelivery: number;
}

async function runScenario(hang: boolean, events: number, rate: number): Promise<RunResult> {
  const child = fork(fileURLToPath(import.meta.url), ['receivers', hang ? 'hang' : 'answer'], {
    execArgv: ['--import', 'tsx'],
    timeout: 10 * 60_000,
  });
  const [{ ports }] = (await once(child, 'message')) as [{ ports: number[] }];

  const directory = mkdtempSync(join(tmpdir(), 'cairn-webhook-bench-'));
  const store = await openStore(`sqlite:${join(directory, 'cairn.db')}`);
  const notifier = new LocalNotifier();
  const service = new WebhookService(
    store,
    createLogger('warn'),
    { allowPrivateTargets: true, maxPerOrganisation: ENDPOINTS },
    notifier,
  );
  try {
    await store.createApiRoot({ name: 'default', title: 'Default', maxContentLength: 1 << 24 });
    const organisation = await makeOrganisation(store, 'Bench');
    const { user } = await makeUser(store, organisation, 'bench-admin', 'org-admin');
    const { collection } = await makeCommunity(store, 'bench', [organisation], user);
    const sharing = createSharingServices(store);
    for (const port of ports) {
      await service.create({ userId: user.id }, { url: `http://127.0.0.1:${port}/hook` });
    }
    await service.start();

    const published = new Map<string, number>();
    const cpuBefore = process.cpuUsage();
    const interval = 1000 / rate;
    const start = wallMs();
    for (let index = 0; index < events; index++) {
      const wait = start + index * interval - wallMs();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const object = indicator();
      await sharing.share({ userId: user.id }, collection.id, [object]);
      published.set(object.id, wallMs());
      notifier.announce((await store.eventBounds()).last);
    }

    // Wait until every responding endpoint has every event, or 60 s.
    const expected = events * (hang ? ENDPOINTS - 1 : ENDPOINTS);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      child.send('count');
      const [{ answered }] = (await once(child, 'message')) as [{ answered: number }];
      if (answered >= expected) break;
    }
    child.send('report');
    const [report] = (await once(child, 'message')) as [
      { arrivals: Array<[number, string, number]> },
    ];
    const arrivals = report.arrivals;
    const cpu = process.cpuUsage(cpuBefore);

    const latencies = arrivals
      .filter(([endpoint]) => !(hang && endpoint === 0))
      .map(([, objectId, at]) => at - published.get(objectId)!)
      .sort((a, b) => a - b);
    return {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
      delivered: latencies.length,
      expected,
      cpuMsPerDelivery: (cpu.user + cpu.system) / 1000 / arrivals.length,
    };
  } finally {
    await service.stop();
    await store.close();
    rmSync(directory, { recursive: true, force: true });
    child.kill();
  }
}

if (process.argv[2] === 'receivers') {
  await runReceivers(process.argv[3] === 'hang');
} else {
  const events = Number(process.argv[2] ?? 100);
  const rate = Number(process.argv[3] ?? 5);
  if (!Number.isInteger(events) || events < 1) {
    throw new Error(`invalid events "${process.argv[2]}": give a positive integer`);
  }
  if (!Number.isFinite(rate) || rate <= 0) {
    throw new Error(`invalid events per second "${process.argv[3]}": give a positive number`);
  }
  console.log(`${machine()}; ${ENDPOINTS} endpoints, ${events} events at ${rate}/s`);
  for (const hang of process.argv[4] === undefined ? [false, true] : [process.argv[4] === 'hang']) {
    const result = await runScenario(hang, events, rate);
    const label = hang ? 'one endpoint hangs' : 'all endpoints answer';
    console.log(
      `${label}: ${result.delivered}/${result.expected} deliveries to answering endpoints, ` +
        `p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, max ${result.max.toFixed(1)} ms, ` +
        `${result.cpuMsPerDelivery.toFixed(2)} ms CPU per delivery`,
    );
  }
}
