/**
 * Opaque event cursors: the position of a reader in the event log, as clients see it.
 *
 * A cursor is one AES-256 block holding the seq, a nonce and a zero check value, so a
 * client learns nothing from it: not the seq, and not how many events (hidden ones
 * included) lie between two cursors. With nonce 0 the cursor of a seq is always the same
 * string, so an event's cursor is computed once for all its readers. Heartbeats use a
 * random nonce, so a reader cannot tell from two heartbeats whether hidden events happened
 * between them. A changed cursor decrypts to a wrong check value with probability
 * 1 - 2^-32 and is rejected. A forged cursor that slipped through would only move the
 * reader to some position of the log, where it still receives only what it may read.
 *
 * Why one raw block rather than AES-GCM: a single 16-byte block under a block cipher is a
 * pseudorandom permutation, which is exactly what hiding a counter needs, and the cursor
 * stays 22 characters. ECB mode here only means "encrypt one block".
 */
import {
  createCipheriv,
  createDecipheriv,
  randomBytes,
  randomFillSync,
  type Cipher,
  type Decipher,
} from 'node:crypto';

import type { Store } from '../store/store.ts';

const KEY_SETTING = 'events.cursor_key';
const BLOCK = 16;
const PATTERN = /^[A-Za-z0-9_-]{22}$/;

/**
 * The reading of client-sent text as a cursor: one of this server with its seq, or
 * `foreign`, or `malformed`. A foreign cursor has the shape of a cursor but was made under
 * another key, by another deployment or by this one before the key changed.
 */
export type CursorReading =
  { kind: 'cursor'; seq: number } | { kind: 'foreign' } | { kind: 'malformed' };

export class CursorCodec {
  // In ECB mode without padding each block is encrypted on its own, so one cipher and one
  // decipher serve every cursor: update() takes one block and returns its result at once.
  readonly #cipher: Cipher;
  readonly #decipher: Decipher;
  /** Random bytes for nonces, filled 4 KiB at a time: one call per cursor costs far more. */
  readonly #random = Buffer.alloc(4096);
  #randomUsed = this.#random.length;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new RangeError('the cursor key must be 32 bytes');
    this.#cipher = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
    this.#decipher = createDecipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  }

  /** Loads the server's cursor key from the store, creating it on first use. */
  static async load(store: Store): Promise<CursorCodec> {
    const stored = await store.setSettingIfAbsent(KEY_SETTING, randomBytes(32).toString('hex'));
    return new CursorCodec(Buffer.from(stored, 'hex'));
  }

  /** Encodes a position; the same seq gives the same string unless `random` is set. */
  encode(seq: number, random = false): string {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`invalid seq ${seq}`);
    const block = Buffer.alloc(BLOCK);
    block.writeBigUInt64BE(BigInt(seq), 0);
    if (random) {
      if (this.#randomUsed === this.#random.length) {
        randomFillSync(this.#random);
        this.#randomUsed = 0;
      }
      this.#random.copy(block, 8, this.#randomUsed, this.#randomUsed + 4);
      this.#randomUsed += 4;
    }
    return this.#cipher.update(block).toString('base64url');
  }

  /** Classifies client-sent text as a cursor of this server, a foreign one or neither. */
  read(text: string): CursorReading {
    if (!PATTERN.test(text)) return { kind: 'malformed' };
    const seq = this.decode(text);
    return seq === undefined ? { kind: 'foreign' } : { kind: 'cursor', seq };
  }

  /** Decodes a cursor to its seq, or undefined when the text is not a cursor of this server. */
  decode(cursor: string): number | undefined {
    if (!PATTERN.test(cursor)) return undefined;
    const encrypted = Buffer.from(cursor, 'base64url');
    if (encrypted.length !== BLOCK) return undefined;
    const block = this.#decipher.update(encrypted);
    if (block.readUInt32BE(12) !== 0) return undefined;
    const seq = block.readBigUInt64BE(0);
    return seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seq) : undefined;
  }
}
