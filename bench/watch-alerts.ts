/**
 * New object to alert latency with many watch lists.
 *
 *   node --import tsx bench/watch-alerts.ts [lists=10000] [objects=500]
 *
 * One SQLite store, wrapped as the server wraps it so that every write announces its events
 * (src/events/announcing-store.ts), and the WatchRuntime the server runs. It holds `lists`
 * organisation watch lists of 10 entries each (domains, some with subdomains, addresses,
 * CIDR blocks, a STIX pattern and a name filter: 100,000 entries for 10,000 lists). Then an
 * analyst shares `objects` indicators one at a time through the sharing service, each
 * matching one entry of one list, and the time from the start of the share call to the
 * alert on the bus is taken, as well as the time from the event's commit to the alert (the
 * follower's own figure). The goal: p99 under 20 ms.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrap } from '../src/bootstrap.ts';
import { DEFAULT_CONFIG } from '../src/config/config.ts';
import { AccessChanges, announcingStore } from '../src/events/announcing-store.ts';
import { LocalNotifier } from '../src/events/notifier.ts';
import { createLogger } from '../src/log/logger.ts';
import { createSharingServices } from '../src/sharing/service.ts';
import { openStore } from '../src/store/index.ts';
import type { WatchEntry, WatchList } from '../src/watch/model.ts';
import { WatchRuntime } from '../src/watch/runtime.ts';
import { machine, percentile } from './lib.ts';

const listCount = Number(process.argv[2] ?? 10_000);
const objectCount = Number(process.argv[3] ?? 500);

function entriesOf(list: number): WatchEntry[] {
  const base = () => ({ id: randomUUID(), addedAt: 0 });
  return [
    { ...base(), type: 'domain', value: `l${list}.example.com`, subdomains: true },
    { ...base(), type: 'domain', value: `x${list}.example.net` },
    { ...base(), type: 'ip', value: `10.${(list >> 8) & 255}.${list & 255}.1` },
    { ...base(), type: 'cidr', value: `172.${16 + (list % 16)}.${(list >> 4) & 255}.0/24` },
    { ...base(), type: 'url', value: `http://u${list}.example.org/gate.php` },
    {
      ...base(),
      type: 'hash',
      value: randomUUID().replace(/-/g, '').repeat(2),
      algorithm: 'SHA-256',
    },
    { ...base(), type: 'asn', value: `AS${64512 + list}` },
    { ...base(), type: 'email', value: `ceo${list}@example.com` },
    { ...base(), type: 'pattern', pattern: `[file:name = 'dropper${list}.exe']` },
    { ...base(), type: 'filter', filter: { names: [`family-${list}`] } },
  ];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-alerts-'));
  const opened = await openStore(`sqlite:${join(dir, 'bench.db')}`);
  const logger = createLogger('warn');
  const notifier = new LocalNotifier();
  const store = announcingStore(opened, notifier, new AccessChanges(), logger);
  const runtime = new WatchRuntime(store, logger, notifier, { valueIndex: false });
  try {
    await bootstrap(store, DEFAULT_CONFIG, { createAdmin: true });
    const services = createSharingServices(store);
    const admin = (await store.getUserByName('admin'))!;
    const organisation = await services.createOrganisation({ userId: admin.id }, { name: 'bench' });
    const owner = await services.createUser({ userId: admin.id }, organisation.id, {
      name: 'bench-admin',
      role: 'org-admin',
    });
    const actor = { userId: owner.id };
    const community = await services.createCommunity(actor, { name: 'Bench', defaultTlp: 'green' });
    const collection = await services.createCollection(actor, community.id, { title: 'feed' });

    const repository = runtime.service.repository;
    for (let list = 0; list < listCount; list++) {
      const watchList: WatchList = {
        id: randomUUID(),
        name: `list ${list}`,
        ownerType: 'organisation',
        organisationId: organisation.id,
        visibility: 'organisation',
        enabled: true,
        entries: entriesOf(list),
        createdBy: owner.id,
        createdAt: 0,
        updatedAt: 0,
      };
      await repository.putList(JSON.parse(JSON.stringify(watchList)) as WatchList, 0);
    }
    await runtime.start();

    const waiting = new Map<string, (at: number) => void>();
    runtime.bus.subscribe((notice) => waiting.get(notice.alert.objectId)?.(performance.now()));
    const latencies: number[] = [];
    for (let i = 0; i < objectCount; i++) {
      const list = (i * 7919) % listCount;
      const id = `indicator--${randomUUID()}`;
      const alerted = new Promise<number>((resolve) => waiting.set(id, resolve));
      const started = performance.now();
      const created = '2026-12-01T00:00:00.000Z';
      await services.share(actor, collection.id, [
        {
          type: 'indicator',
          spec_version: '2.1',
          id,
          created,
          modified: created,
          pattern: `[domain-name:value = 'cdn${i}.l${list}.example.com']`,
          pattern_type: 'stix',
          valid_from: created,
        },
      ]);
      latencies.push((await alerted) - started);
      waiting.delete(id);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const commit = [...runtime.follower.latencies].sort((a, b) => a - b);
    console.log(`new object to alert, ${machine()}`);
    console.log(
      `${runtime.engine.listCount} lists, ${runtime.engine.entryCount} entries; ${objectCount} objects shared one at a time`,
    );
    console.log(
      `share call to alert: p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`,
    );
    console.log(
      `event commit to alert: p50 ${percentile(commit, 50).toFixed(1)} ms, p99 ${percentile(commit, 99).toFixed(1)} ms (goal p99 < 20 ms)`,
    );
  } finally {
    await runtime.stop();
    await notifier.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
