import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { LocalNotifier } from '../events/notifier.ts';
import { createLogger } from '../log/logger.ts';
import { SqliteStore } from '../store/sqlite/index.ts';
import { objectVersion, stixId, stixTime } from '../store/store.case.ts';
import type { EventQuery, EventRecord, Store } from '../store/store.ts';
import { EventPump, type PumpOptions } from './pump.ts';

const directory = mkdtempSync(join(tmpdir(), 'cairn-pump-test-'));
let fileCount = 0;

after(() => {
  rmSync(directory, { recursive: true, force: true });
});

/**
 * A real SQLite store behind the two calls the pump makes, so a test can count reads,
 * hold one open or make one fail.
 */
interface ReadControl {
  reads: number;
  /** When set, each read waits for it before reading. */
  gate?: Promise<void>;
  /** Reads that still fail before the store is asked. */
  failures: number;
}

async function openPump(options: Partial<PumpOptions> = {}, idle = () => false) {
  const store = new SqliteStore(join(directory, `pump-${++fileCount}.db`));
  await store.migrate();
  await store.createApiRoot({ name: 'api1', title: 'API root 1', maxContentLength: 1000 });
  const collection = await store.createCollection({ apiRoot: 'api1', title: 'Main' });
  const control: ReadControl = { reads: 0, failures: 0 };
  const reader = {
    eventBounds: () => store.eventBounds(),
    readEvents: async (query: EventQuery) => {
      control.reads += 1;
      await control.gate;
      if (control.failures > 0) {
        control.failures -= 1;
        throw new Error('read failed on purpose');
      }
      return store.readEvents(query);
    },
  } as unknown as Store;
  const logLines: string[] = [];
  const logger = createLogger(
    'error',
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    }),
  );
  const notifier = new LocalNotifier();
  const batches: Array<{ seqs: number[]; position: number }> = [];
  const pump = new EventPump(
    reader,
    notifier,
    logger,
    { batchSize: 100, pollMs: 60_000, ...options },
    (batch: EventRecord[], position: number) => {
      batches.push({ seqs: batch.map((event) => event.seq), position });
    },
    idle,
  );
  let next = 0;
  /** Adds `count` indicators and returns the newest seq; announces it unless `quiet`. */
  const add = async (count: number, quiet = false): Promise<number> => {
    const objects = Array.from({ length: count }, () =>
      objectVersion(stixId('indicator', ++next), stixTime(1)),
    );
    await store.addObjects(collection.id, objects);
    const { last } = await store.eventBounds();
    if (!quiet) notifier.announce(last);
    return last;
  };
  const close = async () => {
    await pump.stop();
    await store.close();
  };
  return { pump, control, batches, logLines, add, close };
}

/** Waits up to two seconds, because timers fire late on a loaded machine. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; waited < 200 && !condition(); waited += 1) await sleep(10);
  assert.ok(condition(), `timed out waiting for ${what}`);
}

describe('event pump', () => {
  test('starts after committed events', async () => {
    const { pump, batches, add, close } = await openPump();
    const last = await add(3, true);
    await pump.start();
    assert.equal(pump.position, last);
    pump.wake();
    await sleep(20);
    assert.deepEqual(batches, []);
    await close();
  });

  test('announcement delivers events in batches', async () => {
    const { pump, batches, add, close } = await openPump({ batchSize: 2 });
    const first = await add(1, true);
    await pump.start();
    const last = await add(5);
    await waitFor(() => pump.position === last, 'the announced events');
    assert.deepEqual(
      batches.flatMap((batch) => batch.seqs),
      Array.from({ length: last - first }, (_, index) => first + 1 + index),
    );
    for (const batch of batches) {
      assert.ok(batch.seqs.length <= 2, `batch of ${batch.seqs.length} events`);
      assert.equal(batch.position, batch.seqs.at(-1));
    }
    await close();
  });

  test('poll finds unannounced events', async () => {
    const { pump, batches, add, close } = await openPump({ pollMs: 20 });
    await pump.start();
    const last = await add(2, true);
    await waitFor(() => pump.position === last, 'the poll to read the events');
    assert.equal(batches.flatMap((batch) => batch.seqs).length, 2);
    await close();
  });

  test('idle pump skips without reading', async () => {
    let idle = true;
    const { pump, control, batches, add, close } = await openPump({}, () => idle);
    await pump.start();
    const skipped = await add(4);
    await waitFor(() => pump.position === skipped, 'the position to skip ahead');
    assert.equal(control.reads, 0, 'an idle pump read events');
    assert.equal(batches.length, 0, 'an idle pump delivered events');

    idle = false;
    const last = await add(1);
    await waitFor(() => pump.position === last, 'the event after the subscriber came');
    assert.deepEqual(
      batches.map((batch) => batch.seqs),
      [[last]],
    );
    await close();
  });

  test('wakes during a read coalesce', async () => {
    const { pump, control, batches, add, close } = await openPump();
    await pump.start();
    let release = () => {};
    control.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = await add(1);
    await waitFor(() => control.reads === 1, 'the first read to start');
    const last = await add(2);
    assert.equal(control.reads, 1, 'a second read started during the first');
    release();
    await waitFor(() => pump.position === last, 'the events announced during the read');
    assert.deepEqual(
      batches.flatMap((batch) => batch.seqs),
      [first, first + 1, first + 2],
    );
    await close();
  });

  test('stop waits for the read and ends delivery', async () => {
    const { pump, control, batches, add, close } = await openPump({ pollMs: 20 });
    await pump.start();
    let release = () => {};
    control.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    await add(1);
    await waitFor(() => control.reads === 1, 'the read to start');
    let stopped = false;
    const stopping = pump.stop().then(() => {
      stopped = true;
    });
    await sleep(20);
    assert.equal(stopped, false, 'stop returned during a read');
    release();
    await stopping;
    assert.deepEqual(batches, [], 'a read that ended after stop delivered its batch');

    const reads = control.reads;
    await add(2);
    pump.wake();
    await sleep(60);
    assert.equal(control.reads, reads, 'the pump read after stop');
    assert.deepEqual(batches, []);
    await close();
  });

  test('failed read is logged and retried', async () => {
    const { pump, control, batches, logLines, add, close } = await openPump();
    await pump.start();
    control.failures = 1;
    const first = await add(1);
    await waitFor(() => logLines.length === 1, 'the failure to be logged');
    const line = JSON.parse(logLines[0]!) as { msg: string; position: number };
    assert.equal(line.msg, 'event log read failed');
    assert.equal(line.position, first - 1);
    assert.equal(pump.position, first - 1, 'a failed read moved the position');

    const last = await add(1);
    await waitFor(() => pump.position === last, 'the retry at the next announcement');
    assert.deepEqual(
      batches.flatMap((batch) => batch.seqs),
      [first, last],
    );
    await close();
  });
});
