import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';

import { WakeLoop } from './wake-loop.ts';

/** Returns a run that waits until the test releases it, and counts how often it started. */
function gatedRun() {
  const state = { started: 0, active: 0, maxActive: 0, release: () => {} };
  const run = async () => {
    state.started += 1;
    state.active += 1;
    state.maxActive = Math.max(state.maxActive, state.active);
    await new Promise<void>((resolve) => {
      state.release = resolve;
    });
    state.active -= 1;
  };
  return { state, run };
}

/** Returns sources that wake the loop on each tick, and counts of their calls. */
function sources(loop: WakeLoop) {
  const counts = { ticks: 0, listening: 0, unlistened: 0 };
  return {
    counts,
    sources: {
      listen: () => {
        counts.listening += 1;
        return () => {
          counts.unlistened += 1;
        };
      },
      tick: () => {
        counts.ticks += 1;
        loop.wake();
      },
    },
  };
}

test('wakes during a run coalesce into one more run', async () => {
  const { state, run } = gatedRun();
  const loop = new WakeLoop(60_000, run);
  assert.equal(loop.running, false, 'running before start');
  loop.start(sources(loop).sources);
  assert.equal(state.started, 1, 'start runs once at once');
  assert.equal(loop.running, true, 'not running during a run');

  loop.wake();
  loop.wake();
  loop.wake();
  assert.equal(state.started, 1, 'a run started while one was in progress');
  state.release();
  await sleep(5);
  assert.equal(state.started, 2, 'the wakes during the run did not run it again once');
  state.release();
  await loop.idle();
  assert.equal(loop.running, false, 'running after the last run');
  assert.equal(state.started, 2);
  assert.equal(state.maxActive, 1, 'two runs overlapped');
  await loop.stop();
});

test('stop waits for the run and ends wakes', async () => {
  const { state, run } = gatedRun();
  const loop = new WakeLoop(60_000, run);
  const { counts, sources: wakeSources } = sources(loop);
  loop.start(wakeSources);
  loop.wake();

  let stopped = false;
  const stopping = loop.stop().then(() => {
    stopped = true;
  });
  await sleep(5);
  assert.equal(stopped, false, 'stop returned while a run was in progress');
  state.release();
  await stopping;
  assert.equal(state.started, 1, 'a wake during the run ran again after stop');
  assert.equal(counts.unlistened, 1);
  assert.equal(loop.stopped, true);

  loop.wake();
  await sleep(5);
  assert.equal(state.started, 1, 'a wake after stop ran');
});

test('fallback tick wakes the loop', async () => {
  let runs = 0;
  const loop = new WakeLoop(10, async () => {
    runs += 1;
  });
  const { counts, sources: wakeSources } = sources(loop);
  loop.start(wakeSources);
  assert.equal(counts.listening, 1);
  // Up to two seconds, because timers fire late on a loaded machine.
  for (let waited = 0; waited < 200 && counts.ticks < 3; waited += 1) await sleep(10);
  await loop.stop();
  assert.ok(counts.ticks >= 3, `${counts.ticks} ticks in two seconds at 10 ms`);
  assert.equal(runs, counts.ticks, 'each tick with no run in progress runs once');
  const ticks = counts.ticks;
  await sleep(40);
  assert.equal(counts.ticks, ticks, 'ticks went on after stop');
});

test('wake before start does nothing', async () => {
  let runs = 0;
  const loop = new WakeLoop(60_000, async () => {
    runs += 1;
  });
  loop.wake();
  await loop.idle();
  assert.equal(runs, 0);
  assert.equal(loop.stopped, true);
});
