/**
 * Stateless `next` tokens for TAXII paging (TAXII 2.1 section 3.4).
 *
 * A token carries only the date_added of the last item served, and an HMAC that binds it
 * to the endpoint, the collection, the caller and the other query parameters. Any node
 * that shares the signing key accepts it, restarts do not void it, and a token replayed
 * with a different query, by another user or after tampering is rejected.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a token is bound to; all of it must match when the token comes back. */
export interface CursorScope {
  /** The endpoint kind and its path ids, e.g. `objects:<collection>` or `versions:<collection>:<id>`. */
  resource: string;
  userId: string;
  /** The query parameters other than `next` and `limit`, in a canonical form. */
  query: string;
}

const SIGNATURE_BYTES = 16;

export class CursorSigner {
  constructor(private readonly key: Buffer) {}

  private sign(position: string, scope: CursorScope): Buffer {
    return createHmac('sha256', this.key)
      .update(`${position}\n${scope.resource}\n${scope.userId}\n${scope.query}`)
      .digest()
      .subarray(0, SIGNATURE_BYTES);
  }

  /** Makes a token for the page that starts after `dateAdded` (microseconds). */
  encode(dateAdded: number, scope: CursorScope): string {
    const position = dateAdded.toString(36);
    return `${position}.${this.sign(position, scope).toString('base64url')}`;
  }

  /** Returns the date_added a token continues after, or undefined when it is not valid here. */
  decode(token: string, scope: CursorScope): number | undefined {
    const match = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})$/.exec(token);
    if (!match) return undefined;
    const [, position, signature] = match as unknown as [string, string, string];
    const expected = this.sign(position, scope);
    const actual = Buffer.from(signature, 'base64url');
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
    const value = parseInt(position, 36);
    return Number.isSafeInteger(value) ? value : undefined;
  }
}
