/**
 * Normalisation of indicator values: every importer, and anything that compares values with
 * stored ones (watch lists, warning lists), turns raw strings into the same canonical form
 * here, so one observable from two sources is one STIX object with one deterministic id.
 *
 * Each normaliser refangs its input, returns `{ ok: true, value }` or `{ ok: false, reason }`
 * with a message naming the value, and never throws on bad input.
 */
export { type Normalised, MAX_INPUT_LENGTH } from './result.ts';
export { refang } from './refang.ts';
export { normaliseDomain } from './domain.ts';
export { type IpValue, normaliseIp } from './ip.ts';
export { normaliseUrl } from './url.ts';
export { normaliseEmail } from './email.ts';
export { type HashAlgorithm, type HashValue, hashAlgorithm, normaliseHash } from './hash.ts';
export { normaliseAsn } from './asn.ts';
export {
  type Observable,
  type ObservableKind,
  OBSERVABLE_KINDS,
  classify,
  isObservableKind,
  normalise,
} from './observable.ts';
export {
  type IndicatorOptions,
  type StixObject,
  INDICATOR_ID_NAMESPACE,
  escapePatternString,
  patternFor,
  scoType,
  toIndicator,
  toSco,
} from './stix.ts';
