import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../../testing/server.ts';
import { indicator } from '../../testing/stix.ts';

const REPOSITORY = fileURLToPath(new URL('../../../', import.meta.url));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let server: TestServer;
let store = '';

/** Runs the CLI from the repository root on the test store. */
function cairn(...args: string[]): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', '--store', store, ...args],
      { cwd: REPOSITORY, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

async function ok(...args: string[]): Promise<string> {
  const result = await cairn(...args);
  assert.equal(result.code, 0, `cairn ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

async function fails(pattern: RegExp, ...args: string[]): Promise<void> {
  const result = await cairn(...args);
  assert.equal(result.code, 1, `cairn ${args.join(' ')} should fail: ${result.stdout}`);
  assert.match(result.stderr, pattern);
}

before(async () => {
  // The first start creates the platform admin the commands act as by default; the
  // commands then run on the same store beside the running server.
  server = await startTestServer();
  store = server.config.store;
});

after(async () => {
  await server?.dispose();
});

describe('cairn org', () => {
  test('create and list', async () => {
    assert.match(await ok('org', 'create', 'Acme', '--sectors', 'financial-services'), UUID);
    assert.match(await ok('org', 'create', 'Beta', '--contact', 'soc@beta.example'), UUID);
    const listed = await ok('org', 'list');
    assert.match(listed, /\tAcme\t/);
    assert.match(listed, /\tBeta\t/);
  });

  test('duplicate name', async () => {
    await fails(/Acme/, 'org', 'create', 'Acme');
  });

  test('users', async () => {
    assert.match(
      await ok('org', 'user', 'add', 'Acme', 'alice', '--role', 'org-admin'),
      /^alice\t/,
    );
    await ok('org', 'user', 'add', 'Acme', 'bob');
    await ok('org', 'user', 'add', 'Beta', 'olga', '--role', 'org-admin');
    const listed = await ok('org', 'user', 'list', 'Acme');
    assert.match(listed, /^alice\t.*\torg-admin$/m);
    assert.match(listed, /^bob\t.*\tanalyst$/m);
    assert.doesNotMatch(listed, /olga/);
  });

  test('bad role', async () => {
    await fails(/--role "boss" is not one of/, 'org', 'user', 'add', 'Acme', 'x', '--role', 'boss');
  });

  test('unknown organisation', async () => {
    await fails(
      /organisation "Nowhere" not found: `cairn org list`/,
      'org',
      'user',
      'list',
      'Nowhere',
    );
  });

  test('clients', async () => {
    assert.match(await ok('org', 'client', 'add', 'Acme', 'Beta'), /Beta is now a client of Acme/);
    assert.match(await ok('org', 'list'), /\tAcme\t1 clients/);
    await ok('org', 'client', 'remove', 'Acme', 'Beta');
    assert.match(await ok('org', 'list'), /\tAcme\t0 clients/);
  });
});

describe('cairn community and invite', () => {
  test('create, invite, accept', async () => {
    const id = await ok(
      'community',
      'create',
      'Ring',
      '--as',
      'alice',
      '--default-tlp',
      'green',
      '--allow-anonymous',
    );
    assert.match(id, UUID);
    assert.match(await ok('community', 'list', '--as', 'alice'), /\tRing\tdefault TLP green/);
    const collection = await ok(
      'community',
      'collection',
      'create',
      'Ring',
      'Ring feed',
      '--alias',
      'ring',
      '--as',
      'alice',
    );
    assert.ok(collection.length > 0);

    const invitation = await ok('invite', 'send', 'Ring', 'Beta', '--as', 'alice');
    assert.match(invitation, UUID);
    assert.match(await ok('invite', 'list', '--as', 'olga'), new RegExp(`^${invitation}\\t`, 'm'));
    assert.match(await ok('invite', 'accept', invitation, '--as', 'olga'), /\taccepted\t/);

    const shown = await ok('community', 'show', 'Ring');
    assert.match(shown, /^default TLP\tgreen$/m);
    assert.match(shown, /^anonymous sharing\tallowed$/m);
    assert.equal(shown.match(/^member\t/gm)?.length, 2);
    assert.match(shown, /^member\t.*\tBeta$/m);
    assert.match(shown, /^moderator\t.*\talice$/m);
    assert.match(shown, /^collection\t.*\tring\tRing feed$/m);
  });

  test('anonymous share', async () => {
    const file = join(server.dataDir, 'share.json');
    const object = indicator({ created_by_ref: `identity--${randomUUID()}` });
    writeFileSync(
      file,
      JSON.stringify({ type: 'bundle', id: `bundle--${randomUUID()}`, objects: [object] }),
    );
    const result = await cairn('community', 'share', 'ring', file, '--anonymous', '--as', 'olga');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^added\\t${object.id}\\t`, 'm'));
    assert.match(result.stderr, /1 shared, 0 failed/);

    const admin = `Bearer ${server.adminToken}`;
    const reply = await fetch(`${server.root}collections/ring/objects/${object.id}/`, {
      headers: { Authorization: admin, Accept: 'application/taxii+json;version=2.1' },
    });
    assert.equal(reply.status, 200);
    const envelope = (await reply.json()) as { objects: Array<{ created_by_ref: string }> };
    const shown = await ok('community', 'show', 'Ring');
    const community = /^id\t(.+)$/m.exec(shown)?.[1];
    const me = await fetch(`${server.url}/api/v1/communities/${community}`, {
      headers: { Authorization: admin },
    });
    const detail = (await me.json()) as { identity: { id: string } };
    assert.equal(envelope.objects[0]?.created_by_ref, detail.identity.id);
  });

  test('share failures', async () => {
    const file = join(server.dataDir, 'bad.json');
    writeFileSync(file, JSON.stringify({ objects: [{ type: 'indicator', id: 'nonsense' }] }));
    const result = await cairn('community', 'share', 'ring', file, '--as', 'olga');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /0 shared, 1 failed/);
    writeFileSync(file, '{not json');
    await fails(/bad\.json could not be read as JSON/, 'community', 'share', 'ring', file);
    await fails(
      /collection "nowhere" not found/,
      'community',
      'share',
      'nowhere',
      join(server.dataDir, 'share.json'),
    );
  });

  test('red default', async () => {
    await fails(
      /--default-tlp "red" is not one of/,
      'community',
      'create',
      'Red',
      '--default-tlp',
      'red',
    );
  });

  test('moderators', async () => {
    assert.match(
      await ok('community', 'moderator', 'add', 'Ring', 'olga', '--as', 'alice'),
      /olga moderates Ring/,
    );
    await ok('community', 'moderator', 'remove', 'Ring', 'olga', '--as', 'alice');
    await fails(/moderator/, 'community', 'moderator', 'remove', 'Ring', 'alice', '--as', 'alice');
  });

  test('member removed', async () => {
    await ok('community', 'member', 'remove', 'Ring', 'Beta');
    await fails(/member/, 'community', 'member', 'remove', 'Ring', 'Acme');
  });

  test('unknown user', async () => {
    await fails(/--as: user "nobody" not found/, 'community', 'list', '--as', 'nobody');
  });
});

