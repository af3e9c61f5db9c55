/** Autonomous system numbers (RFC 6793: 32-bit). */
import { type Normalised, accept, quote, reject } from './result.ts';

const ASPLAIN = /^(?:as|asn)?\s*([0-9]{1,10})$/i;
const ASDOT = /^(?:as|asn)\s*([0-9]{1,5})\.([0-9]{1,5})$/i;
const MAX_ASN = 4294967295;

/**
 * Normalises an AS number written `AS64500`, `ASN64500`, `64500` or, in the asdot notation
 * of RFC 5396, `AS1.10` (= 65546). Returns the number; Cairn writes it as `AS<number>`.
 */
export function normaliseAsn(input: string | number): Normalised<number> {
  const text = String(input).trim();
  const plain = ASPLAIN.exec(text);
  if (plain) {
    const number = Number(plain[1]);
    if (number <= MAX_ASN) return accept(number);
    return reject(`${quote(text)} is larger than ${MAX_ASN}, the largest AS number`);
  }
  const dotted = ASDOT.exec(text);
  if (dotted) {
    const high = Number(dotted[1]);
    const low = Number(dotted[2]);
    if (high <= 65535 && low <= 65535) return accept(high * 65536 + low);
  }
  return reject(`${quote(text)} is not an AS number: expected AS64500, 64500 or AS1.10`);
}
