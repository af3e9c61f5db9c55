/**
 * A TAXII 2.1 collection as a connector source (TAXII 2.1 sections 3.4, 3.5 and 5.4).
 *
 * Paging follows the standard: while the server returns `next`, each following request
 * repeats the original query parameters unchanged and adds `next`. Only when a page says
 * `more` without a `next` does the source start a new query with `added_after` set to that
 * page's X-TAXII-Date-Added-Last header, without `next`. The two are never mixed in one
 * request. Each page is as large as the server makes it; `limit` is only a request.
 *
 * The checkpoint keeps the date_added high-water mark for the next run and, while paging
 * with `next`, the token and the query it belongs to, so a crashed run resumes at the page
 * after the last stored one.
 */
import { FetchError, describeUrl, fetchWithRetry, readLimited } from './http.ts';
import { requestOptions } from './input.ts';
import {
  objectCheckpoint,
  type ConnectorSource,
  type SourceBatch,
  type SourceContext,
} from './source.ts';

export const TAXII_ACCEPT = 'application/taxii+json;version=2.1';

/** Largest TAXII page read, in bytes. A page is bounded by the server's page size. */
export const MAX_PAGE_BYTES = 256 * 1024 * 1024;

/** Pages in a row with `more` but no objects before the run stops, so a faulty server cannot loop it. */
const MAX_EMPTY_PAGES = 3;

export interface TaxiiCheckpoint {
  /** X-TAXII-Date-Added-Last of the last stored page: the next run asks for what came after. */
  addedAfter?: string;
  /** Paging with `next` in progress: the token and the `added_after` of its query. */
  paging?: { queryAddedAfter?: string; next: string };
}

interface Envelope {
  more: boolean;
  next?: string;
  objects: unknown[];
}

/** The objects endpoint of a collection URL; an objects URL is kept as it is. */
export function objectsUrl(collectionUrl: string): URL {
  const url = new URL(collectionUrl);
  url.search = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  if (!url.pathname.endsWith('/objects/')) url.pathname += 'objects/';
  return url;
}

function readCheckpoint(value: unknown): TaxiiCheckpoint {
  const raw = objectCheckpoint(value);
  const checkpoint: TaxiiCheckpoint = {};
  if (typeof raw.addedAfter === 'string') checkpoint.addedAfter = raw.addedAfter;
  const paging = objectCheckpoint(raw.paging);
  if (typeof paging.next === 'string') {
    checkpoint.paging = {
      next: paging.next,
      ...(typeof paging.queryAddedAfter === 'string'
        ? { queryAddedAfter: paging.queryAddedAfter }
        : {}),
    };
  }
  return checkpoint;
}

function parseEnvelope(text: string, url: string): Envelope {
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch (error) {
    throw new FetchError(
      `the page from ${describeUrl(url)} is not JSON (${(error as Error).message}): is the URL a TAXII 2.1 collection?`,
    );
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new FetchError(`the page from ${describeUrl(url)} is not a TAXII envelope`);
  }
  const envelope = body as Record<string, unknown>;
  const objects = envelope.objects ?? [];
  if (!Array.isArray(objects)) {
    throw new FetchError(`the page from ${describeUrl(url)} has an "objects" that is not a list`);
  }
  const more = envelope.more === true;
  const next =
    typeof envelope.next === 'string' && envelope.next !== '' ? envelope.next : undefined;
  return { more, objects, ...(next !== undefined ? { next } : {}) };
}

export class TaxiiSource implements ConnectorSource {
  async *read(context: SourceContext): AsyncIterable<SourceBatch> {
    const { connector } = context;
    const start = readCheckpoint(context.checkpoint);
    let highWater = start.addedAfter;
    // The added_after of the current query; with `next` it stays as the query began.
    let queryAddedAfter = start.paging ? start.paging.queryAddedAfter : start.addedAfter;
    let next = start.paging?.next;
    let emptyPages = 0;

    for (;;) {
      const url = this.pageUrl(queryAddedAfter, next);
      let response: Response;
      try {
        response = await this.get(url, context);
      } catch (error) {
        // A resumed `next` may have expired on the server. Start a new query from the
        // high-water mark; the page after it is read again at worst.
        if (next !== undefined && error instanceof FetchError && error.status === 400) {
          context.logger.warn(
            { connector: connector.id, url: describeUrl(url) },
            'TAXII server rejected the stored next token; continuing with added_after',
          );
          next = undefined;
          queryAddedAfter = highWater;
          continue;
        }
        throw error;
      }
      const page = parseEnvelope(await readLimited(response, MAX_PAGE_BYTES, 'a TAXII page'), url);
      const lastAdded = response.headers.get('x-taxii-date-added-last') ?? undefined;
      if (page.objects.length > 0 && lastAdded !== undefined) highWater = lastAdded;

      if (!page.more) {
        yield { objects: page.objects, checkpoint: this.checkpoint(highWater) };
        return;
      }
      emptyPages = page.objects.length === 0 ? emptyPages + 1 : 0;
      if (emptyPages >= MAX_EMPTY_PAGES) {
        yield {
          objects: [],
          warnings: [`the server said "more" on ${emptyPages} empty pages in a row; stopped`],
          checkpoint: this.checkpoint(highWater),
        };
        return;
      }

      if (page.next !== undefined) {
        next = page.next;
        yield {
          objects: page.objects,
          checkpoint: this.checkpoint(highWater, { next, queryAddedAfter }),
        };
        continue;
      }
      // More without next: page by added_after, as TAXII 2.1 section 3.4 describes.
      if (lastAdded === undefined) {
        throw new FetchError(
          `the page from ${describeUrl(url)} says "more" but has neither "next" nor an X-TAXII-Date-Added-Last header: the server cannot be paged`,
        );
      }
      if (next === undefined && lastAdded === queryAddedAfter) {
        throw new FetchError(
          `the server returned the same X-TAXII-Date-Added-Last ${lastAdded} as the request's added_after: paging would not advance`,
        );
      }
      next = undefined;
      queryAddedAfter = lastAdded;
      yield { objects: page.objects, checkpoint: this.checkpoint(highWater) };
    }
  }

  private connectorUrl = '';
  private types: string[] | undefined;
  private pageSize: number | undefined;

  constructor(connector: { url: string; types?: string[]; pageSize?: number }) {
    this.connectorUrl = connector.url;
    this.types = connector.types;
    this.pageSize = connector.pageSize;
  }

  private pageUrl(addedAfter: string | undefined, next: string | undefined): string {
    const url = objectsUrl(this.connectorUrl);
    if (addedAfter !== undefined) url.searchParams.set('added_after', addedAfter);
    if (this.pageSize !== undefined) url.searchParams.set('limit', String(this.pageSize));
    if (this.types && this.types.length > 0)
      url.searchParams.set('match[type]', this.types.join(','));
    if (next !== undefined) url.searchParams.set('next', next);
    return url.toString();
  }

  private checkpoint(
    highWater: string | undefined,
    paging?: { next: string; queryAddedAfter: string | undefined },
  ): TaxiiCheckpoint {
    const checkpoint: TaxiiCheckpoint = {};
    if (highWater !== undefined) checkpoint.addedAfter = highWater;
    if (paging) {
      checkpoint.paging = {
        next: paging.next,
        ...(paging.queryAddedAfter !== undefined
          ? { queryAddedAfter: paging.queryAddedAfter }
          : {}),
      };
    }
    return checkpoint;
  }

  private get(url: string, context: SourceContext): Promise<Response> {
    const options = requestOptions(context.connector, context, { Accept: TAXII_ACCEPT });
    return fetchWithRetry(url, { ...options, accept: [] });
  }
}
