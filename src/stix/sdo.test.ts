import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateObject } from './index.ts';
import { acceptCases, rejectCases } from './testing/cases.ts';
import { idOf, withProperties } from './testing/fixtures.ts';

describe('indicator', () => {
  rejectCases([
    {
      name: 'valid_until equal to valid_from',
      object: withProperties('indicator', {
        valid_from: '2020-01-01T00:00:00Z',
        valid_until: '2020-01-01T00:00:00.000Z',
      }),
      rule: 'time-order',
      property: 'valid_until',
    },
    {
      name: 'valid_until before valid_from',
      object: withProperties('indicator', {
        valid_from: '2020-01-01T00:00:00Z',
        valid_until: '2019-12-31T23:59:59Z',
      }),
      rule: 'time-order',
      property: 'valid_until',
    },
    {
      name: 'valid_from not a timestamp',
      object: withProperties('indicator', { valid_from: 'yesterday' }),
      rule: 'timestamp',
      property: 'valid_from',
    },
    {
      name: 'unclosed pattern',
      object: withProperties('indicator', { pattern: "[ipv4-addr:value = '198.51.100.1'" }),
      rule: 'pattern-syntax',
      property: 'pattern',
    },
    {
      name: 'pattern missing literal',
      object: withProperties('indicator', { pattern: '[ipv4-addr:value = ]' }),
      rule: 'pattern-syntax',
    },
    {
      name: 'empty pattern',
      object: withProperties('indicator', { pattern: '' }),
      rule: 'pattern-syntax',
    },
    {
      name: 'kill chain phase without phase',
      object: withProperties('indicator', {
        kill_chain_phases: [{ kill_chain_name: 'lockheed-martin-cyber-kill-chain' }],
      }),
      rule: 'required',
      property: 'kill_chain_phases[0].phase_name',
    },
    {
      name: 'indicator_types empty',
      object: withProperties('indicator', { indicator_types: [] }),
      rule: 'empty',
    },
  ]);
  acceptCases([
    {
      name: 'valid_until later',
      object: withProperties('indicator', {
        valid_from: '2020-01-01T00:00:00Z',
        valid_until: '2020-01-01T00:00:00.001Z',
      }),
    },
    {
      name: 'snort pattern not parsed',
      object: withProperties('indicator', {
        pattern_type: 'snort',
        pattern: 'alert tcp any any -> any any (msg:"x";)',
      }),
    },
    {
      name: 'yara pattern not parsed',
      object: withProperties('indicator', {
        pattern_type: 'yara',
        pattern: 'rule x { condition: true }',
      }),
    },
    {
      name: 'compound pattern',
      object: withProperties('indicator', {
        pattern: "[file:hashes.'SHA-256' = 'aa'] AND [url:value = 'http://x.example/']",
      }),
    },
  ]);
  test('pattern error names the offset', () => {
    const result = validateObject(withProperties('indicator', { pattern: '[ipv4-addr:value = ]' }));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.match(
      result.problems[0]?.message ?? '',
      /property "pattern": is not a valid STIX pattern \(error at offset 19\)/,
    );
  });
});

describe('seen windows', () => {
  for (const type of ['campaign', 'intrusion-set', 'infrastructure', 'threat-actor', 'malware']) {
    rejectCases([
      {
        name: `${type} last_seen before first_seen`,
        object: withProperties(type, {
          first_seen: '2020-02-01T00:00:00Z',
          last_seen: '2020-01-01T00:00:00Z',
        }),
        rule: 'time-order',
        property: 'last_seen',
      },
    ]);
    acceptCases([
      {
        name: `${type} equal seen times`,
        object: withProperties(type, {
          first_seen: '2020-02-01T00:00:00Z',
          last_seen: '2020-02-01T00:00:00Z',
        }),
      },
    ]);
  }
});

describe('malware and malware-analysis', () => {
  rejectCases([
    {
      name: 'family without name',
      object: withProperties('malware', { name: undefined, is_family: true }),
      rule: 'required',
      property: 'name',
    },
    {
      name: 'is_family string',
      object: withProperties('malware', { is_family: 'true' }),
      rule: 'type',
      property: 'is_family',
    },
    {
      name: 'sample_refs to ipv4-addr',
      object: withProperties('malware', { sample_refs: [idOf('ipv4-addr')] }),
      rule: 'ref-type',
      property: 'sample_refs[0]',
    },
    {
      name: 'operating_system_refs to file',
      object: withProperties('malware', { operating_system_refs: [idOf('file')] }),
      rule: 'ref-type',
    },
    {
      name: 'analysis without result',
      object: withProperties('malware-analysis', { result: undefined }),
      rule: 'at-least-one',
    },
    {
      name: 'analysis sample_ref to indicator',
      object: withProperties('malware-analysis', { sample_ref: idOf('indicator') }),
      rule: 'ref-type',
      property: 'sample_ref',
    },
    {
      name: 'analysis host_vm_ref to file',
      object: withProperties('malware-analysis', { host_vm_ref: idOf('file') }),
      rule: 'ref-type',
    },
    {
      name: 'analysis_sco_refs to SDO',
      object: withProperties('malware-analysis', { analysis_sco_refs: [idOf('malware')] }),
      rule: 'ref-type',
    },
  ]);
  acceptCases([
    {
      name: 'instance without name',
      object: withProperties('malware', { name: undefined, is_family: false }),
    },
    {
      name: 'sample_refs to file and artifact',
      object: withProperties('malware', { sample_refs: [idOf('file'), idOf('artifact')] }),
    },
    {
      name: 'analysis with SCO refs only',
      object: withProperties('malware-analysis', {
        result: undefined,
        analysis_sco_refs: [idOf('file'), idOf('x-acme-sample')],
      }),
    },
  ]);
});

