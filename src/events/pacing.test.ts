import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createLogger } from '../log/logger.ts';
import { nowMicros } from '../stix/timestamp.ts';
import { SqliteStore } from '../store/sqlite/index.ts';
import { objectVersion, stixId, stixTime } from '../store/store.case.ts';
import { EventFeed } from './feed.ts';
import { BackgroundPacer, type PacingOptions } from './pacing.ts';

const QUIET_MS = 200;

async function openPacer(options: Partial<PacingOptions> = {}) {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  await store.createApiRoot({ name: 'api1', title: 'API root 1', maxContentLength: 1000 });
  const collection = await store.createCollection({ apiRoot: 'api1', title: 'Main' });
  const feed = new EventFeed(store, createLogger('silent'));
  feed.start();
  const pacer = new BackgroundPacer(feed, { quietMs: QUIET_MS, ...options });
  let next = 0;
  const commit = () =>
    store.addObjects(collection.id, [objectVersion(stixId('indicator', ++next), stixTime(1))]);
  return { store, feed, pacer, commit };
}

/** Keeps the event loop busy for `ms`, as request handling would. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Makes the process busy: commits, a busy event loop for longer than the window, commits. */
async function busyWriting(commit: () => Promise<unknown>): Promise<void> {
  await commit();
  spin(QUIET_MS * 1.5);
  await commit();
}

async function timed(promise: Promise<unknown>): Promise<number> {
  const started = performance.now();
  await promise;
  return performance.now() - started;
}

describe('background pacer', () => {
  test('no writes, no wait', async () => {
    const { store, pacer } = await openPacer();
    spin(QUIET_MS * 1.5);
    assert.ok((await timed(pacer.turn(nowMicros()))) < QUIET_MS / 2);
    await store.close();
  });

  test('reader loop lets timers run', async () => {
    const { store, pacer } = await openPacer();
    let fired = false;
    setTimeout(() => {
      fired = true;
    }, 5);
    // Without a turn of the event loop in each call, this loop would never let the timer run.
    for (let turns = 0; turns < 100_000 && !fired; turns++) await pacer.turn(nowMicros());
    assert.ok(fired);
    await store.close();
  });

  test('busy writing makes readers wait', async () => {
    const { store, pacer, commit } = await openPacer();
    await busyWriting(commit);
    const waited = await timed(pacer.turn(nowMicros()));
    // The last commit was just made, so the writes count as paused QUIET_MS later.
    assert.ok(waited >= QUIET_MS * 0.75, `waited ${waited} ms`);
    assert.ok(waited < QUIET_MS * 10, `waited ${waited} ms`);
    await store.close();
  });

  test('small writes on an idle loop', async () => {
    const { store, pacer, commit } = await openPacer();
    await commit();
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS * 1.5));
    await commit();
    assert.ok((await timed(pacer.turn(nowMicros()))) < QUIET_MS / 2);
    await store.close();
  });

  test('old unread event goes at once', async () => {
    const { store, pacer, commit } = await openPacer({ maxLagMs: 1_000 });
    await busyWriting(commit);
    assert.ok((await timed(pacer.turn(nowMicros() - 1_000_000))) < QUIET_MS / 2);
    await store.close();
  });

  test('wait ends at the lag limit', async () => {
    const { store, pacer, commit } = await openPacer({ maxLagMs: 5_000 });
    await busyWriting(commit);
    const turn = pacer.turn(nowMicros() - 4_900_000);
    // The writes go on; the reader still goes once its event is 5 s old.
    const writing = setInterval(() => {
      void commit();
      spin(QUIET_MS / 2);
    }, QUIET_MS / 4);
    const waited = await timed(turn);
    clearInterval(writing);
    assert.ok(waited < QUIET_MS * 5, `waited ${waited} ms`);
    await store.close();
  });

  test('stop ends the waits', async () => {
    const { store, pacer, commit } = await openPacer({ maxLagMs: 60_000 });
    await busyWriting(commit);
    let done = false;
    const turn = pacer.turn(nowMicros()).then(() => {
      done = true;
    });
    const writing = setInterval(() => {
      void commit();
      spin(QUIET_MS / 2);
    }, QUIET_MS / 4);
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS * 3));
    assert.equal(done, false, 'the reader waits while the writes go on');
    const stopped = performance.now();
    pacer.stop();
    await turn;
    clearInterval(writing);
    assert.ok(performance.now() - stopped < QUIET_MS * 2);
    assert.ok((await timed(pacer.turn(nowMicros()))) < QUIET_MS / 2, 'later turns go at once');
    await store.close();
  });

  test('reader ahead waits for the convoy', async () => {
    const { store, pacer } = await openPacer({ convoyEvents: 2 });
    pacer.report('slow', 0);
    let done = false;
    const turn = pacer.convoy({ name: 'fast', afterSeq: 10 }).then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(done, false, 'the reader 10 events ahead waits');
    pacer.report('slow', 7);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(done, false, 'the reader 3 events ahead waits');
    pacer.report('slow', 8);
    assert.ok((await timed(turn)) < 200, 'the reader 2 events ahead goes on');
    await store.close();
  });

  test('stalled reader holds none back', async () => {
    const { store, pacer } = await openPacer({ convoyEvents: 2, stalledMs: 300 });
    pacer.report('slow', 0);
    const waited = await timed(pacer.convoy({ name: 'fast', afterSeq: 10 }));
    assert.ok(waited >= 250, `waited ${waited} ms`);
    assert.ok(waited < 1_000, `waited ${waited} ms`);
    // Reporting the same position again does not count as moving.
    pacer.report('slow', 0);
    assert.ok((await timed(pacer.convoy({ name: 'fast', afterSeq: 10 }))) < 100);
    await store.close();
  });

  test('reads from memory skip the convoy', async () => {
    const { store, pacer, commit } = await openPacer({ convoyEvents: 1 });
    for (let i = 0; i < 5; i++) await commit();
    pacer.report('slow', 0);
    assert.ok((await timed(pacer.convoy({ name: 'fast', afterSeq: 3 }))) < 100);
    await store.close();
  });

  test('wrapped store waits before returning events', async () => {
    const { store, feed, pacer, commit } = await openPacer();
    const wrapped = pacer.wrap(feed.wrap(store), 'test');
    await busyWriting(commit);
    const started = performance.now();
    const events = await wrapped.readEvents({ afterSeq: 0, limit: 10 });
    assert.ok(performance.now() - started >= QUIET_MS * 0.75);
    assert.equal(events.length, 2);
    assert.deepEqual(await wrapped.readEvents({ afterSeq: 2, limit: 10 }), []);
    assert.deepEqual(await wrapped.eventBounds(), { first: 1, last: 2 });
    await store.close();
  });
});
