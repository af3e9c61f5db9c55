/**
 * A TAXII 2.1 collection as a connector source (TAXII 2.1 sections 3.4, 3.5 and 5.4).
 *
 * Paging follows the standard: while the server returns `next`, each following request
 * repeats the original query parameters unchanged and adds `next`. Only when a page says
 * `more` without a `next` does the source start a new query with `added_after` set to that
 * page's X-TAXII-Date-Added-Last header, without `next`. The two are never mixed in one
 * request. Each page is as large as the server makes it; `limit` is only a request.
 *
 * A page is parsed as a stream (src/ingest/bundle-reader.ts) and stored in batches of the
 * connector's batchSize, so memory depends on the batch and the largest object, not on the
 * page. `more` and `next` may follow `objects` in the envelope, so they are known only at the
 * end of the page.
 *
 * The checkpoint keeps the date_added high-water mark for the next run and, while paging
 * with `next`, the token and the query it belongs to. Batches inside a page carry the
 * checkpoint from before the page, and only the page's last batch moves it on. A run that
 * stops inside a page, or finds it malformed, therefore reads the whole page again, and the
 * objects stored from it come back as duplicates.
 */
import { BundleReadError, BundleReader } from '../ingest/bundle-reader.ts';
import { timestampToMicros } from '../stix/timestamp.ts';
import { FetchError, describeUrl, fetchWithRetry } from './http.ts';
import { requestOptions } from './input.ts';
import {
  objectCheckpoint,
  type ConnectorSource,
  type SourceBatch,
  type SourceContext,
  type SourceRejection,
} from './source.ts';

export const TAXII_ACCEPT = 'application/taxii+json;version=2.1';

/** Pages in a row with `more` but no objects before the run stops, so a faulty server cannot loop it. */
const MAX_EMPTY_PAGES = 3;

export interface TaxiiCheckpoint {
  /** X-TAXII-Date-Added-Last of the last stored page: the next run asks for what came after. */
  addedAfter?: string;
  /** Paging with `next` in progress: the token and the `added_after` of its query. */
  paging?: { queryAddedAfter?: string; next: string };
}

/** The envelope's properties besides its objects, known once the page is read to its end. */
interface PageEnd {
  more: boolean;
  next?: string;
  /** Members of `objects`, skipped ones included. */
  count: number;
}

/** A batch being filled from a page. */
type PageBatch = SourceBatch & { rejections: SourceRejection[] };

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

/**
 * Checks that a page's X-TAXII-Date-Added-Last is later than the added_after of its request,
 * so paging from it moves on. A date that cannot be read counts as later unless it is the same
 * text, since a server may write timestamps in another form.
 */
function advances(lastAdded: string, addedAfter: string | undefined): boolean {
  if (addedAfter === undefined) return true;
  if (lastAdded === addedAfter) return false;
  const last = timestampToMicros(lastAdded);
  const after = timestampToMicros(addedAfter);
  return last === undefined || after === undefined || last > after;
}

/** Rewrites a reader error as a message naming the page and what happens next. */
function pageError(error: unknown, url: string): unknown {
  if (!(error instanceof BundleReadError)) return error;
  const page = `the page from ${describeUrl(url)}`;
  const problem =
    error.code === 'invalid-envelope'
      ? `${page} is not a TAXII envelope: ${error.message}`
      : error.code === 'payload-too-large'
        ? `${page} could not be read: ${error.message}`
        : `${page} is not JSON (${error.message}): is the URL a TAXII 2.1 collection?`;
  return new FetchError(
    `${problem}. The checkpoint stays before this page, so the next run reads it again`,
  );
}

/** A response body as a byte stream that counts the bytes it passes on. */
class CountedBody implements AsyncIterable<Uint8Array> {
  bytes = 0;

