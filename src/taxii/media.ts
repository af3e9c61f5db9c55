/**
 * TAXII 2.1 media types and content negotiation (TAXII 2.1 sections 1.6.8 and 3.1).
 */

/** The media type of every TAXII 2.1 response, success or error. */
export const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1';
export const STIX_MEDIA_TYPE = 'application/stix+json;version=2.1';

interface MediaRange {
  type: string;
  subtype: string;
  params: Map<string, string>;
  quality: number;
}

/** Parses an Accept or Content-Type header into media ranges, skipping malformed parts. */
export function parseMediaRanges(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [essence, ...paramParts] = part.split(';');
    const [type, subtype] = (essence ?? '').trim().toLowerCase().split('/');
    if (!type || !subtype) continue;
    const params = new Map<string, string>();
    for (const param of paramParts) {
      const eq = param.indexOf('=');
      if (eq < 0) continue;
      const name = param.slice(0, eq).trim().toLowerCase();
      const value = param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      params.set(name, value);
    }
    const q = params.has('q') ? Number(params.get('q')) : 1;
    ranges.push({ type, subtype, params, quality: Number.isFinite(q) ? q : 0 });
  }
  return ranges;
}

function isTaxii21(range: MediaRange): boolean {
  if (range.type !== 'application' || range.subtype !== 'taxii+json') return false;
  const version = range.params.get('version');
  // No version means "the latest version the server supports" (TAXII 2.1 section 1.6.8.1).
  return version === undefined || version === '2.1';
}

function isLenientMatch(range: MediaRange): boolean {
  if (range.type === '*' && range.subtype === '*') return true;
  if (range.type !== 'application') return false;
  return range.subtype === '*' || range.subtype === 'json';
}

/**
 * Whether a response in TAXII 2.1 may be sent for this Accept header. Lenient mode also
 * takes `application/json`, wildcards and a missing header, as sent by some clients.
 */
export function acceptsTaxii(accept: string | undefined, lenient: boolean): boolean {
  if (accept === undefined || accept.trim() === '') return lenient;
  const ranges = parseMediaRanges(accept).filter((range) => range.quality > 0);
  return ranges.some((range) => isTaxii21(range) || (lenient && isLenientMatch(range)));
}

/** Whether a POST body's Content-Type is one the objects endpoint reads. */
export function isTaxiiContentType(contentType: string | undefined, lenient: boolean): boolean {
  if (contentType === undefined) return false;
  const [range] = parseMediaRanges(contentType);
  if (!range) return false;
  if (isTaxii21(range)) return true;
  if (!lenient || range.type !== 'application') return false;
  if (range.subtype === 'json') return true;
  const version = range.params.get('version');
  return range.subtype === 'stix+json' && (version === undefined || version === '2.1');
}
