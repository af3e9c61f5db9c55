/**
 * The connector API and CLI on bad and hostile input: invalid fields, secrets, another
 * organisation's connectors, roles without the right, and the CLI's add, run and remove.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createSharingServices } from '../sharing/service.ts';
import { dataPath } from '../testing/data.ts';
import { call, startTestServer, TEST_SECRET_KEY, type TestServer } from '../testing/server.ts';
import { SEALED_PREFIX, secretBoxFrom } from './secrets.ts';
import { ConnectorService } from './service.ts';
import { defaultCollectionId } from './testing.ts';

const CLI = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
/** A URL on a reserved name (RFC 2606), which no test fetches. */
const PUBLIC_LIST = 'https://feeds.example/list.txt';
const QUAD9 = dataPath('stalkerware-indicators/generated/quad9_blocklist.txt');

let server: TestServer;
let target: string;
let analystToken: string;
let otherAdminToken: string;
/** A collection of a community that olga, org admin of another organisation, moderates. */
let otherTarget: string;

before(async () => {
  server = await startTestServer({ connectors: { scheduler: false } });
  target = await defaultCollectionId(server);
  const { store } = server.server;
  const services = createSharingServices(store, { defaultApiRoot: 'default' });
  const admin = (await store.listUsers()).find((user) => user.role === 'platform-admin')!;
  const root = { userId: admin.id };
  const organisation = await services.createOrganisation(root, { name: 'Other' });
  const analyst = await services.createUser(root, admin.organisationId, {
    name: 'ana',
    role: 'analyst',
  });
  analystToken = (await services.createToken(root, analyst.id, {})).token;
  const otherAdmin = await services.createUser(root, organisation.id, {
    name: 'olga',
    role: 'org-admin',
  });
  otherAdminToken = (await services.createToken(root, otherAdmin.id, {})).token;
  const olga = { userId: otherAdmin.id };
  const community = await services.createCommunity(olga, { name: 'Olga ring' });
  otherTarget = (await services.createCollection(olga, community.id, { title: 'Olga feed' })).id;
});

after(async () => {
  await server.dispose();
});

function api(path: string, init: { method?: string; body?: object; token?: string } = {}) {
  return call(server, `${server.url}/api/v1${path}`, {
    accept: null,
    ...(init.token ? { token: init.token } : {}),
    ...(init.method ? { method: init.method } : {}),
    ...(init.body ? { body: init.body, contentType: 'application/json' } : {}),
  });
}

function definition(extra: Record<string, unknown> = {}) {
  return {
    name: 'partner',
    kind: 'taxii',
    url: 'http://127.0.0.1:9/api1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/',
    auth: { type: 'bearer', token: 'cairn_secret_value' },
    collection: target,
    intervalSeconds: 600,
    ...extra,
  };
}

function cairn(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, '--store', server.config.store, ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          CAIRN_CONFIG: '',
          CAIRN_CONNECTOR_SECRET_KEY: TEST_SECRET_KEY,
          ...env,
        },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Reads the raw bytes of the test server's SQLite files, where a plaintext secret would appear. */
function storeBytes(): string {
  const file = server.config.store.replace(/^sqlite:/, '');
  return ['', '-wal']
    .map((suffix) => {
      try {
        return readFileSync(`${file}${suffix}`).toString('latin1');
      } catch {
        return '';
      }
    })
    .join('');
}

