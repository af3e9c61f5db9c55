import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  TLP_1_RED,
  TLP_1_WHITE,
  TLP_2_AMBER,
  TLP_2_AMBER_STRICT,
  TLP_2_CLEAR,
  TLP_2_GREEN,
  TLP_2_RED,
} from '../stix/tlp.ts';
import {
  collectionRights,
  hiddenObjectIds,
  matchVersions,
  predictShare,
  removeSelected,
  replay,
  visibleCollections,
  visibleVersions,
} from './oracle.ts';
import {
  TLP_1_IDS,
  TLP_IDS,
  type CharterFact,
  type ShareEvent,
  type StixObject,
  type World,
} from './world.ts';

/**
 * A hand-made world. Community `c` has members `mem` and `mem2`; `mem` is a provider with
 * client `cli`, which has its own client `cli2`; `prov` is a provider of `mem`; `out` has
 * no relation. Community `d` has member `out` only. Collection `k` belongs to `c`, `kd` to `d`.
 */
function smallWorld(charter: Partial<CharterFact> = {}): World {
  return {
    seed: 0,
    organisations: [
      { key: 'mem', name: 'Member', clients: ['cli'] },
      { key: 'mem2', name: 'Member 2', clients: [] },
      { key: 'cli', name: 'Client', clients: ['cli2'] },
      { key: 'cli2', name: 'Client of client', clients: [] },
      { key: 'prov', name: 'Provider of member', clients: ['mem'] },
      { key: 'out', name: 'Outsider', clients: [] },
    ],
    users: [
      { key: 'padmin', organisation: 'out', role: 'platform-admin', disabled: false },
      { key: 'oadmin', organisation: 'mem', role: 'org-admin', disabled: false },
      { key: 'analyst', organisation: 'mem', role: 'analyst', disabled: false },
      { key: 'reader', organisation: 'mem', role: 'read-only', disabled: false },
      { key: 'analyst2', organisation: 'mem2', role: 'analyst', disabled: false },
      { key: 'client', organisation: 'cli', role: 'analyst', disabled: false },
      { key: 'client2', organisation: 'cli2', role: 'analyst', disabled: false },
      { key: 'provider', organisation: 'prov', role: 'org-admin', disabled: false },
      { key: 'outsider', organisation: 'out', role: 'analyst', disabled: false },
      { key: 'gone', organisation: 'mem', role: 'analyst', disabled: true },
    ],
    tokens: [
      ...[
        'padmin',
        'oadmin',
        'analyst',
        'reader',
        'analyst2',
        'client',
        'client2',
        'provider',
        'outsider',
        'gone',
      ].map((user) => ({ key: user, user, scopes: [], state: 'active' as const })),
      { key: 'analyst-read', user: 'analyst', scopes: ['read'], state: 'active' },
      { key: 'analyst-write', user: 'analyst', scopes: ['write'], state: 'active' },
      { key: 'reader-write', user: 'reader', scopes: ['write'], state: 'active' },
      { key: 'analyst-revoked', user: 'analyst', scopes: [], state: 'revoked' },
      { key: 'analyst-expired', user: 'analyst', scopes: [], state: 'expired' },
    ],
    communities: [
      {
        key: 'c',
        name: 'C',
        description: '',
        charter: { defaultTlp: 'green', allowAnonymous: true, publishClear: false, ...charter },
        members: ['mem', 'mem2'],
        moderators: ['oadmin'],
        identityId: 'identity--00000000-0000-4000-8000-00000000000c',
      },
      {
        key: 'd',
        name: 'D',
        description: '',
        charter: { defaultTlp: 'amber', allowAnonymous: false, publishClear: false },
        members: ['out'],
        moderators: ['outsider'],
        identityId: 'identity--00000000-0000-4000-8000-00000000000d',
      },
    ],
    collections: [
      { key: 'k', community: 'c', title: 'K' },
      { key: 'kd', community: 'd', title: 'KD' },
    ],
    events: [],
  };
}

let counter = 0;

