/**
 * `cairn stream`: follows a server's event stream and prints each event as one JSON line
 * on standard output. It reconnects with backoff after disconnects and server restarts and
 * resumes after the last cursor, so every event is printed once, in order. With
 * --cursor-file the cursor survives the command too: a later run resumes where this one
 * stopped.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CairnError } from '../../errors.ts';
import { followStream, StreamRequestError } from '../../stream/client.ts';

interface StreamCommandOptions {
  token?: string;
  collection?: string;
  community?: string;
  types?: string;
  labels?: string;
  tlp?: string;
  minConfidence?: string;
  from?: string;
  cursorFile?: string;
  quiet?: boolean;
}

/** How often the cursor file is rewritten at most, in milliseconds. */
const CURSOR_SAVE_INTERVAL_MS = 250;

function invalid(message: string): CairnError {
  return new CairnError('invalid-parameter', message);
}

/** Builds the stream URL of the options on a server base URL such as http://127.0.0.1:8470. */
export function streamUrl(server: string, options: StreamCommandOptions): string {
  let base: URL;
  try {
    base = new URL(server);
  } catch {
    throw invalid(
      `server URL ${JSON.stringify(server)} is not valid: use e.g. http://127.0.0.1:8470`,
    );
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw invalid(`server URL ${JSON.stringify(server)} must start with http:// or https://`);
  }
  if (options.collection !== undefined && options.community !== undefined) {
    throw invalid('give --collection or --community, not both');
  }
  const path =
    options.collection !== undefined
      ? `collections/${encodeURIComponent(options.collection)}`
      : options.community !== undefined
        ? `communities/${encodeURIComponent(options.community)}`
        : '';
  const url = new URL(`${base.pathname.replace(/\/$/, '')}/api/v1/streams/${path}`, base);
  url.pathname = url.pathname.replace(/\/$/, '');
  const query: Array<[string, string | undefined]> = [
    ['types', options.types],
    ['labels', options.labels],
    ['tlp', options.tlp],
    ['min_confidence', options.minConfidence],
    ['from', options.from],
  ];
  for (const [name, value] of query) if (value !== undefined) url.searchParams.set(name, value);
  return url.toString();
}

function readCursor(file: string): string | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    return text === '' ? undefined : text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CairnError(
      'invalid-parameter',
      `cannot read cursor file ${file}: ${(error as Error).message}`,
    );
  }
}

/** Replaces the cursor file in one step, so a crash never leaves half a cursor. */
function saveCursor(file: string, cursor: string): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${cursor}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

function writeLine(line: string): Promise<void> {
  if (process.stdout.write(`${line}\n`)) return Promise.resolve();
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

export function registerStream(program: Command): void {
  program
    .command('stream <server>')
    .description(
      'print the events of a server as JSON lines, following them across disconnects and restarts',
    )
    .option('--token <token>', 'API token (default: $CAIRN_TOKEN)')
    .option('--collection <id-or-alias>', 'only this collection, by id or alias')
    .option('--community <id>', 'only the collections of this community')
    .option('--types <types>', 'only these STIX types, separated by commas')
    .option('--labels <labels>', 'only objects with one of these labels, separated by commas')
    .option('--tlp <levels>', 'only versions marked with one of these TLP levels, e.g. green,amber')
    .option('--min-confidence <n>', 'only objects whose confidence is at least n (0 to 100)')
    .option(
      '--from <position>',
      'where to start when no cursor is saved: a cursor, an RFC 3339 time, or "start" ' +
        '(default: the new events from the first successful connection on)',
    )
    .option(
      '--cursor-file <file>',
      'file that keeps the cursor: read at start, rewritten as events arrive',
    )
    .option('-q, --quiet', 'print nothing on standard error')
    .action(async (server: string, options: StreamCommandOptions) => {
      const token = options.token ?? process.env.CAIRN_TOKEN;
      if (token === undefined || token === '') {
        throw invalid('no token: pass --token or set CAIRN_TOKEN');
      }
      const url = streamUrl(server, options);
      const saved = options.cursorFile === undefined ? undefined : readCursor(options.cursorFile);
      const note = (text: string) => {
        if (!options.quiet) process.stderr.write(`cairn stream: ${text}\n`);
      };

      const controller = new AbortController();
      let cursor = saved;
      let savedCursor = saved;
      const persist = () => {
        if (options.cursorFile === undefined || cursor === undefined || cursor === savedCursor) {
          return;
        }
        saveCursor(options.cursorFile, cursor);
        savedCursor = cursor;
      };
      const saver = setInterval(persist, CURSOR_SAVE_INTERVAL_MS);
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);

      note(`following ${url}${saved ? ' from the saved cursor' : ''}`);
      let count = 0;
      try {
        const messages = followStream(url, {
          token,
          ...(saved !== undefined ? { cursor: saved } : {}),
          signal: controller.signal,
          onCursor: (next) => (cursor = next),
          onReconnect: (reason, delayMs) =>
            note(`${reason}; reconnecting in ${(delayMs / 1000).toFixed(1)} s`),
        });
        for await (const message of messages) {
          await writeLine(JSON.stringify(message.data));
          count += 1;
        }
      } catch (error) {
        if (error instanceof StreamRequestError) {
          throw new CairnError(
            'invalid-parameter',
            `the server refused the stream: ${error.message}`,
          );
        }
        throw error;
      } finally {
        clearInterval(saver);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        persist();
      }
      note(`stopped after ${count} messages${cursor ? `; resume with --from ${cursor}` : ''}`);
    });
}
