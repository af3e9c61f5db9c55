/**
 * Connector secrets at rest: AES-256-GCM sealing and opening, a wrong or missing key,
 * tampered and moved ciphertexts, plaintext secrets saved before encryption, and the view
 * the API and CLI show.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../config/config.ts';
import { CairnError } from '../errors.ts';
import type { Connector } from './definition.ts';
import {
  SEALED_PREFIX,
  SecretBox,
  hasPlaintextSecrets,
  isSealed,
  openSecrets,
  publicConnector,
  sealSecrets,
  secretBoxFrom,
} from './secrets.ts';

const KEY = 'a1'.repeat(32);
const OTHER_KEY = 'b2'.repeat(32);

function connector(extra: Partial<Connector> = {}): Connector {
  return {
    id: '6f0e9d2c-1b6a-4c57-9a55-0d6f5f1f2a10',
    organisationId: 'f5a1f0c4-8d8e-4f7e-bf43-6b8e1c1f0c11',
    createdBy: 'c7b1b7a2-0f6c-4a9e-9c36-2a1f0e5d6b12',
    createdAt: 0,
    name: 'partner',
    kind: 'taxii',
    url: 'https://taxii.example/api1/collections/x/',
    auth: { type: 'basic', username: 'reader', password: 'p4ssw0rd' },
    headers: { 'X-Api-Key': 'k3y' },
    collection: 'd2c4e6f8-0a1b-4c3d-8e5f-6a7b8c9d0e13',
    intervalSeconds: 3600,
    enabled: true,
    warningLists: 'drop',
    reliability: 'F',
    batchSize: 500,
    retry: { attempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 },
    timeoutSeconds: 60,
    ...extra,
  };
}

/** Returns the error `run` throws, failing when it throws none. */
function thrown(run: () => unknown): CairnError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof CairnError, `unexpected error ${String(error)}`);
    return error;
  }
  assert.fail('nothing was thrown');
}

describe('SecretBox', () => {
  const box = new SecretBox(KEY);

  test('seal and open round trip', () => {
    const sealed = box.seal('p4ssw0rd', 'connector-1', 'auth.password');
    assert.ok(sealed.startsWith(`${SEALED_PREFIX}${box.keyId}:`), sealed);
    assert.equal(sealed.includes('p4ssw0rd'), false);
    assert.equal(box.open(sealed, 'connector-1', 'auth.password'), 'p4ssw0rd');
  });

  test('each seal uses a new IV', () => {
    const first = box.seal('same', 'connector-1', 'auth.token');
    const second = box.seal('same', 'connector-1', 'auth.token');
    assert.notEqual(first, second);
  });

  test('unicode and empty secrets survive', () => {
    for (const secret of ['', 'ключ🔑', 'x'.repeat(4096)]) {
      const sealed = box.seal(secret, 'c', 'headers.X-Key');
      assert.equal(box.open(sealed, 'c', 'headers.X-Key'), secret);
    }
  });

  test('another key is named, not taken for corruption', () => {
    const sealed = new SecretBox(OTHER_KEY).seal('p4ssw0rd', 'connector-1', 'auth.password');
    const error = thrown(() => box.open(sealed, 'connector-1', 'auth.password'));
    assert.match(
      error.message,
      /auth\.password of connector connector-1 was encrypted with the key [0-9a-f]{12}/,
    );
    assert.match(error.message, new RegExp(`configured connectors\\.secretKey is ${box.keyId}`));
    assert.match(error.message, /configure the key it was saved with, or set auth\.password again/);
  });

  test('a changed ciphertext fails the integrity check', () => {
    const sealed = box.seal('p4ssw0rd', 'connector-1', 'auth.password');
    const payload = sealed.slice(sealed.lastIndexOf(':') + 1);
    const bytes = Buffer.from(payload, 'base64url');
    for (const at of [0, 12, bytes.length - 1]) {
      const changed = Buffer.from(bytes);
      changed[at] = changed[at]! ^ 1;
      const tampered = sealed.replace(payload, changed.toString('base64url'));
      const error = thrown(() => box.open(tampered, 'connector-1', 'auth.password'));
      assert.match(error.message, /failed its integrity check/, `byte ${at}`);
    }
    const short = sealed.replace(payload, 'AAAA');
    assert.match(
      thrown(() => box.open(short, 'connector-1', 'auth.password')).message,
      /integrity/,
    );
  });

  test('a ciphertext moved to another connector or field fails', () => {
    const sealed = box.seal('p4ssw0rd', 'connector-1', 'auth.password');
    assert.match(
      thrown(() => box.open(sealed, 'connector-2', 'auth.password')).message,
      /integrity/,
    );
    assert.match(thrown(() => box.open(sealed, 'connector-1', 'auth.token')).message, /integrity/);
  });

  test('a key that is not 64 hex digits is rejected', () => {
    for (const key of ['', 'a1'.repeat(31), 'zz'.repeat(32), `${KEY}00`]) {
      assert.match(thrown(() => new SecretBox(key)).message, /openssl rand -hex 32/, key);
    }
  });
});

