/**
 * `cairn stream` against a real server while `cairn import` writes the stalkerware bundle
 * (10,229 objects, 10,191 distinct) straight into the store file, with a server restart in
 * the middle: a member of the community gets every object once, in import order, and a
 * member of another community gets nothing.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { makeWorld, post, sleep } from '../../stream/streams.test-helper.ts';
import { indicator } from '../../testing/stix.ts';
import { dataPath } from '../../testing/data.ts';
import { startTestServer, type TestServer } from '../../testing/server.ts';
import { streamUrl } from './stream.ts';

const repository = fileURLToPath(new URL('../../..', import.meta.url));
const BUNDLE = 'stalkerware-indicators/generated/stalkerware.stix2';

interface Cli {
  child: ChildProcess;
  lines: string[];
  stderr: string[];
  exited: Promise<number | null>;
}

function runCli(args: string[], env: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: repository,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, lines, stderr, exited };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('cairn stream', { timeout: 120_000 }, () => {
  test('stream URLs', () => {
    assert.equal(
      streamUrl('http://127.0.0.1:8470', { collection: 'c1', types: 'indicator', from: 'start' }),
      'http://127.0.0.1:8470/api/v1/streams/collections/c1?types=indicator&from=start',
    );
    assert.equal(
      streamUrl('https://cairn.example/base/', { community: 'x', tlp: 'green' }),
      'https://cairn.example/base/api/v1/streams/communities/x?tlp=green',
    );
    assert.equal(streamUrl('http://h:1', {}), 'http://h:1/api/v1/streams');
    assert.throws(() => streamUrl('ftp://h', {}), /must start with http/);
    assert.throws(() => streamUrl('not a url', {}), /not valid/);
    assert.throws(() => streamUrl('http://h', { collection: 'a', community: 'b' }), /not both/);
  });

  test('import stream survives restart', async () => {
    const bundle = JSON.parse(readFileSync(dataPath(BUNDLE), 'utf8')) as {
      objects: Array<{ id: string }>;
    };
    const expected: string[] = [];
    for (const object of bundle.objects) {
      if (!expected.includes(object.id)) expected.push(object.id);
    }
    assert.equal(expected.length, 10_191);

    const settings = { streams: { pollSeconds: 0.25, heartbeatSeconds: 1 } };
    const first = await startTestServer(settings);
    let second: TestServer | undefined;
    const clis: Cli[] = [];
    try {
      const world = await makeWorld(first);
      const cursorFile = join(first.dataDir, 'alice.cursor');
      const from = new Date().toISOString();
      const alice = runCli(
        [
          'stream',
          first.url,
          '--collection',
          world.collectionA.id,
          '--from',
          from,
          '--cursor-file',
          cursorFile,
        ],
        { CAIRN_TOKEN: world.alice.token },
      );
      const bob = runCli(['stream', first.url, '--from', from], { CAIRN_TOKEN: world.bob.token });
      clis.push(alice, bob);
      await waitFor(() => first.server.streams.size === 2, 'both streams to open');

      const importer = runCli([
        '--store',
        first.config.store,
        'import',
        dataPath(BUNDLE),
        '--collection',
        world.collectionA.alias!,
        '--batch-size',
        '250',
        '--quiet',
      ]);
      clis.push(importer);
      await waitFor(() => alice.lines.length >= 2_000, 'the first events');

      await first.stop();
      second = await startTestServer({
        ...settings,
        dataDir: first.dataDir,
        port: first.server.port,
      });
      assert.equal(await importer.exited, 0, importer.stderr.join(''));
      await waitFor(() => alice.lines.length >= expected.length, 'every event', 60_000);
      await sleep(1_500);

      const events = alice.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.equal(events.length, expected.length, 'no event twice');
      assert.ok(events.every((event) => event.kind === 'created'));
      assert.deepEqual(
        events.map((event) => event.id),
        expected,
      );
      assert.deepEqual(bob.lines, [], 'the other community sees nothing');
      assert.match(alice.stderr.join(''), /reconnecting/);

      // Stopped and started again, the command resumes from its cursor file: nothing is
      // printed twice, and a new object comes next.
      alice.child.kill('SIGTERM');
      assert.equal(await alice.exited, 0);
      assert.match(readFileSync(cursorFile, 'utf8'), /^[A-Za-z0-9_-]{22}\n$/);
      const resumed = runCli(
        ['stream', second.url, '--collection', world.collectionA.id, '--cursor-file', cursorFile],
        { CAIRN_TOKEN: world.alice.token },
      );
      clis.push(resumed);
      await waitFor(() => second!.server.streams.size >= 2, 'the resumed stream');
      const later = indicator();
      await post(second, world.alice.token, world.collectionA, [later]);
      await waitFor(() => resumed.lines.length >= 1, 'the new event');
      await sleep(500);
      assert.deepEqual(
        resumed.lines.map((line) => (JSON.parse(line) as { id: string }).id),
        [later.id],
      );
    } finally {
      for (const cli of clis) cli.child.kill('SIGKILL');
      await second?.dispose();
      await first.dispose();
    }
  });
});