describe('cairn user', () => {
  test('list and set', async () => {
    assert.match(await ok('user', 'list'), /^bob\t.*\tAcme\tanalyst$/m);
    assert.match(
      await ok('user', 'set', 'bob', '--role', 'read-only', '--disable'),
      /\tread-only\tdisabled$/,
    );
    assert.match(await ok('user', 'set', 'bob', '--role', 'analyst', '--enable'), /\tanalyst$/);
  });

  test('set needs a change', async () => {
    await fails(/nothing to change/, 'user', 'set', 'bob');
    await fails(/--disable or --enable, not both/, 'user', 'set', 'bob', '--disable', '--enable');
  });
});

describe('cairn token', () => {
  test('create, list, revoke', async () => {
    const result = await cairn('token', 'create', 'olga', '--label', 'feed', '--scopes', 'read');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout.trim(), /^cairn_[0-9a-f]{32}_/);
    const tokenId = /^token ([0-9a-f]{32}) for olga/.exec(result.stderr)?.[1];
    assert.ok(tokenId, result.stderr);

    const me = await fetch(`${server.url}/api/v1/me`, {
      headers: { Authorization: `Bearer ${result.stdout.trim()}` },
    });
    assert.equal(me.status, 200);

    assert.match(
      await ok('token', 'list', 'olga'),
      new RegExp(`^${tokenId}\\tolga\\tactive\\tread\\t`, 'm'),
    );
    assert.match(await ok('token', 'revoke', tokenId), /revoked/);
    assert.match(
      await ok('token', 'list', 'olga'),
      new RegExp(`^${tokenId}\\tolga\\trevoked`, 'm'),
    );
  });

  test('bad scope', async () => {
    await fails(
      /--scopes: "root" is not one of read, write, admin/,
      'token',
      'create',
      'olga',
      '--scopes',
      'root',
    );
  });

  test('unknown token', async () => {
    await fails(/token "0{32}" not found/, 'token', 'revoke', '0'.repeat(32));
  });

  test('revoke by whole token', async () => {
    const created = await cairn('token', 'create', 'olga');
    const whole = created.stdout.trim();
    const tokenId = /^cairn_([0-9a-f]{32})_/.exec(whole)?.[1];
    assert.ok(tokenId, created.stderr);
    assert.equal(await ok('token', 'revoke', whole), `revoked ${tokenId}`);
  });

  test('secret never echoed', async () => {
    const secret = 'S3cretS3cretS3cretS3cretS3cretS3cretS3cre';
    const result = await cairn('token', 'revoke', `cairn_${'f'.repeat(32)}_${secret}`);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /not found/);
    const garbled = await cairn('token', 'revoke', `oops${secret}`);
    assert.equal(garbled.code, 1);
    assert.ok(!`${result.stderr}${garbled.stderr}`.includes(secret));
  });

  test('bad expiry and scopes', async () => {
    for (const days of ['0', '0.5', '1e9', 'abc', '36501']) {
      await fails(
        /--expires-in .* must be a whole number of days/,
        'token',
        'create',
        'olga',
        '--expires-in',
        days,
      );
    }
    await fails(/--scopes is empty/, 'token', 'create', 'olga', '--scopes', '');
  });
});

describe('cairn help', () => {
  test('options described', async () => {
    const help = await ok('community', 'create', '--help');
    assert.match(help, /--default-tlp <tlp>\s+TLP of objects without a TLP marking/);
    assert.match(help, /--as <user>\s+user name to act as/);
  });
});
