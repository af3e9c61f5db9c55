/**
 * Checks of webhook endpoint URLs and of the addresses deliveries connect to.
 *
 * Deliveries carry shared threat intelligence, so they go over HTTPS. Plain HTTP is
 * accepted only for a loopback address written as an IP literal, for receivers on the same
 * machine and for tests, because a host name could resolve elsewhere.
 *
 * Users of other organisations register the URLs, so by default no delivery goes to a
 * loopback, private, link-local or other non-public address: otherwise a webhook could
 * reach services inside the server's network. The sender checks every address a host name
 * resolves to when it connects, so a name that later resolves inward is stopped too.
 * `allowPrivateTargets` lifts the rule for single-machine setups and tests.
 */
import type { LookupFunction } from 'node:net';

import { CairnError } from '../errors.ts';
import { isLoopbackHost, isNonPublicLiteral, publicOnlyLookup } from '../net/public-targets.ts';

/** Maximum length of an endpoint URL, in characters. */
export const MAX_URL_LENGTH = 2048;

function invalidUrl(text: string, reason: string): CairnError {
  const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return new CairnError('invalid-parameter', `webhook URL ${JSON.stringify(shown)} ${reason}`);
}

const PRIVATE_TARGETS_OFF =
  'is a loopback, private or other non-public address, and this server sends webhooks only ' +
  'to public addresses: use a public https:// URL, or set webhooks.allowPrivateTargets';

/**
 * Parses an endpoint URL, or throws a 400 CairnError that names the URL and the fix.
 * The URL may not carry credentials, because they would be stored and shown in lists.
 */
export function parseEndpointUrl(text: unknown, allowPrivateTargets: boolean): URL {
  if (typeof text !== 'string' || text.length === 0) {
    throw new CairnError('invalid-parameter', 'webhook URL is missing: send an https:// URL');
  }
  if (text.length > MAX_URL_LENGTH) {
    throw invalidUrl(text, `is longer than ${MAX_URL_LENGTH} characters: use a shorter one`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidUrl(text, 'is not an absolute URL: send one such as https://hooks.example/cairn');
  }
  if (url.username !== '' || url.password !== '') {
    throw invalidUrl(
      text,
      'contains a user name or password: remove them, deliveries are authenticated by their signature',
    );
  }
  if (url.hash !== '') throw invalidUrl(text, 'has a #fragment: remove it');
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidUrl(text, `has scheme ${url.protocol.slice(0, -1)}: use https://`);
  }
  if (!allowPrivateTargets && isNonPublicLiteral(url.hostname)) {
    throw invalidUrl(text, PRIVATE_TARGETS_OFF);
  }
  if (url.protocol === 'https:') return url;
  if (isLoopbackHost(url.hostname)) return url;
  throw invalidUrl(
    text,
    'uses plain http:// to a host that is not a loopback address: use https://, ' +
      'or http://127.0.0.1 or http://[::1] for a receiver on this machine',
  );
}

/** Builds a `lookup` for the sender's agents that connects to public addresses only. */
export function webhookLookup(): LookupFunction {
  return publicOnlyLookup('this server sends webhooks only to public addresses');
}
