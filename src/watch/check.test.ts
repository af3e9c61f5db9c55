import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Caller } from '../auth/tokens.ts';
import { TLP_2_RED } from '../stix/tlp.ts';
import { indicator, malware } from '../testing/stix.ts';
import {
  BoundedCache,
  CheckSession,
  lineObservables,
  MAX_LINE_LENGTH,
  type CheckLine,
} from './check.ts';
import { makeWatchWorld, type WatchWorld } from './fixtures.test-helper.ts';
import { ValueIndexFeed } from './value-index.ts';

async function* linesOf(lines: string[]): AsyncGenerator<string> {
  yield* lines;
}

describe('lineObservables', () => {
  it('finds observables in log lines', () => {
    const found = lineObservables(
      '2024-01-01T00:00:00Z 10.0.0.1 GET hxxp://evil[.]example/gate.php?id=1 "Mozilla/5.0" user=ceo@corp.example',
    ).map((observable) => `${observable.kind}:${observable.value}`);
    assert.ok(found.includes('ip:10.0.0.1'), found.join(' '));
    assert.ok(found.includes('url:http://evil.example/gate.php?id=1'), found.join(' '));
    assert.ok(found.includes('email:ceo@corp.example'), found.join(' '));
  });

  it('reads CSV fields and hashes', () => {
    const found = lineObservables(`domain,evil.example,${'a'.repeat(64)},AS64500`).map(
      (observable) => observable.kind,
    );
    assert.deepEqual(found.sort(), ['asn', 'domain', 'hash']);
  });

  it('skips words and numbers', () => {
    assert.deepEqual(lineObservables('GET 200 1234 hello world'), []);
  });

  it('bounds long lines', () => {
    const line = 'x.example '.repeat(100_000);
    assert.ok(lineObservables(line).length <= 1);
  });
});

describe('BoundedCache', () => {
  it('keeps recent entries within its capacity', () => {
    const cache = new BoundedCache<number, string>(100);
    for (let i = 0; i < 1_000; i++) cache.set(i, `v${i}`);
    assert.equal(cache.get(999), 'v999');
    assert.equal(cache.get(950), 'v950');
    assert.equal(cache.get(10), undefined);
    assert.equal(cache.has(10), false);
  });

  it('keeps entries that are read', () => {
    const cache = new BoundedCache<number, string | null>(4);
    cache.set(1, null);
    cache.set(2, 'two');
    cache.set(3, 'three');
    assert.equal(cache.get(1), null);
    assert.equal(cache.has(1), true);
    cache.set(4, 'four');
    cache.set(5, 'five');
    assert.equal(cache.has(1), true, 'read back, so copied forward');
    assert.equal(cache.get(2), undefined);
  });
});

