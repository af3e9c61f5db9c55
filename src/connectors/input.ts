/**
 * Opening a connector's input, over HTTP or from a local file, as a byte stream with a
 * validator (ETag, Last-Modified, or a file's size and modification time) that tells
 * whether it changed since the last run.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Connector } from './definition.ts';
import { FetchError, describeUrl, fetchWithRetry, type RequestOptions } from './http.ts';
import type { SourceContext } from './source.ts';

export interface OpenedInput {
  /** Undefined when the input did not change since `validator` (HTTP 304). */
  stream?: AsyncIterable<Uint8Array>;
  /** What identifies this version of the input; absent when the server sends none. */
  validator?: string;
}

export function isLocal(location: string): boolean {
  return location.startsWith('/');
}

/** Opens a file or URL. With `unchangedSince`, an unchanged HTTP input gives no stream. */
export async function openInput(
  location: string,
  context: SourceContext,
  unchangedSince?: string,
): Promise<OpenedInput> {
  if (isLocal(location)) {
    let info;
    try {
      info = await stat(location);
    } catch (error) {
      throw new FetchError(`cannot read ${location}: ${(error as NodeJS.ErrnoException).code}`);
    }
    if (!info.isFile()) throw new FetchError(`${location} is not a regular file`);
    const validator = `file:${info.size}:${info.mtimeMs}`;
    if (validator === unchangedSince) return { validator };
    return { stream: createReadStream(location, { signal: context.signal }), validator };
  }
  const headers: Record<string, string> = {};
  if (unchangedSince?.startsWith('etag:')) headers['If-None-Match'] = unchangedSince.slice(5);
  if (unchangedSince?.startsWith('modified:')) {
    headers['If-Modified-Since'] = unchangedSince.slice(9);
  }
  const response = await fetchWithRetry(
    location,
    requestOptions(context.connector, context, headers),
  );
  if (response.status === 304) return { ...(unchangedSince ? { validator: unchangedSince } : {}) };
  const etag = response.headers.get('etag');
  const modified = response.headers.get('last-modified');
  const validator = etag ? `etag:${etag}` : modified ? `modified:${modified}` : undefined;
  if (response.body === null) throw new FetchError(`${describeUrl(location)} sent no body`);
  return {
    stream: response.body as unknown as AsyncIterable<Uint8Array>,
    ...(validator ? { validator } : {}),
  };
}

/**
 * Request options of a connector: its authentication and headers, retries, timeout, the
 * target rule of the run, and the `headers` of this request (Accept, validators).
 */
export function requestOptions(
  connector: Connector,
  context: SourceContext,
  headers: Record<string, string> = {},
): RequestOptions {
  return {
    auth: connector.auth,
    retry: connector.retry,
    timeoutMs: connector.timeoutSeconds * 1000,
    headers,
    ...(connector.headers ? { secretHeaders: connector.headers } : {}),
    allowPrivateTargets: context.allowPrivateTargets ?? false,
    signal: context.signal,
    accept: [304],
    onRetry: (event: { attempt: number; url: string; delayMs: number; reason: string }) =>
      context.onRetry(
        `retry ${event.attempt} of ${event.url} in ${event.delayMs} ms: ${event.reason}`,
      ),
  };
}