describe('location', () => {
  rejectCases([
    {
      name: 'latitude without longitude',
      object: withProperties('location', { latitude: 48.8 }),
      rule: 'dependency',
      property: 'longitude',
    },
    {
      name: 'precision without coordinates',
      object: withProperties('location', { precision: 100 }),
      rule: 'dependency',
      property: 'precision',
    },
    {
      name: 'nothing located',
      object: withProperties('location', { country: undefined, city: 'Paris' }),
      rule: 'at-least-one',
    },
    {
      name: 'latitude 91',
      object: withProperties('location', { latitude: 91, longitude: 0 }),
      rule: 'range',
      property: 'latitude',
    },
    {
      name: 'longitude -181',
      object: withProperties('location', { latitude: 0, longitude: -181 }),
      rule: 'range',
    },
    {
      name: 'latitude string',
      object: withProperties('location', { latitude: '48.8', longitude: 2.3 }),
      rule: 'type',
    },
  ]);
  acceptCases([
    {
      name: 'coordinates only',
      object: withProperties('location', {
        country: undefined,
        latitude: 48.8566,
        longitude: 2.3522,
        precision: 1000,
      }),
    },
    {
      name: 'region only',
      object: withProperties('location', { country: undefined, region: 'northern-america' }),
    },
    {
      name: 'poles and antimeridian',
      object: withProperties('location', { latitude: -90, longitude: 180 }),
    },
  ]);
});

describe('observed-data', () => {
  rejectCases([
    {
      name: 'number_observed 0',
      object: withProperties('observed-data', { number_observed: 0 }),
      rule: 'range',
      property: 'number_observed',
    },
    {
      name: 'number_observed one billion',
      object: withProperties('observed-data', { number_observed: 1_000_000_000 }),
      rule: 'range',
    },
    {
      name: 'number_observed fraction',
      object: withProperties('observed-data', { number_observed: 1.5 }),
      rule: 'type',
    },
    {
      name: 'objects and object_refs',
      object: withProperties('observed-data', {
        objects: { '0': { type: 'ipv4-addr', value: '198.51.100.1' } },
      }),
      rule: 'exclusive',
      property: 'objects',
    },
    {
      name: 'object_refs to SDO',
      object: withProperties('observed-data', { object_refs: [idOf('indicator')] }),
      rule: 'ref-type',
    },
    {
      name: 'object_refs only SROs',
      object: withProperties('observed-data', { object_refs: [idOf('relationship')] }),
      rule: 'at-least-one',
      property: 'object_refs',
    },
    {
      name: 'last before first',
      object: withProperties('observed-data', {
        first_observed: '2020-01-02T00:00:00Z',
        last_observed: '2020-01-01T00:00:00Z',
      }),
      rule: 'time-order',
      property: 'last_observed',
    },
    {
      name: 'objects empty',
      object: withProperties('observed-data', { object_refs: undefined, objects: {} }),
      rule: 'empty',
    },
    {
      name: 'objects entry without type',
      object: withProperties('observed-data', {
        object_refs: undefined,
        objects: { '0': { value: '198.51.100.1' } },
      }),
      rule: 'type-name',
    },
  ]);
  acceptCases([
    {
      name: 'deprecated objects',
      object: withProperties('observed-data', {
        object_refs: undefined,
        objects: {
          '0': { type: 'ipv4-addr', value: '198.51.100.1' },
          '1': { type: 'network-traffic', dst_ref: '0', protocols: ['tcp'] },
        },
      }),
    },
    {
      name: 'SCO and SRO refs',
      object: withProperties('observed-data', {
        object_refs: [idOf('ipv4-addr'), idOf('relationship')],
      }),
    },
    {
      name: 'number_observed maximum',
      object: withProperties('observed-data', { number_observed: 999_999_999 }),
    },
  ]);
});

