/** The task of the envelope pool's worker threads (envelope-pool.ts). */
import { type EnvelopeOutcome, validateEnvelope } from './envelope.ts';

export default function validateTask(bytes: Uint8Array): EnvelopeOutcome {
  return validateEnvelope(bytes);
}
