/**
 * Runs the leak suite over many generated worlds with consecutive seeds, each on a fresh
 * in-process server over a temporary SQLite store (a fresh server also starts with an empty
 * failed-authentication limiter), and prints the worlds run, the findings and the time.
 *
 *   node --import tsx bench/leak-worlds.ts [worlds=200] [first seed=1]
 *
 * Worlds are the small size, and per-object requests are capped at 4 ids per collection
 * and token, so that 200 worlds finish in minutes.
 */
import { cpus } from 'node:os';
import { buildWorld } from '../src/leak/build.ts';
import { checkWorld } from '../src/leak/check.ts';
import { formatFindings, type Finding } from '../src/leak/findings.ts';
import { generateWorld, SMALL_SIZE } from '../src/leak/generate.ts';
import { startTestServer } from '../src/testing/server.ts';

const worlds = Number(process.argv[2] ?? 200);
const firstSeed = Number(process.argv[3] ?? 1);
if (!Number.isSafeInteger(worlds) || worlds < 1 || !Number.isSafeInteger(firstSeed)) {
  throw new Error(
    `usage: leak-worlds.ts [worlds >= 1] [first seed], got ${process.argv.slice(2).join(' ')}`,
  );
}

const started = performance.now();
const leaky: Array<{ seed: number; findings: Finding[] }> = [];
let findingCount = 0;
let versions = 0;
let tokens = 0;
for (let seed = firstSeed; seed < firstSeed + worlds; seed++) {
  const server = await startTestServer();
  try {
    const world = generateWorld(seed, SMALL_SIZE);
    const built = await buildWorld(server, world);
    const findings = await checkWorld(server, built, {
      pageLimit: 2,
      maxObjectsPerCollection: 4,
      deletes: true,
    });
    versions += world.events.filter((e) => e.kind === 'share' && e.outcome === 'accepted').length;
    tokens += world.tokens.length;
    if (findings.length > 0) {
      leaky.push({ seed, findings });
      findingCount += findings.length;
    }
  } catch (error) {
    // A world that cannot be built or checked counts as a finding, and the run goes on.
    const detail = error instanceof Error ? error.message : String(error);
    leaky.push({
      seed,
      findings: [{ caller: '-', path: 'build or check', object: '-', rule: '-', detail }],
    });
    findingCount += 1;
  } finally {
    await server.dispose();
  }
  if ((seed - firstSeed + 1) % 20 === 0) {
    process.stderr.write(`${seed - firstSeed + 1}/${worlds} worlds, ${findingCount} findings\n`);
  }
}
const seconds = (performance.now() - started) / 1000;

console.log(`worlds run: ${worlds} (seeds ${firstSeed}..${firstSeed + worlds - 1})`);
console.log(`accepted shares: ${versions}, tokens checked: ${tokens}`);
console.log(`worlds with findings: ${leaky.length}, findings: ${findingCount}`);
for (const { seed, findings } of leaky.slice(0, 3)) {
  console.log(`world ${seed}:\n${formatFindings(findings, 5)}`);
}
console.log(
  `time: ${seconds.toFixed(1)} s on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`,
);