describe('CheckSession', () => {
  let world: WatchWorld;
  let feed: ValueIndexFeed;
  const stalker = indicator({
    pattern: "[domain-name:value = 'evil.example']",
    name: 'stalker C2',
  });
  const family = malware({ name: 'Stalker' });
  const indicates = {
    type: 'relationship',
    spec_version: '2.1',
    id: `relationship--${randomUUID()}`,
    created: '2024-01-01T00:00:00.000Z',
    modified: '2024-01-01T00:00:00.000Z',
    relationship_type: 'indicates',
    source_ref: stalker.id,
    target_ref: family.id,
  };
  const sighting = {
    type: 'sighting',
    spec_version: '2.1',
    id: `sighting--${randomUUID()}`,
    created: '2024-01-02T00:00:00.000Z',
    modified: '2024-01-02T00:00:00.000Z',
    sighting_of_ref: stalker.id,
    count: 3,
  };
  const red = indicator({
    pattern: "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    object_marking_refs: [TLP_2_RED.id],
  });

  function callerOf(name: string): Caller {
    const user = world.users[name]!;
    return {
      user,
      token: { id: 'test', userId: user.id, label: '', secretHash: '', scopes: [], createdAt: 0 },
    };
  }

  async function check(name: string, lines: string[]): Promise<CheckLine[]> {
    const session = new CheckSession({
      store: world.store,
      index: feed.index,
      caller: callerOf(name),
      listVisible: () => false,
    });
    const results: CheckLine[] = [];
    for await (const result of session.run(linesOf(lines))) results.push(result);
    return results;
  }

  before(async () => {
    world = await makeWatchWorld();
    const shared = await world.services.share(
      world.actors['beta-analyst']!,
      world.collections.ring!,
      [stalker, family, indicates, sighting],
    );
    assert.equal(shared.failures.length, 0, JSON.stringify(shared.failures));
    const redShare = await world.services.share(
      world.actors['beta-analyst']!,
      world.collections.ring!,
      [red],
      { recipients: [world.users['alpha-analyst']!.id] },
    );
    assert.equal(redShare.failures.length, 0, JSON.stringify(redShare.failures));
    feed = new ValueIndexFeed(world.store, world.logger);
    await feed.build();
  });

  after(async () => {
    await feed.stop();
    await world.dispose();
  });

  it('reports indicators with related objects and sightings', async () => {
    const results = await check('alpha-org-admin', [
      'nothing here',
      '10.0.0.1 GET http://www.evil.example/a 200',
      'query evil[.]example A',
    ]);
    assert.deepEqual(
      results.map((result) => result.line),
      [3],
      'a subdomain is not the watched domain of an exact indicator',
    );
    const [match] = results[0]!.matches;
    assert.equal(match!.value, 'evil.example');
    assert.deepEqual(
      match!.objects.map((object) => [object.id, object.how]),
      [[stalker.id, 'exact']],
    );
    assert.deepEqual(
      match!.related.map((related) => [related.id, related.relationship, related.name]),
      [[family.id, 'indicates', 'Stalker']],
    );
    assert.deepEqual(
      match!.sightings.map((found) => [found.id, found.count]),
      [[sighting.id, 3]],
    );
  });

  it('finds addresses inside indicator blocks for named recipients only', async () => {
    const recipient = await check('alpha-analyst', ['src=198.51.100.77']);
    assert.equal(recipient.length, 1);
    assert.equal(recipient[0]!.matches[0]!.objects[0]!.how, 'cidr');
    const other = await check('alpha-org-admin', ['src=198.51.100.77']);
    assert.deepEqual(other, []);
  });

  it('reports nothing another community may not see', async () => {
    assert.deepEqual(await check('gamma-analyst', ['evil.example', '198.51.100.77']), []);
  });

  it('follows objects added after the build', async () => {
    const later = indicator({ pattern: "[url:value = 'http://late.example/x']" });
    await world.services.share(world.actors['beta-analyst']!, world.collections.ring!, [later]);
    assert.deepEqual(await check('beta-analyst', ['http://late.example/x']), []);
    await feed.catchUp();
    const results = await check('beta-analyst', ['GET http://late.example/x']);
    assert.equal(results[0]?.matches[0]?.objects[0]?.id, later.id);
  });

  it('drops values an object no longer mentions', async () => {
    const moved = indicator({ pattern: "[domain-name:value = 'before.example']" });
    await world.services.share(world.actors['beta-analyst']!, world.collections.ring!, [moved]);
    await world.services.share(world.actors['beta-analyst']!, world.collections.ring!, [
      {
        ...moved,
        modified: '2024-06-01T00:00:00.000Z',
        pattern: "[domain-name:value = 'after.example']",
      },
    ]);
    await feed.catchUp();
    assert.deepEqual(await check('beta-analyst', ['before.example']), []);
    assert.equal((await check('beta-analyst', ['after.example'])).length, 1);
  });

  it('counts lines and observables', async () => {
    const session = new CheckSession({
      store: world.store,
      index: feed.index,
      caller: callerOf('beta-analyst'),
      listVisible: () => false,
    });
    const long = `${'x'.repeat(MAX_LINE_LENGTH)} cut.example`;
    for await (const _ of session.run(
      linesOf(['evil.example', 'x', 'a.example b.example', long]),
    )) {
      // Results are counted in the summary.
    }
    assert.deepEqual(session.summary, {
      lines: 4,
      longLines: 1,
      observables: 3,
      matchedLines: 1,
      matchedValues: 1,
    });
  });
});
