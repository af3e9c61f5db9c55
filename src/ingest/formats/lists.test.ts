import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { classify, toSco } from '../../normalise/index.ts';
import { validateObject } from '../../stix/index.ts';
import { dataPath } from '../../testing/data.ts';
import { importConverted } from '../import.ts';
import { parseCsvMapping } from './csv.ts';
import { extractIndicators } from './freetext.ts';
import { convert, type FormatOptions } from './index.ts';
import { LineReader } from './lines.ts';
import { lineIndicator } from './text.ts';
import { bytesOf, collect, ofType, withCollection } from './testing.test-helper.ts';

const OPTIONS: FormatOptions = { source: 'test', created: '2024-05-01T00:00:00.000Z' };

/** Converts `text`; `objects` collects what it yields, so read the conversion only through it. */
function run(
  format: 'text' | 'csv' | 'freetext',
  text: string | Uint8Array,
  options: Partial<FormatOptions> = {},
) {
  const conversion = convert(format, { stream: bytesOf(text) }, { ...OPTIONS, ...options });
  return { conversion, objects: collect(conversion.objects) };
}

function scoValue(object: Record<string, unknown>): unknown {
  return object.value ?? object.number ?? object.hashes;
}

describe('LineReader', () => {
  it('splits LF and CRLF lines across chunks', async () => {
    const lines = [];
    for await (const line of new LineReader(bytesOf('a\r\nb', 'c\n', '\nd'))) lines.push(line.text);
    assert.deepEqual(lines, ['a', 'bc', '', 'd']);
  });

  it('cuts an overlong line and marks it', async () => {
    const lines = [];
    const reader = new LineReader(bytesOf('x'.repeat(50), 'y'.repeat(50), '\nshort\n'), {
      maxLineLength: 64,
    });
    for await (const line of reader) lines.push(line);
    assert.equal(lines[0]!.truncated, true);
    assert.equal(lines[0]!.text.length, 64);
    assert.equal(lines[1]!.text, 'short');
    assert.equal(lines[1]!.truncated, false);
    assert.equal(reader.bytesRead, 107);
  });

  it('drops a byte order mark', async () => {
    const lines = [];
    for await (const line of new LineReader(bytesOf('\ufeffevil.example\n'))) lines.push(line.text);
    assert.deepEqual(lines, ['evil.example']);
  });
});

describe('lineIndicator', () => {
  const cases: Array<[string, string | undefined]> = [
    ['evil.example', 'evil.example'],
    ['  198.51.100.7\t12', '198.51.100.7'],
    ['129.82.138.12 # pinger1a.netsec.example', '129.82.138.12'],
    ['175.45.177.138# Copyright', '175.45.177.138'],
    ['0.0.0.0 evil.example', 'evil.example'],
    ['127.0.0.1 localhost', 'localhost'],
    ['0.0.0.0 # a sink alone', '0.0.0.0'],
    ['http://evil.example/a#frag', 'http://evil.example/a#frag'],
    ['# Reference: https://example.org', undefined],
    ['; comment', undefined],
    ['// comment', undefined],
    ['   ', undefined],
  ];
  for (const [line, expected] of cases) {
    it(`reads ${JSON.stringify(line)}`, () => assert.equal(lineIndicator(line), expected));
  }
});

