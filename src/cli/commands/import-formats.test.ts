import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dataPath } from '../../testing/data.ts';

const REPOSITORY = fileURLToPath(new URL('../../../', import.meta.url));
const FEED = dataPath('infoblox-threat-intelligence/indicators/misp');
const FEED_EVENTS = [
  '24e799ca-aad8-4244-8005-90b3ceb44540',
  'dad88707-beb8-4a14-94e2-5ffecf5a5f85',
];

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
let store: string;

/** Runs `cairn import` from source on the test store; a hung run is killed after 120 s. */
function cairnImport(...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', '--store', store, 'import', '-q', ...args],
      {
        cwd: REPOSITORY,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-import-formats-'));
  store = `sqlite:${join(dir, 'cairn.db')}`;
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('cairn import --format', () => {
  it('imports a text list and prints the conversion', async () => {
    const result = await cairnImport(
      '--format',
      'text',
      file('list.txt', '# bad hosts\nhxxp://evil[.]example/a\n198.51.100.7:8080\n010.1.1.1\n'),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /converted 3 records into 4 STIX objects; skipped 1/);
    assert.match(result.stdout, /line 4: "010\.1\.1\.1" has a part with a leading zero/);
    assert.match(result.stdout, /added 4, duplicates 0, rejected 0/);
  });

  it('imports a large text list in a worker', async () => {
    // Over 1 MiB, so the conversion runs in the worker thread.
    const lines: string[] = [];
    for (let index = 0; index < 90_000; index++) {
      lines.push(`10.${index >> 16}.${(index >> 8) & 255}.${index & 255}`);
    }
    lines[49_999] = '010.1.1.1';
    const text = `${lines.join('\n')}\n`;
    assert.ok(Buffer.byteLength(text) > 1 << 20);
    const result = await cairnImport(
      '--format',
      'text',
      '--no-indicators',
      file('large.txt', text),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /converted 90000 records into 89999 STIX objects; skipped 1/);
    assert.match(result.stdout, /line 50000: "010\.1\.1\.1" has a part with a leading zero/);
    assert.match(result.stdout, /added 89999, duplicates 0, rejected 0/);
  });

  it('imports CSV with a column mapping', async () => {
    const csv = file(
      'iocs.csv',
      'kind,ioc,tags\ndomain,bad.example,c2|phishing\nsha256,' + 'a'.repeat(64) + ',dropper\n',
    );
    const result = await cairnImport(
      '--format',
      'csv',
      '--csv-map',
      'value=ioc,type=kind,labels=tags',
      '--confidence',
      '60',
      csv,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /converted 2 records into 4 STIX objects/);
  });

  it('drops observables on a warning list', async () => {
    const lists = join(dir, 'lists', 'dns');
    mkdirSync(lists, { recursive: true });
    writeFileSync(
      join(lists, 'list.json'),
      JSON.stringify({
        name: 'Public DNS',
        type: 'cidr',
        list: ['8.8.8.0/24'],
        matching_attributes: ['ip-dst'],
      }),
    );
    const result = await cairnImport(
      '--format',
      'text',
      '--warninglists',
      join(dir, 'lists'),
      '--on-warning',
      'drop',
      file('dns.txt', '8.8.8.8\n198.51.100.9\n'),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /skipped, warninglist: 1/);
    assert.match(result.stdout, /on warning list Public DNS: 1/);
    assert.match(result.stdout, /added 2,/);
  });

  it('imports a MISP feed incrementally with a checkpoint', async () => {
    const feed = join(dir, 'feed');
    mkdirSync(feed);
    const manifest = JSON.parse(readFileSync(join(FEED, 'manifest.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const subset = Object.fromEntries(
      [...FEED_EVENTS, '9ffe100e-899f-455d-9c73-476c8dad5b21'].map((uuid) => [
        uuid,
        manifest[uuid],
      ]),
    );
    writeFileSync(join(feed, 'manifest.json'), JSON.stringify(subset));
    for (const uuid of FEED_EVENTS)
      copyFileSync(join(FEED, `${uuid}.json`), join(feed, `${uuid}.json`));
    const checkpoint = join(dir, 'checkpoint.json');

    const first = await cairnImport('--format', 'misp-feed', '--checkpoint', checkpoint, feed);
    // Exit status 2: the manifest lists an event the feed lacks, so one event was lost.
    assert.equal(first.code, 2, first.stderr);
    assert.match(first.stdout, /skipped, missing-event: 1/);
    assert.match(first.stdout, /not imported: 1 file or event of the input could not be read/);
    const saved = JSON.parse(readFileSync(checkpoint, 'utf8')) as {
      events: Record<string, number>;
    };
    assert.deepEqual(Object.keys(saved.events).sort(), [...FEED_EVENTS].sort());

    const second = await cairnImport('--format', 'misp-feed', '--checkpoint', checkpoint, feed);
    // The missing event is looked for again, and is still missing.
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stdout, /skipped, unchanged: 2/);
    assert.match(second.stdout, /added 0, duplicates 0, rejected 0/);
  });

  it('imports a MISP folder around a file that is not JSON', async () => {
    const folder = join(dir, 'events');
    mkdirSync(folder);
    copyFileSync(join(FEED, `${FEED_EVENTS[0]}.json`), join(folder, 'good.json'));
    writeFileSync(join(folder, 'broken.json'), '{"Event": {"uuid": "x",}}');

    const result = await cairnImport('--format', 'misp', folder);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stdout, /skipped, invalid-json: 1/);
    assert.match(result.stdout, /broken\.json: /);
    assert.match(result.stdout, /not imported: 1 file or event of the input could not be read/);
    // The good event is read and stored; an earlier test may have stored it already.
    assert.match(result.stdout, /read [1-9][0-9]* objects/);
    assert.match(result.stdout, /rejected 0/);
  });

  const bad: Array<[string[], RegExp]> = [
    [['--format', 'yaml', 'x'], /--format "yaml" is not supported/],
    [['--format', 'misp', '-'], /reads a file or folder, not standard input/],
    [['--format', 'text', '--csv-map', 'value=a', 'x'], /--csv-map applies only to --format csv/],
    [
      ['--format', 'text', '--warninglists', '.', '--on-warning', 'ignore', 'x'],
      /--on-warning "ignore" must be drop, label or lower/,
    ],
    [
      ['--format', 'text', '--confidence', '101', 'x'],
      /--confidence "101" must be a whole number from 0 to 100/,
    ],
    [
      ['--format', 'csv', '--checkpoint', 'c.json', 'x'],
      /--checkpoint applies only to --format misp-feed/,
    ],
  ];
  for (const [args, message] of bad) {
    it(`rejects ${args.slice(0, 4).join(' ')}`, async () => {
      const input = file('input.txt', 'evil.example\n');
      const result = await cairnImport(...args.map((arg) => (arg === 'x' ? input : arg)));
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, message);
    });
  }
});
