import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validateObject } from '../../stix/index.ts';
import { TLP_2_AMBER, TLP_2_CLEAR } from '../../stix/tlp.ts';
import { dataPath } from '../../testing/data.ts';
import { importConverted } from '../import.ts';
import { convert, type FeedCheckpoint, type FormatOptions } from './index.ts';
import { eventPart } from './misp-reader.ts';
import { collect, ofType, withCollection } from './testing.test-helper.ts';

const OPTIONS: FormatOptions = { source: 'test', created: '2024-05-01T00:00:00.000Z' };
const INFOBLOX = dataPath('infoblox-threat-intelligence/indicators/misp');
const ESET = dataPath('eset-malware-ioc');

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-misp-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function writeJson(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

async function convertPath(
  format: 'misp' | 'misp-feed',
  path: string,
  options: Partial<FormatOptions> = {},
) {
  const conversion = convert(
    format,
    { stream: (async function* () {})(), path },
    { ...OPTIONS, ...options },
  );
  const objects = await collect(conversion.objects);
  return { objects, report: conversion.report.summary(), bytesRead: conversion.bytesRead() };
}

const ATTACK_GALAXY = {
  type: 'mitre-attack-pattern',
  GalaxyCluster: [
    {
      uuid: '2e34237d-8574-43f6-aace-ae2915de8597',
      value: 'Spearphishing Attachment - T1193',
      description: 'Attachments sent by e-mail.',
      meta: { external_id: ['T1193'], refs: ['https://attack.mitre.org/techniques/T1193'] },
    },
  ],
};

/** Builds an event with every mapped feature. Its Tag array comes after the attributes, as in MISP exports. */
function sampleEvent(): Record<string, unknown> {
  return {
    uuid: '5f1c0b2e-1111-4a2b-9c3d-000000000001',
    info: 'Phishing wave',
    date: '2024-04-30',
    timestamp: '1714557600',
    publish_timestamp: '1714561200',
    Orgc: { name: 'CIRCL', uuid: '55f6ea5e-2c60-40e5-964f-47a8950d210f' },
    Attribute: [
      {
        uuid: '5f1c0b2e-2222-4a2b-9c3d-000000000001',
        type: 'domain',
        value: 'Evil[.]Example',
        to_ids: true,
        timestamp: '1714557600',
        comment: 'landing page',
      },
      {
        uuid: '5f1c0b2e-2222-4a2b-9c3d-000000000002',
        type: 'ip-dst|port',
        value: '198.51.100.7|8443',
        to_ids: true,
        Sighting: [
          {
            uuid: '5f1c0b2e-3333-4a2b-9c3d-000000000001',
            type: '0',
            date_sighting: '1714560000',
            Organisation: { name: 'CERT-X', uuid: '5f1c0b2e-4444-4a2b-9c3d-000000000001' },
          },
          { type: '1', date_sighting: '1714560000' },
        ],
      },
      {
        uuid: '5f1c0b2e-2222-4a2b-9c3d-000000000003',
        type: 'domain|ip',
        value: 'mail.evil.example|198.51.100.8',
        to_ids: true,
      },
      {
        uuid: '5f1c0b2e-2222-4a2b-9c3d-000000000004',
        type: 'filename|sha256',
        value: `invoice.doc|${'A'.repeat(64)}`,
        to_ids: true,
        Tag: [{ name: 'tlp:amber' }],
        Galaxy: [ATTACK_GALAXY],
      },
      {
        uuid: '5f1c0b2e-2222-4a2b-9c3d-000000000005',
        type: 'url',
        value: 'hxxp://evil.example/login',
        to_ids: false,
      },
      {
        uuid: '5f1c0b2e-2222-4a2b-9c3d-000000000006',
        type: 'vulnerability',
        value: 'cve-2017-11882',
      },
      {
        uuid: '5f1c0b2e-2222-4a2b-9c3d-000000000007',
        type: 'link',
        value: 'https://blog.example/phishing',
      },
      { uuid: '5f1c0b2e-2222-4a2b-9c3d-000000000008', type: 'regkey', value: 'HKLM\\Software\\x' },
      {
        uuid: '5f1c0b2e-2222-4a2b-9c3d-000000000009',
        type: 'domain',
        value: 'deleted.example',
        deleted: true,
      },
      {
        uuid: '5f1c0b2e-2222-4a2b-9c3d-00000000000a',
        type: 'ip-src',
        value: '010.1.1.1',
        to_ids: true,
      },
    ],
    Object: [
      {
        name: 'file',
        uuid: '5f1c0b2e-5555-4a2b-9c3d-000000000001',
        Attribute: [
          { type: 'md5', value: 'D41D8CD98F00B204E9800998ECF8427E', to_ids: true },
          { type: 'filename', value: 'a.exe' },
        ],
      },
    ],
    Galaxy: [
      {
        type: 'threat-actor',
        GalaxyCluster: [
          {
            uuid: '24110866-cb22-4c85-a7d2-0413e982ff0b',
            value: 'Axiom',
            meta: { synonyms: ['Winnti'] },
          },
        ],
      },
    ],
    Tag: [
      { name: 'tlp:clear' },
      { name: 'PAP:GREEN' },
      { name: 'misp-galaxy:threat-actor="Axiom"' },
    ],
  };
}

describe('eventPart', () => {
  const cases: Array<[Array<string | number>, string | undefined]> = [
    [['uuid'], '[] uuid'],
    [['Event', 'uuid'], 'Event uuid'],
    [['Event'], undefined],
    [['response', 0, 'Event', 'Attribute', 3], 'response/0/Event Attribute/3'],
    [['response', 2, 'info'], 'response/2 info'],
    [['response'], undefined],
    [[1, 'Event', 'Tag'], '1/Event Tag'],
  ];
  for (const [path, expected] of cases) {
    it(`splits ${path.join('/') || 'the root'}`, () => {
      const part = eventPart(path);
      const split = part ? `${part.event.join('/') || '[]'} ${part.rest.join('/')}` : undefined;
      assert.equal(split, expected);
    });
  }
});

describe('MISP event converter', () => {
  it('maps attributes, tags, galaxies and sightings', async () => {
    const { objects, report } = await convertPath(
      'misp',
      writeJson('event.json', { Event: sampleEvent() }),
    );
    for (const object of objects)
      assert.ok(validateObject(object).ok, JSON.stringify(validateObject(object)));

    const indicators = ofType(objects, 'indicator');
    const byName = new Map(indicators.map((indicator) => [indicator.name, indicator]));
    const domain = byName.get('evil.example')!;
    assert.equal(domain.id, 'indicator--5f1c0b2e-2222-4a2b-9c3d-000000000001');
    assert.equal(domain.description, 'landing page');
    assert.deepEqual(domain.object_marking_refs, [TLP_2_CLEAR.id]);
    assert.equal(domain.created_by_ref, 'identity--55f6ea5e-2c60-40e5-964f-47a8950d210f');
    assert.match(String(byName.get('198.51.100.7')!.pattern), /dst_port = 8443/);
    assert.ok(byName.has('mail.evil.example'));
    assert.ok(byName.has('198.51.100.8'));
    const hash = byName.get('a'.repeat(64))!;
    assert.deepEqual(hash.object_marking_refs, [TLP_2_AMBER.id]);
    assert.ok(byName.has('d41d8cd98f00b204e9800998ecf8427e'));
    assert.equal(indicators.length, 6);

    assert.deepEqual(
      ofType(objects, 'url').map((url) => url.value),
      ['http://evil.example/login'],
    );
    const markings = ofType(objects, 'marking-definition')
      .map((marking) => marking.id)
      .sort();
    assert.deepEqual(markings, [TLP_2_AMBER.id, TLP_2_CLEAR.id].sort());

    const [pattern] = ofType(objects, 'attack-pattern');
    assert.equal(pattern!.name, 'Spearphishing Attachment');
    assert.deepEqual(pattern!.external_references, [
      { source_name: 'mitre-attack', external_id: 'T1193' },
      { source_name: 'misp-galaxy', url: 'https://attack.mitre.org/techniques/T1193' },
    ]);
    const [relationship] = ofType(objects, 'relationship');
    assert.equal(relationship!.source_ref, hash.id);
    assert.equal(relationship!.target_ref, pattern!.id);
    const [actor] = ofType(objects, 'threat-actor');
    assert.deepEqual(actor!.aliases, ['Winnti']);

    const [sighting] = ofType(objects, 'sighting');
    assert.equal(sighting!.sighting_of_ref, byName.get('198.51.100.7')!.id);
    assert.equal(sighting!.first_seen, '2024-05-01T10:40:00.000Z');
    assert.equal(ofType(objects, 'identity').length, 2);
    assert.equal(ofType(objects, 'vulnerability')[0]!.name, 'CVE-2017-11882');

    const [eventReport] = ofType(objects, 'report');
    assert.equal(eventReport!.id, 'report--5f1c0b2e-1111-4a2b-9c3d-000000000001');
    assert.equal(eventReport!.name, 'Phishing wave');
    assert.deepEqual(eventReport!.labels, ['PAP:GREEN']);
    assert.equal(eventReport!.published, '2024-05-01T11:00:00.000Z');
    const refs = new Set(eventReport!.object_refs as string[]);
    for (const object of objects) {
      if (['report', 'marking-definition', 'identity'].includes(object.type)) continue;
      assert.ok(refs.has(object.id), `${object.id} missing from object_refs`);
    }
    assert.deepEqual((eventReport!.external_references as unknown[])[1], {
      source_name: 'misp-link',
      url: 'https://blog.example/phishing',
    });

    assert.deepEqual(report.skippedByCode, {
      deleted: 1,
      'unsupported-type': 2,
      'invalid-value': 1,
    });
    assert.deepEqual(report.notCarriedByCode, {
      'composite-part': 1,
      sighting: 1,
      'object-flattened': 1,
    });
    assert.equal(report.records, 12);
  });

  it('reads every envelope style alike', async () => {
    const event = sampleEvent();
    const expected = (await convertPath('misp', writeJson('a.json', { Event: event }))).objects.map(
      (object) => object.id,
    );
    const shapes: unknown[] = [
      event,
      { response: [{ Event: event }] },
      [{ Event: event }],
      { response: [event] },
    ];
    for (const [index, shape] of shapes.entries()) {
      const { objects } = await convertPath('misp', writeJson(`shape${index}.json`, shape));
      assert.deepEqual(
        objects.map((object) => object.id),
        expected,
        `shape ${index}`,
      );
    }
  });

  it('converts each event of a response', async () => {
    const second = {
      ...sampleEvent(),
      uuid: '5f1c0b2e-1111-4a2b-9c3d-000000000002',
      Tag: [{ name: 'tlp:red' }],
    };
    const { objects } = await convertPath(
      'misp',
      writeJson('two.json', { response: [{ Event: sampleEvent() }, { Event: second }] }),
    );
    const reports = ofType(objects, 'report');
    assert.equal(reports.length, 2);
    assert.notDeepEqual(reports[0]!.object_marking_refs, reports[1]!.object_marking_refs);
    // The second event repeats the first one's observables, emitted only once.
    const url = ofType(objects, 'url');
    assert.equal(url.length, 1);
    assert.ok((reports[1]!.object_refs as string[]).includes(url[0]!.id));
  });

  it('rejects a file that is not JSON', async () => {
    await assert.rejects(
      convertPath('misp', writeJson('bad.json', '{"Event": {"uuid": "x",}}')),
      /invalid JSON in .*bad\.json/,
    );
  });

  it('imports an ESET folder around its malformed file', async () => {
    const { objects, report } = await convertPath('misp', ESET);
    assert.equal(report.skippedByCode['invalid-json'], 1);
    const bad = report.examples.find((note) => note.code === 'invalid-json')!;
    assert.match(bad.where, /pypi_backdoor/);
    assert.ok(
      ofType(objects, 'report').length >= 40,
      `${ofType(objects, 'report').length} reports`,
    );
    assert.ok(ofType(objects, 'indicator').length > 1000);
    for (const object of objects)
      assert.ok(
        validateObject(object).ok,
        `${object.id}: ${JSON.stringify(validateObject(object))}`,
      );
  });
});

describe('MISP feed converter', () => {
  it('imports the Infoblox feed and reports missing events', async () => {
    const checkpoint: FeedCheckpoint = { events: {} };
    const { objects, report, bytesRead } = await convertPath('misp-feed', INFOBLOX, { checkpoint });
    assert.equal(report.skippedByCode['missing-event'], 5);
    assert.equal(ofType(objects, 'report').length, 41);
    assert.equal(Object.keys(checkpoint.events).length, 41);
    assert.ok(report.records > 60_000, `${report.records} attributes`);
    assert.ok(bytesRead > 10_000_000);
    const invalid = objects.filter((object) => !validateObject(object).ok);
    assert.deepEqual(
      invalid.map((object) => object.id),
      [],
    );
  });

  it('imports only changed events after a checkpoint', async () => {
    const feed = join(dir, 'feed');
    cpSync(INFOBLOX, feed, { recursive: true });
    const checkpoint: FeedCheckpoint = { events: {} };
    await convertPath('misp-feed', feed, { checkpoint });

    const manifestPath = join(feed, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<
      string,
      { timestamp: number }
    >;
    const changed = '0dbb179a-1c8c-4e7c-a264-2440414dbac8';
    manifest[changed]!.timestamp += 60;
    writeFileSync(manifestPath, JSON.stringify(manifest));

    const { objects, report } = await convertPath('misp-feed', feed, { checkpoint });
    assert.equal(report.skippedByCode.unchanged, 40);
    assert.deepEqual(
      ofType(objects, 'report').map((object) => object.id),
      [`report--${changed}`],
    );
    assert.equal(checkpoint.events[changed], manifest[changed]!.timestamp);
  });

  it('skips manifest keys that are not uuids', async () => {
    const feed = join(dir, 'hostile');
    cpSync(INFOBLOX, feed, { recursive: true });
    const event = '0dbb179a-1c8c-4e7c-a264-2440414dbac8';
    writeFileSync(
      join(feed, 'manifest.json'),
      JSON.stringify({ '../../../etc/passwd': { timestamp: 1 }, [event]: { timestamp: 1 } }),
    );
    writeFileSync(join(feed, `${event}.json`), '{"Event": [}');
    writeFileSync(
      join(feed, 'hashes.csv'),
      'd41d8cd98f00b204e9800998ecf8427e,0dbb179a-1c8c-4e7c-a264-2440414dbac8\n',
    );
    const checkpoint: FeedCheckpoint = { events: {} };
    const { objects, report } = await convertPath('misp-feed', feed, { checkpoint });
    assert.deepEqual(objects, []);
    assert.equal(report.skippedByCode['invalid-manifest'], 1);
    assert.equal(report.skippedByCode['invalid-json'], 1);
    assert.equal(report.notCarriedByCode['hashes-csv'], 1);
    assert.deepEqual(checkpoint.events, {});
  });

  it('names a folder without manifest', async () => {
    await assert.rejects(convertPath('misp-feed', ESET), /has no manifest\.json/);
  });

  it('stores a whole event without rejections', async () => {
    await withCollection(join(dir, 'misp.db'), async (store, collectionId) => {
      const path = writeJson('stored.json', { Event: sampleEvent() });
      const conversion = convert('misp', { stream: (async function* () {})(), path }, OPTIONS);
      const summary = await importConverted(store, collectionId, conversion.objects);
      assert.equal(summary.rejected, 0, JSON.stringify(summary.failures));
      assert.equal(summary.added, conversion.report.summary().objects);
    });
  });
});

describe('MISP limits', () => {
  it('stops at an oversized event field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-misp-limit-'));
    try {
      const path = join(dir, 'huge.json');
      // An EventReport of 40 Mi characters: above the 32 Mi limit on one assembled value.
      writeFileSync(
        path,
        `{"Event": {"uuid": "5f1c0b2e-1111-4a2b-9c3d-000000000009", "EventReport": ["${'x'.repeat(2 ** 20)}"${`, "${'x'.repeat(2 ** 20)}"`.repeat(39)}]}}`,
      );
      const conversion = convert('misp', { stream: (async function* () {})(), path }, OPTIONS);
      await assert.rejects(
        collect(conversion.objects),
        /huge\.json: the value at Event\.EventReport is larger than 33554432 characters/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