describe('text converter', () => {
  it('converts each line into a SCO and an indicator', async () => {
    const { conversion, objects } = run(
      'text',
      '# list\nhxxp://evil[.]example/a\n198.51.100.7:8080\n010.1.1.1\n\nEVIL.example\n',
    );
    const all = await objects;
    const report = conversion.report.summary();
    assert.equal(report.records, 4);
    assert.equal(report.skipped, 1);
    assert.match(report.examples[0]!.message, /leading zero/);
    assert.equal(report.examples[0]!.where, 'line 4');
    assert.deepEqual(ofType(all, 'url').map(scoValue), ['http://evil.example/a']);
    assert.deepEqual(ofType(all, 'ipv4-addr').map(scoValue), ['198.51.100.7']);
    assert.deepEqual(ofType(all, 'domain-name').map(scoValue), ['evil.example']);
    const patterns = ofType(all, 'indicator').map((indicator) => indicator.pattern);
    assert.equal(patterns.length, 3);
    assert.ok(patterns.some((pattern) => String(pattern).includes('dst_port = 8080')));
    for (const object of all) assert.ok(validateObject(object).ok, JSON.stringify(object));
  });

  it('gives the same indicator ids on a second run', async () => {
    const first = await run('text', 'evil.example\n').objects;
    const second = await run('text', 'evil.example\n').objects;
    assert.deepEqual(
      first.map((object) => object.id),
      second.map((object) => object.id),
    );
  });

  it('creates only SCOs without indicators', async () => {
    const all = await run('text', 'evil.example\n198.51.100.7\n', { indicators: false }).objects;
    assert.equal(ofType(all, 'indicator').length, 0);
    assert.equal(all.length, 2);
  });

  it('adds labels and confidence to indicators', async () => {
    const all = await run('text', 'evil.example\n', { labels: ['c2'], confidence: 70 }).objects;
    const [indicator] = ofType(all, 'indicator');
    assert.deepEqual(indicator!.labels, ['c2']);
    assert.equal(indicator!.confidence, 70);
  });

  it('rejects binary junk line by line', async () => {
    const junk = Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0xc3, 0x28, 0x0a]);
    const { conversion, objects } = run('text', junk);
    assert.equal((await objects).length, 0);
    assert.equal(conversion.report.summary().skipped, 2);
  });

  it('reads every Maltrail trail without failing', async () => {
    const file = dataPath('maltrail-trails/trails/static/malware/emotet.txt');
    const conversion = convert('text', { stream: createReadStream(file) }, OPTIONS);
    const all = await collect(conversion.objects);
    const report = conversion.report.summary();
    assert.ok(report.records > 10_000, `${report.records} records`);
    assert.ok(ofType(all, 'indicator').length > 10_000);
    // Trails list bare URL paths (/gate.php), which are no indicator on their own.
    assert.ok(report.examples.every((note) => note.code === 'invalid-value'));
    assert.ok(conversion.bytesRead() > 0);
  });
});

describe('parseCsvMapping', () => {
  it('reads every key', () => {
    assert.deepEqual(
      parseCsvMapping(
        'value=indicator,type=type,first_seen=detected_date,labels=classification,confidence=3,delimiter=tab,header=no,kind=domain,port=dst_port,description=note',
      ),
      {
        value: 'indicator',
        type: 'type',
        firstSeen: 'detected_date',
        labels: 'classification',
        confidence: '3',
        delimiter: '\t',
        header: false,
        kind: 'domain',
        port: 'dst_port',
        description: 'note',
      },
    );
  });

  for (const bad of [
    '',
    'type=type',
    'value=',
    'colour=red',
    'value=a,delimiter=;;',
    'value=a,kind=file',
  ]) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseCsvMapping(bad), /--csv-map/);
    });
  }
});

