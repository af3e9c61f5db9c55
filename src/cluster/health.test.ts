import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startTestServer, type TestServer } from '../testing/server.ts';

describe('health endpoint', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.dispose());

  test('answers without credentials', async () => {
    const response = await fetch(`${server.url}/api/v1/health`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await response.json(), { status: 'ok', store: 'ok', nats: 'local' });
  });

  test('only GET is served there', async () => {
    const response = await fetch(`${server.url}/api/v1/health`, { method: 'POST' });
    assert.notEqual(response.status, 200);
  });

  test('reports unavailable once the store is closed', async () => {
    const other = await startTestServer();
    try {
      await other.server.store.close();
      const response = await fetch(`${other.url}/api/v1/health`);
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '5');
      assert.deepEqual(await response.json(), {
        status: 'unavailable',
        store: 'unavailable',
        nats: 'local',
      });
    } finally {
      await other.dispose().catch(() => undefined);
    }
  });
});
