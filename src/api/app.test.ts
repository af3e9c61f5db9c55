import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MiddlewareHandler } from 'hono';
import { DEFAULT_CONFIG } from '../config/config.ts';
import { createLogger } from '../log/logger.ts';
import type { SharingServices } from '../sharing/service.ts';
import { createApiApp, MAX_ADMIN_BODY, OPENAPI_PATH } from './app.ts';
import type { ApiEnv } from './context.ts';

// These tests cover the transport layer alone: input that fails validation must be
// rejected before any service runs, so the services here fail every call.
const calls: string[] = [];
const unreachable = new Proxy(
  {},
  {
    get: (_target, name) => () => {
      calls.push(String(name));
      throw new Error(`service ${String(name)} reached`);
    },
  },
) as SharingServices;

const signedIn: MiddlewareHandler<ApiEnv> = async (c, next) => {
  c.set('caller', {
    user: { id: '00000000-0000-4000-8000-000000000001', name: 'tester' },
    token: { id: '0'.repeat(32), scopes: [] },
  } as never);
  await next();
};

const app = createApiApp(
  {
    store: {} as never,
    config: DEFAULT_CONFIG,
    logger: createLogger('silent'),
    services: unreachable,
  },
  signedIn,
);

const ORG = '6f1c0d52-5b7e-4a3e-9c41-0a4f6f6b8e11';

async function send(method: string, path: string, body?: string, contentType?: string) {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = contentType ?? 'application/json';
  const response = await app.request(path, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as { error: { code: string; message: string } }) : undefined,
  };
}

describe('JSON API validation', () => {
  const cases: Array<[string, string, string, string | undefined, RegExp]> = [
    ['empty name', 'POST', '/api/v1/organisations', '{"name":""}', /"name" is invalid \(got ""\)/],
    ['missing name', 'POST', '/api/v1/organisations', '{}', /"name" is missing/],
    [
      'misspelt field',
      'POST',
      '/api/v1/organisations',
      '{"nmae":"x"}',
      /unknown body field "nmae"/,
    ],
    [
      '__proto__ key',
      'POST',
      '/api/v1/organisations',
      '{"name":"x","__proto__":{"role":"platform-admin"}}',
      /unknown body field "__proto__"/,
    ],
    ['array body', 'POST', '/api/v1/communities', '[1]', /must be a JSON object \(got \[1\]\)/],
    [
      'wrong type',
      'POST',
      '/api/v1/communities',
      '{"name":"c","allowAnonymous":"yes"}',
      /"allowAnonymous" is invalid \(got "yes"\)/,
    ],
    [
      'red default TLP',
      'POST',
      '/api/v1/communities',
      '{"name":"c","defaultTlp":"red"}',
      /"defaultTlp" is invalid \(got "red"\)/,
    ],
    [
      'unknown role',
      'POST',
      `/api/v1/organisations/${ORG}/users`,
      '{"name":"bob","role":"boss"}',
      /"role" is invalid \(got "boss"\)/,
    ],
    [
      'unknown scope',
      'POST',
      `/api/v1/users/${ORG}/tokens`,
      '{"scopes":["root"]}',
      /"scopes\.0" is invalid \(got "root"\)/,
    ],
    [
      'negative expiry',
      'POST',
      `/api/v1/users/${ORG}/tokens`,
      '{"expiresInDays":-1}',
      /"expiresInDays" is invalid \(got -1\)/,
    ],
    ['bad path id', 'GET', '/api/v1/organisations/1%20OR%201', undefined, /"id" is invalid/],
    ['bad token id', 'DELETE', '/api/v1/tokens/../../etc', undefined, /./],
    ['empty share', 'POST', `/api/v1/collections/${ORG}/shares`, '{"objects":[]}', /"objects"/],
    [
      'bad recipient',
      'POST',
      `/api/v1/collections/${ORG}/shares`,
      '{"objects":[{}],"recipients":["bob"]}',
      /"recipients\.0" is invalid \(got "bob"\)/,
    ],
    ['bad audit limit', 'GET', '/api/v1/audit?limit=abc', undefined, /"limit" is invalid/],
    ['huge audit limit', 'GET', '/api/v1/audit?limit=100000', undefined, /"limit" is invalid/],
    ['bad audit time', 'GET', '/api/v1/audit?after=yesterday', undefined, /RFC 3339/],
    ['unknown audit filter', 'GET', '/api/v1/audit?actr=x', undefined, /unknown query parameter/],
  ];
  for (const [name, method, path, body, message] of cases) {
    test(name, async () => {
      const response = await send(method, path, body);
      assert.ok(response.status === 400 || response.status === 404, `status ${response.status}`);
      if (response.status === 400) {
        assert.equal(response.body?.error.code, 'invalid-parameter');
        assert.match(response.body?.error.message ?? '', message);
      }
    });
  }

  test('services never reached', () => {
    assert.deepEqual(calls, []);
  });
});

