import assert from 'node:assert/strict';
import { createReadStream, readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { toSco } from '../../normalise/index.ts';
import { validateObject } from '../../stix/index.ts';
import { dataPath } from '../../testing/data.ts';
import { WarninglistMatcher } from '../../warninglists/index.ts';
import { parseCsvMapping } from './csv.ts';
import { convert, type ConversionSummary, type FormatOptions } from './index.ts';
import { ConversionReport } from './report.ts';
import { patternObservables, upgradeObject } from './stix.ts';
import { bytesOf, collect, ofType, scoIds } from './testing.test-helper.ts';

const OPTIONS: FormatOptions = { source: 'test', created: '2024-05-01T00:00:00.000Z' };
const UNIT42 = dataPath('unit42-stix20-reports/stix2-reports/report_json');
const STALKERWARE = dataPath('stalkerware-indicators');

function bundle(objects: unknown[], specVersion?: string): string {
  return JSON.stringify({
    type: 'bundle',
    id: 'bundle--6f1d1f4c-3d3c-4c59-9a39-6e3f5b3c0a11',
    ...(specVersion ? { spec_version: specVersion } : {}),
    objects,
  });
}

const INDICATOR_20 = {
  type: 'indicator',
  id: 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f',
  created: '2017-01-01T00:00:00.000Z',
  modified: '2017-01-01T00:00:00.000Z',
  labels: ['malicious-activity'],
  pattern: "[ipv4-addr:value = '8.8.8.8'] OR [domain-name:value = 'Evil.Example']",
  valid_from: '2017-01-01T00:00:00Z',
};

describe('upgradeObject', () => {
  it('moves vocabulary labels and adds 2.1 properties', () => {
    const report = new ConversionReport();
    const [indicator] = upgradeObject(INDICATOR_20, 'x', report);
    assert.equal(indicator!.spec_version, '2.1');
    assert.deepEqual(indicator!.indicator_types, ['malicious-activity']);
    assert.equal(indicator!.labels, undefined);
    assert.equal(indicator!.pattern_type, 'stix');
    assert.ok(validateObject(indicator).ok);

    const [malware] = upgradeObject(
      {
        type: 'malware',
        id: 'malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061',
        created: '2017-01-01T00:00:00.000Z',
        modified: '2017-01-01T00:00:00.000Z',
        name: 'Poison Ivy',
        labels: ['remote-access-trojan'],
      },
      'x',
      report,
    );
    assert.deepEqual(malware!.malware_types, ['remote-access-trojan']);
    assert.equal(malware!.is_family, true);
    assert.ok(validateObject(malware).ok, JSON.stringify(validateObject(malware)));
  });

  it('turns observed objects into SCOs with ids', () => {
    const report = new ConversionReport();
    const objects = upgradeObject(
      {
        type: 'observed-data',
        id: 'observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf',
        created: '2017-01-01T00:00:00.000Z',
        modified: '2017-01-01T00:00:00.000Z',
        first_observed: '2017-01-01T00:00:00Z',
        last_observed: '2017-01-01T00:00:00Z',
        number_observed: 1,
        objects: {
          '0': { type: 'ipv4-addr', value: '198.51.100.3' },
          '1': { type: 'network-traffic', src_ref: '0', dst_ref: '2', protocols: ['tcp'] },
          '2': { type: 'ipv4-addr', value: '203.0.113.5' },
          '3': { type: 'domain-name', value: 'x.example', resolves_to_refs: ['9'] },
        },
      },
      'observed-data--b67d30ff',
      report,
    );
    const source = toSco({ kind: 'ip', version: 4, value: '198.51.100.3' });
    const traffic = objects.find((object) => object.type === 'network-traffic')!;
    assert.equal(traffic.src_ref, source.id);
    assert.match(String(traffic.id), /^network-traffic--[0-9a-f-]{36}$/);
    const observed = objects.at(-1)!;
    assert.equal(observed.objects, undefined);
    assert.deepEqual(
      observed.object_refs,
      objects.slice(0, -1).map((object) => object.id),
    );
    assert.equal(report.summary().notCarriedByCode['dangling-reference'], 1);
    for (const object of objects.filter((item) => item.type !== 'domain-name')) {
      assert.ok(validateObject(object).ok, JSON.stringify(validateObject(object)));
    }
  });
});

describe('patternObservables', () => {
  const cases: Array<[string, string[]]> = [
    ["[domain-name:value = 'Evil.Example']", ['domain evil.example']],
    ["[file:hashes.'SHA-256' = 'AB" + 'c'.repeat(62) + "']", [`hash ab${'c'.repeat(62)}`]],
    ["[file:hashes.sha256 = '" + 'd'.repeat(64) + "']", [`hash ${'d'.repeat(64)}`]],
    [
      "[ipv4-addr:value = '10.0.0.0/8'] OR [url:value = 'hxxp://x.example/it\\'s']",
      ['cidr 10.0.0.0/8', "url http://x.example/it's"],
    ],
    [
      "[network-traffic:dst_ref.value = '198.51.100.1' AND network-traffic:dst_port = 443]",
      ['ip 198.51.100.1'],
    ],
    ["[domain-name:value != 'x.example']", []],
    ["[process:name = 'evil.exe']", []],
    ['not a pattern', []],
  ];
  for (const [pattern, expected] of cases) {
    it(`reads ${pattern.slice(0, 40)}`, () => {
      assert.deepEqual(
        patternObservables(pattern).map((observable) => `${observable.kind} ${observable.value}`),
        expected,
      );
    });
  }
});

describe('STIX converters', () => {
  it('upgrades every Unit 42 STIX 2.0 bundle', async () => {
    let total = 0;
    const invalid: string[] = [];
    for (const file of readdirSync(UNIT42)) {
      const conversion = convert(
        'stix20',
        { stream: createReadStream(`${UNIT42}/${file}`) },
        { ...OPTIONS, source: file, deriveObservables: true },
      );
      for (const object of await collect(conversion.objects)) {
        total++;
        const result = validateObject(object);
        if (!result.ok)
          invalid.push(`${object.id}: ${result.problems.map((problem) => problem.rule).join(',')}`);
      }
    }
    assert.ok(total > 6000, `${total} objects`);
    // Two campaigns end before they start in the source data, which no version allows.
    assert.deepEqual(invalid.sort(), [
      'campaign--75478d66-3f26-423b-9d03-8ca1fbe1c6ad: time-order',
      'campaign--f529e101-5564-468b-97c3-e298946418c6: time-order',
    ]);
  });

  it('passes STIX 2.1 objects through unchanged', async () => {
    const indicator = { ...INDICATOR_20, spec_version: '2.1', pattern_type: 'stix' };
    const all = await collect(
      convert('stix20', { stream: bytesOf(bundle([indicator])) }, OPTIONS).objects,
    );
    assert.deepEqual(all, [indicator]);
  });

  it('applies warning lists to indicator patterns', async () => {
    const lists = new WarninglistMatcher([
      { name: 'dns', type: 'cidr', entries: ['8.8.8.8/32'], matchingAttributes: [] },
    ]);
    const input = bundle([
      { ...INDICATOR_20, spec_version: '2.1', pattern_type: 'stix', confidence: 80 },
    ]);
    const run = async (action: 'drop' | 'label' | 'lower') => {
      const conversion = convert(
        'stix',
        { stream: bytesOf(input) },
        { ...OPTIONS, warninglists: { lists, action } },
      );
      return { objects: await collect(conversion.objects), report: conversion.report.summary() };
    };
    const dropped = await run('drop');
    assert.deepEqual(dropped.objects, []);
    assert.equal(dropped.report.skippedByCode.warninglist, 1);
    const labelled = await run('label');
    assert.deepEqual(labelled.objects[0]!.labels, ['malicious-activity', 'warninglist:dns']);
    const lowered = await run('lower');
    assert.equal(lowered.objects[0]!.confidence, 15);
    assert.deepEqual(lowered.report.warninglistHits, { dns: 1 });
  });

  it('reports objects over the size limit', async () => {
    const conversion = convert(
      'stix',
      { stream: bytesOf('{"type": "bundle", "objects": [1, "x"]}') },
      { ...OPTIONS, deriveObservables: true },
    );
    assert.deepEqual(await collect(conversion.objects), [1, 'x']);
  });
});

describe('one data set in three formats', () => {
  // The Echap stalkerware indicators: one upstream commit exported as STIX, MISP and CSV,
  // with the hosts and Quad9 lists beside them. docs/formats.md explains the differences.
  interface Converted {
    files: Set<string>;
    /** Domain SCO ids by value. */
    domains: Map<string, string>;
    addresses: Set<string>;
    report: ConversionSummary;
  }

  async function convertFile(
    format: 'stix' | 'misp' | 'csv' | 'text',
    file: string,
    options: Partial<FormatOptions> = {},
  ): Promise<Converted> {
    const path = `${STALKERWARE}/${file}`;
    const conversion = convert(
      format,
      { stream: createReadStream(path), path },
      { ...OPTIONS, indicators: false, deriveObservables: true, ...options },
    );
    const objects = await collect(conversion.objects);
    const domains = new Map<string, string>();
    for (const sco of ofType(objects, 'domain-name')) {
      assert.equal(domains.has(String(sco.value)), false, `${String(sco.value)} is one SCO`);
      domains.set(String(sco.value), sco.id);
    }
    return {
      files: scoIds(ofType(objects, 'file')),
      domains,
      addresses: new Set(ofType(objects, 'ipv4-addr').map((sco) => String(sco.value))),
      report: conversion.report.summary(),
    };
  }

  const converted = (async () => ({
    stix: await convertFile('stix', 'generated/stalkerware.stix2'),
    misp: await convertFile('misp', 'generated/misp_event.json'),
    csv: await convertFile('csv', 'generated/network.csv'),
    hosts: await convertFile('text', 'generated/hosts'),
    quad9: await convertFile('text', 'generated/quad9_blocklist.txt'),
  }))();
  /** The one value listed as a domain (HelloSpy's download address) that is an IP address. */
  const ADDRESS_AS_DOMAIN = '178.63.71.15';

  const values = (domains: Map<string, string>): Set<string> => new Set(domains.keys());
  const minus = (from: Set<string>, ...others: Array<Set<string>>): string[] =>
    [...from].filter((value) => !others.some((other) => other.has(value))).sort();

  it('gives one set of file observables from STIX, MISP and CSV', async () => {
    const { stix, misp } = await converted;
    const csv = await convertFile('csv', 'samples.csv', {
      csvMapping: parseCsvMapping('value=SHA256,kind=hash'),
    });
    assert.equal(stix.files.size, 2910);
    assert.deepEqual(misp.files, stix.files);
    assert.deepEqual(csv.files, stix.files);
  });

  it('keeps every domain each file lists', async () => {
    const { stix, misp, csv } = await converted;
    const raw = rawDomains();
    for (const [format, ours, listed] of [
      ['STIX', stix, raw.stix],
      ['MISP', misp, raw.misp],
      ['CSV', csv, raw.csv],
    ] as const) {
      assert.deepEqual(values(ours.domains), listed, `${format} domains`);
    }
    assert.equal(stix.domains.size, 1299);
    assert.equal(misp.domains.size, 913);
    assert.equal(csv.domains.size, 927);
  });

  it('reports the address listed as a domain', async () => {
    const { stix, misp, csv, quad9 } = await converted;
    const stixNote = stix.report.examples.find((note) => note.code === 'invalid-value');
    assert.match(stixNote?.message ?? '', /"178\.63\.71\.15" is an IPv4 address, not a domain/);
    assert.equal(stix.report.notCarriedByCode['invalid-value'], 1);
    assert.equal(stix.addresses.size, 0);
    assert.equal(misp.addresses.size, 0);
    const csvNote = csv.report.examples.find((note) => note.code === 'type-mismatch');
    assert.match(csvNote?.message ?? '', /178\.63\.71\.15/);
    // The CSV and the Quad9 list make it an address: 64 C2 addresses plus this one.
    assert.equal(csv.addresses.size, 65);
    assert.ok(csv.addresses.has(ADDRESS_AS_DOMAIN));
    assert.ok(quad9.addresses.has(ADDRESS_AS_DOMAIN));
  });

  it('gives one id per domain across the formats', async () => {
    const all = await converted;
    const ids = new Map<string, string>();
    for (const [format, { domains }] of Object.entries(all)) {
      for (const [value, id] of domains) {
        const seen = ids.get(value);
        if (seen !== undefined) assert.equal(id, seen, `${value} from ${format}`);
        ids.set(value, id);
      }
    }
    assert.ok(ids.size > 1300, `${ids.size} domains in all`);
  });

  it('differs only where the upstream exports differ', async () => {
    const { stix, misp, csv, hosts, quad9 } = await converted;
    const [S, M, C] = [values(stix.domains), values(misp.domains), values(csv.domains)];
    const raw = rawExportFacts();

    // Every stalkerware C2 domain (the hosts file) is in all three.
    assert.equal(hosts.domains.size, 844);
    assert.deepEqual(minus(values(hosts.domains), S), []);
    assert.deepEqual(minus(values(hosts.domains), M), []);
    assert.deepEqual(minus(values(hosts.domains), C), []);
    // STIX adds the apps' web sites, which the CSV and MISP exports leave out.
    const onlyStix = minus(S, C);
    assert.equal(onlyStix.length, 439);
    assert.deepEqual(minus(new Set(onlyStix), raw.websites), []);
    // STIX leaves out the watchware apps, whose domains the CSV lists.
    assert.deepEqual(minus(C, S), [...raw.csvDomainsOfAppsNotInStix].sort());
    assert.equal(minus(C, S).length, 67);
    // The MISP export only ever adds to the previous one, so it keeps two domains that are
    // no longer C2 domains. It has no download domains.
    assert.deepEqual(minus(M, C), ['reports.crashlytics.com', 'send.onespy.com']);
    assert.deepEqual(minus(M, C, S), ['reports.crashlytics.com']);
    const downloads = new Set([
      ...minus(values(quad9.domains), values(hosts.domains)),
      ...raw.csvDomainsOfAppsNotInStix,
    ]);
    const onlyCsv = minus(C, M);
    assert.equal(onlyCsv.length, 16);
    assert.deepEqual(minus(new Set(onlyCsv), downloads), []);
  });
});

/** Domains of each export read straight from the files, lowercased, without Cairn's code. */
function rawDomains(): { stix: Set<string>; misp: Set<string>; csv: Set<string> } {
  const stixText = readFileSync(`${STALKERWARE}/generated/stalkerware.stix2`, 'utf8');
  const stix = new Set(
    [...stixText.matchAll(/\[domain-name:value='([^']+)'\]/g)].map((match) =>
      match[1]!.toLowerCase(),
    ),
  );
  const event = JSON.parse(readFileSync(`${STALKERWARE}/generated/misp_event.json`, 'utf8')) as {
    Object: Array<{ Attribute: Array<{ type: string; value: string }> }>;
  };
  const misp = new Set(
    event.Object.flatMap((object) => object.Attribute)
      .filter((attribute) => attribute.type === 'domain')
      .map((attribute) => attribute.value.toLowerCase()),
  );
  const rows = readFileSync(`${STALKERWARE}/generated/network.csv`, 'utf8').split('\n').slice(1);
  const csv = new Set(
    rows
      .map((row) => row.split(','))
      .filter((cells) => cells[0] === 'domain')
      .map((cells) => cells[1]!.toLowerCase()),
  );
  // Values that are not domain names (an IP address listed as a domain) have no domain SCO.
  const isName = (value: string): boolean => !/^[0-9.]+$/.test(value);
  return {
    stix: new Set([...stix].filter(isName)),
    misp: new Set([...misp].filter(isName)),
    csv: new Set([...csv].filter(isName)),
  };
}

/** Facts the exports give about themselves, read straight from the files without Cairn's code. */
function rawExportFacts(): { websites: Set<string>; csvDomainsOfAppsNotInStix: Set<string> } {
  // The README lists each app with its web sites in backquotes: "* AppName (`a.com` `b.com`)".
  const readme = readFileSync(`${STALKERWARE}/README.md`, 'utf8');
  const websites = new Set(
    readme
      .split('\n')
      .filter((line) => line.startsWith('* '))
      .flatMap((line) => [...line.matchAll(/`([^`]+)`/g)].map((match) => match[1]!.toLowerCase())),
  );
  const bundle = JSON.parse(readFileSync(`${STALKERWARE}/generated/stalkerware.stix2`, 'utf8')) as {
    objects: Array<{ type: string; name?: string }>;
  };
  const stixApps = new Set(
    bundle.objects.filter((object) => object.type === 'malware').map((object) => object.name),
  );
  // The CSV ends its lines with CR LF, as Python's csv module writes by default.
  const rows = readFileSync(`${STALKERWARE}/generated/network.csv`, 'utf8').split('\r\n').slice(1);
  const csvDomainsOfAppsNotInStix = new Set(
    rows
      .map((row) => row.split(','))
      .filter((cells) => cells[0] === 'domain' && !stixApps.has(cells[2]))
      .map((cells) => cells[1]!.toLowerCase()),
  );
  return { websites, csvDomainsOfAppsNotInStix };
}