describe('CSV converter', () => {
  it('maps columns into indicators', async () => {
    const csv = [
      '\ufefftype,indicator,classification,detected_date,score',
      'domain,Evil.Example,phishing;c2,2026-02-26,80',
      'ipv4,198.51.100.7,scanner,2026-02-27 10:00:00,x',
      'telfhash,abc,,,',
      'domain,178.63.71.15,c2,,',
      '"domain","bad quote"x,c2,,',
      'sha256,' + 'A'.repeat(64) + ',,not a date,',
    ].join('\n');
    const { conversion, objects } = run('csv', csv, {
      csvMapping: parseCsvMapping(
        'value=indicator,type=type,first_seen=detected_date,labels=classification,confidence=score',
      ),
    });
    const all = await objects;
    const report = conversion.report.summary();
    assert.deepEqual(report.skippedByCode, { 'unsupported-type': 1, 'invalid-value': 1 });
    assert.deepEqual(report.notCarriedByCode, {
      'invalid-confidence': 1,
      'type-mismatch': 1,
      'invalid-timestamp': 1,
    });
    const indicators = ofType(all, 'indicator');
    assert.equal(indicators.length, 4);
    const domain = indicators.find((indicator) => indicator.name === 'evil.example')!;
    assert.deepEqual(domain.labels, ['phishing', 'c2']);
    assert.equal(domain.confidence, 80);
    assert.equal(domain.valid_from, '2026-02-26T00:00:00.000Z');
    assert.equal(ofType(all, 'file').length, 1);
    assert.equal(ofType(all, 'ipv4-addr').length, 2);
    for (const object of all) assert.ok(validateObject(object).ok, JSON.stringify(object));
  });

  it('reports a quote that is never closed', async () => {
    const { conversion, objects } = run(
      'csv',
      'indicator\nevil.example\n# note\n"open.example\nlost.example\nmore.example',
    );
    const all = await objects;
    // The lines after the quote are read again, where they were once lost.
    assert.deepEqual(ofType(all, 'domain-name').map(scoValue), [
      'evil.example',
      'lost.example',
      'more.example',
    ]);
    const report = conversion.report.summary();
    assert.equal(report.skippedByCode['invalid-csv'], 1);
    assert.equal(report.examples[0]!.where, 'line 4');
    assert.match(report.examples[0]!.message, /a quote opened on line 4 is never closed/);
    assert.match(report.examples[0]!.message, /lines 5 to 6 were read again/);
  });

  it('reports a quote left open in a row', async () => {
    const csv =
      'type,indicator\r\n"domain","evil.example"\r\n"domain","unterminated\r\n' +
      '"domain","after.example"\r\n"domain","bad value"\r\n';
    const { conversion, objects } = run('csv', csv);
    const all = await objects;
    assert.deepEqual(ofType(all, 'domain-name').map(scoValue), ['evil.example', 'after.example']);
    const report = conversion.report.summary();
    assert.deepEqual(
      report.examples.map((note) => `${note.where} ${note.code}`),
      ['line 3 invalid-csv', 'line 5 invalid-value'],
    );
    assert.match(
      report.examples[0]!.message,
      /a quote opened on line 3 is not closed on that line, so csv-parse read lines 3 to 4 as one row/,
    );
    assert.match(report.examples[0]!.message, /line 4 was read again as a row of its own/);
  });

  it('reads quoted notes over several lines', async () => {
    const csv = 'indicator,note\r\nevil.example,"first\r\nsecond"\r\nbad value,x\r\n';
    const { conversion, objects } = run('csv', csv);
    assert.deepEqual(ofType(await objects, 'domain-name').map(scoValue), ['evil.example']);
    const examples = conversion.report.summary().examples;
    assert.deepEqual(
      examples.map((note) => `${note.where} ${note.code}`),
      ['line 4 invalid-value'],
    );
  });

  it('keeps CRLF split across chunks', async () => {
    const conversion = convert(
      'csv',
      { stream: bytesOf('indicator\r', '\nevil.example\r', '\nbad value\r', '\n') },
      OPTIONS,
    );
    const all = await collect(conversion.objects);
    assert.deepEqual(ofType(all, 'domain-name').map(scoValue), ['evil.example']);
    assert.deepEqual(
      conversion.report.summary().examples.map((note) => note.where),
      ['line 3'],
    );
  });

  it('reads the abuse.ch dialect with ports', async () => {
    const file = dataPath('abusech-feodo/ipblocklist.20240403T1854.csv');
    const conversion = convert(
      'csv',
      { stream: createReadStream(file) },
      {
        ...OPTIONS,
        csvMapping: parseCsvMapping(
          'value=dst_ip,kind=ip,port=dst_port,first_seen=first_seen_utc,labels=malware',
        ),
      },
    );
    const all = await collect(conversion.objects);
    const indicators = ofType(all, 'indicator');
    assert.equal(indicators.length, 27);
    assert.equal(conversion.report.summary().skipped, 0);
    assert.match(String(indicators[0]!.pattern), /network-traffic:dst_port = 1194/);
    assert.deepEqual(indicators[0]!.labels, ['Pikabot']);
  });

  it('finds the indicator column without a mapping', async () => {
    const all = await run('csv', 'type,indicator,app\ndomain,copy9.com,TheTruthSpy\n').objects;
    assert.deepEqual(ofType(all, 'domain-name').map(scoValue), ['copy9.com']);
  });

  it('reads columns by position without a header', async () => {
    const all = await run('csv', 'x;evil.example\n', {
      csvMapping: parseCsvMapping('value=2,header=no,delimiter=;'),
    }).objects;
    assert.deepEqual(ofType(all, 'domain-name').map(scoValue), ['evil.example']);
  });

  it('names the header when a column is missing', async () => {
    const { objects } = run('csv', 'a,b\n1,2\n', {
      csvMapping: parseCsvMapping('value=indicator'),
    });
    await assert.rejects(
      objects,
      /the value column "indicator" is not in the CSV; the header has "a", "b"/,
    );
  });

  it('names a column number past the header', async () => {
    const { objects } = run('csv', 'a,b\n1,evil.example\n', {
      csvMapping: parseCsvMapping('value=9'),
    });
    await assert.rejects(
      objects,
      /the value column 9 is not in the CSV: the header has 2 columns \("a", "b"\)/,
    );
  });

  it('reports rows without the value column', async () => {
    const { conversion, objects } = run('csv', 'x,evil.example\nshort\n', {
      csvMapping: parseCsvMapping('value=2,header=no'),
    });
    assert.deepEqual(ofType(await objects, 'domain-name').map(scoValue), ['evil.example']);
    const [note] = conversion.report.summary().examples;
    assert.equal(note!.where, 'line 2');
    assert.equal(note!.code, 'missing-column');
    assert.match(note!.message, /the row has 1 column, so it has no value column 2/);
  });

  it('asks for a mapping when no column is recognised', async () => {
    await assert.rejects(run('csv', 'a,b\n1,2\n').objects, /--csv-map value=COLUMN/);
  });
});

