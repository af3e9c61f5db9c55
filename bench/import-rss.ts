/**
 * Peak memory and throughput of `cairn import` on a large bundle.
 *
 *   node --import tsx bench/import-rss.ts [megabytes] [--keep] [--compiled]
 *
 * Writes a bundle of about `megabytes` MB (default 1024) of indicators with unique ids to
 * the temporary folder, streamed so the generator itself stays small. Then it runs
 * `cairn import` as a child process on a fresh SQLite file, through tsx or, with
 * --compiled, from dist/ as installed (run `npm run build` first), and reads the child's
 * VmHWM (peak resident set) and VmRSS from /proc every 200 ms, and prints the peak, the
 * elapsed time and objects per second. The bundle is deleted afterwards unless --keep is
 * given; a kept bundle of the same size is reused. Linux only, because of /proc.
 *
 * The goal is a peak under 300 MB. Of the peak, the store's SQLite page cache takes up to
 * 64 MiB (its default cache_size) and tsx about 40 MiB that a compiled run does not have.
 *
 * One run each on 2 cores (Intel Xeon), 24 GiB, Node 20.20.2, with other jobs sharing the
 * cores (load average about 5), 977 MiB and 1,125,684 indicators:
 *   --compiled  peak RSS 240 MiB, 68 s, 16,500 objects/s
 *   tsx         peak RSS 276 MiB, 80 s, 14,100 objects/s
 * Reading alone (BundleReader, no validation or store) ran at 80 MB/s on the same file.
 */
import { spawn } from 'node:child_process';
import { randomUUID, createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { once } from 'node:events';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

const megabytes = Number(process.argv.find((arg) => /^\d+$/.test(arg)) ?? 1024);
const keep = process.argv.includes('--keep');
const compiled = process.argv.includes('--compiled');
const bundlePath = join(tmpdir(), `cairn-import-bench-${megabytes}MB.json`);
const SAMPLE_INTERVAL_MS = 200;

const KILL_CHAIN = [
  'reconnaissance',
  'delivery',
  'exploitation',
  'installation',
  'command-and-control',
];
const LABELS = ['phishing', 'c2', 'botnet', 'ransomware', 'stalkerware', 'scanner'];
const MARKING_TLP_GREEN = 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da';
const IDENTITY = 'identity--7b1e2f4c-9d8a-4c1e-b3f5-0a6d2c8e9f10';

function timestamp(n: number): string {
  return new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString();
}

/** Returns a pattern of one of four common indicator kinds, different for every n. */
function pattern(n: number): string {
  switch (n % 4) {
    case 0:
      return `[domain-name:value = 'host${n}.bad-${n % 977}.example']`;
    case 1:
      return `[ipv4-addr:value = '198.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}/32']`;
    case 2:
      return `[url:value = 'https://cdn${n % 53}.example.net/payload/${n}.bin']`;
    default: {
      const digest = createHash('sha256').update(String(n)).digest('hex');
      return `[file:hashes.'SHA-256' = '${digest}']`;
    }
  }
}

function indicator(n: number): Record<string, unknown> {
  const time = timestamp(n);
  return {
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--${randomUUID()}`,
    created_by_ref: IDENTITY,
    created: time,
    modified: time,
    name: `Indicator ${n} from the weekly feed`,
    description: `Seen in campaign ${n % 131} against the finance sector; confidence from sandbox runs.`,
    indicator_types: ['malicious-activity'],
    pattern: pattern(n),
    pattern_type: 'stix',
    pattern_version: '2.1',
    valid_from: time,
    kill_chain_phases: [
      { kill_chain_name: 'lockheed-martin-cyber-kill-chain', phase_name: KILL_CHAIN[n % 5] },
    ],
    labels: [LABELS[n % 6], LABELS[(n + 1) % 6]],
    confidence: 50 + (n % 50),
    external_references: [{ source_name: 'feed', url: `https://feed.example.org/items/${n}` }],
    object_marking_refs: [MARKING_TLP_GREEN],
  };
}

/** Writes the bundle, waiting for 'drain' so the generator's memory stays flat. */
async function generate(path: string, targetBytes: number): Promise<number> {
  const output = createWriteStream(path);
  let bytes = 0;
  let count = 0;
  const write = async (text: string): Promise<void> => {
    bytes += Buffer.byteLength(text);
    if (!output.write(text)) await once(output, 'drain');
  };
  await write(`{"type":"bundle","id":"bundle--${randomUUID()}","objects":[\n`);
  while (bytes < targetBytes) {
    await write(`${count ? ',\n' : ''}${JSON.stringify(indicator(count))}`);
    count++;
  }
  await write('\n]}\n');
  output.end();
  await once(output, 'finish');
  return count;
}

/** Reads VmHWM and VmRSS of a process in bytes, or undefined once it has exited. */
function memoryOf(pid: number): { peak: number; resident: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kilobytes = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { peak: kilobytes('VmHWM') * 1024, resident: kilobytes('VmRSS') * 1024 };
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

if (!existsSync(bundlePath)) {
  const started = performance.now();
  // Written under another name first, so an interrupted run leaves no bundle to reuse.
  const count = await generate(`${bundlePath}.partial`, megabytes * 1e6);
  renameSync(`${bundlePath}.partial`, bundlePath);
  const seconds = (performance.now() - started) / 1000;
  console.log(`generated ${count} indicators in ${bundlePath} in ${seconds.toFixed(0)} s`);
}
const inputBytes = statSync(bundlePath).size;

const dir = mkdtempSync(join(tmpdir(), 'cairn-import-bench-'));
const store = `sqlite:${join(dir, 'bench.db')}`;
const started = performance.now();
const cli = compiled ? ['dist/cli/main.js'] : ['--import', 'tsx', 'src/cli/main.ts'];
const child = spawn(process.execPath, [...cli, '--store', store, 'import', bundlePath, '--quiet'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));

let peak = 0;
let maxResident = 0;
const sampler = setInterval(() => {
  const memory = memoryOf(child.pid!);
  if (!memory) return;
  peak = Math.max(peak, memory.peak);
  maxResident = Math.max(maxResident, memory.resident);
}, SAMPLE_INTERVAL_MS);
const [exitCode] = (await once(child, 'exit')) as [number | null];
clearInterval(sampler);
const seconds = (performance.now() - started) / 1000;

const read = Number(/read (\d+) objects/.exec(output)?.[1] ?? NaN);
console.log(output.trimEnd());
console.log(
  [
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${mib(totalmem())}, Node ${process.version}`,
    `command: node ${cli.join(' ')} import, input ${mib(inputBytes)}, exit code ${exitCode}`,
    `elapsed: ${seconds.toFixed(1)} s, ${Math.round(read / seconds)} objects/s, ${(inputBytes / 2 ** 20 / seconds).toFixed(1)} MiB/s`,
    `peak RSS (VmHWM, last sample before exit): ${mib(peak)}; highest VmRSS sampled: ${mib(maxResident)}`,
  ].join('\n'),
);

rmSync(dir, { recursive: true, force: true });
if (!keep) rmSync(bundlePath, { force: true });
process.exitCode = exitCode === 0 && peak < 300 * 2 ** 20 ? 0 : 1;
