import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildEntry, checkFilter, entryIdentity, type EntryInput } from './entries.ts';
import { WatchIndex, type MatchInput } from './engine.ts';
import type { WatchEntry, WatchList } from './model.ts';

function entry(input: EntryInput): WatchEntry {
  const result = buildEntry(input, 1);
  if (!result.ok) throw new Error(result.reason);
  return result.entry;
}

function list(id: string, inputs: EntryInput[], enabled = true): WatchList {
  return {
    id,
    name: id,
    ownerType: 'organisation',
    organisationId: 'org',
    visibility: 'organisation',
    enabled,
    entries: inputs.map(entry),
    createdBy: 'user',
    createdAt: 1,
    updatedAt: 1,
  };
}

function matches(
  index: WatchIndex,
  object: Record<string, unknown>,
  extra: Partial<MatchInput> = {},
) {
  return index
    .match({ object, tlp: ['green'], ...extra })
    .map((match) => ({ list: match.entry.owner.list.id, ...match.detail }))
    .sort((a, b) => a.watched.localeCompare(b.watched));
}

describe('buildEntry', () => {
  it('normalises values', () => {
    const domain = entry({ value: 'Evil[.]Example.' });
    assert.equal(domain.type, 'domain');
    assert.equal((domain as { value: string }).value, 'evil.example');
    const block = entry({ type: 'ip', value: '192.0.2.77/24' });
    assert.equal(block.type, 'cidr');
    assert.equal((block as { value: string }).value, '192.0.2.0/24');
    const hash = entry({ value: 'AB'.repeat(32) });
    assert.deepEqual([hash.type, (hash as { algorithm?: string }).algorithm], ['hash', 'SHA-256']);
  });

  it('rejects bad values with the reason', () => {
    const result = buildEntry({ type: 'ip', value: '010.1.1.1' }, 1);
    assert.equal(result.ok, false);
    assert.match((result as { reason: string }).reason, /leading zero/);
    const tree = buildEntry({ value: '192.0.2.1', subdomains: true }, 1);
    assert.match((tree as { reason: string }).reason, /domain entries only/);
    const empty = buildEntry({ value: '  ' }, 1);
    assert.equal(empty.ok, false);
  });

  it('rejects blocks that are too wide', () => {
    for (const value of [
      '0.0.0.0/0',
      '128.0.0.0/1',
      '10.0.0.0/7',
      '::/0',
      '2000::/3',
      '2a00::/12',
    ]) {
      const result = buildEntry({ value }, 1);
      assert.equal(result.ok, false, value);
      assert.match((result as { reason: string }).reason, /too wide to watch/, value);
    }
    const typed = buildEntry({ type: 'cidr', value: '0.0.0.0/0' }, 1);
    assert.match((typed as { reason: string }).reason, /IPv4 blocks of \/8 or narrower/);
    assert.equal(entry({ value: '10.0.0.0/8' }).type, 'cidr');
    assert.equal(entry({ value: '2001::/16' }).type, 'cidr');
    assert.equal(entry({ value: '0.0.0.0' }).type, 'ip');
  });

  it('rejects unknown fields and non-objects', () => {
    const unknown = buildEntry({ value: 'evil.example', colour: 'red' } as EntryInput, 1);
    assert.match((unknown as { reason: string }).reason, /"colour" is not an entry field/);
    for (const raw of [5, 'evil.example', null, ['evil.example']]) {
      const result = buildEntry(raw, 1);
      assert.match((result as { reason: string }).reason, /must be an object/, String(raw));
    }
    const long = buildEntry({ value: 'a'.repeat(9000) }, 1);
    assert.match((long as { reason: string }).reason, /at most 8192/);
  });

  it('rejects invalid patterns', () => {
    const result = buildEntry({ type: 'pattern', pattern: "[domain-name:value = 'x'" }, 1);
    assert.equal(result.ok, false);
    assert.match((result as { reason: string }).reason, /invalid STIX pattern/);
    const regex = buildEntry({ type: 'pattern', pattern: "[file:name MATCHES '(']" }, 1);
    assert.equal(regex.ok, false);
  });

  it('checks filters field by field', () => {
    assert.equal(checkFilter({ names: ['Emotet'] }), undefined);
    assert.match(checkFilter({}) ?? '', /empty/);
    assert.match(checkFilter({ nmes: ['x'] }) ?? '', /filter.nmes is not a filter field/);
    assert.match(checkFilter({ cves: ['CVE-21'] }) ?? '', /CVE id/);
    assert.match(checkFilter({ tlp: ['white'] }) ?? '', /expected one of clear/);
    assert.match(checkFilter({ minConfidence: 101 }) ?? '', /0 to 100/);
    assert.match(checkFilter({ labels: [] }) ?? '', /1 to 100 values/);
  });

  it('gives equal identities to the same watched thing', () => {
    assert.equal(
      entryIdentity(entry({ value: 'EVIL.example' })),
      entryIdentity(entry({ type: 'domain', value: 'evil.example' })),
    );
    assert.notEqual(
      entryIdentity(entry({ value: 'evil.example' })),
      entryIdentity(entry({ value: 'evil.example', subdomains: true })),
    );
  });
});

