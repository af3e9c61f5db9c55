/**
 * Connector requests against local HTTP servers: targets that the rules reject before any
 * request, host names checked on their resolved address, redirects checked hop by hop,
 * secrets kept from other origins, and short printable excerpts of error bodies.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  FetchError,
  fetchWithRetry,
  MAX_EXCERPT_LENGTH,
  targetProblem,
  type RequestOptions,
} from './http.ts';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
}

/** Starts a server on 127.0.0.1 that records each request and responds through `handle`. */
async function startServer(
  handle: (path: string, respond: (status: number, headers: object, body?: string) => void) => void,
): Promise<{ server: Server; port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const path = request.url ?? '/';
    received.push({ path, headers: request.headers });
    handle(path, (status, headers, body) => {
      response.writeHead(status, headers as Record<string, string>).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, received };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function options(extra: Partial<RequestOptions> = {}): RequestOptions {
  return {
    auth: { type: 'none' },
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    timeoutMs: 5_000,
    ...extra,
  };
}

describe('connector request targets', () => {
  const rejected = [
    'http://127.0.0.1:8470/api/v1/me',
    'http://127.1.2.3/',
    'http://[::1]/',
    'http://0.0.0.0/',
    'http://2130706433/',
    'http://0x7f000001/',
    'http://10.1.2.3/',
    'http://172.16.0.1/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fe80::1]/',
    'http://[fc00::1]/',
    'http://[::ffff:10.0.0.1]/',
    'http://[::ffff:127.0.0.1]/',
  ];
  for (const url of rejected) {
    test(`rejects ${url}`, () => {
      const problem = targetProblem(new URL(url), false);
      assert.match(problem ?? '', /is a loopback, private or other non-public address/);
      assert.match(problem ?? '', /connectors\.allowPrivateTargets/);
      assert.equal(targetProblem(new URL(url), true), undefined);
    });
  }

  for (const url of [
    'https://feeds.example/list.txt',
    'http://8.8.8.8/',
    'https://[2001:4860::8888]/',
  ]) {
    test(`accepts ${url}`, () => {
      assert.equal(targetProblem(new URL(url), false), undefined);
    });
  }

  for (const url of ['file:///etc/passwd', 'ftp://feeds.example/list.txt', 'gopher://x/']) {
    test(`rejects the scheme of ${url}`, () => {
      assert.match(targetProblem(new URL(url), true) ?? '', /only http:\/\/ and https:\/\//);
    });
  }
});

describe('fetchWithRetry', () => {
  let site: Awaited<ReturnType<typeof startServer>>;
  let other: Awaited<ReturnType<typeof startServer>>;

  before(async () => {
    other = await startServer((_path, respond) => respond(200, {}, 'other origin'));
    const large = `secret\u0000line\r\n\u001b[31m${'x'.repeat(1 << 20)}`;
    site = await startServer((path, respond) => {
      if (path === '/feed') respond(200, { 'Content-Type': 'text/plain' }, 'evil.example\n');
      else if (path === '/one') respond(302, { Location: '/two' });
      else if (path === '/two') respond(301, { Location: '/feed' });
      else if (path === '/loop') respond(307, { Location: '/loop' });
      else if (path === '/to-file') respond(302, { Location: 'file:///etc/passwd' });
      else if (path === '/no-location') respond(302, {});
      else if (path === '/away') {
        respond(308, { Location: `http://127.0.0.1:${other.port}/landed` });
      } else if (path === '/large-error') respond(403, { 'Content-Type': 'text/plain' }, large);
      else respond(404, {}, 'not found');
    });
  });

  after(async () => {
    await close(site.server);
    await close(other.server);
  });

  test('rejects a loopback literal without a request', async () => {
    site.received.length = 0;
    const retries: unknown[] = [];
    await assert.rejects(
      fetchWithRetry(
        `http://127.0.0.1:${site.port}/feed`,
        options({ onRetry: (event) => retries.push(event) }),
      ),
      (error: Error) => {
        assert.ok(error instanceof FetchError);
        assert.match(error.message, /was not sent: 127\.0\.0\.1 is a loopback/);
        return true;
      },
    );
    assert.equal(site.received.length, 0);
    assert.deepEqual(retries, []);
  });

  test('checks the address a name resolves to', async () => {
    site.received.length = 0;
    const retries: unknown[] = [];
    await assert.rejects(
      fetchWithRetry(
        `http://localhost:${site.port}/feed`,
        options({ onRetry: (event) => retries.push(event) }),
      ),
      /was not sent: localhost resolves to the non-public address .*connectors\.allowPrivateTargets/,
    );
    assert.equal(site.received.length, 0);
    // A refused address is not retried.
    assert.deepEqual(retries, []);
  });

  test('follows redirects on the same site', async () => {
    const response = await fetchWithRetry(
      `http://127.0.0.1:${site.port}/one`,
      options({ allowPrivateTargets: true }),
    );
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'evil.example\n');
  });

  test('same-origin follows redirects within the origin', async () => {
    const response = await fetchWithRetry(
      `http://127.0.0.1:${site.port}/one`,
      options({ allowPrivateTargets: 'same-origin' }),
    );
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'evil.example\n');
  });

  test('same-origin stops a redirect to another private origin', async () => {
    other.received.length = 0;
    await assert.rejects(
      fetchWithRetry(
        `http://127.0.0.1:${site.port}/away`,
        options({ allowPrivateTargets: 'same-origin' }),
      ),
      /GET http:\/\/127\.0\.0\.1:\d+\/landed \(redirected from .*\/away\) was not sent: 127\.0\.0\.1 is a loopback/,
    );
    assert.equal(other.received.length, 0);
  });

  test('does not follow a redirect to a file', async () => {
    await assert.rejects(
      fetchWithRetry(
        `http://127.0.0.1:${site.port}/to-file`,
        options({ allowPrivateTargets: true }),
      ),
      /GET file:\/\/\/etc\/passwd \(redirected from .*\/to-file\) was not sent: file: URLs are not fetched/,
    );
  });

  test('stops after five redirects', async () => {
    site.received.length = 0;
    await assert.rejects(
      fetchWithRetry(`http://127.0.0.1:${site.port}/loop`, options({ allowPrivateTargets: true })),
      /was redirected more than 5 times/,
    );
    assert.equal(site.received.length, 6);
  });

  test('reports a redirect without Location', async () => {
    await assert.rejects(
      fetchWithRetry(
        `http://127.0.0.1:${site.port}/no-location`,
        options({ allowPrivateTargets: true }),
      ),
      /returned HTTP 302 without a Location header/,
    );
  });

  test('keeps secrets from another origin', async () => {
    site.received.length = 0;
    other.received.length = 0;
    const response = await fetchWithRetry(
      `http://127.0.0.1:${site.port}/away`,
      options({
        allowPrivateTargets: true,
        auth: { type: 'bearer', token: 'cairn_secret' },
        secretHeaders: { 'X-Api-Key': 'key-secret' },
        headers: { Accept: 'text/plain' },
      }),
    );
    assert.equal(await response.text(), 'other origin');
    const first = site.received[0]!.headers;
    assert.equal(first.authorization, 'Bearer cairn_secret');
    assert.equal(first['x-api-key'], 'key-secret');
    const landed = other.received[0]!;
    assert.equal(landed.path, '/landed');
    assert.equal(landed.headers.authorization, undefined);
    assert.equal(landed.headers['x-api-key'], undefined);
    assert.equal(landed.headers.accept, 'text/plain');
  });

  test('quotes a short printable excerpt of an error body', async () => {
    await assert.rejects(
      fetchWithRetry(
        `http://127.0.0.1:${site.port}/large-error`,
        options({ allowPrivateTargets: true }),
      ),
      (error: Error) => {
        const excerpt = error.message.slice(error.message.indexOf('HTTP 403: ') + 10);
        assert.match(error.message, /failed with HTTP 403: secret line \[31mx/);
        assert.ok([...excerpt].length <= MAX_EXCERPT_LENGTH, `${excerpt.length} characters`);
        assert.ok(excerpt.endsWith('…'), excerpt);
        assert.doesNotMatch(error.message, /\p{Cc}/u);
        return true;
      },
    );
  });
});
