import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { indicator } from '../testing/stix.ts';
import { WatchIndex } from './engine.ts';
import { buildEntry, type EntryInput } from './entries.ts';
import { HuntTerms, objectKeys, WILDCARD_KEY } from './hunt-keys.ts';
import type { WatchEntry, WatchList } from './model.ts';

function entry(input: EntryInput): WatchEntry {
  const result = buildEntry(input, 0);
  assert.ok(result.ok, `entry ${JSON.stringify(input)}: ${result.ok ? '' : result.reason}`);
  return result.entry;
}

function listOf(entries: WatchEntry[]): WatchList {
  return {
    id: 'list',
    name: 'keys',
    ownerType: 'organisation',
    organisationId: 'org',
    visibility: 'organisation',
    enabled: true,
    entries,
    createdBy: 'user',
    createdAt: 0,
    updatedAt: 0,
  };
}

/** Returns whether the watch engine matches the object to the entry. */
function engineMatches(watched: WatchEntry, object: Record<string, unknown>): boolean {
  const engine = new WatchIndex();
  engine.setList(listOf([watched]), 1);
  return engine.match({ object, tlp: [] }).length > 0;
}

function sco(type: string, fields: Record<string, unknown>): Record<string, unknown> {
  return { type, id: `${type}--00000000-0000-4000-8000-000000000001`, ...fields };
}

const WATCHED: EntryInput[] = [
  { value: '198.51.100.7' },
  { value: '198.51.100.0/24' },
  { value: '198.51.0.0/16' },
  // The widest block an entry may have (MIN_BLOCK_PREFIX); 0.0.0.0/0 is rejected.
  { value: '198.0.0.0/8' },
  { value: '2001:db8::1' },
  { value: '2001:db8::/32' },
  { value: 'evil.example' },
  { value: 'evil.example', subdomains: true },
  { value: 'c2.evil.example', subdomains: true },
  { value: 'http://evil.example/gate.php' },
  { value: 'boss@evil.example' },
  { value: 'd41d8cd98f00b204e9800998ecf8427e' },
  { value: 'AS64500' },
];

const OBSERVED: Array<Record<string, unknown>> = [
  sco('ipv4-addr', { value: '198.51.100.7' }),
  sco('ipv4-addr', { value: '198.51.100.8' }),
  sco('ipv4-addr', { value: '198.51.100.0/25' }),
  sco('ipv4-addr', { value: '198.50.0.0/15' }),
  sco('ipv4-addr', { value: '198.0.0.0/8' }),
  sco('ipv4-addr', { value: '203.0.113.1' }),
  sco('ipv6-addr', { value: '2001:db8::1' }),
  sco('ipv6-addr', { value: '2001:db8:1::/48' }),
  sco('ipv6-addr', { value: '2001::/16' }),
  sco('ipv6-addr', { value: '2001:db9::1' }),
  sco('domain-name', { value: 'evil.example' }),
  sco('domain-name', { value: 'www.c2.evil.example' }),
  sco('domain-name', { value: 'notevil.example' }),
  sco('domain-name', { value: 'evil.example.org' }),
  sco('url', { value: 'http://evil.example/gate.php' }),
  sco('url', { value: 'https://user@c2.evil.example:8443/x?y=1' }),
  sco('url', { value: 'http://198.51.100.7/drop' }),
  sco('url', { value: 'http://[2001:db8::1]:8080/' }),
  sco('url', { value: 'http://evil.example.org/' }),
  sco('email-addr', { value: 'boss@evil.example' }),
  sco('email-addr', { value: 'clerk@mail.evil.example' }),
  sco('email-addr', { value: 'boss@good.example' }),
  sco('file', { hashes: { MD5: 'D41D8CD98F00B204E9800998ECF8427E' } }),
  sco('file', { hashes: { 'SHA-256': 'a'.repeat(64) } }),
  sco('autonomous-system', { number: 64500 }),
  sco('autonomous-system', { number: 64501 }),
];

