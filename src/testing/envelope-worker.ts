/**
 * An envelope worker that misbehaves on request, for the pool's tests: a body that starts
 * with `exit` ends the thread, `throw` throws, and `spin` never returns. Other bodies are
 * validated as by the real worker.
 */
import validateTask from '../taxii/envelope-worker.ts';

export default function misbehavingTask(bytes: Uint8Array): unknown {
  const start = Buffer.from(bytes.subarray(0, 5)).toString('latin1');
  if (start === 'exit ') process.exit(3);
  if (start === 'throw') throw new Error('the worker broke');
  if (start === 'spin ') for (;;);
  return validateTask(bytes);
}
