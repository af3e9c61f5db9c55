/**
 * The CLI run as a pipeline stage: a reader that stops early must end the command quietly,
 * not with a stack trace.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPOSITORY = fileURLToPath(new URL('../../', import.meta.url));
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-pipe-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI from source, reads the first chunk of its output, then closes the pipe. */
function runAndCloseEarly(
  args: string[],
): Promise<{ code: number | null; first: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPOSITORY,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    let first = '';
    let stderr = '';
    child.stdout.once('data', (chunk: Buffer) => {
      first = chunk.toString();
      child.stdout.destroy();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, first, stderr }));
  });
}

test('export into closed pipe exits quietly', async () => {
  const store = `sqlite:${join(dir, 'cairn.db')}`;
  const objects = Array.from({ length: 4_000 }, (_, index) => ({
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
    created: '2026-01-01T00:00:00.000Z',
    modified: '2026-01-01T00:00:00.000Z',
    name: `pipe test ${index} ${'x'.repeat(200)}`,
    pattern: `[ipv4-addr:value = '10.0.${Math.trunc(index / 256)}.${index % 256}']`,
    pattern_type: 'stix',
    valid_from: '2026-01-01T00:00:00Z',
  }));
  const bundle = join(dir, 'bundle.json');
  writeFileSync(
    bundle,
    JSON.stringify({
      type: 'bundle',
      id: 'bundle--' + '1'.repeat(8) + '-1111-4111-8111-111111111111',
      objects,
    }),
  );
  const imported = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', '--store', store, 'import', '-q', bundle],
      { cwd: REPOSITORY, stdio: 'ignore', timeout: 120_000 },
    );
    child.on('error', reject);
    child.on('exit', resolve);
  });
  assert.equal(imported, 0);

  const result = await runAndCloseEarly(['--store', store, 'export', '-q']);
  assert.match(result.first, /"type"/);
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /EPIPE|at .*\.ts:\d+/);
});
