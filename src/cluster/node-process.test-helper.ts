/**
 * A `cairn serve` child process from the sources (through tsx), for tests that kill a node
 * the way an operating system does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));

export interface NodeProcess {
  child: ChildProcess;
  url: string;
  /** The admin token printed at first start, or '' when the store had users already. */
  token: string;
  /** Resolves with the exit code, or the signal that ended the process. */
  exited: Promise<number | string>;
  /** Everything the process wrote to stderr so far. */
  output(): string;
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<void>;
}

/** Starts `cairn serve --port 0` with these CAIRN_* variables and waits until it listens. */
export async function startNodeProcess(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<NodeProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0'],
    {
      cwd: REPOSITORY,
      env: { ...process.env, CAIRN_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });

  const started = await new Promise<{ url: string; token: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cairn serve did not start within ${timeoutMs} ms: ${output}`));
    }, timeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`cairn serve exited with ${code} before listening: ${output}`));
    });
    const look = () => {
      const address = /listening on (http:\/\/\S+)/.exec(output);
      // The welcome text ends with a blank line, after the token when one is printed.
      if (address && /\n\n\s*$/.test(output)) {
        clearTimeout(timer);
        child.stderr!.off('data', look);
        const issued = /(cairn_[0-9a-f]{32}_[A-Za-z0-9_-]{43})/.exec(output);
        resolve({ url: address[1]!, token: issued?.[1] ?? '' });
      }
    };
    child.stderr!.on('data', look);
  });

  return {
    child,
    ...started,
    exited,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
