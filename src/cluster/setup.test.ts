import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { startTestServer } from '../testing/server.ts';

test('failed first start leaves setup free', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-setup-'));
  try {
    await assert.rejects(
      startTestServer({ dataDir, taxii: { defaultApiRoot: 'api' } }),
      /API root name "api" is reserved/,
    );
    // The next start must not wait for the failed start's claim on setup to expire.
    const started = performance.now();
    const again = await startTestServer({ dataDir });
    try {
      assert.ok(performance.now() - started < 5_000, 'setup was not held by the failed start');
      assert.ok(again.adminToken, 'the second start created the admin');
    } finally {
      await again.dispose();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