describe('WatchIndex', () => {
  const index = new WatchIndex();
  index.setList(
    list('values', [
      { value: 'evil.example', subdomains: true },
      { value: '198.51.100.0/24' },
      { value: 'd41d8cd98f00b204e9800998ecf8427e' },
      { value: 'AS64500' },
    ]),
    1,
  );
  index.setList(
    list('patterns', [
      { type: 'pattern', pattern: "[network-traffic:dst_ref.value = '203.0.113.5']" },
      { type: 'pattern', pattern: "[file:name MATCHES '^invoice.*\\\\.exe$']" },
    ]),
    1,
  );
  index.setList(
    list('filters', [
      { type: 'filter', filter: { names: ['TheTruthSpy'] } },
      { type: 'filter', filter: { types: ['vulnerability'], cves: ['cve-2021-44228'] } },
      {
        type: 'filter',
        filter: { killChainPhases: ['mitre-attack:exfiltration'], minConfidence: 50 },
      },
      { type: 'filter', filter: { tlp: ['red'] } },
    ]),
    1,
  );
  index.setList(list('off', [{ value: 'evil.example' }], false), 1);

  it('matches SCO values', () => {
    assert.deepEqual(matches(index, { type: 'domain-name', value: 'cdn.EVIL.example' }), [
      {
        list: 'values',
        kind: 'value',
        how: 'subdomain',
        watched: 'evil.example',
        value: 'cdn.evil.example',
        path: 'value',
      },
    ]);
    assert.equal(matches(index, { type: 'ipv4-addr', value: '198.51.100.9' }).length, 1);
    assert.equal(matches(index, { type: 'autonomous-system', number: 64500 }).length, 1);
    assert.equal(
      matches(index, { type: 'file', hashes: { MD5: 'D41D8CD98F00B204E9800998ECF8427E' } }).length,
      1,
    );
    assert.deepEqual(matches(index, { type: 'domain-name', value: 'good.example' }), []);
  });

  it('matches values an indicator mentions', () => {
    const found = matches(index, {
      type: 'indicator',
      pattern_type: 'stix',
      pattern:
        "[url:value = 'http://www.evil.example/a' AND url:x_port = 80] OR [ipv4-addr:value = '192.0.2.1']",
    });
    assert.deepEqual(found, [
      {
        list: 'values',
        kind: 'indicator',
        how: 'url-host',
        watched: 'evil.example',
        value: 'http://www.evil.example/a',
        path: 'pattern url:value',
      },
    ]);
  });

  it('ignores values under NOT and other pattern languages', () => {
    assert.deepEqual(
      matches(index, {
        type: 'indicator',
        pattern_type: 'stix',
        pattern: "[domain-name:value != 'evil.example']",
      }),
      [],
    );
    assert.deepEqual(
      matches(index, { type: 'indicator', pattern_type: 'sigma', pattern: 'evil.example' }),
      [],
    );
  });

  it('evaluates patterns against observed data', () => {
    const observed = {
      type: 'observed-data',
      object_refs: ['network-traffic--1', 'ipv4-addr--1'],
      first_observed: '2024-01-01T00:00:00Z',
      last_observed: '2024-01-01T00:00:00Z',
      number_observed: 1,
    };
    const references = new Map<string, unknown>([
      [
        'network-traffic--1',
        { type: 'network-traffic', id: 'network-traffic--1', dst_ref: 'ipv4-addr--1' },
      ],
      ['ipv4-addr--1', { type: 'ipv4-addr', id: 'ipv4-addr--1', value: '203.0.113.5' }],
    ]);
    const found = matches(index, observed, { references });
    assert.deepEqual(
      found.map((match) => [match.list, match.kind]),
      [['patterns', 'pattern']],
    );
    const other = new Map(references);
    other.set('ipv4-addr--1', { type: 'ipv4-addr', id: 'ipv4-addr--1', value: '203.0.113.6' });
    assert.deepEqual(matches(index, observed, { references: other }), []);
  });

  it('matches values inside embedded observed data', () => {
    const found = matches(index, {
      type: 'observed-data',
      objects: { '0': { type: 'domain-name', value: 'evil.example' } },
    });
    assert.equal(found.length, 1);
    assert.equal(found[0]!.path, "objects.'0'.value");
  });

  it('evaluates unindexable patterns by type', () => {
    assert.equal(matches(index, { type: 'file', name: 'invoice-2024.exe' }).length, 1);
    assert.equal(matches(index, { type: 'file', name: 'report.pdf' }).length, 0);
  });

  it('checks object filters', () => {
    const malware = { type: 'malware', name: 'Other', aliases: ['thetruthspy'] };
    assert.deepEqual(
      matches(index, malware).map((match) => match.value),
      ['names=thetruthspy'],
    );
    const vulnerability = {
      type: 'vulnerability',
      name: 'Log4Shell',
      external_references: [{ source_name: 'cve', external_id: 'CVE-2021-44228' }],
    };
    assert.equal(matches(index, vulnerability).length, 1);
    const pattern = {
      type: 'attack-pattern',
      kill_chain_phases: [{ kill_chain_name: 'mitre-attack', phase_name: 'exfiltration' }],
    };
    assert.equal(matches(index, pattern).length, 0, 'no confidence');
    assert.equal(matches(index, { ...pattern, confidence: 80 }).length, 1);
    assert.equal(matches(index, { type: 'note' }, { tlp: ['red'] }).length, 1);
  });

  it('leaves disabled and removed lists out', () => {
    const local = new WatchIndex();
    local.setList(list('off', [{ value: 'evil.example' }], false), 1);
    assert.deepEqual(matches(local, { type: 'domain-name', value: 'evil.example' }), []);
    local.setList(list('off', [{ value: 'evil.example' }], true), 1);
    assert.equal(matches(local, { type: 'domain-name', value: 'evil.example' }).length, 1);
    local.removeList('off');
    assert.deepEqual(matches(local, { type: 'domain-name', value: 'evil.example' }), []);
    assert.equal(local.entryCount, 0);
    assert.equal(local.listCount, 0);
  });

  it('replaces a list that is set again', () => {
    const local = new WatchIndex();
    local.setList(list('l', [{ value: 'a.example' }]), 1);
    local.setList(list('l', [{ value: 'b.example' }]), 1);
    assert.deepEqual(matches(local, { type: 'domain-name', value: 'a.example' }), []);
    assert.equal(matches(local, { type: 'domain-name', value: 'b.example' }).length, 1);
    assert.equal(local.entryCount, 1);
  });
});