function indicator(markings: string[] = [], extra: Record<string, unknown> = {}): StixObject {
  counter += 1;
  const suffix = counter.toString(16).padStart(12, '0');
  return {
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--00000000-0000-4000-8000-${suffix}`,
    created: '2026-01-01T00:00:00.000Z',
    modified: '2026-01-01T00:00:00.000Z',
    created_by_ref: 'identity--00000000-0000-4000-8000-0000000000aa',
    pattern: "[ipv4-addr:value = '198.51.100.1']",
    pattern_type: 'stix',
    valid_from: '2026-01-01T00:00:00Z',
    ...(markings.length > 0 ? { object_marking_refs: markings } : {}),
    ...extra,
  };
}

function share(
  object: StixObject,
  options: Partial<Omit<ShareEvent, 'kind' | 'object'>> = {},
): ShareEvent {
  return {
    kind: 'share',
    collection: 'k',
    contributor: 'analyst',
    via: 'taxii',
    anonymous: false,
    recipients: [],
    object,
    ...options,
  };
}

function sees(world: World, token: string, id: string, collection = 'k'): boolean {
  return visibleVersions(world, token, collection).some((v) => v.id === id);
}

describe('oracle collection rights', () => {
  test('rights table by role', () => {
    const world = smallWorld();
    const expected: Record<string, { canRead: boolean; canWrite: boolean } | undefined> = {
      padmin: { canRead: true, canWrite: true },
      oadmin: { canRead: true, canWrite: true },
      analyst: { canRead: true, canWrite: true },
      reader: { canRead: true, canWrite: false },
      analyst2: { canRead: true, canWrite: true },
      client: { canRead: true, canWrite: false },
      client2: undefined,
      provider: undefined,
      outsider: undefined,
      gone: undefined,
    };
    for (const [token, rights] of Object.entries(expected)) {
      assert.deepEqual(collectionRights(world, token, 'k'), rights, token);
    }
  });

  test('publishClear opens reading to anyone', () => {
    const world = smallWorld({ publishClear: true });
    assert.deepEqual(collectionRights(world, 'outsider', 'k'), { canRead: true, canWrite: false });
    assert.deepEqual(collectionRights(world, 'client2', 'k'), { canRead: true, canWrite: false });
    assert.equal(collectionRights(world, 'gone', 'k'), undefined);
  });

  test('charter change to publishClear counts', () => {
    const world = smallWorld();
    world.events.push({ kind: 'charter', community: 'c', change: { publishClear: true } });
    assert.deepEqual(collectionRights(world, 'provider', 'k'), { canRead: true, canWrite: false });
  });

  test('scopes narrow rights', () => {
    const world = smallWorld();
    assert.deepEqual(collectionRights(world, 'analyst-read', 'k'), {
      canRead: true,
      canWrite: false,
    });
    assert.deepEqual(collectionRights(world, 'analyst-write', 'k'), {
      canRead: false,
      canWrite: true,
    });
    assert.equal(collectionRights(world, 'reader-write', 'k'), undefined);
  });

  test('revoked and expired tokens get nothing', () => {
    const world = smallWorld({ publishClear: true });
    assert.equal(collectionRights(world, 'analyst-revoked', 'k'), undefined);
    assert.equal(collectionRights(world, 'analyst-expired', 'k'), undefined);
    assert.deepEqual(visibleCollections(world, 'analyst-expired'), []);
  });

  test('collections list per caller', () => {
    const world = smallWorld();
    assert.deepEqual(
      visibleCollections(world, 'padmin').map((c) => c.collection),
      ['k', 'kd'],
    );
    assert.deepEqual(
      visibleCollections(world, 'outsider').map((c) => c.collection),
      ['kd'],
    );
    assert.deepEqual(visibleCollections(world, 'provider'), []);
  });
});

describe('oracle version audience', () => {
  test('each TLP level reaches its audience', () => {
    const world = smallWorld({ publishClear: true });
    const objects = {
      clear: indicator([TLP_IDS.clear]),
      green: indicator([TLP_IDS.green]),
      amber: indicator([TLP_IDS.amber]),
      strict: indicator([TLP_IDS['amber+strict']]),
      red: indicator([TLP_IDS.red]),
    };
    for (const object of Object.values(objects)) world.events.push(share(object));
    const redShare = world.events.at(-1) as ShareEvent;
    redShare.via = 'api';
    redShare.recipients = ['client'];

    const table: Record<string, Array<keyof typeof objects>> = {
      padmin: ['clear', 'green', 'amber', 'strict'],
      analyst: ['clear', 'green', 'amber', 'strict', 'red'],
      oadmin: ['clear', 'green', 'amber', 'strict'],
      reader: ['clear', 'green', 'amber', 'strict'],
      analyst2: ['clear', 'green', 'amber', 'strict'],
      client: ['clear', 'amber', 'red'],
      client2: ['clear'],
      provider: ['clear'],
      outsider: ['clear'],
      gone: [],
      'analyst-write': [],
      'analyst-expired': [],
    };
    for (const [token, names] of Object.entries(table)) {
      const seen = Object.entries(objects)
        .filter(([, object]) => sees(world, token, object.id))
        .map(([name]) => name);
      assert.deepEqual(seen, names, token);
    }
  });

  test('TLP 1.0 markings map to TLP 2.0', () => {
    const world = smallWorld({ publishClear: true });
    const white = indicator([TLP_1_IDS.white]);
    const green = indicator([TLP_1_IDS.green]);
    const amber = indicator([TLP_1_IDS.amber]);
    world.events.push(share(white), share(green), share(amber));
    assert.equal(sees(world, 'outsider', white.id), true);
    assert.equal(sees(world, 'outsider', green.id), false);
    assert.equal(sees(world, 'client', green.id), false);
    assert.equal(sees(world, 'client', amber.id), true);
  });

  test('several markings intersect', () => {
    const world = smallWorld({ publishClear: true });
    const greenAmber = indicator([TLP_IDS.green, TLP_IDS.amber]);
    const clearRed = indicator([TLP_IDS.clear, TLP_IDS.red]);
    world.events.push(
      share(greenAmber),
      share(clearRed, { via: 'api', recipients: ['outsider'], contributor: 'oadmin' }),
    );
    assert.equal(sees(world, 'client', greenAmber.id), false);
    assert.equal(sees(world, 'analyst2', greenAmber.id), true);
    assert.equal(sees(world, 'outsider', clearRed.id), true);
    assert.equal(sees(world, 'analyst', clearRed.id), false);
    assert.equal(sees(world, 'oadmin', clearRed.id), true);
  });

  test('default TLP applies at time added', () => {
    const world = smallWorld({ defaultTlp: 'clear', publishClear: true });
    const before = indicator();
    const after = indicator();
    const nonTlp = indicator(['marking-definition--00000000-0000-4000-8000-000000000001']);
    world.events.push(
      share(before),
      { kind: 'charter', community: 'c', change: { defaultTlp: 'amber+strict' } },
      share(after),
      share(nonTlp),
    );
    assert.equal(sees(world, 'outsider', before.id), true);
    assert.equal(sees(world, 'outsider', after.id), false);
    assert.equal(sees(world, 'client', after.id), false);
    assert.equal(sees(world, 'analyst2', after.id), true);
    assert.equal(sees(world, 'outsider', nonTlp.id), false);
  });

  test('contributor sees own RED', () => {
    const world = smallWorld();
    const red = indicator([TLP_IDS.red]);
    world.events.push(share(red, { via: 'api', recipients: ['analyst2'], contributor: 'padmin' }));
    assert.equal(sees(world, 'padmin', red.id), true);
    assert.equal(sees(world, 'analyst2', red.id), true);
    assert.equal(sees(world, 'analyst', red.id), false);
    assert.equal(sees(world, 'oadmin', red.id), false);
  });

  test('RED recipient without access sees nothing', () => {
    const world = smallWorld();
    const red = indicator([TLP_IDS.red]);
    world.events.push(share(red, { via: 'api', recipients: ['provider'], outcome: 'accepted' }));
    assert.equal(sees(world, 'provider', red.id), false);
  });

  test('rejected shares store nothing', () => {
    const world = smallWorld();
    const red = indicator([TLP_IDS.red]);
    world.events.push(share(red));
    assert.equal(sees(world, 'analyst', red.id), false);
    assert.deepEqual(replay(world).stored, []);
  });
});

describe('oracle match[version]', () => {
  function versioned(): { world: World; id: string } {
    const world = smallWorld();
    const base = indicator();
    const v1 = { ...base, object_marking_refs: [TLP_IDS.green] };
    const v2 = {
      ...base,
      modified: '2026-02-01T00:00:00.000Z',
      object_marking_refs: [TLP_IDS.amber],
    };
    const v3 = {
      ...base,
      modified: '2026-03-01T00:00:00.000Z',
      object_marking_refs: [TLP_IDS.green],
    };
    // Shared out of order: the newest version is the one with the latest `modified`.
    world.events.push(share(v3), share(v1), share(v2));
    return { world, id: base.id };
  }

  test('hidden newest hides last', () => {
    const { world, id } = versioned();
    assert.deepEqual(matchVersions(world, 'client', 'k', 'last'), []);
    assert.deepEqual(
      matchVersions(world, 'client', 'k', 'first').map((v) => v.version),
      ['2026-02-01T00:00:00.000Z'],
    );
    assert.deepEqual(
      matchVersions(world, 'client', 'k', 'all').map((v) => v.version),
      ['2026-02-01T00:00:00.000Z'],
    );
    assert.deepEqual(hiddenObjectIds(world, 'client', 'k'), []);
    assert.deepEqual(hiddenObjectIds(world, 'client2', 'k'), [id]);
    assert.ok(id.startsWith('indicator--'));
  });

  test('member sees every version', () => {
    const { world } = versioned();
    assert.deepEqual(
      matchVersions(world, 'analyst2', 'k', 'all')
        .map((v) => v.version)
        .sort(),
      ['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z'],
    );
    assert.deepEqual(
      matchVersions(world, 'analyst2', 'k', 'last').map((v) => v.version),
      ['2026-03-01T00:00:00.000Z'],
    );
    assert.deepEqual(
      matchVersions(world, 'analyst2', 'k', 'first').map((v) => v.version),
      ['2026-01-01T00:00:00.000Z'],
    );
  });

  test('object with no visible version is hidden', () => {
    const world = smallWorld({ publishClear: true });
    const object = indicator([TLP_IDS.green]);
    world.events.push(share(object));
    assert.deepEqual(hiddenObjectIds(world, 'outsider', 'k'), [object.id]);
    assert.deepEqual(hiddenObjectIds(world, 'analyst2', 'k'), []);
  });
});

describe('oracle granular markings', () => {
  const selectorsObject = {
    description: 'secret',
    labels: ['a', 'b', 'c'],
    external_references: [{ source_name: 'x', url: 'https://example.org/1' }, { source_name: 'y' }],
  };

  test('removeSelected handles lists and nesting', () => {
    const result = removeSelected(selectorsObject, [
      'labels.[0]',
      'labels.[2]',
      'external_references.[0].url',
      'missing',
      'labels.[9]',
    ]);
    assert.deepEqual(result, {
      description: 'secret',
      labels: ['b'],
      external_references: [{ source_name: 'x' }, { source_name: 'y' }],
    });
  });

  test('unsatisfied TLP hides properties', () => {
    const world = smallWorld({ publishClear: true });
    const object = indicator([TLP_IDS.clear], {
      ...selectorsObject,
      granular_markings: [
        { marking_ref: TLP_IDS['amber+strict'], selectors: ['description', 'labels.[1]'] },
        { marking_ref: TLP_IDS.amber, selectors: ['external_references.[1]'] },
        { lang: 'en', selectors: ['labels.[0]'] },
        {
          marking_ref: 'marking-definition--00000000-0000-4000-8000-000000000001',
          selectors: ['labels.[2]'],
        },
      ],
    });
    world.events.push(share(object, { contributor: 'analyst2' }));
    const served = (token: string) =>
      visibleVersions(world, token, 'k')[0]?.object as Record<string, unknown>;

    assert.equal(served('analyst').description, 'secret');
    assert.deepEqual(served('analyst').labels, ['a', 'b', 'c']);
    assert.equal(served('client').description, undefined);
    assert.deepEqual(served('client').labels, ['a', 'c']);
    assert.equal((served('client').external_references as unknown[]).length, 2);
    assert.equal(served('outsider').description, undefined);
    assert.deepEqual(served('outsider').external_references, [
      selectorsObject.external_references[0],
    ]);
  });

  test('contributor sees own hidden properties', () => {
    const world = smallWorld();
    const object = indicator([TLP_IDS.green], {
      description: 'secret',
      granular_markings: [{ marking_ref: TLP_IDS.red, selectors: ['description'] }],
    });
    world.events.push(share(object));
    assert.equal(visibleVersions(world, 'analyst', 'k')[0]?.object.description, 'secret');
    assert.equal(visibleVersions(world, 'analyst2', 'k')[0]?.object.description, undefined);
  });
});

describe('oracle share rules', () => {
  function predictLast(world: World) {
    const last = world.events.at(-1) as ShareEvent;
    return predictShare(world, last, replay(world, world.events.length - 1)).outcome;
  }

  test('RED needs recipients through the API', () => {
    const world = smallWorld();
    world.events.push(share(indicator([TLP_IDS.red])));
    assert.equal(predictLast(world), 'rejected');
    world.events.push(share(indicator([TLP_1_IDS.red]), { via: 'api' }));
    assert.equal(predictLast(world), 'rejected');
    world.events.push(share(indicator([TLP_IDS.red]), { via: 'api', recipients: ['reader'] }));
    assert.equal(predictLast(world), 'accepted');
  });

  test('RED recipient outside audience is open', () => {
    const world = smallWorld();
    world.events.push(
      share(indicator([TLP_IDS.red, TLP_IDS.green]), { via: 'api', recipients: ['client'] }),
    );
    assert.equal(predictLast(world), 'either');
    world.events.push(share(indicator([TLP_IDS.red]), { via: 'api', recipients: ['provider'] }));
    assert.equal(predictLast(world), 'either');
    world.events.push(
      share(indicator([TLP_IDS.red, TLP_IDS.amber]), { via: 'api', recipients: ['client'] }),
    );
    assert.equal(predictLast(world), 'accepted');
  });

  test('read-only and outsiders cannot share', () => {
    const world = smallWorld({ publishClear: true });
    world.events.push(share(indicator(), { contributor: 'reader' }));
    assert.equal(predictLast(world), 'rejected');
    world.events.push(share(indicator(), { contributor: 'client' }));
    assert.equal(predictLast(world), 'rejected');
    world.events.push(share(indicator(), { contributor: 'outsider' }));
    assert.equal(predictLast(world), 'rejected');
    world.events.push(share(indicator(), { contributor: 'gone' }));
    assert.equal(predictLast(world), 'rejected');
    world.events.push(share(indicator(), { contributor: 'padmin' }));
    assert.equal(predictLast(world), 'accepted');
  });

  /** Makes `out`, the only member of `d`, a member of `c` too, so it reads what `k` contains. */
  function joinBoth(world: World): void {
    world.communities[0]?.members.push('out');
  }

  test('AMBER re-share by a reader fails', () => {
    for (const marking of [TLP_IDS.amber, TLP_IDS['amber+strict'], TLP_1_IDS.amber]) {
      const world = smallWorld();
      joinBoth(world);
      const object = indicator([marking]);
      world.events.push(share(object));
      world.events.push(share(object, { collection: 'kd', contributor: 'outsider' }));
      assert.equal(predictLast(world), 'rejected', marking);
    }
  });

  test('unreadable restricted holder accepted', () => {
    for (const marking of [TLP_IDS.amber, TLP_IDS['amber+strict'], TLP_IDS.red]) {
      const world = smallWorld();
      const object = indicator([marking]);
      world.events.push(share(object, { via: 'api', recipients: ['analyst2'] }));
      const reshare = { collection: 'kd', contributor: 'outsider', via: 'api' as const };
      world.events.push(share(object, { ...reshare, recipients: ['padmin'] }));
      const last = world.events.at(-1) as ShareEvent;
      const prediction = predictShare(world, last, replay(world, world.events.length - 1));
      assert.equal(prediction.outcome, 'accepted', marking);
      assert.match(prediction.rule, /cannot read/, marking);
    }
  });

  test('platform admin rights do not count', () => {
    const world = smallWorld();
    const object = indicator([TLP_IDS.amber]);
    world.events.push(share(object));
    world.events.push(share(object, { collection: 'kd', contributor: 'padmin' }));
    assert.equal(predictLast(world), 'accepted');
  });

  test('client reads AMBER not AMBER+STRICT', () => {
    const world = smallWorld();
    world.communities[1]?.members.push('cli');
    world.users.push({ key: 'clientd', organisation: 'cli', role: 'analyst', disabled: false });
    const amber = indicator([TLP_IDS.amber]);
    const strict = indicator([TLP_IDS['amber+strict']]);
    world.events.push(share(amber), share(strict));
    world.events.push(share(amber, { collection: 'kd', contributor: 'clientd' }));
    assert.equal(predictLast(world), 'rejected');
    world.events.push(share(strict, { collection: 'kd', contributor: 'clientd' }));
    assert.equal(predictLast(world), 'accepted');
  });

  test('RED re-share fails for recipients', () => {
    const world = smallWorld();
    joinBoth(world);
    const object = indicator([TLP_IDS.red]);
    world.events.push(share(object, { via: 'api', recipients: ['analyst2'] }));
    const reshare = { collection: 'kd', contributor: 'outsider', via: 'api' as const };
    world.events.push(share(object, { ...reshare, recipients: ['padmin'] }));
    assert.equal(predictLast(world), 'accepted');
    const named = indicator([TLP_IDS.red]);
    world.events.push(share(named, { via: 'api', recipients: ['outsider'] }));
    world.events.push(share(named, { ...reshare, recipients: ['padmin'] }));
    assert.equal(predictLast(world), 'rejected');
  });

  test('GREEN re-share and same organisation pass', () => {
    const world = smallWorld();
    const green = indicator([TLP_IDS.green]);
    const amber = indicator([TLP_IDS.amber]);
    world.events.push(share(green), share(amber));
    world.events.push(share(green, { collection: 'kd', contributor: 'outsider' }));
    assert.equal(predictLast(world), 'accepted');
    // A platform admin whose organisation is `mem` is the same organisation as the contributor.
    world.users.push({
      key: 'memadmin',
      organisation: 'mem',
      role: 'platform-admin',
      disabled: false,
    });
    world.events.push(share(amber, { collection: 'kd', contributor: 'memadmin' }));
    assert.equal(predictLast(world), 'accepted');
  });

  test('re-share within one community passes', () => {
    const world = smallWorld();
    world.collections.push({ key: 'k2', community: 'c', title: 'K2' });
    const amber = indicator([TLP_IDS.amber]);
    world.events.push(share(amber), share(amber, { collection: 'k2', contributor: 'analyst2' }));
    assert.equal(predictLast(world), 'accepted');
  });

  test('defaulted AMBER counts as marked', () => {
    const world = smallWorld({ defaultTlp: 'amber' });
    const object = indicator();
    world.events.push(share(object), share(object, { collection: 'kd', contributor: 'outsider' }));
    assert.equal(predictLast(world), 'accepted');
    joinBoth(world);
    const other = indicator();
    world.events.push(share(other), share(other, { collection: 'kd', contributor: 'outsider' }));
    assert.equal(predictLast(world), 'rejected');
  });

  test('anonymous share shows community identity', () => {
    const world = smallWorld();
    const object = indicator([TLP_IDS.green]);
    world.events.push(share(object, { anonymous: true }), share(object));
    const stored = replay(world).stored;
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.object.created_by_ref, world.communities[0]?.identityId);
    assert.equal(
      visibleVersions(world, 'analyst2', 'k')[0]?.object.created_by_ref,
      world.communities[0]?.identityId,
    );
  });

  test('anonymous without charter is open', () => {
    const world = smallWorld({ allowAnonymous: false });
    world.events.push(share(indicator(), { anonymous: true }));
    assert.equal(predictLast(world), 'either');
    (world.events.at(-1) as ShareEvent).outcome = 'accepted';
    assert.equal(
      replay(world).stored[0]?.object.created_by_ref,
      'identity--00000000-0000-4000-8000-0000000000aa',
    );
  });
});

test('TLP ids match src/stix/tlp.ts', () => {
  assert.equal(TLP_IDS.clear, TLP_2_CLEAR.id);
  assert.equal(TLP_IDS.green, TLP_2_GREEN.id);
  assert.equal(TLP_IDS.amber, TLP_2_AMBER.id);
  assert.equal(TLP_IDS['amber+strict'], TLP_2_AMBER_STRICT.id);
  assert.equal(TLP_IDS.red, TLP_2_RED.id);
  assert.equal(TLP_1_IDS.white, TLP_1_WHITE.id);
  assert.equal(TLP_1_IDS.red, TLP_1_RED.id);
});
