import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { call, startTestServer, type TestServer } from '../testing/server.ts';
import { FailureLimiter, readCredentials } from './http.ts';

describe('readCredentials', () => {
  test('bearer and basic', () => {
    assert.deepEqual(readCredentials('Bearer abc'), { token: 'abc' });
    const basic = Buffer.from('alice:tok:en').toString('base64');
    assert.deepEqual(readCredentials(`Basic ${basic}`), { userName: 'alice', token: 'tok:en' });
  });

  test('malformed headers', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Digest x',
      `Basic ${btoa('nocolon')}`,
    ]) {
      assert.equal(readCredentials(header), undefined, String(header));
    }
  });
});

describe('FailureLimiter', () => {
  test('blocks after max in window', () => {
    const limiter = new FailureLimiter({ windowMs: 1000 });
    for (let i = 0; i < 3; i++) limiter.record('k', 10_000 + i);
    assert.equal(limiter.retryAfter('k', 4, 10_100), 0);
    assert.equal(limiter.retryAfter('k', 3, 10_100), 1);
    assert.equal(limiter.retryAfter('k', 3, 11_001), 0);
    assert.equal(limiter.retryAfter('other', 1, 10_100), 0);
  });

  test('forgets oldest keys', () => {
    const limiter = new FailureLimiter({ maxKeys: 2 });
    limiter.record('a', 1);
    limiter.record('b', 1);
    limiter.record('c', 1);
    assert.equal(limiter.retryAfter('a', 1, 2), 0);
    assert.ok(limiter.retryAfter('c', 1, 2) > 0);
  });
});

describe('HTTP authentication limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.dispose());

  const basic = (user: string, token: string) => ({
    token: null,
    headers: { Authorization: `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}` },
  });

  test('user name limited', async () => {
    for (let i = 0; i < 10; i++) {
      const result = await call(server, 'collections/', basic('admin', `wrong${i}`));
      assert.equal(result.status, 401);
    }
    const limited = await call(server, 'collections/', basic('admin', 'wrong again'));
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.equal(limited.headers.get('content-type'), 'application/taxii+json;version=2.1');
    assert.equal(limited.json.http_status, '429');
    // Another user name from the same address is not yet limited, and Bearer has no name.
    assert.equal((await call(server, 'collections/', basic('someone', 'x'))).status, 401);
    assert.equal((await call(server, 'collections/')).status, 200);
    // The right token still passes for the limited user name.
    assert.equal(
      (await call(server, 'collections/', basic('admin', server.adminToken))).status,
      200,
    );
  });

  test('address limited', async () => {
    for (let i = 0; i < 20; i++) {
      await call(server, 'collections/', { token: `cairn_bad_${i}` });
    }
    const limited = await call(server, 'collections/', { token: 'cairn_bad_again' });
    assert.equal(limited.status, 429);
    const missing = await call(server, 'collections/', { token: null });
    assert.equal(missing.status, 429);
    // Clients behind one proxy share an address: a valid token is not locked out.
    assert.equal((await call(server, 'collections/')).status, 200);
  });

  test('failures audited', async () => {
    const entries = await server.server.store.queryAudit({ action: 'auth.failed', limit: 100 });
    assert.ok(entries.length >= 10);
    const named = entries.find((entry) => entry.actorName === 'admin');
    assert.ok(named);
    assert.match(named.sourceAddress ?? '', /127\.0\.0\.1|::1/);
    assert.equal(named.actorId, undefined);
  });
});