describe('JSON API body handling', () => {
  test('malformed JSON', async () => {
    const response = await send('POST', '/api/v1/organisations', '{"name":');
    assert.equal(response.status, 400);
    assert.equal(response.body?.error.code, 'invalid-json');
  });

  test('wrong media type', async () => {
    const response = await send('POST', '/api/v1/organisations', '{"name":"x"}', 'text/plain');
    assert.equal(response.status, 415);
    assert.equal(response.body?.error.code, 'unsupported-media-type');
  });

  test('oversized admin body', async () => {
    const body = JSON.stringify({ name: 'x'.repeat(MAX_ADMIN_BODY) });
    const response = await send('POST', '/api/v1/organisations', body);
    assert.equal(response.status, 413);
    assert.equal(response.body?.error.code, 'payload-too-large');
  });

  test('long value quoted briefly', async () => {
    const response = await send('POST', '/api/v1/organisations', JSON.stringify({ name: 7 }));
    assert.equal(response.status, 400);
    const long = await send(
      'POST',
      `/api/v1/organisations/${ORG}/users`,
      JSON.stringify({ name: 'bob', role: 'r'.repeat(5000) }),
    );
    assert.equal(long.status, 400);
    assert.ok((long.body?.error.message.length ?? 0) < 400);
  });
});

describe('JSON API routing', () => {
  test('unknown path', async () => {
    const response = await send('GET', '/api/v1/nothing');
    assert.equal(response.status, 404);
    assert.equal(response.body?.error.code, 'not-found');
  });

  test('wrong method', async () => {
    const response = await send('PUT', '/api/v1/organisations');
    assert.equal(response.status, 405);
    assert.equal(response.body?.error.code, 'method-not-allowed');
    assert.equal(response.headers.get('allow'), 'POST, GET');
  });

  test('service failure is 500', async () => {
    const response = await send('GET', '/api/v1/me');
    assert.equal(response.status, 500);
    assert.equal(response.body?.error.code, 'internal');
    assert.doesNotMatch(response.body?.error.message ?? '', /service me reached/);
    calls.length = 0;
  });
});

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown> };
}

describe('OpenAPI document', () => {
  test('lists every route', async () => {
    const response = await app.request(OPENAPI_PATH);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const document = (await response.json()) as OpenApiDocument;
    assert.equal(document.openapi, '3.1.0');

    const documented = new Set<string>();
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const method of Object.keys(operations)) {
        documented.add(`${method.toUpperCase()} ${path.replaceAll(/\{(\w+)\}/g, ':$1')}`);
      }
    }
    const registered = new Set(
      app.routes
        .filter((route) => route.method !== 'ALL' && route.path !== OPENAPI_PATH)
        .map((route) => `${route.method} ${route.path}`),
    );
    assert.deepEqual([...documented].sort(), [...registered].sort());
    assert.ok(registered.has('GET /api/v1/me'), 'the routes include GET /api/v1/me');
  });

  test('matches docs/api.md', async () => {
    const { readFile } = await import('node:fs/promises');
    const markdown = await readFile(new URL('../../docs/api.md', import.meta.url), 'utf8');
    const listed = new Set(
      [...markdown.matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) (\/api\/v1\/[^` ?]*)/gm)].map(
        (match) => `${match[1]} ${match[2]}`,
      ),
    );
    const document = (await (await app.request(OPENAPI_PATH)).json()) as OpenApiDocument;
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const method of Object.keys(operations))
        documented.add(`${method.toUpperCase()} ${path}`);
    }
    assert.deepEqual([...documented].sort(), [...listed].sort());
  });

  test('needs no token', async () => {
    const guarded = createApiApp(
      {
        store: {} as never,
        config: DEFAULT_CONFIG,
        logger: createLogger('silent'),
        services: unreachable,
      },
      () => {
        throw new Error('authentication ran');
      },
    );
    const response = await guarded.request(OPENAPI_PATH);
    assert.equal(response.status, 200);
  });

  test('describes the audit export', async () => {
    const document = (await (await app.request(OPENAPI_PATH)).json()) as OpenApiDocument;
    const exported = document.paths['/api/v1/audit/export']?.get?.responses['200'];
    assert.deepEqual(Object.keys((exported as { content: object }).content), [
      'application/x-ndjson',
    ]);
    assert.ok(document.components.schemas.AuditEntry);
  });

  test('references resolve', async () => {
    const text = await (await app.request(OPENAPI_PATH)).text();
    const document = JSON.parse(text) as OpenApiDocument;
    const references = [...text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)];
    assert.ok(references.length > 10);
    for (const [, name] of references) {
      assert.ok(document.components.schemas[name ?? ''], `schema ${name} defined`);
    }
  });

  test('operation ids unique', async () => {
    const document = (await (await app.request(OPENAPI_PATH)).json()) as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    const ids = Object.values(document.paths).flatMap((operations) =>
      Object.values(operations).map((operation) => operation.operationId),
    );
    const operations = Object.values(document.paths).reduce(
      (count, methods) => count + Object.keys(methods).length,
      0,
    );
    assert.equal(ids.length, operations);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.every((id) => typeof id === 'string'));
  });
});