describe('connector secrets', () => {
  const box = new SecretBox(KEY);

  test('sealing covers password, token and headers', () => {
    const sealed = sealSecrets(connector(), box);
    assert.equal(sealed.auth.type, 'basic');
    assert.ok(isSealed((sealed.auth as { password: string }).password));
    assert.ok(isSealed(sealed.headers!['X-Api-Key']!));
    assert.equal(JSON.stringify(sealed).includes('p4ssw0rd'), false);
    assert.equal(JSON.stringify(sealed).includes('k3y'), false);
    assert.deepEqual(openSecrets(sealed, box), connector());

    const bearer = connector({ auth: { type: 'bearer', token: 't0ken' }, headers: undefined });
    const sealedBearer = sealSecrets(bearer, box);
    assert.ok(isSealed((sealedBearer.auth as { token: string }).token));
    assert.deepEqual(openSecrets(sealedBearer, box), bearer);
  });

  test('sealed secrets are kept when saved again', () => {
    const sealed = sealSecrets(connector(), box);
    assert.deepEqual(sealSecrets(sealed, box), sealed);
    // Even with another key: the secret stays as it was, to be opened with its own key.
    assert.deepEqual(sealSecrets(sealed, new SecretBox(OTHER_KEY)), sealed);
  });

  test('saving secrets without a key says what to do', () => {
    const error = thrown(() => sealSecrets(connector(), undefined));
    assert.equal(error.code, 'unavailable');
    assert.match(error.message, /no key to encrypt auth\.password of connector "partner"/);
    assert.match(error.message, /connectors\.secretKey .*CAIRN_CONNECTOR_SECRET_KEY/);
    const none = connector({ auth: { type: 'none' }, headers: undefined });
    assert.deepEqual(sealSecrets(none, undefined), none);
  });

  test('plaintext from before encryption still opens', () => {
    const legacy = connector();
    assert.equal(hasPlaintextSecrets(legacy), true);
    assert.deepEqual(openSecrets(legacy, box), legacy);
    assert.deepEqual(openSecrets(legacy, undefined), legacy);
    const resealed = sealSecrets(legacy, box);
    assert.equal(hasPlaintextSecrets(resealed), false);
  });

  test('opening without a key says what to do', () => {
    const sealed = sealSecrets(connector(), box);
    const error = thrown(() => openSecrets(sealed, undefined));
    assert.match(
      error.message,
      /auth\.password of connector "partner" is encrypted, but this server has no key/,
    );
    assert.match(error.message, /openssl rand -hex 32/);
  });

  test('the public view shows no secret', () => {
    const sealed = sealSecrets(connector(), box);
    const shown = publicConnector(sealed);
    assert.deepEqual(shown.auth, { type: 'basic', username: 'reader' });
    assert.deepEqual(shown.secrets, { 'auth.password': 'set', 'headers.X-Api-Key': 'set' });
    assert.equal('headers' in shown, false);
    assert.doesNotMatch(JSON.stringify(shown), /cairn-secret|p4ssw0rd|k3y/);
    const legacy = publicConnector(connector());
    assert.deepEqual(legacy.secrets, {
      'auth.password': 'set, not encrypted',
      'headers.X-Api-Key': 'set, not encrypted',
    });
    assert.doesNotMatch(JSON.stringify(legacy), /p4ssw0rd|k3y/);
  });
});

describe('connectors.secretKey', () => {
  test('comes from CAIRN_CONNECTOR_SECRET_KEY', () => {
    const config = loadConfig({ env: { CAIRN_CONNECTOR_SECRET_KEY: KEY } });
    const box = secretBoxFrom(config);
    assert.ok(box);
    assert.equal(box.keyId, new SecretBox(KEY).keyId);
    assert.equal(secretBoxFrom(loadConfig({ env: {} })), undefined);
  });

  test('an invalid key stops the start without echoing it', () => {
    const bad = 'not-a-key-' + 'c'.repeat(54);
    assert.throws(
      () => loadConfig({ env: { CAIRN_CONNECTOR_SECRET_KEY: bad } }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /connectors\.secretKey: must be 64 hex digits/);
        assert.equal(error.message.includes(bad), false);
        return true;
      },
    );
  });
});