describe('connector API', () => {
  test('secrets never come back', async () => {
    const created = await api('/connectors', { method: 'POST', body: definition() });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.json.auth, { type: 'bearer' });
    assert.deepEqual(created.json.secrets, { 'auth.token': 'set' });
    const listed = await api('/connectors');
    assert.doesNotMatch(listed.text, /cairn_secret_value/);
    assert.doesNotMatch(listed.text, /cairn-secret:/);
    const shown = await api(`/connectors/${created.json.id}`);
    assert.doesNotMatch(shown.text, /cairn_secret_value/);
    assert.doesNotMatch(shown.text, /cairn-secret:/);
    assert.ok(Date.parse(shown.json.nextRunAt) <= Date.now(), 'the first run is due at once');
  });

  test('secrets are encrypted in the store', async () => {
    const created = await api('/connectors', {
      method: 'POST',
      body: definition({
        name: 'sealed',
        auth: { type: 'basic', username: 'reader', password: 'cairn_basic_password' },
        kind: 'misp-feed',
        url: 'http://127.0.0.1:9/feed/',
      }),
    });
    assert.equal(created.status, 201, created.text);
    const withHeader = await api('/connectors', {
      method: 'POST',
      body: definition({
        name: 'misp with key',
        kind: 'misp-feed',
        url: 'http://127.0.0.1:9/misp/',
        auth: { type: 'none' },
        headers: { Authorization: 'cairn_misp_auth_key' },
      }),
    });
    assert.equal(withHeader.status, 201, withHeader.text);
    assert.deepEqual(withHeader.json.secrets, { 'headers.Authorization': 'set' });
    assert.equal(withHeader.json.headers, undefined);

    const stored = await server.server.store.getDocument('connector', created.json.id);
    const body = JSON.parse(stored!.body) as { auth: { username: string; password: string } };
    assert.equal(body.auth.username, 'reader');
    assert.ok(body.auth.password.startsWith(SEALED_PREFIX), body.auth.password);
    const header = await server.server.store.getDocument('connector', withHeader.json.id);
    assert.match(header!.body, /"Authorization":"cairn-secret:v1:/);
    const bytes = storeBytes();
    for (const secret of ['cairn_secret_value', 'cairn_basic_password', 'cairn_misp_auth_key']) {
      assert.equal(bytes.includes(secret), false, `${secret} is not in the store files`);
    }
    const logged = JSON.stringify(server.logs);
    assert.doesNotMatch(logged, /cairn_basic_password|cairn_misp_auth_key|cairn_secret_value/);
  });

  test('invalid headers name the field', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ headers: { 'Bad Name': 'x' } }, /headers.*header name/],
      [{ headers: { Host: 'evil.example' } }, /headers.*set by the connector/],
      [{ headers: { 'X-Key': 'a\r\nX-Other: b' } }, /headers.*control characters/],
      [{ headers: { 'X-Key': 'a', 'x-key': 'b' } }, /headers.*twice/],
      [{ headers: { Authorization: 'key' } }, /Authorization header needs auth/],
    ];
    for (const [change, message] of cases) {
      const result = await api('/connectors', { method: 'POST', body: definition(change) });
      assert.equal(result.status, 400, `${JSON.stringify(change)}: ${result.text}`);
      assert.match(result.json.error.message, message);
    }
  });

  test('file paths need a platform admin', async () => {
    const local = { name: 'local', kind: 'text', collection: otherTarget };
    for (const url of ['/etc/passwd', '/proc/self/environ']) {
      const created = await api('/connectors', {
        method: 'POST',
        token: otherAdminToken,
        body: definition({ ...local, url, auth: { type: 'none' } }),
      });
      assert.equal(created.status, 403, created.text);
      assert.match(created.json.error.message, /only platform admins may give a file path/);
    }

    const remote = await api('/connectors', {
      method: 'POST',
      token: otherAdminToken,
      body: definition({ ...local, url: PUBLIC_LIST, auth: { type: 'none' } }),
    });
    assert.equal(remote.status, 201, remote.text);

    const changed = await api(`/connectors/${remote.json.id}`, {
      method: 'PATCH',
      token: otherAdminToken,
      body: { url: '/etc/passwd' },
    });
    assert.equal(changed.status, 403, changed.text);
    const shown = await api(`/connectors/${remote.json.id}`, { token: otherAdminToken });
    assert.equal(shown.json.url, PUBLIC_LIST);
    const removed = await api(`/connectors/${remote.json.id}`, {
      method: 'DELETE',
      token: otherAdminToken,
    });
    assert.ok(removed.status < 300, removed.text);

    const byAdmin = await api('/connectors', {
      method: 'POST',
      body: definition({ name: 'admin file', kind: 'text', url: QUAD9, auth: { type: 'none' } }),
    });
    assert.equal(byAdmin.status, 201, byAdmin.text);
  });

  test('private targets need a platform admin or the setting', async () => {
    const base = { name: 'inward', kind: 'text', collection: otherTarget, auth: { type: 'none' } };
    for (const url of [
      'http://127.0.0.1:8470/api/v1/me',
      'http://[::1]/list.txt',
      'http://0x7f000001/list.txt',
      'http://10.0.0.8/list.txt',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:192.168.0.1]/list.txt',
    ]) {
      const created = await api('/connectors', {
        method: 'POST',
        token: otherAdminToken,
        body: definition({ ...base, url }),
      });
      assert.equal(created.status, 403, `${url}: ${created.text}`);
      assert.match(
        created.json.error.message,
        /non-public address.*connectors\.allowPrivateTargets/,
        url,
      );
    }

    const remote = await api('/connectors', {
      method: 'POST',
      token: otherAdminToken,
      body: definition({ ...base, url: PUBLIC_LIST }),
    });
    assert.equal(remote.status, 201, remote.text);
    assert.equal(remote.json.urlSetBy, remote.json.createdBy);
    const changed = await api(`/connectors/${remote.json.id}`, {
      method: 'PATCH',
      token: otherAdminToken,
      body: { url: 'http://192.168.1.1/list.txt' },
    });
    assert.equal(changed.status, 403, changed.text);
    assert.match(changed.json.error.message, /192\.168\.1\.1 is a loopback, private/);

    // A platform admin may point the connector inward, and its runs may then reach the address.
    const byAdmin = await api(`/connectors/${remote.json.id}`, {
      method: 'PATCH',
      body: { url: 'http://127.0.0.1:9/list.txt' },
    });
    assert.equal(byAdmin.status, 200, byAdmin.text);
    assert.notEqual(byAdmin.json.urlSetBy, remote.json.createdBy);
    await api(`/connectors/${remote.json.id}`, { method: 'DELETE' });

    // With connectors.allowPrivateTargets, org admins may too.
    const olga = (await server.server.store.listUsers()).find((user) => user.name === 'olga')!;
    const allowing = new ConnectorService(server.server.store, secretBoxFrom(server.config), {
      allowPrivateTargets: true,
    });
    const allowed = await allowing.create(
      { userId: olga.id },
      { ...base, name: 'inward allowed', url: 'http://127.0.0.1:9/list.txt', intervalSeconds: 600 },
    );
    assert.equal(allowed.connector.url, 'http://127.0.0.1:9/list.txt');
    await allowing.remove({ userId: olga.id }, allowed.connector.id);
  });

  test('a change keeps the fields it does not name', async () => {
    const created = await api('/connectors', {
      method: 'POST',
      body: definition({ name: 'keeper', reliability: 'B' }),
    });
    const before = await server.server.store.getDocument('connector', created.json.id);
    const changed = await api(`/connectors/${created.json.id}`, {
      method: 'PATCH',
      body: { intervalSeconds: 1200 },
    });
    assert.equal(changed.status, 200, changed.text);
    assert.equal(changed.json.intervalSeconds, 1200);
    assert.equal(changed.json.reliability, 'B');
    const stored = await server.server.store.getDocument('connector', created.json.id);
    assert.equal(
      (JSON.parse(stored!.body) as { auth: { token: string } }).auth.token,
      (JSON.parse(before!.body) as { auth: { token: string } }).auth.token,
      'the sealed secret is kept as it was',
    );
    assert.deepEqual(changed.json.secrets, { 'auth.token': 'set' });
  });

  test('a stored plaintext secret is encrypted on the next change', async () => {
    const created = await api('/connectors', {
      method: 'POST',
      body: definition({ name: 'from before', auth: { type: 'none' } }),
    });
    // A definition saved before secrets were encrypted contains the token in plain text.
    const { store } = server.server;
    const document = await store.getDocument('connector', created.json.id);
    const legacy = { ...JSON.parse(document!.body), auth: { type: 'bearer', token: 'cairn_old' } };
    const { revision, updatedAt: _updated, ...rest } = document!;
    await store.putDocument({ ...rest, body: JSON.stringify(legacy) }, revision);
    const shown = await api(`/connectors/${created.json.id}`);
    assert.deepEqual(shown.json.secrets, { 'auth.token': 'set, not encrypted' });
    assert.doesNotMatch(shown.text, /cairn_old/);

    const changed = await api(`/connectors/${created.json.id}`, {
      method: 'PATCH',
      body: { reliability: 'C' },
    });
    assert.equal(changed.status, 200, changed.text);
    assert.deepEqual(changed.json.secrets, { 'auth.token': 'set' });
    const resealed = await store.getDocument('connector', created.json.id);
    assert.doesNotMatch(resealed!.body, /cairn_old/);
    assert.match(resealed!.body, /"token":"cairn-secret:v1:/);
  });

  test('a server without a key rejects secrets', async () => {
    const keyless = await startTestServer({
      connectors: { scheduler: false, secretKey: undefined },
    });
    try {
      const collection = await defaultCollectionId(keyless);
      const post = (body: object) =>
        call(keyless, `${keyless.url}/api/v1/connectors`, {
          method: 'POST',
          accept: null,
          body,
          contentType: 'application/json',
        });
      const refused = await post(definition({ collection }));
      assert.equal(refused.status, 503, refused.text);
      assert.match(
        refused.json.error.message,
        /no key to encrypt auth\.token .*connectors\.secretKey .*CAIRN_CONNECTOR_SECRET_KEY.*openssl rand -hex 32/,
      );
      const plain = await post(definition({ collection, auth: { type: 'none' } }));
      assert.equal(plain.status, 201, plain.text);
    } finally {
      await keyless.dispose();
    }
  });

  test('invalid fields name the field', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ url: 'ftp://example/feed' }, /url/],
      [{ url: 'relative/path' }, /url/],
      [{ intervalSeconds: 1 }, /intervalSeconds/],
      [{ kind: 'rss' }, /kind/],
      [{ collection: 'not-a-uuid' }, /collection/],
      [{ surprise: true }, /surprise/],
      [{ auth: { type: 'basic', username: 'u' } }, /auth/],
      [{ url: 'https://user:pw@feeds.example/list.txt' }, /url.*user name or password/],
      [{ url: 'https://:token@feeds.example/list.txt' }, /url.*user name or password/],
      [{ kind: 'csv', csvMapping: 'valu=indicator' }, /csvMapping.*"valu=indicator"/],
      [{ kind: 'csv', csvMapping: 'value=ip,kind=banana' }, /csvMapping.*banana/],
      [{ kind: 'csv', csvMapping: 'type=type' }, /csvMapping.*value=COLUMN/],
      [{ kind: 'text', csvMapping: 'value=indicator' }, /csvMapping.*csv connectors only/],
    ];
    for (const [change, message] of cases) {
      const result = await api('/connectors', { method: 'POST', body: definition(change) });
      assert.equal(result.status, 400, `${JSON.stringify(change)}: ${result.text}`);
      assert.match(result.json.error.message, message);
    }
  });

  test('a duplicate name is a conflict', async () => {
    await api('/connectors', { method: 'POST', body: definition({ name: 'twice' }) });
    const again = await api('/connectors', { method: 'POST', body: definition({ name: 'twice' }) });
    assert.equal(again.status, 409);
    assert.match(again.json.error.message, /already exists/);
  });

  test('an unknown collection is not found', async () => {
    const result = await api('/connectors', {
      method: 'POST',
      body: definition({ name: 'lost', collection: '00000000-0000-4000-8000-000000000000' }),
    });
    assert.equal(result.status, 404);
  });

  test('analysts may read but not create', async () => {
    const refused = await api('/connectors', {
      method: 'POST',
      body: definition({ name: 'by analyst' }),
      token: analystToken,
    });
    assert.equal(refused.status, 403);
    const listed = await api('/connectors', { token: analystToken });
    assert.equal(listed.status, 200);
    assert.ok(listed.json.length >= 1);
  });

  test('another organisation sees none of them', async () => {
    const listed = await api('/connectors', { token: otherAdminToken });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json, []);
    const mine = (await api('/connectors')).json[0];
    for (const [method, path] of [
      ['GET', `/connectors/${mine.id}`],
      ['POST', `/connectors/${mine.id}/run`],
      ['DELETE', `/connectors/${mine.id}`],
    ] as const) {
      const result = await api(path, { method, token: otherAdminToken });
      assert.equal(result.status, 404, `${method} ${path}`);
    }
    // Nor may it aim a connector at a collection it cannot write. The URL is public,
    // because an org admin's loopback URL would be rejected before the collection is read.
    const aimed = await api('/connectors', {
      method: 'POST',
      body: definition({ name: 'aimed', url: PUBLIC_LIST }),
      token: otherAdminToken,
    });
    assert.equal(aimed.status, 404);
  });

  test('removing deletes the run state', async () => {
    const created = await api('/connectors', {
      method: 'POST',
      body: definition({ name: 'gone' }),
    });
    const removed = await api(`/connectors/${created.json.id}`, { method: 'DELETE' });
    assert.equal(removed.status, 204);
    assert.equal((await api(`/connectors/${created.json.id}`)).status, 404);
    assert.equal(
      await server.server.store.getDocument('connector-state', created.json.id),
      undefined,
    );
  });
});