  constructor(private readonly response: Response) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    if (this.response.body === null) return;
    for await (const chunk of this.response.body as unknown as AsyncIterable<Uint8Array>) {
      this.bytes += chunk.length;
      yield chunk;
    }
  }
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
    // Tokens of the current query: a server that hands one out again would page forever.
    let tokensSeen = new Set<string>(next !== undefined ? [next] : []);

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
          tokensSeen = new Set();
          continue;
        }
        throw error;
      }
      const lastAdded = response.headers.get('x-taxii-date-added-last') ?? undefined;
      const pageStart = this.checkpoint(
        highWater,
        next !== undefined ? { next, queryAddedAfter } : undefined,
      );
      const pending: PageBatch = { objects: [], rejections: [], checkpoint: pageStart };
      const end = yield* this.readPage(response, url, connector.batchSize, pending);
      if (end.count > 0 && lastAdded !== undefined) highWater = lastAdded;

      if (!end.more) {
        yield { ...pending, checkpoint: this.checkpoint(highWater) };
        return;
      }
      emptyPages = end.count === 0 ? emptyPages + 1 : 0;
      if (emptyPages >= MAX_EMPTY_PAGES) {
        yield {
          ...pending,
          warnings: [`the server said "more" on ${emptyPages} empty pages in a row; stopped`],
          checkpoint: this.checkpoint(highWater),
        };
        return;
      }

      if (end.next !== undefined) {
        if (tokensSeen.has(end.next)) {
          throw new FetchError(
            `the page from ${describeUrl(url)} returned a "next" token that this query already used: paging would repeat pages, so the run stops`,
          );
        }
        tokensSeen.add(end.next);
        next = end.next;
        yield { ...pending, checkpoint: this.checkpoint(highWater, { next, queryAddedAfter }) };
        continue;
      }
      // More without next: page by added_after, as TAXII 2.1 section 3.4 describes.
      if (lastAdded === undefined) {
        throw new FetchError(
          `the page from ${describeUrl(url)} says "more" but has neither "next" nor an X-TAXII-Date-Added-Last header: the server cannot be paged`,
        );
      }
      if (next === undefined && !advances(lastAdded, queryAddedAfter)) {
        throw new FetchError(
          `the server returned X-TAXII-Date-Added-Last ${lastAdded}, which is not later than the request's added_after ${queryAddedAfter}: paging would not advance`,
        );
      }
      next = undefined;
      queryAddedAfter = lastAdded;
      tokensSeen = new Set();
      yield { ...pending, checkpoint: this.checkpoint(highWater) };
    }
  }

  /**
   * Reads one page as a stream. Each time `pending` contains batchSize objects and
   * rejections, it is yielded with the checkpoint from before the page and then emptied.
   * Returns the envelope's other members; `pending` keeps the page's last objects.
   */
  private async *readPage(
    response: Response,
    url: string,
    batchSize: number,
    pending: PageBatch,
  ): AsyncGenerator<SourceBatch, PageEnd> {
    const body = new CountedBody(response);
    const reader = new BundleReader(
      body,
      {},
      { keepKeys: ['more', 'next'], objectsOptional: true },
    );
    try {
      for await (const entry of reader) {
        if ('skipped' in entry) {
          pending.rejections.push({
            id: `${describeUrl(url)} objects[${entry.index}]`,
            message: `the object is ${entry.skipped}`,
            rule: entry.rule,
          });
        } else {
          pending.objects.push(entry.value);
        }
        if (pending.objects.length + pending.rejections.length >= batchSize) {
          yield {
            objects: pending.objects,
            rejections: pending.rejections,
            checkpoint: pending.checkpoint,
          };
          pending.objects = [];
          pending.rejections = [];
        }
      }
    } catch (error) {
      // An empty body counts as an empty envelope.
      if (!(error instanceof BundleReadError && body.bytes === 0)) {
        throw pageError(error, url);
      }
    }
    const { more, next } = reader.topLevel;
    return {
      more: more === true,
      count: reader.objectsRead,
      ...(typeof next === 'string' && next !== '' ? { next } : {}),
    };
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
