/**
 * Server cold start: from spawning `node dist/cli/main.js serve` to the first answered
 * TAXII request, on an existing database, ten times.
 *
 *   npm run build && node --import tsx bench/cold-start.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, percentile, startServerProcess } from './lib.ts';

const RUNS = 10;
const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-'));
const location = `sqlite:${join(dir, 'bench.db')}`;

const first = await startServerProcess(location);
const token = first.token;
await first.stop();

const times: number[] = [];
for (let run = 0; run < RUNS; run += 1) {
  const started = performance.now();
  const server = await startServerProcess(location);
  const response = await fetch(`${server.url}/taxii2/`, {
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/taxii+json;version=2.1' },
  });
  if (response.status !== 200) throw new Error(`discovery returned status ${response.status}`);
  times.push(performance.now() - started);
  await server.stop();
}
rmSync(dir, { recursive: true, force: true });
times.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    benchmark: 'cold-start',
    machine: machine(),
    runs: RUNS,
    medianMs: Math.round(percentile(times, 50)),
    maxMs: Math.round(times[times.length - 1]!),
  }),
);
