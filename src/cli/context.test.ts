/**
 * Opening the store in CLI commands: the default file must already exist, so a command run
 * from the wrong directory fails with a clear message instead of creating an empty store.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
// Resolved here, because the commands run from folders outside the repository.
const tsx = import.meta.resolve('tsx');
const directory = mkdtempSync(join(tmpdir(), 'cairn-cli-store-'));
after(() => rmSync(directory, { recursive: true, force: true }));

/** Runs the CLI from `cwd` with no store or config in the environment. */
function cairn(cwd: string, ...args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, main, ...args], {
      cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 120_000,
      env: { ...process.env, CAIRN_CONFIG: '', CAIRN_STORE: '' },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

test('missing default store is rejected', async () => {
  const elsewhere = mkdtempSync(join(directory, 'elsewhere-'));
  const result = await cairn(elsewhere, 'connector', 'list');
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /store not found: .*data[/\\]cairn\.db/);
  assert.match(result.stderr, /--store or CAIRN_STORE/);
  assert.equal(existsSync(join(elsewhere, 'data')), false, 'no data folder was created');
});

test('missing named store is created', async () => {
  const named = join(directory, 'named', 'cairn.db');
  const result = await cairn(directory, '--store', `sqlite:${named}`, 'collection', 'list');
  assert.equal(result.code, 0, result.stderr);
  assert.equal(existsSync(named), true);
});