describe('cairn connector', () => {
  test('add, run and remove a text list', async () => {
    const added = await cairn([
      'connector',
      'add',
      'cli list',
      '--kind',
      'text',
      '--url',
      QUAD9,
      '--collection',
      'default',
      '--interval',
      '3600',
      '--warning-lists',
      'off',
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout.trim(), /^[0-9a-f-]{36}$/);

    const ran = await cairn(['connector', 'run', 'cli list']);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /^succeeded at .* \(\d+ in, \d+ added/);

    const removed = await cairn(['connector', 'remove', 'cli list']);
    assert.equal(removed.code, 0, removed.stderr);
    const shown = await cairn(['connector', 'show', 'cli list']);
    assert.equal(shown.code, 1);
    assert.match(shown.stderr, /not found/);
  });

  test('bad options are explained', async () => {
    const badKind = await cairn([
      'connector',
      'add',
      'x',
      '--kind',
      'rss',
      '--url',
      QUAD9,
      '--collection',
      'default',
      '--interval',
      '60',
    ]);
    assert.equal(badKind.code, 1);
    assert.match(badKind.stderr, /--kind "rss" is not one of/);
    const noSecret = await cairn([
      'connector',
      'add',
      'y',
      '--kind',
      'taxii',
      '--url',
      'http://127.0.0.1:9/c/',
      '--collection',
      'default',
      '--interval',
      '60',
      '--token-env',
      'CAIRN_TEST_UNSET_TOKEN',
    ]);
    assert.equal(noSecret.code, 1);
    assert.match(noSecret.stderr, /CAIRN_TEST_UNSET_TOKEN/);
    const taken = await cairn(
      [
        'connector',
        'add',
        'z',
        '--kind',
        'taxii',
        '--url',
        'http://127.0.0.1:9/c/',
        '--collection',
        'default',
        '--interval',
        '60',
        '--token-env',
        'CAIRN_TEST_TOKEN',
      ],
      { CAIRN_TEST_TOKEN: 'cairn_from_env' },
    );
    assert.equal(taken.code, 0, taken.stderr);
    const shown = await cairn(['connector', 'show', 'z']);
    assert.doesNotMatch(shown.stdout, /cairn_from_env/);
    assert.doesNotMatch(shown.stdout, /cairn-secret:/);
    assert.deepEqual((JSON.parse(shown.stdout) as { secrets: unknown }).secrets, {
      'auth.token': 'set',
    });
  });

  test('add a CSV list with its mapping', async () => {
    const created = await cairn(['collection', 'create', 'CSV list', '--alias', 'cli-csv']);
    assert.equal(created.code, 0, created.stderr);
    const added = await cairn([
      'connector',
      'add',
      'cli csv',
      '--kind',
      'csv',
      '--url',
      dataPath('stalkerware-indicators/generated/network.csv'),
      '--collection',
      'cli-csv',
      '--interval',
      '3600',
      '--warning-lists',
      'off',
      '--csv-map',
      'value=indicator,type=type,labels=app',
      '--label',
      'stalkerware',
      '--label',
      'echap',
      '--batch-size',
      '50',
      '--timeout',
      '5',
    ]);
    assert.equal(added.code, 0, added.stderr);
    const shown = JSON.parse((await cairn(['connector', 'show', 'cli csv'])).stdout) as Record<
      string,
      unknown
    >;
    assert.equal(shown.csvMapping, 'value=indicator,type=type,labels=app');
    assert.deepEqual(shown.labels, ['stalkerware', 'echap']);
    assert.equal(shown.batchSize, 50);
    assert.equal(shown.timeoutSeconds, 5);

    const ran = await cairn(['connector', 'run', 'cli csv']);
    assert.notEqual(ran.code, 1, ran.stdout + ran.stderr);
    const exported = await cairn([
      'export',
      '--collection',
      'cli-csv',
      '--type',
      'indicator',
      '-q',
    ]);
    const labelled = (
      JSON.parse(exported.stdout) as { objects: Array<Record<string, unknown>> }
    ).objects.filter((object) => String(object.name) === 'copy9.com');
    assert.ok(labelled.length > 0, 'the CSV values were stored');
    for (const indicator of labelled) {
      assert.deepEqual([...(indicator.labels as string[])].sort(), [
        'TheTruthSpy',
        'echap',
        'stalkerware',
      ]);
    }

    const badMap = await cairn([
      'connector',
      'add',
      'cli csv bad',
      '--kind',
      'csv',
      '--url',
      dataPath('stalkerware-indicators/generated/network.csv'),
      '--collection',
      'default',
      '--interval',
      '3600',
      '--csv-map',
      'value=indicator,kind=banana',
    ]);
    assert.equal(badMap.code, 1);
    assert.match(badMap.stderr, /csvMapping.*banana/);
  });

  test('an interrupted run is scheduled again', async () => {
    let requests = 0;
    // Sends one line of the list, then nothing, so the run waits inside its body.
    const stalled = createServer((_request, response) => {
      requests++;
      response.writeHead(200, { 'Content-Type': 'text/plain' });
      response.write('198.51.100.1\n');
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const { port } = stalled.address() as AddressInfo;
    try {
      const added = await cairn([
        'connector',
        'add',
        'cli stalled',
        '--kind',
        'text',
        '--url',
        `http://127.0.0.1:${port}/list.txt`,
        '--collection',
        'default',
        '--interval',
        '3600',
        '--timeout',
        '120',
        '--warning-lists',
        'off',
      ]);
      assert.equal(added.code, 0, added.stderr);

      const child = spawn(
        process.execPath,
        ['--import', 'tsx', CLI, '--store', server.config.store, 'connector', 'run', 'cli stalled'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, CAIRN_CONFIG: '', CAIRN_CONNECTOR_SECRET_KEY: TEST_SECRET_KEY },
        },
      );
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      const deadline = Date.now() + 30_000;
      while (requests === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(requests, 1, 'the run reached the list');
      const interrupted = Date.now();
      child.kill('SIGINT');
      assert.equal(await exited, 1);
      assert.ok(Date.now() - interrupted < 10_000, 'the run stopped at once');
      assert.match(stdout, /the run was stopped: cairn connector run received SIGINT/);

      const shown = JSON.parse((await cairn(['connector', 'show', 'cli stalled'])).stdout) as {
        running: boolean;
        nextRunAt: string;
      };
      assert.equal(shown.running, false);
      // Due after its interval, not held by a claim of the stopped process.
      assert.ok(Date.parse(shown.nextRunAt) > Date.now() + 3000 * 1000, shown.nextRunAt);
    } finally {
      stalled.closeAllConnections();
      await new Promise((resolve) => stalled.close(resolve));
    }
  });

  test('header secrets and a missing key', async () => {
    const add = (name: string, env: Record<string, string>) =>
      cairn(
        [
          'connector',
          'add',
          name,
          '--kind',
          'misp-feed',
          '--url',
          'http://127.0.0.1:9/misp/',
          '--collection',
          'default',
          '--interval',
          '60',
          '--header-env',
          'Authorization=CAIRN_TEST_MISP_KEY',
        ],
        { CAIRN_TEST_MISP_KEY: 'cairn_misp_from_env', ...env },
      );
    const added = await add('misp cli', {});
    assert.equal(added.code, 0, added.stderr);
    const stored = await server.server.store.getDocument('connector', added.stdout.trim());
    assert.match(stored!.body, /"Authorization":"cairn-secret:v1:/);
    assert.doesNotMatch(stored!.body, /cairn_misp_from_env/);

    const keyless = await add('misp without key', { CAIRN_CONNECTOR_SECRET_KEY: '' });
    assert.equal(keyless.code, 1);
    assert.match(keyless.stderr, /no key to encrypt headers\.Authorization/);
    assert.match(keyless.stderr, /CAIRN_CONNECTOR_SECRET_KEY/);
    assert.doesNotMatch(keyless.stderr, /cairn_misp_from_env/);

    const malformed = await cairn([
      'connector',
      'add',
      'misp bad pair',
      '--kind',
      'misp-feed',
      '--url',
      'http://127.0.0.1:9/misp/',
      '--collection',
      'default',
      '--interval',
      '60',
      '--header-env',
      'Authorization',
    ]);
    assert.equal(malformed.code, 1);
    assert.match(malformed.stderr, /--header-env "Authorization" must be NAME=VARIABLE/);
  });
});
