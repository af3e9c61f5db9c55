/**
 * Main-thread CPU of one POST body validated in place against the same body sent to an
 * envelope worker, by body size: where the worker starts to pay (taxii.envelopeWorkerMinBytes).
 *
 *   node --import tsx bench/envelope-pool.ts
 *
 * Bodies are envelopes of N real indicators (stalkerware templates under new ids). The CPU
 * time is the main thread's, from /proc, whose clock ticks are 10 ms: each size runs long
 * enough for a few hundred ticks.
 */
import { validateChunks } from '../src/ingest/submit.ts';
import { parseJsonBytes } from '../src/taxii/body.ts';
import { EnvelopePool } from '../src/taxii/envelope-pool.ts';
import { envelopeObjects } from '../src/taxii/envelope.ts';
import { freshCopy, loadAverage, machine, mainThreadCpuSeconds, realIndicators } from './lib.ts';

const templates = realIndicators();
const pool = new EnvelopePool({ workers: 1, minBytes: 0 });
const envelope = (count: number): Buffer =>
  Buffer.from(
    JSON.stringify({
      objects: Array.from({ length: count }, (_, i) => freshCopy(templates[i % templates.length]!)),
    }),
  );
// The first task starts the thread.
await pool.validate(envelope(1));

const sizes = [];
let chunks = 0;
for (const count of [8, 16, 32, 64, 128, 256]) {
  const body = envelope(count);
  const rounds = Math.round(40_000 / count);
  let start = mainThreadCpuSeconds(process.pid);
  for (let i = 0; i < rounds; i++)
    chunks += [...validateChunks(envelopeObjects(parseJsonBytes(body)))].length;
  const inPlace = (mainThreadCpuSeconds(process.pid) - start) / rounds;
  start = mainThreadCpuSeconds(process.pid);
  // A copy each time, as the pool takes the memory of the body it is given.
  for (let i = 0; i < rounds; i++) await pool.validate(Buffer.from(body));
  const worker = (mainThreadCpuSeconds(process.pid) - start) / rounds;
  sizes.push({
    objects: count,
    bytes: body.byteLength,
    inPlaceMs: Math.round(inPlace * 1e6) / 1000,
    workerMs: Math.round(worker * 1e6) / 1000,
  });
}
await pool.close();
console.log(
  JSON.stringify({
    benchmark: 'envelope-pool',
    machine: machine(),
    sizes,
    // Counted so that the validation in place is not optimised away.
    chunks,
    loadAverage: loadAverage(),
  }),
);
