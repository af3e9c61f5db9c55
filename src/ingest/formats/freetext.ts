/**
 * Indicators in prose: threat reports, e-mails, chat logs. Defanged notation is undone
 * first (`hxxp`, `[.]`, `(at)`), then URLs, e-mail addresses, IP addresses and blocks,
 * hashes, AS numbers and domain names are picked out and normalised.
 */
import { parse as parseDomain } from 'tldts';
import { type Observable, type StixObject, classify, refang } from '../../normalise/index.ts';
import { StixEmitter } from './emit.ts';
import { LINE_TOO_LONG, type LineReader } from './lines.ts';
import { type ConvertOptions, listIndicator } from './options.ts';
import type { ConversionReport } from './report.ts';

const URL_CANDIDATE = /\b[a-z][a-z0-9+.-]{1,15}:\/\/[^\s<>"'`]+/gi;
const EMAIL_CANDIDATE = /[a-z0-9._%+-]+@(?:[a-z0-9-]+\.)+[a-z]{2,63}/gi;
const IPV4_CANDIDATE =
  /(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?:\/[0-9]{1,2}|:[0-9]{1,5})?(?![0-9]|\.[0-9])/g;
const IPV6_CANDIDATE =
  /(?<![0-9a-z:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:\/[0-9]{1,3})?(?![0-9a-z:])/gi;
const HASH_CANDIDATE =
  /(?<![0-9a-z])(?:[0-9a-f]{128}|[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})(?![0-9a-z])/gi;
const ASN_CANDIDATE = /\bAS[0-9]{1,10}\b/g;
const DOMAIN_CANDIDATE =
  /(?<![0-9a-z._%+-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}(?![0-9a-z-]|\.[0-9a-z])/gi;

/** Characters that end a sentence rather than a URL. */
const TRAILING_PUNCTUATION = /[.,;:!?'")\]}>]+$/;

/**
 * Top-level domains that are also common file extensions. In prose, `report.md` or
 * `invoice.zip` is far more often a file than a host, so such a name is taken only when
 * the text defanged it (`evil[.]zip`).
 */
const FILE_EXTENSION_TLDS = new Set([
  'zip',
  'mov',
  'md',
  'sh',
  'py',
  'rs',
  'pl',
  'ps',
  'so',
  'sc',
  'cs',
  'exe',
  'dll',
]);

/**
 * Returns the indicators in one piece of prose, each once, in order of kind. Domain names
 * count only when their public suffix is in the ICANN section of the Public Suffix List
 * (through tldts), so `e.g` or `config.local` are not picked up.
 */
export function extractIndicators(text: string): Observable[] {
  const plain = refang(text);
  const found = new Map<string, Observable>();
  const add = (candidate: string): void => {
    const observable = classify(candidate);
    if (observable.ok)
      found.set(`${observable.value.kind} ${observable.value.value}`, observable.value);
  };

  let rest = plain;
  const take = (pattern: RegExp, clean: (match: string) => string | undefined): void => {
    rest = rest.replace(pattern, (match) => {
      const candidate = clean(match);
      if (candidate !== undefined) add(candidate);
      return ' '.repeat(match.length);
    });
  };

  take(URL_CANDIDATE, trimUrl);
  take(EMAIL_CANDIDATE, (match) => match);
  take(IPV4_CANDIDATE, (match) => match);
  take(IPV6_CANDIDATE, (match) => (match.replace(/[^:]/g, '').length >= 2 ? match : undefined));
  take(HASH_CANDIDATE, (match) => match);
  take(ASN_CANDIDATE, (match) => match);
  take(DOMAIN_CANDIDATE, (match) => (isLikelyDomain(match, text) ? match : undefined));
  return [...found.values()];
}

/** Cuts sentence punctuation off a URL, keeping a closing bracket that has its opener. */
function trimUrl(match: string): string {
  let url = match;
  for (;;) {
    const trailing = TRAILING_PUNCTUATION.exec(url);
    if (!trailing) return url;
    const last = url[url.length - 1]!;
    const opener = { ')': '(', ']': '[', '}': '{', '>': '<' }[last];
    if (opener && count(url, opener) >= count(url, last)) return url;
    url = url.slice(0, -1);
  }
}

function count(text: string, character: string): number {
  return text.split(character).length - 1;
}

function isLikelyDomain(name: string, original: string): boolean {
  const parsed = parseDomain(name);
  if (!parsed.isIcann || parsed.domain === null) return false;
  const tld = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  if (!FILE_EXTENSION_TLDS.has(tld)) return true;
  // Taken only when defanged: the plain name does not appear in the original text.
  return !original.toLowerCase().includes(name.toLowerCase());
}

/**
 * Converts prose to STIX: every indicator found gives its SCO and an indicator. The same
 * value found again later in the text gives no second indicator.
 */
export async function* convertFreeText(
  lines: LineReader,
  options: ConvertOptions,
  report: ConversionReport,
): AsyncGenerator<StixObject> {
  const emitter = new StixEmitter(report, options.warninglists);
  const indicator = listIndicator(options);
  const seen = new Set<string>();
  for await (const batch of lines.batches()) {
    for (const line of batch) {
      if (line.truncated) {
        report.skip(`line ${line.number}`, 'too-long', LINE_TOO_LONG);
        continue;
      }
      for (const observable of extractIndicators(line.text)) {
        const key = `${observable.kind} ${observable.value}`;
        if (seen.has(key)) continue;
        if (seen.size < 1_000_000) seen.add(key);
        report.records++;
        yield* emitter.observable(observable, indicator, `line ${line.number}`);
      }
    }
  }
}
