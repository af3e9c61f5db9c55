/**
 * `cairn check FILE`: looks up the observables of every line of a log or list (proxy logs,
 * DNS logs, CSV) in the indicators, SCOs, sightings and watch lists the acting user may
 * see. It streams one NDJSON line per matching line, with a progress bar on standard
 * error. It reads the store directly: it builds the value index first, which takes
 * a few seconds per million stored objects.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Caller } from '../../auth/tokens.ts';
import { CairnError } from '../../errors.ts';
import { createLogger } from '../../log/logger.ts';
import { CheckSession, MAX_LINE_LENGTH } from '../../watch/check.ts';
import { readLines } from '../../watch/lines.ts';
import { loadEngine } from '../../watch/runtime.ts';
import { WatchService } from '../../watch/service.ts';
import { ValueIndexFeed } from '../../watch/value-index.ts';
import { formatBytes } from './import.ts';
import { actingOption, withServices, type SharingOptions } from './sharing-context.ts';

interface CheckOptions extends SharingOptions {
  output?: string;
  quiet?: boolean;
  watch: boolean;
}

/** Milliseconds between progress lines when standard error is not a terminal. */
const PLAIN_PROGRESS_INTERVAL_MS = 5_000;

interface Progress {
  update(values: { bytes: number; lines: number; matched: number }): void;
  stop(): void;
}

/**
 * Shows a progress bar on a terminal, a line every few seconds elsewhere, nothing when
 * quiet. `unit` names what `lines` counts.
 */
function startProgress(
  label: string,
  unit: 'lines' | 'objects',
  total: number | undefined,
  quiet: boolean,
): Progress {
  if (quiet) return { update: () => {}, stop: () => {} };
  const started = performance.now();
  const rate = (lines: number) => {
    const seconds = (performance.now() - started) / 1000;
    return seconds > 0 ? Math.round(lines / seconds) : 0;
  };
  if (process.stderr.isTTY) {
    const counters =
      unit === 'lines'
        ? '{lines} lines | {matched} matched | {rate} lines/s'
        : '{lines} objects | {rate} objects/s';
    const bar = new cliProgress.SingleBar(
      {
        format: total
          ? `${label} [{bar}] {percentage}% | ${counters} | ETA {eta_formatted}`
          : `${label} ${counters} | {duration_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total ?? 0, 0, { lines: 0, matched: 0, rate: 0 });
    return {
      update: ({ bytes, lines, matched }) =>
        bar.update(total ? bytes : lines, { lines, matched, rate: rate(lines) }),
      stop: () => bar.stop(),
    };
  }
  let last = started;
  return {
    update: ({ bytes, lines, matched }) => {
      const now = performance.now();
      if (now - last < PLAIN_PROGRESS_INTERVAL_MS) return;
      last = now;
      const share = total ? `, ${Math.min(100, (bytes / total) * 100).toFixed(0)}%` : '';
      process.stderr.write(
        unit === 'lines'
          ? `${label}: ${lines} lines, ${matched} matched, ${formatBytes(bytes)}${share}, ${rate(lines)} lines/s\n`
          : `${label}: ${lines} objects, ${rate(lines)} objects/s\n`,
      );
    },
    stop: () => {},
  };
}

async function openInput(
  file: string,
): Promise<{ stream: AsyncIterable<Uint8Array>; size?: number }> {
  if (file === '-') return { stream: process.stdin };
  try {
    const info = await stat(file);
    if (!info.isFile())
      throw new CairnError('invalid-parameter', `cannot read ${file}: not a regular file`);
    return { stream: createReadStream(file, { highWaterMark: 1 << 20 }), size: info.size };
  } catch (error) {
    if (error instanceof CairnError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new CairnError(
      'not-found',
      `cannot read ${file}: ${code === 'ENOENT' ? 'file not found' : (code ?? String(error))}`,
    );
  }
}

async function writeLine(output: Writable, line: string): Promise<void> {
  if (!output.write(line)) await once(output, 'drain');
}

export function registerCheck(program: Command): void {
  actingOption(
    program
      .command('check <file>')
      .description(
        'look up the IPs, domains, URLs, e-mail addresses and hashes of each line of a log or list (- for standard input); prints NDJSON',
      )
      .option('-o, --output <file>', 'write the NDJSON to a file instead of standard output')
      .option('--no-watch', 'leave watch lists out of the look-up')
      .option('-q, --quiet', 'print no progress, only the summary'),
  ).action(async (file: string, _options, command: Command) => {
    const options = command.optsWithGlobals<CheckOptions>();
    await withServices(options, async (context) => {
      const service = new WatchService(context.store);
      const acting = await service.resolve(context.actor);
      const caller: Caller = {
        user: acting.user,
        token: {
          id: 'cli',
          userId: acting.user.id,
          label: 'CLI',
          secretHash: '',
          scopes: [],
          createdAt: 0,
        },
      };
      const input = await openInput(file);
      const quiet = options.quiet ?? false;

      const started = performance.now();
      const feed = new ValueIndexFeed(context.store, createLogger('silent'));
      const indexing = startProgress('indexing', 'objects', undefined, quiet);
      await feed.build((objects) => indexing.update({ bytes: 0, lines: objects, matched: 0 }));
      indexing.stop();
      const engine = options.watch ? await loadEngine(service) : undefined;
      const indexSeconds = (performance.now() - started) / 1000;

      const output: Writable = options.output ? createWriteStream(options.output) : process.stdout;
      let bytes = 0;
      const progress = startProgress('checking', 'lines', input.size, quiet);
      const session = new CheckSession({
        store: context.store,
        index: feed.index,
        ...(engine ? { engine } : {}),
        caller,
        listVisible: (list) => service.visibleTo(acting, list),
      });
      const checking = performance.now();
      const report = () =>
        progress.update({
          bytes,
          lines: session.summary.lines,
          matched: session.summary.matchedLines,
        });
      // Each chunk read (up to 1 MiB) moves the bar.
      const lines = readLines(input.stream, (count) => {
        bytes += count;
        report();
      });
      try {
        for await (const result of session.run(lines)) {
          await writeLine(output, `${JSON.stringify(result)}\n`);
        }
        // The NDJSON ends with the summary, as the HTTP look-up does.
        await writeLine(output, `${JSON.stringify({ summary: session.summary })}\n`);
        report();
      } finally {
        progress.stop();
        if (options.output) {
          output.end();
          await once(output, 'finish');
        }
      }
      const seconds = (performance.now() - checking) / 1000;
      const { lines: count, longLines, observables, matchedLines, matchedValues } = session.summary;
      process.stderr.write(
        `checked ${count} lines (${formatBytes(bytes)}, ${observables} observables) in ${seconds.toFixed(1)} s, ${Math.round(count / Math.max(seconds, 1e-6))} lines/s, after indexing ${feed.index.objectCount} objects in ${indexSeconds.toFixed(1)} s\n` +
          `${matchedLines} lines matched, ${matchedValues} values\n` +
          (longLines > 0
            ? `${longLines} lines of ${MAX_LINE_LENGTH} characters or more: only their first ${MAX_LINE_LENGTH} were checked\n`
            : ''),
      );
    });
  });
}
