import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, startTestServer, type TestServer } from '../testing/server.ts';
import { indicator, versions } from '../testing/stix.ts';

const OBJECTS = 'collections/default/objects/';
const TOTAL = 57;

async function walkNext(server: TestServer, path: string, query: string, token?: string) {
  const seen: string[] = [];
  let next: string | undefined;
  let pages = 0;
  do {
    const url = `${path}?${query}${next ? `&next=${encodeURIComponent(next)}` : ''}`;
    const result = await call(server, url, token ? { token } : {});
    assert.equal(result.status, 200, result.text);
    pages += 1;
    const items = result.json.objects ?? result.json.versions ?? [];
    for (const item of items)
      seen.push(typeof item === 'string' ? item : `${item.id}@${item.modified ?? item.version}`);
    next = result.json.next;
    assert.equal(result.json.more, next !== undefined);
  } while (next);
  return { seen, pages };
}

describe('TAXII paging', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ taxii: { pageSize: 10 } });
    const objects = Array.from({ length: TOTAL }, () => indicator());
    for (let start = 0; start < TOTAL; start += 20) {
      const result = await call(server, OBJECTS, {
        method: 'POST',
        body: { objects: objects.slice(start, start + 20) },
      });
      assert.equal(result.json.success_count, Math.min(20, TOTAL - start));
    }
  });
  after(async () => server.dispose());

  test('next walks every object once', async () => {
    const { seen, pages } = await walkNext(server, OBJECTS, 'limit=7');
    assert.equal(seen.length, TOTAL);
    assert.equal(new Set(seen).size, TOTAL);
    assert.equal(pages, Math.ceil(TOTAL / 7));
  });

  test('server page size caps limit', async () => {
    const result = await call(server, `${OBJECTS}?limit=1000`);
    assert.equal(result.json.objects.length, 10);
    assert.equal(result.json.more, true);
    for (const huge of ['9007199254740991', '1'.repeat(40), '0007']) {
      const capped = await call(server, `${OBJECTS}?limit=${huge}`);
      assert.equal(capped.status, 200, huge);
      assert.equal(capped.json.objects.length, huge === '0007' ? 7 : 10, huge);
    }
    const { seen } = await walkNext(server, OBJECTS, '');
    assert.equal(seen.length, TOTAL);
  });

  test('added_after paging from headers', async () => {
    const seen = new Set<string>();
    let after: string | undefined;
    for (let guard = 0; guard < 100; guard += 1) {
      const result = await call(
        server,
        `${OBJECTS}?limit=9${after ? `&added_after=${after}` : ''}`,
      );
      for (const object of result.json.objects ?? []) seen.add(object.id);
      if (!result.json.more) break;
      after = result.headers.get('x-taxii-date-added-last') ?? undefined;
      assert.ok(after);
    }
    assert.equal(seen.size, TOTAL);
  });

  test('exact count gives more false', async () => {
    const all = await call(server, `collections/default/manifest/?limit=10`);
    const last = all.json.objects.at(-1).date_added;
    const tail = await call(server, `collections/default/manifest/?added_after=${last}&limit=10`);
    const rest = await walkNext(
      server,
      'collections/default/manifest/',
      `added_after=${last}&limit=10`,
    );
    assert.equal(tail.json.objects.length, 10);
    assert.equal(rest.seen.length, TOTAL - 10);
  });

  test('manifest pages like objects', async () => {
    const { seen } = await walkNext(server, 'collections/default/manifest/', 'limit=4');
    assert.equal(new Set(seen).size, TOTAL);
  });

  test('tampered next is rejected', async () => {
    const first = await call(server, `${OBJECTS}?limit=5`);
    const next: string = first.json.next;
    const [position, signature] = next.split('.') as [string, string];
    const forged = `${(parseInt(position, 36) - 1_000_000).toString(36)}.${signature}`;
    const result = await call(server, `${OBJECTS}?limit=5&next=${encodeURIComponent(forged)}`);
    assert.equal(result.status, 400);
    assert.match(result.json.description, /next/);
  });

  test('next bound to the query', async () => {
    const first = await call(server, `${OBJECTS}?limit=5&match[type]=indicator`);
    const changed = await call(
      server,
      `${OBJECTS}?limit=5&match[type]=malware&next=${encodeURIComponent(first.json.next)}`,
    );
    assert.equal(changed.status, 400);
    const otherEndpoint = await call(
      server,
      `collections/default/manifest/?limit=5&match[type]=indicator&next=${encodeURIComponent(first.json.next)}`,
    );
    assert.equal(otherEndpoint.status, 400);
    const sameQuery = await call(
      server,
      `${OBJECTS}?limit=3&match[type]=indicator&next=${encodeURIComponent(first.json.next)}`,
    );
    assert.equal(sameQuery.status, 200);
  });

  test('next bound to the caller', async () => {
    const first = await call(server, `${OBJECTS}?limit=5`);
    const admin = await server.server.store.getUserByName('admin');
    const user = await server.server.store.createUser({
      id: 'b7b1f7c2-5d11-4d43-9a3c-2c1f37a1a001',
      name: 'other',
      organisationId: admin!.organisationId,
      role: 'platform-admin',
      createdAt: 0,
      disabled: false,
    });
    const { issueToken } = await import('../auth/tokens.ts');
    const issued = await issueToken(server.server.store, user);
    const stolen = await call(
      server,
      `${OBJECTS}?limit=5&next=${encodeURIComponent(first.json.next)}`,
      { token: issued.token },
    );
    assert.equal(stolen.status, 400);
  });

  test('versions page with next', async () => {
    const history = versions(indicator(), 12);
    await call(server, OBJECTS, { method: 'POST', body: { objects: history } });
    const { seen } = await walkNext(server, `${OBJECTS}${history[0]!.id}/versions/`, 'limit=5');
    assert.deepEqual(
      seen,
      history.map((object) => object.modified),
    );
  });
});

describe('TAXII paging across restart', () => {
  test('next survives a restart', async () => {
    const first = await startTestServer();
    const objects = Array.from({ length: 6 }, () => indicator());
    await call(first, OBJECTS, { method: 'POST', body: { objects } });
    const page = await call(first, `${OBJECTS}?limit=4`);
    await first.stop();

    const second = await startTestServer({ dataDir: first.dataDir });
    try {
      const rest = await call(
        second,
        `${OBJECTS}?limit=4&next=${encodeURIComponent(page.json.next)}`,
        { token: first.adminToken },
      );
      assert.equal(rest.status, 200, rest.text);
      assert.equal(rest.json.objects.length, 2);
      assert.equal(rest.json.more, false);
      const ids = [...page.json.objects, ...rest.json.objects].map(
        (object: { id: string }) => object.id,
      );
      assert.deepEqual(new Set(ids), new Set(objects.map((object) => object.id)));
    } finally {
      await second.stop();
      await first.dispose();
    }
  });
});