describe('free-text extractor', () => {
  const prose =
    'The actor used hxxps://evil[.]example/gate.php?id=1 (see report.md), 198.51.100[.]7:443 and ' +
    'bad-domain.com. Hash D41D8CD98F00B204E9800998ECF8427E; mail admin[at]evil.example; ' +
    '2001:db8::1 at 10:30:00; e.g. config.local, evil[.]zip, invoice.zip; AS64500 in 10.0.0.0/8. ' +
    'Visit (http://x.example/a_(b)).';

  it('finds each kind of indicator in prose', () => {
    const found = extractIndicators(prose).map(
      (observable) => `${observable.kind} ${observable.value}`,
    );
    assert.deepEqual(found.sort(), [
      'asn AS64500',
      'cidr 10.0.0.0/8',
      'domain bad-domain.com',
      'domain evil.zip',
      'email admin@evil.example',
      'hash d41d8cd98f00b204e9800998ecf8427e',
      'ip 198.51.100.7',
      'ip 2001:db8::1',
      'url http://x.example/a_(b)',
      'url https://evil.example/gate.php?id=1',
    ]);
  });

  it('skips file names, times and abbreviations', () => {
    assert.deepEqual(
      extractIndicators('Open README.md at 10:30:00, e.g. setup.exe or config.local, v1.2.3.'),
      [],
    );
  });

  it('converts a defanged Unit 42 list once per value', async () => {
    const file = dataPath('unit42-stix20-reports/Conti_IOCs.txt');
    const conversion = convert('freetext', { stream: createReadStream(file) }, OPTIONS);
    const all = await collect(conversion.objects);
    const ips = ofType(all, 'ipv4-addr').map(scoValue);
    // 185.178.209.193 is listed twice, defanged and plain.
    assert.equal(ips.filter((ip) => ip === '185.178.209.193').length, 1);
    assert.ok(ofType(all, 'domain-name').some((domain) => domain.value === 'bestarg.com'));
    assert.ok(ofType(all, 'file').length >= 10);
    for (const object of all) assert.ok(validateObject(object).ok, JSON.stringify(object));
  });

  it('reports each repeated value once', async () => {
    const { conversion, objects } = run('freetext', `${prose}\n${prose}\n`);
    const all = await objects;
    assert.equal(conversion.report.summary().records, 10);
    assert.equal(ofType(all, 'indicator').length, 10);
  });
});

describe('importConverted', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-formats-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stores a text list and counts a re-import as duplicates', async () => {
    await withCollection(join(dir, 'lists.db'), async (store, collectionId) => {
      const text = 'evil.example\n198.51.100.7\nnot an indicator\n';
      const first = await importConverted(
        store,
        collectionId,
        convert('text', { stream: bytesOf(text) }, OPTIONS).objects,
      );
      assert.equal(first.added, 4, JSON.stringify(first));
      assert.equal(first.rejected, 0);
      const second = await importConverted(
        store,
        collectionId,
        convert('text', { stream: bytesOf(text) }, OPTIONS).objects,
      );
      assert.equal(second.added, 0, JSON.stringify(second));
      assert.equal(second.duplicates, 4);
      const sco = toSco((classify('evil.example') as { ok: true; value: never }).value);
      const stored = await store.queryObjects({
        collectionId: collectionId,
        ids: [sco.id],
        limit: 10,
      });
      assert.equal(stored.items.length, 1);
    });
  });
});
