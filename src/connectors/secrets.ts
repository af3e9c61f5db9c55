/**
 * Encryption of connector secrets at rest: the Basic password, the Bearer token and every
 * header value (such as a MISP auth key) are stored as AES-256-GCM ciphertexts under the
 * key in the server configuration (`connectors.secretKey`, CAIRN_CONNECTOR_SECRET_KEY).
 *
 * The key is kept out of the store on purpose: unlike the event cursor key, which only
 * hides positions and lives in the store's settings, this key must protect the secrets
 * from anyone who reads a copy of the store.
 *
 * A sealed secret is one string, `cairn-secret:v1:<key id>:<base64url(iv | ciphertext | tag)>`.
 * The key id is a keyed hash of the key, so a store opened with another key is named as
 * such instead of failing as corrupt data. The additional authenticated data is the
 * connector id and the field, so a ciphertext copied to another connector or field fails
 * to decrypt. Secrets stored before encryption existed are plaintext strings without the
 * prefix: they still load, and the next save encrypts them.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { CairnError } from '../errors.ts';
import type { Connector, ConnectorAuth, PublicConnector, SecretStatus } from './definition.ts';

export const SEALED_PREFIX = 'cairn-secret:v1:';

/** IV length in bytes: 96 bits, GCM's standard IV size. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

const KEY_HINT =
  'set connectors.secretKey (or CAIRN_CONNECTOR_SECRET_KEY) to 64 hex digits, such as from `openssl rand -hex 32`, and restart';

/** Returns whether a stored secret is encrypted. A plaintext one predates encryption. */
export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}

/** The AES-256-GCM key that seals and opens connector secrets. */
export class SecretBox {
  readonly #key: Buffer;
  /** A keyed hash of the key, stored with each secret; it reveals nothing of the key. */
  readonly keyId: string;

  constructor(hexKey: string) {
    if (!/^[0-9a-fA-F]{64}$/.test(hexKey)) {
      throw new CairnError('internal', `the connector secret key is invalid: ${KEY_HINT}`);
    }
    this.#key = Buffer.from(hexKey, 'hex');
    this.keyId = createHmac('sha256', this.#key)
      .update('cairn connector secret key id')
      .digest('hex')
      .slice(0, 12);
  }

  /** Encrypts `plaintext` for the field `field` of connector `connectorId`. */
  seal(plaintext: string, connectorId: string, field: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(additionalData(connectorId, field));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const sealed = Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url');
    return `${SEALED_PREFIX}${this.keyId}:${sealed}`;
  }

  /**
   * Decrypts a sealed secret. Throws a CairnError naming the fix when it was sealed with
   * another key or has been changed.
   */
  open(value: string, connectorId: string, field: string): string {
    const rest = value.slice(SEALED_PREFIX.length);
    const colon = rest.indexOf(':');
    const keyId = rest.slice(0, colon);
    if (colon < 0 || keyId !== this.keyId) {
      throw new CairnError(
        'unavailable',
        `${field} of connector ${connectorId} was encrypted with the key ${keyId || '(unknown)'}, but the configured connectors.secretKey is ${this.keyId}: configure the key it was saved with, or set ${field} again`,
      );
    }
    const bytes = Buffer.from(rest.slice(colon + 1), 'base64url');
    if (bytes.length < IV_BYTES + TAG_BYTES) throw corrupt(connectorId, field);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(additionalData(connectorId, field));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    try {
      const ciphertext = bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      // GCM rejects a changed ciphertext, tag or IV, and one moved from another connector.
      throw corrupt(connectorId, field);
    }
  }
}

function additionalData(connectorId: string, field: string): Buffer {
  return Buffer.from(`${connectorId}\0${field}`, 'utf8');
}

function corrupt(connectorId: string, field: string): CairnError {
  return new CairnError(
    'unavailable',
    `${field} of connector ${connectorId} failed its integrity check and cannot be decrypted: set ${field} again`,
  );
}

/** Returns the key of the server configuration, or undefined when none is configured. */
export function secretBoxFrom(config: {
  connectors: { secretKey?: string };
}): SecretBox | undefined {
  const key = config.connectors.secretKey;
  return key === undefined ? undefined : new SecretBox(key);
}

/** A secret of a definition: its field path and value. */
interface SecretField {
  field: string;
  value: string;
}

/** Lists the secrets of a definition, sealed or not. */
export function secretFields(connector: Pick<Connector, 'auth' | 'headers'>): SecretField[] {
  const fields: SecretField[] = [];
  const { auth } = connector;
  if (auth.type === 'basic') fields.push({ field: 'auth.password', value: auth.password });
  if (auth.type === 'bearer') fields.push({ field: 'auth.token', value: auth.token });
  for (const [name, value] of Object.entries(connector.headers ?? {})) {
    fields.push({ field: `headers.${name}`, value });
  }
  return fields;
}

/** Returns the definition with every secret replaced by `transform(value, field)`. */
function mapSecrets(connector: Connector, transform: (value: string, field: string) => string) {
  const auth: ConnectorAuth =
    connector.auth.type === 'basic'
      ? { ...connector.auth, password: transform(connector.auth.password, 'auth.password') }
      : connector.auth.type === 'bearer'
        ? { ...connector.auth, token: transform(connector.auth.token, 'auth.token') }
        : connector.auth;
  const headers =
    connector.headers === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(connector.headers).map(([name, value]) => [
            name,
            transform(value, `headers.${name}`),
          ]),
        );
  return { ...connector, auth, ...(headers === undefined ? {} : { headers }) };
}

/**
 * Returns the definition as it is stored: every plaintext secret sealed, sealed ones kept
 * as they are. Throws when there is a secret to seal but no key.
 */
export function sealSecrets(connector: Connector, box: SecretBox | undefined): Connector {
  return mapSecrets(connector, (value, field) => {
    if (isSealed(value)) return value;
    if (box === undefined) {
      throw new CairnError(
        'unavailable',
        `this server has no key to encrypt ${field} of connector "${connector.name}" with: ${KEY_HINT}`,
      );
    }
    return box.seal(value, connector.id, field);
  });
}

/**
 * Returns the definition with its secrets decrypted, for a run. Plaintext secrets stored
 * before encryption pass through. Throws a CairnError naming the field when a sealed
 * secret cannot be opened, or when there is no key.
 */
export function openSecrets(connector: Connector, box: SecretBox | undefined): Connector {
  return mapSecrets(connector, (value, field) => {
    if (!isSealed(value)) return value;
    if (box === undefined) {
      throw new CairnError(
        'unavailable',
        `${field} of connector "${connector.name}" is encrypted, but this server has no key to decrypt it: ${KEY_HINT}`,
      );
    }
    return box.open(value, connector.id, field);
  });
}

/** Returns whether the stored definition still has a plaintext secret. */
export function hasPlaintextSecrets(connector: Connector): boolean {
  return secretFields(connector).some(({ value }) => !isSealed(value));
}

/** Returns the definition with every secret replaced by a placeholder that validates. */
export function withPlaceholderSecrets(connector: Connector): Connector {
  return mapSecrets(connector, () => 'placeholder');
}

/** Returns the definition as the API and CLI show it, from its stored form. */
export function publicConnector(connector: Connector): PublicConnector {
  const { auth, headers: _headers, ...rest } = connector;
  const secrets: Record<string, SecretStatus> = {};
  for (const { field, value } of secretFields(connector)) {
    secrets[field] = isSealed(value) ? 'set' : 'set, not encrypted';
  }
  return {
    ...rest,
    auth: { type: auth.type, ...(auth.type === 'basic' ? { username: auth.username } : {}) },
    secrets,
  };
}
