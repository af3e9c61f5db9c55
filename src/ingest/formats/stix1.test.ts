import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { describe, it } from 'node:test';
import { validateObject } from '../../stix/index.ts';
import { TLP_2_AMBER } from '../../stix/tlp.ts';
import { dataPath } from '../../testing/data.ts';
import { convert, type FormatOptions } from './index.ts';
import { bytesOf, collect, ofType } from './testing.test-helper.ts';

const OPTIONS: FormatOptions = { source: 'test', created: '2024-05-01T00:00:00.000Z' };
const IDIOMS = dataPath('stix1x-samples/documentation/idioms');

async function run(input: string | AsyncIterable<Uint8Array>) {
  const stream = typeof input === 'string' ? createReadStream(input) : input;
  const conversion = convert('stix1', { stream }, OPTIONS);
  const objects = await collect(conversion.objects);
  return { objects, report: conversion.report.summary() };
}

const NAMESPACES =
  'xmlns:stix="http://stix.mitre.org/stix-1" xmlns:indicator="http://stix.mitre.org/Indicator-2" ' +
  'xmlns:cybox="http://cybox.mitre.org/cybox-2" xmlns:marking="http://data-marking.mitre.org/Marking-1" ' +
  'xmlns:tlpMarking="http://data-marking.mitre.org/extensions/MarkingStructure#TLP-1" ' +
  'xmlns:DomainNameObj="http://cybox.mitre.org/objects#DomainNameObject-1" ' +
  'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';

function domainPackage(domain: string, header = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<stix:STIX_Package ${NAMESPACES} id="example:Package-1" version="1.2">
  ${header}
  <stix:Indicators>
    <stix:Indicator id="example:indicator-0d1e4c7a-1c2b-4d3e-8f4a-5b6c7d8e9f00" timestamp="2015-01-01T00:00:00Z" xsi:type="indicator:IndicatorType">
      <indicator:Title>Bad domain</indicator:Title>
      <indicator:Observable id="example:Observable-1">
        <cybox:Object><cybox:Properties xsi:type="DomainNameObj:DomainNameObjectType" type="FQDN">
          <DomainNameObj:Value condition="Equals">${domain}</DomainNameObj:Value>
        </cybox:Properties></cybox:Object>
      </indicator:Observable>
    </stix:Indicator>
  </stix:Indicators>
</stix:STIX_Package>`;
}

describe('STIX 1.x converter', () => {
  it('converts every idiom sample into valid STIX 2.1', async () => {
    const files = execFileSync('find', [dataPath('stix1x-samples'), '-name', '*.xml'])
      .toString()
      .trim()
      .split('\n');
    assert.ok(files.length >= 30);
    let total = 0;
    for (const file of files) {
      const { objects } = await run(file);
      total += objects.length;
      for (const object of objects) {
        const result = validateObject(object);
        assert.ok(result.ok, `${file}: ${JSON.stringify(result)}`);
      }
    }
    assert.ok(total >= 60, `${total} objects`);
  });

  it('turns a C2 address list into infrastructure', async () => {
    const { objects } = await run(`${IDIOMS}/c2-ip-list/command-and-control-ip-list.xml`);
    assert.deepEqual(
      ofType(objects, 'ipv4-addr').map((object) => object.value),
      ['198.51.100.2', '198.51.100.17', '203.0.113.19'],
    );
    const [infrastructure] = ofType(objects, 'infrastructure');
    assert.equal(infrastructure!.name, 'Malware C2 Channel');
    const consists = ofType(objects, 'relationship').filter(
      (relationship) => relationship.relationship_type === 'consists-of',
    );
    assert.equal(consists.length, 3);
  });

  it('links a hash indicator to its malware', async () => {
    const { objects } = await run(`${IDIOMS}/malware-hash/malware-indicator-for-file-hash.xml`);
    const [indicator] = ofType(objects, 'indicator');
    // The 1.x id ends in a932fcc6-e032-176c-126f-…, not an RFC 4122 UUID (variant 1), so
    // the 2.1 id is derived from it, the same on every import.
    const again = await run(`${IDIOMS}/malware-hash/malware-indicator-for-file-hash.xml`);
    assert.equal(ofType(again.objects, 'indicator')[0]!.id, indicator!.id);
    assert.equal(
      indicator!.pattern,
      "[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']",
    );
    const [malware] = ofType(objects, 'malware');
    assert.equal(malware!.name, 'Poison Ivy');
    assert.deepEqual(malware!.malware_types, ['remote-access-trojan']);
    const [relationship] = ofType(objects, 'relationship');
    assert.equal(relationship!.relationship_type, 'indicates');
    assert.equal(relationship!.source_ref, indicator!.id);
    assert.equal(relationship!.target_ref, malware!.id);
  });

  it('attributes a campaign and reports what it drops', async () => {
    const { objects, report } = await run(`${IDIOMS}/campaign-v-actors/campaign-v-actors.xml`);
    const [campaign] = ofType(objects, 'campaign');
    const [actor] = ofType(objects, 'threat-actor');
    assert.equal(campaign!.name, 'Compromise of ATM Machines');
    const attributed = ofType(objects, 'relationship').find(
      (relationship) => relationship.relationship_type === 'attributed-to',
    );
    assert.equal(attributed!.source_ref, campaign!.id);
    assert.equal(attributed!.target_ref, actor!.id);
    assert.equal(report.notCarriedByCode.incident, 1);
  });

  it('turns a Snort test mechanism into a snort indicator', async () => {
    const { objects } = await run(`${IDIOMS}/snort-test-mechanism/snort-test-mechanism.xml`);
    const [indicator] = ofType(objects, 'indicator');
    assert.equal(indicator!.pattern_type, 'snort');
    assert.match(String(indicator!.pattern), /^alert tcp/);
  });

  it('applies TLP from the package header', async () => {
    const header = `<stix:STIX_Header><stix:Handling><marking:Marking><marking:Marking_Structure xsi:type="tlpMarking:TLPMarkingStructureType" color="AMBER"/></marking:Marking></stix:Handling></stix:STIX_Header>`;
    const { objects } = await run(bytesOf(domainPackage('Evil.Example', header)));
    const [indicator] = ofType(objects, 'indicator');
    assert.deepEqual(indicator!.object_marking_refs, [TLP_2_AMBER.id]);
    assert.equal(indicator!.pattern, "[domain-name:value = 'evil.example']");
    assert.deepEqual(
      ofType(objects, 'marking-definition').map((marking) => marking.id),
      [TLP_2_AMBER.id],
    );
  });

  it('rejects XML that is not well-formed', async () => {
    await assert.rejects(
      run(bytesOf('<stix:STIX_Package><unclosed></stix:STIX_Package>')),
      /not well-formed XML/,
    );
  });

  it('reads no external entity', async () => {
    const hostile = domainPackage('&xxe;').replace(
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    );
    await assert.rejects(run(bytesOf(hostile)), /not well-formed XML/);
  });
});
