/**
 * Signatures of webhook deliveries. Each request carries the time it was signed and
 * HMAC-SHA256(secret, timestamp + "." + body) in hex, so a receiver checks both who sent
 * the body and that it is recent (docs/webhooks.md shows a receiver's check).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Header with the signing time, in whole seconds since the Unix epoch. */
export const TIMESTAMP_HEADER = 'Cairn-Webhook-Timestamp';
/** Header with `sha256=` and the hex HMAC. */
export const SIGNATURE_HEADER = 'Cairn-Webhook-Signature';
/** Header with the delivery id, the same on every retry, for receivers to drop repeats. */
export const DELIVERY_HEADER = 'Cairn-Webhook-Delivery';
/** Header with the event kind: created, updated, revoked, deleted or ping. */
export const EVENT_HEADER = 'Cairn-Webhook-Event';

const SIGNATURE_PREFIX = 'sha256=';

/** Returns a new webhook secret: 32 random bytes in base64url, with a recognisable prefix. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** Computes the hex HMAC-SHA256 of `timestamp + "." + body` under the secret. */
export function signPayload(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** Builds the value of the signature header. */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `${SIGNATURE_PREFIX}${signPayload(secret, timestamp, body)}`;
}

/**
 * Checks a delivery as a receiver does: the signature header matches the body and the
 * timestamp lies within `toleranceSeconds` of `nowSeconds`. Compares in constant time.
 */
export function verifySignature(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const { timestamp, signature } = headers;
  if (timestamp === undefined || signature === undefined) return false;
  if (!/^\d{1,15}$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  if (!signature.startsWith(SIGNATURE_PREFIX)) return false;
  const expected = Buffer.from(signPayload(secret, Number(timestamp), body), 'hex');
  const actual = Buffer.from(signature.slice(SIGNATURE_PREFIX.length), 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
