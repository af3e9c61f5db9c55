/**
 * Shared pieces of the benchmark scripts: starting a compiled server as a child process,
 * loading real indicators, and percentiles.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dataPath } from '../src/testing/data.ts';

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  token: string;
  stop(): Promise<void>;
}

/**
 * Starts `dist/cli/main.js serve` (run `npm run build` first) on a free port and waits for
 * the address and admin token it prints. `nodeOptions` go to the Node.js of the server, for
 * options that NODE_OPTIONS does not take, such as --cpu-prof.
 */
export async function startServerProcess(
  store: string,
  env: Record<string, string> = {},
  nodeOptions: string[] = [],
): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [...nodeOptions, 'dist/cli/main.js', '--store', store, 'serve', '--port', '0'],
    {
      env: { ...process.env, CAIRN_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'inherit', 'pipe'],
    },
  );
  let output = '';
  const { url, token } = await new Promise<{ url: string; token: string }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const address = /listening on (http:\/\/\S+)/.exec(output);
      if (address && /\n\n\s*$/.test(output)) {
        const issued = /(cairn_[0-9a-f]{32}_[A-Za-z0-9_-]{43})/.exec(output);
        resolve({ url: address[1]!, token: issued?.[1] ?? '' });
      }
    });
  });
  return {
    child,
    url,
    token,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The indicators of the stalkerware bundle, as templates for synthetic load. */
export function realIndicators(): Array<Record<string, unknown>> {
  const bundle = JSON.parse(
    readFileSync(dataPath('stalkerware-indicators/generated/stalkerware.stix2'), 'utf8'),
  ) as { objects: Array<Record<string, unknown>> };
  return bundle.objects.filter((object) => object.type === 'indicator');
}

/** A copy of a real indicator under a new id, so every copy is a new object. */
export function freshCopy(template: Record<string, unknown>): Record<string, unknown> {
  return { ...template, id: `indicator--${randomUUID()}` };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/**
 * Returns the CPU time of a process so far, in seconds, from /proc: user plus system time,
 * counted in clock ticks of 1/100 s (USER_HZ, which Linux fixes at 100 for this interface).
 */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** Returns the CPU time of a process's main thread, without its worker threads, from /proc. */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

function statCpuSeconds(path: string): number {
  const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Returns the resident memory of a process, in KiB, from /proc. */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]);
}

/** Returns the one-minute load average, rounded to one decimal. */
export function loadAverage(): number {
  return Math.round(loadavg()[0]! * 10) / 10;
}
