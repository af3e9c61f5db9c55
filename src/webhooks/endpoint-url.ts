/**
 * Checks of webhook endpoint URLs. Deliveries carry shared threat intelligence, so they go
 * over HTTPS. Plain HTTP is accepted only for a loopback address written as an IP literal,
 * for receivers on the same machine and for tests: a host name could resolve elsewhere.
 */
import ipaddr from 'ipaddr.js';

import { CairnError } from '../errors.ts';

/** Longest endpoint URL accepted, in characters. */
export const MAX_URL_LENGTH = 2048;

function invalidUrl(text: string, reason: string): CairnError {
  const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return new CairnError('invalid-parameter', `webhook URL ${JSON.stringify(shown)} ${reason}`);
}

/** Whether a URL host (as WHATWG URL normalises it) is a loopback IP literal. */
export function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (!ipaddr.isValid(bare)) return false;
  // process() turns an IPv4-mapped IPv6 address such as ::ffff:127.0.0.1 into IPv4.
  return ipaddr.process(bare).range() === 'loopback';
}

/**
 * Parses an endpoint URL, or throws a 400 CairnError that names the URL and the fix.
 * The URL may not carry credentials, because they would be stored and shown in lists.
 */
export function parseEndpointUrl(text: unknown): URL {
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
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:') {
    if (isLoopbackHost(url.hostname)) return url;
    throw invalidUrl(
      text,
      'uses plain http:// to a host that is not a loopback address: use https://, ' +
        'or http://127.0.0.1 or http://[::1] for a receiver on this machine',
    );
  }
  throw invalidUrl(text, `has scheme ${url.protocol.slice(0, -1)}: use https://`);
}
