/** E-mail addresses in the one form Cairn stores. */
import { normaliseDomain } from './domain.ts';
import { refang } from './refang.ts';
import { type Normalised, accept, quote, reject, tooLong } from './result.ts';

/** An RFC 5322 dot-atom: atext runs separated by single dots. */
const DOT_ATOM = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/**
 * Normalises an e-mail address: refangs it (`user[at]example[.]com`), drops a `mailto:`
 * prefix, lowercases the whole address and normalises the domain as normaliseDomain does.
 * The local part is lowercased too: RFC 5321 lets it be case-sensitive, but mail providers
 * treat it case-insensitively, and one address in two spellings would be two observables.
 * Only dot-atom local parts are accepted, not quoted strings, and only domain names, not
 * address literals (`user@[192.0.2.1]`).
 */
export function normaliseEmail(input: string): Normalised<string> {
  const long = tooLong(input, 'e-mail address');
  if (long) return long;
  let text = refang(input.trim()).toLowerCase();
  if (text.startsWith('mailto:')) text = text.slice('mailto:'.length);
  const at = text.lastIndexOf('@');
  if (at < 1 || at === text.length - 1) {
    return reject(`${quote(input)} is not an e-mail address: expected local-part@domain`);
  }
  const local = text.slice(0, at);
  if (local.length > 64 || !DOT_ATOM.test(local)) {
    return reject(
      `${quote(input)} has the local part ${quote(local)}; expected at most 64 characters of letters, digits and !#$%&'*+/=?^_\`{|}~- separated by single dots`,
    );
  }
  const domain = normaliseDomain(text.slice(at + 1));
  if (!domain.ok) return reject(`${quote(input)} has an invalid domain: ${domain.reason}`);
  return accept(`${local}@${domain.value}`);
}
