/**
 * `cairn watch`, `cairn alerts` and `cairn check` run as child processes on a real SQLite
 * store, beside the test's own connection to it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runChild, type ChildResult } from '../../testing/child.ts';
import { indicator } from '../../testing/stix.ts';
import { makeWatchWorld, type WatchWorld } from '../../watch/fixtures.test-helper.ts';

const REPOSITORY = fileURLToPath(new URL('../../../', import.meta.url));
/** Lines of the generated log; CAIRN_CHECK_LINES raises it, to 1000000 for the full run. */
const LOG_LINES = Number(process.env.CAIRN_CHECK_LINES ?? 50_000);
const CHILD_TIMEOUT_MS = 240_000;

describe('watch CLI', { timeout: 600_000 }, () => {
  let world: WatchWorld;
  let store: string;
  let dir: string;

  /** Runs the CLI; with `terminal`, under a pseudo-terminal so progress bars are drawn. */
  function cairn(args: string[], terminal = false): Promise<ChildResult> {
    const command = [
      process.execPath,
      '--import',
      'tsx',
      'src/cli/main.ts',
      '--store',
      store,
      ...args,
    ];
    const [file, argv] = terminal
      ? [
          'script',
          [
            '-qefc',
            command.map((part) => `'${part.replace(/'/g, "'\\''")}'`).join(' '),
            '/dev/null',
          ],
        ]
      : [command[0]!, command.slice(1)];
    return runChild(file, argv, { cwd: REPOSITORY, timeoutMs: CHILD_TIMEOUT_MS });
  }

  async function ok(...args: string[]): Promise<string> {
    const result = await cairn(args);
    assert.equal(result.code, 0, `cairn ${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  }

  before(async () => {
    world = await makeWatchWorld();
    dir = mkdtempSync(join(tmpdir(), 'cairn-watch-cli-'));
    store = world.storeUrl;
    const shared = await world.services.share(
      world.actors['beta-analyst']!,
      world.collections.ring!,
      [
        indicator({ pattern: "[domain-name:value = 'cli.evil.example']" }),
        indicator({ pattern: "[ipv4-addr:value = '198.51.100.23']" }),
      ],
    );
    assert.equal(shared.failures.length, 0);
  });

  after(async () => {
    await world.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a list that hunts the stored data', async () => {
    const output = await ok(
      'watch',
      'add',
      'cli demo',
      'evil.example',
      '198.51.100.0/24',
      'not a value!',
      '--subdomains',
      '--as',
      'alpha-analyst',
      '-q',
    );
    const lines = output.split('\n');
    assert.match(lines[0]!, /^[0-9a-f-]{36}$/);
    assert.equal(lines[1], 'added 2, duplicates 0, rejected 1');
    assert.match(lines[2]!, /not a value!/);
    assert.match(
      output,
      /retro-hunt [0-9a-f-]{36}: done, \d+ objects scanned in 1\/1 collections, 2 matches, 2 alerts/,
    );
  });

  it('hunts again with a full progress bar', async () => {
    const result = await cairn(['watch', 'hunt', 'cli demo', '--as', 'alpha-analyst'], true);
    assert.equal(result.code, 0, result.stdout.slice(-2000));
    // The bar counts collections, so it ends full even when few objects were read.
    assert.match(result.stdout, /retro-hunt \[█+\] 100% \| 1\/1 collections \| \d+ objects read/);
    assert.match(result.stdout, /: done, \d+ objects scanned in 1\/1 collections/);
  });

  it('lists and shows lists to their audience only', async () => {
    assert.match(
      await ok('watch', 'list', '--as', 'alpha-analyst'),
      /cli demo {2}2 entries {2}private/,
    );
    assert.match(await ok('watch', 'list', '--as', 'alpha-org-admin'), /no watch lists/);
    const shown = await ok('watch', 'show', 'cli demo', '--as', 'alpha-analyst');
    assert.match(shown, /entries: 2 \(domain 1, cidr 1\)/);
    assert.match(
      shown,
      /open alerts \(most urgent first\):\n {2}[0-9a-f-]{36} {2}\w+ \d+ indicator--/,
    );
    const hidden = await cairn(['watch', 'show', 'cli demo', '--as', 'beta-analyst']);
    assert.equal(hidden.code, 1);
    assert.match(hidden.stderr, /watch list "cli demo" not found/);
  });

  it('lists and acknowledges alerts', async () => {
    const listed = (await ok('alerts', 'list', '--json', '--as', 'alpha-analyst'))
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; priority: number; state: string });
    assert.equal(listed.length, 2);
    assert.ok(listed[0]!.priority >= listed[1]!.priority);
    assert.equal(
      await ok('alerts', 'ack', listed[0]!.id, '--as', 'alpha-analyst'),
      'acknowledged 1 of 1 alerts',
    );
    const open = await ok('alerts', 'list', '--state', 'open', '--json', '--as', 'alpha-analyst');
    assert.equal(open.split('\n').length, 1);
    const denied = await cairn(['alerts', 'ack', listed[1]!.id, '--as', 'alpha-read-only']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /read-only users may not acknowledge alerts/);
  });

  it('adds, lists and removes entries', async () => {
    assert.match(
      await ok(
        'watch',
        'entries',
        'cli demo',
        'AS64500',
        '--pattern',
        "[file:name = 'x.exe']",
        '--as',
        'alpha-analyst',
      ),
      /added 2, duplicates 0, rejected 0/,
    );
    const entries = (await ok('watch', 'entries', 'cli demo', '--as', 'alpha-analyst')).split('\n');
    assert.equal(entries.length, 4);
    const asn = entries.find((line) => line.includes('AS64500'))!;
    assert.match(
      await ok(
        'watch',
        'entries',
        'cli demo',
        '--remove',
        asn.split(' ')[0]!,
        '--as',
        'alpha-analyst',
      ),
      /removed 1 entries/,
    );
    const bad = await cairn([
      'watch',
      'entries',
      'cli demo',
      '--filter',
      '{names',
      '--as',
      'alpha-analyst',
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--filter "\{names" is not JSON/);
  });

  it('checks a large log with a progress bar', { timeout: 600_000 }, async (t) => {
    const log = join(dir, 'proxy.log');
    const rows: string[] = [];
    let expected = 0;
    for (let i = 0; i < LOG_LINES; i++) {
      const host = i % 10_000 === 0 ? 'cli.evil.example' : `host${i % 5_000}.example.net`;
      if (host === 'cli.evil.example') expected++;
      rows.push(
        `1700000000.${i % 1000} 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} TCP_MISS/200 GET http://${host}/p${i % 97} - DIRECT/203.0.113.${i % 250}`,
      );
    }
    writeFileSync(log, `${rows.join('\n')}\n`);

    const found = join(dir, 'found.ndjson');
    const result = await cairn(['check', log, '--output', found, '--as', 'alpha-analyst'], true);
    assert.equal(result.code, 0, result.stdout.slice(-2000));
    // Under the pseudo-terminal both streams arrive on stdout.
    assert.match(result.stdout, /checking \[[█░]+\] \d+%/);
    const summary = new RegExp(`checked ${LOG_LINES} lines[^\\r\\n]*`).exec(result.stdout);
    assert.ok(summary, result.stdout.slice(-500));
    t.diagnostic(summary[0]);
    const written = readFileSync(found, 'utf8').trim().split('\n');
    const last = JSON.parse(written.pop()!) as { summary?: Record<string, number> };
    assert.equal(last.summary?.lines, LOG_LINES, 'the output ends with the summary');
    assert.equal(last.summary?.matchedLines, expected);
    assert.equal(last.summary?.longLines, 0);
    const matches = written.map(
      (line) =>
        JSON.parse(line) as {
          line: number;
          matches: Array<{ value: string; objects: unknown[]; watch: unknown[] }>;
        },
    );
    assert.equal(matches.length, expected);
    assert.equal(matches[0]!.line, 1);
    assert.equal(matches[0]!.matches[0]!.objects.length, 1, 'the stored indicator');
    assert.equal(matches[0]!.matches[0]!.watch.length, 1, 'the watch list entry');
    assert.match(result.stdout, new RegExp(`${expected} lines matched`));

    const outsider = await cairn(['check', log, '--as', 'gamma-analyst', '-q']);
    assert.equal(outsider.code, 0, outsider.stderr);
    const outsiderLines = outsider.stdout.trim().split('\n');
    assert.equal(outsiderLines.length, 1, 'only the summary');
    const outsiderSummary = JSON.parse(outsiderLines[0]!) as { summary: Record<string, number> };
    assert.equal(outsiderSummary.summary.matchedLines, 0);
    assert.match(outsider.stderr, /0 lines matched/);
  });

  it('removes a list', async () => {
    assert.match(
      await ok('watch', 'remove', 'cli demo', '--as', 'alpha-analyst'),
      /removed cli demo/,
    );
    assert.match(await ok('watch', 'list', '--as', 'alpha-analyst'), /no watch lists/);
  });
});
