import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { ConfigError, loadConfig } from './config.ts';

const directory = mkdtempSync(join(tmpdir(), 'cairn-config-test-'));
after(() => rmSync(directory, { recursive: true, force: true }));

function configFile(content: unknown): string {
  const path = join(directory, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

test('webhook retention defaults', () => {
  const config = loadConfig({ file: configFile({}), env: {} });
  assert.equal(config.webhooks.maxDeadLetters, 1000);
  assert.equal(config.webhooks.dispatchPollSeconds, 2);
});

test('webhook retention read from file', () => {
  const file = configFile({ webhooks: { maxDeadLetters: 25, dispatchPollSeconds: 0.5 } });
  const config = loadConfig({ file, env: {} });
  assert.equal(config.webhooks.maxDeadLetters, 25);
  assert.equal(config.webhooks.dispatchPollSeconds, 0.5);
  assert.equal(config.webhooks.maxAttempts, 8, 'other webhook settings keep their defaults');
});

test('bad webhook retention rejected', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ maxDeadLetters: 0 }, /webhooks\.maxDeadLetters/],
    [{ maxDeadLetters: 2.5 }, /webhooks\.maxDeadLetters/],
    [{ maxDeadLetters: '10' }, /webhooks\.maxDeadLetters/],
    [{ dispatchPollSeconds: 0 }, /webhooks\.dispatchPollSeconds/],
    [{ dispatchPollSeconds: 7200 }, /webhooks\.dispatchPollSeconds/],
  ];
  for (const [webhooks, message] of cases) {
    assert.throws(
      () => loadConfig({ file: configFile({ webhooks }), env: {} }),
      (error: unknown) => error instanceof ConfigError && message.test(error.message),
      JSON.stringify(webhooks),
    );
  }
});
