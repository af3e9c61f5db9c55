/**
 * End to end: a Cairn whose scheduler runs four connectors created through the JSON API
 * (TAXII from a second local Cairn, the published Infoblox MISP feed, the stalkerware CSV,
 * and the Quad9 text list), then shows their health through the API and `cairn connector`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { dataPath } from '../testing/data.ts';
import { call, startTestServer, type TestServer } from '../testing/server.ts';
import { defaultCollectionId, indicators, postObjects, waitFor } from './testing.ts';

/** The parts of a connector's JSON the test reads. */
interface View {
  id: string;
  name: string;
  kind: string;
  nextRunAt: string;
  health: {
    runs: number;
    lastRun: {
      outcome: string;
      error?: string;
      added: number;
      objectsIn: number;
      batches: number;
      rejectedByReason: Record<string, number>;
    };
  };
}

const CLI = fileURLToPath(new URL('../cli/main.ts', import.meta.url));

let remote: TestServer;
let local: TestServer;
let target: string;

before(async () => {
  remote = await startTestServer({ taxii: { pageSize: 50 } });
  await postObjects(remote, indicators(120));
  local = await startTestServer({ connectors: { scheduler: true, pollSeconds: 0.2 } });
  target = await defaultCollectionId(local);
});

after(async () => {
  await local.dispose();
  await remote.dispose();
});

function api(path: string, init: { method?: string; body?: object } = {}) {
  return call(local, `${local.url}/api/v1${path}`, {
    accept: null,
    ...(init.method ? { method: init.method } : {}),
    ...(init.body ? { body: init.body, contentType: 'application/json' } : {}),
  });
}

/** Runs `cairn` on the local server's store (the server keeps running). */
function cairn(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, '--store', local.config.store, ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CAIRN_CONFIG: '' },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const DEFINITIONS = [
  {
    name: 'remote cairn',
    kind: 'taxii',
    url: '', // set in the test: the remote server's address is only known then
    auth: { type: 'bearer', token: '' },
    pageSize: 40,
  },
  {
    name: 'infoblox',
    kind: 'misp-feed',
    url: dataPath('infoblox-threat-intelligence/indicators/misp'),
    warningLists: 'off',
  },
  {
    name: 'stalkerware network',
    kind: 'csv',
    url: dataPath('stalkerware-indicators/generated/network.csv'),
    csvMapping: 'value=indicator,type=type',
  },
  {
    name: 'quad9',
    kind: 'text',
    url: dataPath('stalkerware-indicators/generated/quad9_blocklist.txt'),
  },
] as const;

describe('connector scenario', () => {
  test('four connectors run on schedule and report health', { timeout: 480_000 }, async () => {
    const ids: string[] = [];
    for (const definition of DEFINITIONS) {
      const body = {
        ...definition,
        collection: target,
        intervalSeconds: 3600,
        ...(definition.kind === 'taxii'
          ? {
              url: `${remote.root}collections/default/`,
              auth: { type: 'bearer', token: remote.adminToken },
            }
          : {}),
      };
      const created = await api('/connectors', { method: 'POST', body });
      assert.equal(created.status, 201, created.text);
      if (definition.kind === 'taxii') {
        assert.deepEqual(created.json.secrets, { 'auth.token': 'set' });
      }
      ids.push(created.json.id);
    }

    // The scheduler claims each due connector once and runs it.
    const views = await waitFor(
      async () => {
        const listed = await api('/connectors');
        const all = listed.json as Array<{ health: { lastRun?: { outcome: string } } }>;
        return all.length === 4 && all.every((view) => view.health.lastRun) ? all : undefined;
      },
      420_000,
      'four connector runs',
    );
    for (const view of views as View[]) {
      assert.notEqual(
        view.health.lastRun.outcome,
        'failed',
        `${view.name}: ${view.health.lastRun.error}`,
      );
      assert.ok(view.health.lastRun.added > 0, `${view.name} added objects`);
      assert.equal(view.health.runs, 1, `${view.name} ran once`);
      assert.ok(Date.parse(view.nextRunAt) > Date.now(), `${view.name} is scheduled again`);
    }
    const taxii = (views as View[]).find((view) => view.kind === 'taxii')!;
    assert.equal(taxii.health.lastRun.objectsIn, 120);
    assert.equal(taxii.health.lastRun.batches, 3);
    const misp = (views as View[]).find((view) => view.kind === 'misp-feed')!;
    assert.equal(misp.health.lastRun.rejectedByReason['missing-event'], 5);

    // A run request makes the TAXII connector due again; it fetches only what is new.
    await postObjects(remote, indicators(7, 5000));
    const requested = await api(`/connectors/${taxii.id}/run`, { method: 'POST' });
    assert.equal(requested.status, 202, requested.text);
    const rerun = await waitFor(
      async () => {
        const shown = await api(`/connectors/${taxii.id}`);
        return shown.json.health.runs === 2 ? shown.json : undefined;
      },
      30_000,
      'the requested run',
    );
    assert.equal(rerun.health.lastRun.objectsIn, 7);
    assert.equal(rerun.health.lastRun.added, 7);

    // The CLI shows the same health from the store.
    const listed = await cairn(['connector', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trim().split('\n');
    assert.equal(lines.length, 4);
    assert.ok(lines.some((line) => line.includes('remote cairn') && line.includes('succeeded')));
    const shown = await cairn(['connector', 'show', 'quad9']);
    assert.equal(shown.code, 0, shown.stderr);
    const json = JSON.parse(shown.stdout) as View;
    assert.equal(json.kind, 'text');
    assert.ok(json.health.lastRun.added > 0);
  });
});