describe('grouping, note, opinion, report', () => {
  rejectCases([
    {
      name: 'opinion outside enum',
      object: withProperties('opinion', { opinion: 'maybe' }),
      rule: 'enum',
      property: 'opinion',
    },
    {
      name: 'report object_refs empty',
      object: withProperties('report', { object_refs: [] }),
      rule: 'empty',
      property: 'object_refs',
    },
    {
      name: 'report object_refs bad id',
      object: withProperties('report', { object_refs: ['indicator--1'] }),
      rule: 'identifier',
    },
    {
      name: 'note authors not list',
      object: withProperties('note', { authors: 'me' }),
      rule: 'type',
    },
    {
      name: 'grouping context number',
      object: withProperties('grouping', { context: 1 }),
      rule: 'type',
    },
  ]);
  acceptCases([
    {
      name: 'report refs any type',
      object: withProperties('report', {
        object_refs: [
          idOf('indicator'),
          idOf('relationship'),
          idOf('ipv4-addr'),
          idOf('x-acme-widget'),
          idOf('marking-definition'),
        ],
      }),
    },
    {
      name: 'open vocabulary value',
      object: withProperties('report', { report_types: ['my-own-type'] }),
    },
  ]);
});

describe('relationship', () => {
  rejectCases([
    {
      name: 'source_ref to relationship',
      object: withProperties('relationship', { source_ref: idOf('relationship') }),
      rule: 'ref-type',
      property: 'source_ref',
    },
    {
      name: 'target_ref to marking-definition',
      object: withProperties('relationship', { target_ref: idOf('marking-definition') }),
      rule: 'ref-type',
      property: 'target_ref',
    },
    {
      name: 'target_ref to language-content',
      object: withProperties('relationship', { target_ref: idOf('language-content') }),
      rule: 'ref-type',
    },
    {
      name: 'source_ref to sighting',
      object: withProperties('relationship', { source_ref: idOf('sighting') }),
      rule: 'ref-type',
    },
    {
      name: 'source_ref to bundle',
      object: withProperties('relationship', { source_ref: idOf('bundle') }),
      rule: 'ref-type',
    },
    {
      name: 'relationship_type upper case',
      object: withProperties('relationship', { relationship_type: 'Uses' }),
      rule: 'format',
      property: 'relationship_type',
    },
    {
      name: 'relationship_type with space',
      object: withProperties('relationship', { relationship_type: 'related to' }),
      rule: 'format',
    },
    {
      name: 'stop_time equal start_time',
      object: withProperties('relationship', {
        start_time: '2020-01-01T00:00:00Z',
        stop_time: '2020-01-01T00:00:00Z',
      }),
      rule: 'time-order',
      property: 'stop_time',
    },
  ]);
  acceptCases([
    {
      name: 'SCO endpoints',
      object: withProperties('relationship', {
        relationship_type: 'resolves-to',
        source_ref: idOf('domain-name'),
        target_ref: idOf('ipv4-addr'),
      }),
    },
    {
      name: 'custom endpoints',
      object: withProperties('relationship', {
        source_ref: idOf('x-mitre-tactic'),
        target_ref: idOf('attack-pattern'),
      }),
    },
  ]);
});

describe('sighting', () => {
  rejectCases([
    {
      name: 'sighting_of_ref to SCO',
      object: withProperties('sighting', { sighting_of_ref: idOf('ipv4-addr') }),
      rule: 'ref-type',
      property: 'sighting_of_ref',
    },
    {
      name: 'sighting_of_ref to SRO',
      object: withProperties('sighting', { sighting_of_ref: idOf('relationship') }),
      rule: 'ref-type',
    },
    {
      name: 'observed_data_refs to indicator',
      object: withProperties('sighting', { observed_data_refs: [idOf('indicator')] }),
      rule: 'ref-type',
      property: 'observed_data_refs[0]',
    },
    {
      name: 'where_sighted_refs to malware',
      object: withProperties('sighting', { where_sighted_refs: [idOf('malware')] }),
      rule: 'ref-type',
      property: 'where_sighted_refs[0]',
    },
    {
      name: 'count negative',
      object: withProperties('sighting', { count: -1 }),
      rule: 'range',
      property: 'count',
    },
    {
      name: 'summary string',
      object: withProperties('sighting', { summary: 'false' }),
      rule: 'type',
    },
    {
      name: 'last_seen before first_seen',
      object: withProperties('sighting', {
        first_seen: '2020-01-02T00:00:00Z',
        last_seen: '2020-01-01T00:00:00Z',
      }),
      rule: 'time-order',
    },
  ]);
  acceptCases([
    {
      name: 'full sighting',
      object: withProperties('sighting', {
        count: 0,
        observed_data_refs: [idOf('observed-data')],
        where_sighted_refs: [idOf('identity'), idOf('location')],
        summary: true,
      }),
    },
    {
      name: 'of custom SDO',
      object: withProperties('sighting', { sighting_of_ref: idOf('x-acme-campaign') }),
    },
  ]);
});
