import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { validateObject } from '../stix/validate.ts';
import { generateWorld, SMALL_SIZE } from './generate.ts';
import { markedLevels, predictShare, replay } from './oracle.ts';
import { TLP_1_IDS, type ShareEvent, type World } from './world.ts';

const SEEDS = Array.from({ length: 25 }, (_, i) => i + 1);
const worlds: World[] = SEEDS.map((seed) => generateWorld(seed, SMALL_SIZE));

function shares(world: World): ShareEvent[] {
  return world.events.filter((e): e is ShareEvent => e.kind === 'share');
}

describe('world generator', () => {
  test('same seed same world', () => {
    assert.deepEqual(generateWorld(7, SMALL_SIZE), generateWorld(7, SMALL_SIZE));
  });

  test('seeds give distinct ids', () => {
    const ids = (world: World) => new Set(shares(world).map((s) => s.object.id));
    const first = ids(worlds[0] as World);
    for (const world of worlds.slice(1)) {
      for (const id of ids(world)) assert.equal(first.has(id), false, `${id} in two worlds`);
    }
  });

  test('facts are consistent', () => {
    for (const world of worlds) {
      const users = new Map(world.users.map((u) => [u.key, u]));
      for (const community of world.communities) {
        assert.notEqual(community.charter.defaultTlp, 'red');
        assert.ok(community.members.length > 0, `${community.key} has no member`);
        for (const moderator of community.moderators) {
          const organisation = users.get(moderator)?.organisation as string;
          assert.ok(community.members.includes(organisation), `${moderator} is not a member`);
        }
      }
      for (const organisation of world.organisations) {
        assert.equal(organisation.clients.includes(organisation.key), false);
      }
      for (const share of shares(world)) {
        assert.equal(users.get(share.contributor)?.disabled, false, share.contributor);
      }
    }
  });

  test('objects are valid STIX', () => {
    for (const world of worlds.slice(0, 5)) {
      for (const share of shares(world)) {
        const result = validateObject(share.object);
        assert.equal(result.ok, true, `${share.object.id}: ${JSON.stringify(result)}`);
      }
    }
  });

  test('worlds cover every feature', () => {
    const seen = new Set<string>();
    for (const world of worlds) {
      if (world.organisations.some((o) => o.clients.length > 0)) seen.add('clients');
      for (const token of world.tokens) seen.add(`token ${token.state} ${token.scopes.join('+')}`);
      for (const user of world.users) seen.add(`role ${user.role}`);
      if (world.users.some((u) => u.disabled)) seen.add('disabled');
      if (world.events.some((e) => e.kind === 'charter')) seen.add('charter change');
      const ids = new Map<string, number>();
      world.events.forEach((event, index) => {
        if (event.kind !== 'share') return;
        const levels = markedLevels(event.object);
        if (levels.length === 0) seen.add('no marking');
        if (levels.length > 1) seen.add('several markings');
        if ((event.object.object_marking_refs as string[] | undefined)?.includes(TLP_1_IDS.red)) {
          seen.add('TLP 1.0');
        }
        if (Array.isArray(event.object.granular_markings)) seen.add('granular');
        if (event.anonymous) seen.add('anonymous');
        if (levels.includes('red') && event.recipients.length > 0) seen.add('RED recipients');
        const prediction = predictShare(world, event, replay(world, index));
        seen.add(`${prediction.outcome}: ${prediction.rule}`);
        ids.set(event.object.id, (ids.get(event.object.id) ?? 0) + 1);
      });
      if ([...ids.values()].some((n) => n > 1)) seen.add('several versions');
    }
    const expected = [
      'clients',
      'token active ',
      'token active read',
      'token active write',
      'token revoked ',
      'token expired ',
      'role platform-admin',
      'role org-admin',
      'role analyst',
      'role read-only',
      'disabled',
      'charter change',
      'no marking',
      'several markings',
      'TLP 1.0',
      'granular',
      'anonymous',
      'RED recipients',
      'accepted: a writer may share',
      'rejected: only writers of the collection may share into it',
      'rejected: RED posted through TAXII has no recipients',
      'rejected: RED needs at least one recipient',
      'rejected: AMBER, AMBER+STRICT and RED objects the organisation reads may not be re-shared into another community',
      'accepted: a restricted version the organisation cannot read does not stop a share',
      'several versions',
    ];
    for (const feature of expected) assert.ok(seen.has(feature), `no world has: ${feature}`);
  });
});
