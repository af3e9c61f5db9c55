/**
 * POSTed envelopes: the objects list of a TAXII envelope or STIX bundle, and its
 * validation from the raw body, which runs on the main thread or in an envelope worker.
 */
import type { ErrorCode } from '../errors.ts';
import { CairnError } from '../errors.ts';
import { validateChunks, type ValidatedChunk } from '../ingest/submit.ts';
import { parseJsonBytes } from './body.ts';

/** Returns the objects of a parsed TAXII envelope or STIX bundle; anything else is a 422. */
export function envelopeObjects(body: unknown): unknown[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new CairnError(
      'invalid-envelope',
      'the body must be a JSON object: {"objects": [...]} or a STIX bundle',
    );
  }
  const objects = (body as Record<string, unknown>).objects;
  if (!Array.isArray(objects)) {
    throw new CairnError(
      'invalid-envelope',
      'the body has no "objects" list: send {"objects": [ STIX objects ]}',
    );
  }
  if (objects.length === 0) {
    throw new CairnError(
      'invalid-envelope',
      'the "objects" list is empty: send at least one STIX object',
    );
  }
  return objects;
}

/** A validated envelope, or the client error of its body, as it crosses between threads. */
export type EnvelopeOutcome =
  | { ok: true; total: number; chunks: ValidatedChunk[] }
  | { ok: false; code: ErrorCode; message: string; details?: Record<string, unknown> };

/**
 * Parses a body and validates all its objects at once, in chunks of SUBMIT_CHUNK. A
 * CairnError becomes an outcome; any other error is thrown.
 */
export function validateEnvelope(bytes: Uint8Array): EnvelopeOutcome {
  try {
    const objects = envelopeObjects(parseJsonBytes(bytes));
    return { ok: true, total: objects.length, chunks: [...validateChunks(objects)] };
  } catch (error) {
    if (!(error instanceof CairnError)) throw error;
    return {
      ok: false,
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
    };
  }
}
