/**
 * Request bodies: read up to the API root's max_content_length (TAXII 2.1 section 4.2.1),
 * decoded as strict UTF-8, parsed as JSON. Each failure is a 4xx that says what to fix.
 */
import { CairnError } from '../errors.ts';
import type { TaxiiContext } from './context.ts';

function tooLarge(limit: number): CairnError {
  return new CairnError(
    'payload-too-large',
    `the request body is larger than max_content_length (${limit} octets): split the objects over several requests`,
    { max_content_length: limit },
  );
}

/** Reads the raw body, stopping as soon as it passes `limit` octets. */
export async function readBodyBytes(c: TaxiiContext, limit: number): Promise<Buffer> {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  const stream = c.req.raw.body;
  if (!stream) return Buffer.alloc(0);

  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Decodes and parses a body already read; empty, invalid UTF-8 and invalid JSON are 400s.
 * It runs on the main thread and in the envelope workers (envelope-pool.ts).
 */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  if (bytes.length === 0) {
    throw new CairnError(
      'invalid-json',
      'the request body is empty: send a TAXII envelope {"objects": [...]}',
    );
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new CairnError(
      'invalid-encoding',
      'the request body is not valid UTF-8: JSON must be sent in UTF-8 (RFC 8259 section 8.1)',
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CairnError(
      'invalid-json',
      `the request body is not valid JSON: ${(error as Error).message}`,
    );
  }
}