describe('hunt keys', () => {
  it('find every object the engine matches', () => {
    let matched = 0;
    for (const input of WATCHED) {
      const watched = entry(input);
      const terms = new HuntTerms([watched]);
      for (const object of OBSERVED) {
        const found = terms.owner(objectKeys(object)) !== undefined;
        const label = `${JSON.stringify(input)} with ${JSON.stringify(object)}`;
        if (engineMatches(watched, object)) {
          matched++;
          assert.ok(found, `no key for a match: ${label}`);
        } else if (['ipv4-addr', 'ipv6-addr', 'domain-name'].includes(String(object.type))) {
          // Addresses and domains have exact keys: they find no object the engine rejects.
          assert.equal(found, false, `a key without a match: ${label}`);
        }
      }
    }
    assert.ok(matched >= 30, `only ${matched} matches: the table tests too little`);
  });

  it('agree with the engine on random address blocks', () => {
    let seed = 7;
    const random = (below: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    const block = () => {
      const address = `10.${random(2)}.${random(4) * 64}.${random(256)}`;
      const length = 8 + random(25);
      return length === 32 ? address : `${address}/${length}`;
    };
    for (let round = 0; round < 2000; round++) {
      const watched = entry({ type: 'cidr', value: block() });
      const object = sco('ipv4-addr', { value: block() });
      const found = new HuntTerms([watched]).owner(objectKeys(object)) !== undefined;
      assert.equal(
        found,
        engineMatches(watched, object),
        `${JSON.stringify(watched)} and ${String(object.value)}`,
      );
    }
  });

  it('read indicator patterns and observed data', () => {
    const pattern = indicator({
      pattern:
        "[domain-name:value = 'A.Evil.Example'] AND [network-traffic:dst_ref.value = '198.51.100.7']" +
        " OR [autonomous-system:number = 64500] AND [artifact:hashes.'SHA-256' = '" +
        'B'.repeat(64) +
        "']",
    });
    assert.deepEqual(objectKeys(pattern), [
      'a:AS64500',
      'd:example.evil.a.',
      `h:${'b'.repeat(64)}`,
      `i4:${'11000110001100110110010000000111'}`,
    ]);
    assert.deepEqual(objectKeys({ ...pattern, pattern_type: 'sigma' }), []);

    const observed = {
      type: 'observed-data',
      id: 'observed-data--00000000-0000-4000-8000-000000000002',
      objects: { '0': { type: 'domain-name', value: 'evil.example' }, '1': null },
    };
    assert.deepEqual(objectKeys(observed), ['d:example.evil.']);
    const referencing = { ...observed, object_refs: ['domain-name--x'] };
    assert.deepEqual(objectKeys(referencing), [WILDCARD_KEY, 'd:example.evil.']);
    assert.deepEqual(objectKeys({ type: 'malware', id: 'malware--1', name: 'evil.example' }), []);
  });

  it('queries never overlap and cover the terms', () => {
    const entries = [
      entry({ value: 'evil.example', subdomains: true }),
      entry({ value: 'c2.evil.example', subdomains: true }),
      entry({ value: 'c2.evil.example' }),
      entry({ value: 'other.example' }),
      entry({ value: '198.51.100.0/24' }),
      entry({ value: '198.51.100.7' }),
    ];
    const terms = new HuntTerms(entries);
    const queries = terms.queries();
    const prefixes = queries.flatMap((query) => ('prefix' in query ? [query.prefix] : []));
    const exact = queries.flatMap((query) => ('keys' in query ? query.keys : []));
    assert.deepEqual(prefixes, ['d:example.evil.', 'i4:110001100011001101100100']);
    assert.ok(exact.includes(WILDCARD_KEY));
    assert.ok(exact.includes('d:example.other.'));
    assert.ok(exact.includes('i4:1100011000110011'), 'a /16 around the watched block');
    for (const key of exact) {
      const covering = prefixes.filter((prefix) => key.startsWith(prefix));
      assert.deepEqual(covering, [], `${key} is also under a prefix`);
      assert.ok(terms.matches(key));
    }
    assert.equal(new Set(exact).size, exact.length, 'an exact key in two queries');
  });

  it('choose one owner per object', () => {
    const terms = new HuntTerms([entry({ value: 'evil.example', subdomains: true })]);
    const keys = ['d:example.evil.b.', 'd:example.evil.a.', 'd:org.other.'];
    assert.equal(terms.owner(keys), 'd:example.evil.a.');
    assert.equal(terms.owner(['d:org.other.']), undefined);
    assert.equal(new HuntTerms([]).empty, true);
    assert.equal(
      new HuntTerms([{ id: 'p', addedAt: 0, type: 'pattern', pattern: '[x:y = 1]' }]).empty,
      true,
    );
  });

  it('cut long values and keep their matches', () => {
    const url = `http://evil.example/${'a'.repeat(600)}\u{1F600}`;
    const watched = entry({ type: 'url', value: url });
    const object = sco('url', { value: url });
    const keys = objectKeys(object);
    assert.ok(engineMatches(watched, object));
    assert.ok(keys.every((key) => key.length <= 512));
    assert.notEqual(new HuntTerms([watched]).owner(keys), undefined);
    const other = sco('url', { value: `http://evil.example/${'a'.repeat(700)}` });
    assert.notEqual(
      new HuntTerms([watched]).owner(objectKeys(other)),
      undefined,
      'a cut key may find more, never less',
    );
  });
});
