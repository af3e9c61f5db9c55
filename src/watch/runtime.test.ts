import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CairnError } from '../errors.ts';
import { TLP_2_CLEAR, TLP_2_RED } from '../stix/tlp.ts';
import { indicator, malware } from '../testing/stix.ts';
import type { AlertNotice } from './bus.ts';
import { makeWatchWorld, type WatchWorld } from './fixtures.test-helper.ts';
import type { Alert } from './model.ts';
import { WatchRuntime } from './runtime.ts';

function rejectsWith(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof CairnError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  };
}

describe('watch runtime', () => {
  let world: WatchWorld;
  let runtime: WatchRuntime;
  const notices: AlertNotice[] = [];

  /** Processes everything pending: list changes, events and retro-hunts. */
  async function settle(): Promise<void> {
    await runtime.reload();
    await runtime.follower.drain();
    await runtime.hunter.runDue();
  }

  async function alertsOf(actor: string, watchlistId?: string): Promise<Alert[]> {
    const listing = await runtime.service.listAlerts(world.actors[actor]!, {
      ...(watchlistId ? { watchlistId } : {}),
    });
    return listing.alerts;
  }

  async function share(
    actor: string,
    collection: string,
    objects: unknown[],
    recipients?: string[],
  ) {
    const result = await world.services.share(
      world.actors[actor]!,
      world.collections[collection]!,
      objects,
      recipients ? { recipients } : {},
    );
    assert.equal(result.failures.length, 0, JSON.stringify(result.failures));
  }

  before(async () => {
    world = await makeWatchWorld();
    runtime = new WatchRuntime(world.store, world.logger);
    runtime.bus.subscribe((notice) => notices.push(notice));
    await settle();
  });

  after(async () => {
    await runtime.stop();
    await world.dispose();
  });

  it('alerts on an indicator that mentions a watched domain', async () => {
    const { list } = await runtime.service.createList(world.actors['alpha-analyst']!, {
      name: 'alpha domains',
      owner: 'organisation',
      entries: [{ value: 'evil.example', subdomains: true }],
    });
    const gamma = await runtime.service.createList(world.actors['gamma-analyst']!, {
      name: 'gamma domains',
      entries: [{ value: 'evil.example', subdomains: true }],
    });
    await settle();

    const object = indicator({
      pattern: "[domain-name:value = 'c2.evil.example']",
      confidence: 80,
    });
    await share('beta-analyst', 'ring', [object]);
    await settle();

    const alerts = await alertsOf('alpha-read-only', list.id);
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.objectId, object.id);
    assert.equal(alerts[0]!.match.kind, 'indicator');
    assert.equal(alerts[0]!.match.how, 'subdomain');
    assert.equal(alerts[0]!.match.value, 'c2.evil.example');
    assert.equal(alerts[0]!.origin, 'live');
    assert.deepEqual(alerts[0]!.tlp, ['green']);
    assert.equal(await alertsOf('gamma-analyst', gamma.list.id).then((a) => a.length), 0);
    assert.ok(notices.some((notice) => notice.alert.objectId === object.id));
  });

  it('keeps private lists and alerts from other users', async () => {
    const mine = await runtime.service.createList(world.actors['beta-analyst']!, {
      name: 'private',
      entries: [{ value: 'private.example' }],
    });
    await assert.rejects(
      runtime.service.getList(world.actors['beta-org-admin']!, mine.list.id),
      rejectsWith('not-found'),
    );
    await assert.rejects(
      runtime.service.getList(world.actors['alpha-analyst']!, mine.list.id),
      rejectsWith('not-found'),
    );
    const lists = await runtime.service.listLists(world.actors['beta-org-admin']!);
    assert.ok(!lists.some((summary) => summary.id === mine.list.id));
  });

  it('alerts a named RED recipient only on a private list', async () => {
    const recipient = world.users['alpha-analyst']!;
    const personal = await runtime.service.createList(world.actors['alpha-analyst']!, {
      name: 'red personal',
      entries: [{ value: '203.0.113.0/24' }],
    });
    const shared = await runtime.service.createList(world.actors['alpha-analyst']!, {
      name: 'red shared',
      visibility: 'organisation',
      entries: [{ value: '203.0.113.0/24' }],
    });
    await settle();

    const object = indicator({
      pattern: "[ipv4-addr:value = '203.0.113.9']",
      object_marking_refs: [TLP_2_RED.id],
    });
    await share('beta-analyst', 'ring', [object], [recipient.id]);
    await settle();

    const personalAlerts = await alertsOf('alpha-analyst', personal.list.id);
    assert.equal(personalAlerts.length, 1);
    assert.equal(personalAlerts[0]!.match.how, 'cidr');
    assert.equal((await alertsOf('alpha-analyst', shared.list.id)).length, 0);
  });

  it('updates one alert per entry and object', async () => {
    const { list } = await runtime.service.createList(world.actors['beta-analyst']!, {
      name: 'versions',
      entries: [{ type: 'filter', filter: { names: ['Stalker'] } }],
    });
    await settle();
    const first = malware({ name: 'Stalker', modified: '2024-01-01T00:00:00.000Z' });
    await share('beta-analyst', 'ring', [first]);
    await settle();
    const [alert] = await alertsOf('beta-analyst', list.id);
    assert.ok(alert);
    const acknowledged = await runtime.service.acknowledge(world.actors['beta-analyst']!, [
      alert.id,
    ]);
    assert.equal(acknowledged.length, 1);

    await share('beta-analyst', 'ring', [{ ...first, modified: '2024-02-01T00:00:00.000Z' }]);
    await settle();
    const alerts = await alertsOf('beta-analyst', list.id);
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.id, alert.id);
    assert.equal(alerts[0]!.versions, 2);
    assert.equal(alerts[0]!.state, 'open');
    assert.equal(alerts[0]!.version, '2024-02-01T00:00:00.000Z');
  });

  it('retro-hunts the stored objects of a new list', async () => {
    const stored = indicator({ pattern: "[url:value = 'http://old.example/gate.php']" });
    await share('alpha-analyst', 'ring', [stored]);
    await settle();

    const { list } = await runtime.service.createList(world.actors['alpha-analyst']!, {
      name: 'late',
      entries: [{ value: 'old.example' }],
    });
    await settle();
    const [job] = await runtime.service.listJobs(world.actors['alpha-analyst']!, list.id);
    assert.ok(job);
    assert.equal(job.state, 'done');
    assert.ok(job.scanned >= 1);
    assert.equal(job.alerts, 1);
    const alerts = await alertsOf('alpha-analyst', list.id);
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.objectId, stored.id);
    assert.equal(alerts[0]!.origin, 'retro-hunt');
    assert.equal(alerts[0]!.match.how, 'url-host');
  });

  it('retro-hunts only collections the owner may read', async () => {
    const hidden = indicator({
      pattern: "[domain-name:value = 'den.example']",
      object_marking_refs: [TLP_2_CLEAR.id],
    });
    await share('gamma-analyst', 'den', [hidden]);
    await settle();
    const { list } = await runtime.service.createList(world.actors['alpha-analyst']!, {
      name: 'den',
      entries: [{ value: 'den.example' }],
    });
    await settle();
    const [job] = await runtime.service.listJobs(world.actors['alpha-analyst']!, list.id);
    assert.equal(job!.state, 'done');
    assert.equal(
      job!.collections.some((item) => item.id === world.collections.den),
      false,
    );
    assert.equal((await alertsOf('alpha-analyst', list.id)).length, 0);
  });

  it('rejects changes by read-only users and other owners', async () => {
    await assert.rejects(
      runtime.service.createList(world.actors['alpha-read-only']!, { name: 'x' }),
      rejectsWith('forbidden'),
    );
    const { list } = await runtime.service.createList(world.actors['alpha-org-admin']!, {
      name: 'admin private',
      visibility: 'organisation',
    });
    await assert.rejects(
      runtime.service.addEntries(world.actors['alpha-analyst']!, list.id, [{ value: 'a.example' }]),
      rejectsWith('forbidden'),
    );
    const [alert] = await alertsOf('alpha-analyst');
    assert.ok(alert);
    await assert.rejects(
      runtime.service.acknowledge(world.actors['alpha-read-only']!, [alert.id]),
      rejectsWith('forbidden'),
    );
    await assert.rejects(
      runtime.service.acknowledge(world.actors['gamma-analyst']!, [alert.id]),
      rejectsWith('not-found'),
    );
  });

  it('reports bad entries and skips duplicates', async () => {
    const { list, entries } = await runtime.service.createList(world.actors['alpha-analyst']!, {
      name: 'mixed',
      entries: [
        { value: 'ok.example' },
        { value: 'OK.example' },
        { type: 'ip', value: '999.1.1.1' },
        { type: 'pattern', pattern: '[broken' },
      ],
    });
    assert.equal(entries.added.length, 1);
    assert.equal(entries.duplicates, 1);
    assert.deepEqual(
      entries.rejected.map((rejected) => rejected.index),
      [2, 3],
    );
    assert.equal(list.entryCount, 1);
  });

  it('stops alerting on a removed list', async () => {
    const { list } = await runtime.service.createList(world.actors['beta-analyst']!, {
      name: 'gone',
      entries: [{ value: 'gone.example' }],
    });
    await settle();
    await runtime.service.deleteList(world.actors['beta-analyst']!, list.id);
    await share('beta-analyst', 'ring', [
      indicator({ pattern: "[domain-name:value = 'gone.example']" }),
    ]);
    await settle();
    assert.equal(runtime.engine.getList(list.id), undefined);
    assert.equal(
      (await world.store.listDocuments({ kind: 'alert', owner: list.id, limit: 10 })).length,
      0,
    );
  });

  it('hands the event log to another node on stop', async () => {
    const { list } = await runtime.service.createList(world.actors['beta-analyst']!, {
      name: 'handover',
      entries: [{ value: 'handover.example' }],
    });
    await settle();
    const other = new WatchRuntime(world.store, world.logger, undefined, { valueIndex: false });
    await other.reload();
    await share('beta-analyst', 'ring', [
      indicator({ pattern: "[domain-name:value = 'handover.example']" }),
    ]);
    await other.follower.drain();
    assert.equal((await alertsOf('beta-analyst', list.id)).length, 0, 'the lease is taken');

    await runtime.follower.stop();
    await other.follower.drain();
    const alerts = await alertsOf('beta-analyst', list.id);
    assert.equal(alerts.length, 1, 'the other node raised the alert from the checkpoint');
    await other.stop();
    // The first runtime stays stopped for the tests below; a new one follows from here.
    runtime = new WatchRuntime(world.store, world.logger);
    runtime.bus.subscribe((notice) => notices.push(notice));
    await settle();
  });

  it('sees list changes made on another node', async () => {
    const other = new WatchRuntime(world.store, world.logger);
    await other.reload();
    const { list } = await runtime.service.createList(world.actors['beta-analyst']!, {
      name: 'elsewhere',
      entries: [{ value: 'elsewhere.example' }],
    });
    assert.equal(other.engine.getList(list.id), undefined);
    await other.reload();
    assert.ok(other.engine.getList(list.id));
    await runtime.service.deleteList(world.actors['beta-analyst']!, list.id);
    await other.reload();
    assert.equal(other.engine.getList(list.id), undefined);
  });
});
