/**
 * URLs in the one form Cairn stores, following the WHATWG URL standard as Node's URL class
 * implements it: scheme and host in lower case, host in A-labels, default port dropped,
 * `.` and `..` segments resolved, and characters outside the URL code points
 * percent-encoded. On top of that, RFC 3986 section 6.2.2 normalisation: percent-encoded
 * unreserved characters decoded, and the hex digits of the other escapes in upper case.
 */
import { refang } from './refang.ts';
import { type Normalised, accept, quote, reject, tooLong } from './result.ts';

/** `scheme://`, the hierarchical form every network URL takes. */
const HAS_AUTHORITY = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `scheme:` not followed by `//` nor by a port number. */
const OPAQUE_SCHEME = /^[a-z][a-z0-9+.-]*:(?![0-9])/i;

/** A percent escape. Letters, digits, `-`, `_` and `~` are decoded; `.` stays encoded (see below). */
const PERCENT_ESCAPE = /%([0-9a-fA-F]{2})/g;

/**
 * Normalises a URL. Refangs it first (`hxxp://`, `[.]`). A URL without a scheme, such as
 * `evil.example/gate.php` in a block list, is read as `http://`. Rejects URLs with an
 * opaque scheme such as `mailto:`, URLs the WHATWG parser rejects, and URLs of a special
 * scheme (http, https, ftp, ws, wss) without a host.
 */
export function normaliseUrl(input: string): Normalised<string> {
  const long = tooLong(input, 'URL');
  if (long) return long;
  let text = refang(input.trim());
  if (text.length === 0) return reject('the URL is empty');
  if (!HAS_AUTHORITY.test(text)) {
    if (OPAQUE_SCHEME.test(text)) {
      return reject(`${quote(input)} is not a network URL: expected scheme://host/...`);
    }
    text = `http://${text}`;
  }

  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return reject(`${quote(input)} is not a valid URL`);
  }
  if (url.hostname === '' && ['http:', 'https:', 'ftp:', 'ws:', 'wss:'].includes(url.protocol)) {
    return reject(`${quote(input)} has no host`);
  }
  if (url.hostname.endsWith('.')) url.hostname = url.hostname.slice(0, -1);
  const authority = `${url.protocol}//${url.username || url.password ? `${url.username}${url.password ? `:${url.password}` : ''}@` : ''}${url.host}`;
  const rest = url.href.slice(authority.length);
  return accept(
    `${authority}${encodeOutsideRfc3986(rest)}`.replace(PERCENT_ESCAPE, normaliseEscape),
  );
}

/**
 * Characters RFC 3986 allows after the authority: unreserved, sub-delims, `:@/?#` and
 * `%` escapes. WHATWG serialisation leaves some others as they are (`{`, `}`, `|`, `^`,
 * `[`, `]` and backquote in a query), and STIX requires an RFC 3986 URL.
 */
const OUTSIDE_RFC3986 = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/?#%]|%(?![0-9A-Fa-f]{2})/g;

function encodeOutsideRfc3986(text: string): string {
  return text.replace(OUTSIDE_RFC3986, (character) =>
    [...Buffer.from(character, 'utf8')]
      .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );
}

/**
 * Decodes an escape of an unreserved character and upper-cases the others (RFC 3986
 * sections 6.2.2.1 and 6.2.2.2). `%2E` stays encoded: decoding it could form a `..`
 * segment that a second pass would resolve, so the result would not be stable.
 */
function normaliseEscape(_escape: string, hex: string): string {
  const code = parseInt(hex, 16);
  const unreserved =
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x2d ||
    code === 0x5f ||
    code === 0x7e;
  return unreserved ? String.fromCharCode(code) : `%${hex.toUpperCase()}`;
}
