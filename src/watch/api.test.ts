/**
 * Watch lists over HTTP on a real server: a list of the domains of a real feed (the Echap
 * stalkerware indicators, CSV form) raises alerts when the same feed's STIX bundle is
 * posted to a community collection, the alert stream delivers them, and a member of
 * another community neither gets alerts nor finds the indicators with the bulk look-up.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { issueToken } from '../auth/tokens.ts';
import { createSharingServices, type Actor } from '../sharing/service.ts';
import { dataPath } from '../testing/data.ts';
import { call, startTestServer, TAXII, type TestServer } from '../testing/server.ts';

const JSON_TYPE = 'application/json';
const BUNDLE = 'stalkerware-indicators/generated/stalkerware.stix2';
const CSV = 'stalkerware-indicators/generated/network.csv';

interface StixObject {
  type: string;
  id: string;
  pattern?: string;
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('watch lists over HTTP', { timeout: 240_000 }, () => {
  let server: TestServer;
  const tokens: Record<string, string> = {};
  const collections: Record<string, string> = {};
  let domains: string[];
  let expected: Set<string>;
  let bundle: { objects: StixObject[] };
  const lists: Record<string, string> = {};

  async function api(
    user: string,
    path: string,
    options: { method?: string; body?: unknown } = {},
  ) {
    return call(server, `${server.url}/api/v1${path}`, {
      token: tokens[user]!,
      accept: JSON_TYPE,
      contentType: JSON_TYPE,
      ...(options.method ? { method: options.method } : {}),
      ...(options.body !== undefined ? { body: options.body as object } : {}),
    });
  }

  before(async () => {
    server = await startTestServer();
    const store = server.server.store;
    const services = createSharingServices(store);
    const admin = (await store.getUserByName('admin'))!;
    const platform: Actor = { userId: admin.id };
    const actors: Record<string, Actor> = {};
    for (const name of ['acme', 'other']) {
      const organisation = await services.createOrganisation(platform, { name });
      for (const role of ['org-admin', 'analyst', 'read-only'] as const) {
        const created = await services.createUser(platform, organisation.id, {
          name: `${name}-${role}`,
          role,
        });
        const user = (await store.getUser(created.id))!;
        tokens[`${name}-${role}`] = (await issueToken(store, user)).token;
        actors[`${name}-${role}`] = { userId: user.id };
      }
    }
    for (const [name, owner] of [
      ['Ring', 'acme-org-admin'],
      ['Den', 'other-org-admin'],
    ] as const) {
      const community = await services.createCommunity(actors[owner]!, {
        name,
        defaultTlp: 'green',
      });
      const collection = await services.createCollection(actors[owner]!, community.id, {
        title: name,
        alias: name.toLowerCase(),
      });
      collections[name.toLowerCase()] = collection.id;
    }

    const rows = readFileSync(dataPath(CSV), 'utf8').trim().split('\n').slice(1);
    domains = [
      ...new Set(
        rows
          .map((row) => row.split(','))
          .filter((cells) => cells[0] === 'domain')
          .map((cells) => cells[1]!),
      ),
    ];
    bundle = JSON.parse(readFileSync(dataPath(BUNDLE), 'utf8')) as { objects: StixObject[] };
    // The CSV files a few addresses as domains; the entries read them as addresses.
    const watched = new Set(
      domains.filter((domain) => !/^[0-9.]+$/.test(domain)).map((domain) => domain.toLowerCase()),
    );
    expected = new Set(
      bundle.objects
        .filter((object) => object.type === 'indicator')
        .filter((object) => {
          const value = /^\[domain-name:value\s*=\s*'([^']+)'\]$/.exec(object.pattern ?? '')?.[1];
          return value !== undefined && watched.has(value.toLowerCase());
        })
        .map((object) => object.id),
    );
    assert.ok(expected.size > 100, `the feed shares ${expected.size} domains with its bundle`);
  });

  after(async () => {
    await server.dispose();
  });

  it('creates lists of the feed domains', async () => {
    for (const [user, name] of [
      ['acme-analyst', 'acme'],
      ['other-analyst', 'other'],
    ] as const) {
      const created = await api(user, '/watchlists', {
        method: 'POST',
        body: {
          name: 'stalkerware domains',
          owner: 'organisation',
          entries: domains.map((value) => ({ value })),
        },
      });
      assert.equal(created.status, 201, created.text);
      lists[name] = created.json.watchlist.id;
      assert.deepEqual(created.json.entries.rejected, []);
      // Two spellings of one domain in the feed are one entry.
      assert.equal(
        created.json.watchlist.entryCount + created.json.entries.duplicates,
        domains.length,
      );
    }
    const listed = await api('acme-read-only', '/watchlists');
    assert.deepEqual(
      listed.json.map((list: { id: string }) => list.id),
      [lists.acme],
    );
  });

  it('raises one alert per matching indicator when the bundle arrives', async () => {
    const stream = await fetch(`${server.url}/api/v1/watchlists/${lists.acme}/alerts/stream`, {
      headers: { Authorization: `Bearer ${tokens['acme-read-only']}`, Accept: 'text/event-stream' },
    });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);

    const posted = await call(server, `${server.root}collections/ring/objects/`, {
      token: tokens['acme-analyst']!,
      method: 'POST',
      contentType: TAXII,
      body: { objects: bundle.objects },
    });
    assert.equal(posted.status, 202, posted.text);
    assert.equal(posted.json.failure_count, 0, posted.text);

    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes('event: alert')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    assert.match(text, /event: alert\ndata: \{.*\}\nid: \d+\n/);

    const alerts = await waitFor('every alert', async () => {
      const found = new Set<string>();
      let cursor: string | undefined;
      do {
        const page = await api(
          'acme-read-only',
          `/alerts?watchlist=${lists.acme}&limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
        );
        assert.equal(page.status, 200, page.text);
        for (const alert of page.json.alerts) found.add(alert.objectId);
        cursor = page.json.next;
      } while (cursor);
      return found.size >= expected.size ? found : undefined;
    });
    assert.deepEqual([...alerts].sort(), [...expected].sort());
  });

  it('lists alerts most urgent first and acknowledges them', async () => {
    const page = await api('acme-analyst', `/alerts?limit=20&state=open`);
    const priorities = page.json.alerts.map((alert: { priority: number }) => alert.priority);
    assert.deepEqual(
      priorities,
      [...priorities].sort((a, b) => b - a),
    );
    const first = page.json.alerts[0];
    assert.equal(first.match.kind, 'indicator');
    assert.equal(first.match.how, 'exact');

    const denied = await api('acme-read-only', `/alerts/${first.id}/ack`, { method: 'POST' });
    assert.equal(denied.status, 403, denied.text);
    const acknowledged = await api('acme-analyst', `/alerts/${first.id}/ack`, { method: 'POST' });
    assert.equal(acknowledged.status, 200, acknowledged.text);
    assert.equal(acknowledged.json.state, 'acknowledged');
    const open = await api('acme-analyst', `/alerts?state=acknowledged`);
    assert.deepEqual(
      open.json.alerts.map((alert: { id: string }) => alert.id),
      [first.id],
    );
  });

  it('raises nothing for another community', async () => {
    const alerts = await api('other-analyst', `/alerts?watchlist=${lists.other}`);
    assert.equal(alerts.status, 200);
    assert.deepEqual(alerts.json.alerts, []);
    const hidden = await api('other-analyst', `/watchlists/${lists.acme}`);
    assert.equal(hidden.status, 404);
    const hiddenStream = await api('other-analyst', `/watchlists/${lists.acme}/alerts/stream`);
    assert.equal(hiddenStream.status, 404);
    const hunts = await api('other-analyst', `/watchlists/${lists.other}/hunts`);
    const job = await waitFor('the retro-hunt', async () => {
      const listed = await api('other-analyst', `/watchlists/${lists.other}/hunts`);
      const [latest] = listed.json;
      return latest?.state === 'done' ? latest : undefined;
    });
    assert.equal(hunts.status, 200);
    assert.equal(job.alerts, 0);
  });

  it('looks up log lines for the caller only', async () => {
    const domain = domains.find((candidate) => expected.size > 0 && candidate.includes('.'))!;
    // The index is ready once built, and reads the bundle's events after that: wait for both.
    await waitFor('the value index to hold the bundle', async () => {
      const probe = await fetch(`${server.url}/api/v1/check`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${tokens['acme-analyst']}` },
        body: `${domain}\n`,
      });
      const text = await probe.text();
      return probe.status === 200 && text.includes('"objects":[{') ? true : undefined;
    });
    const lines = [
      '1700000000.000 10.0.0.5 TCP_MISS/200 GET http://unrelated.example/ - DIRECT',
      `1700000001.000 10.0.0.5 TCP_MISS/200 GET http://${domain}/upload - DIRECT`,
      `query[A] ${domain.replace('.', '[.]')} from 10.0.0.9`,
    ];
    const check = async (user: string) => {
      const response = await fetch(`${server.url}/api/v1/check`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${tokens[user]}`, 'Content-Type': 'text/plain' },
        body: lines.join('\n'),
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /application\/x-ndjson/);
      return (await response.text())
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const acme = await check('acme-analyst');
    const matched = acme.filter((line) => line.line !== undefined);
    assert.deepEqual(
      matched.map((line) => line.line),
      [2, 3],
    );
    const answer = matched[1]!.matches[0];
    assert.ok(answer.objects.some((object: { id: string }) => expected.has(object.id)));
    assert.ok(
      answer.related.some(
        (related: { relationship: string }) => related.relationship === 'indicates',
      ),
    );
    assert.equal(answer.watch[0].watchlistId, lists.acme);
    assert.deepEqual(acme.at(-1), {
      summary: { lines: 3, longLines: 0, observables: 6, matchedLines: 2, matchedValues: 2 },
    });

    const other = await check('other-analyst');
    const otherMatches = other.filter((line) => line.line !== undefined);
    for (const line of otherMatches) {
      for (const match of line.matches) {
        assert.deepEqual(match.objects, [], 'no object of Ring');
        assert.ok(
          match.watch.every((hit: { watchlistId: string }) => hit.watchlistId === lists.other),
        );
      }
    }
  });

  it('limits the alert streams of one token', async () => {
    const open = () =>
      fetch(`${server.url}/api/v1/watchlists/${lists.acme}/alerts/stream`, {
        headers: { Authorization: `Bearer ${tokens['acme-analyst']}` },
      });
    const streams = [];
    for (let i = 0; i < 10; i++) streams.push(await open());
    assert.ok(streams.every((stream) => stream.status === 200));
    const refused = await open();
    assert.equal(refused.status, 429);
    const body = (await refused.json()) as { error: { message: string } };
    assert.match(body.error.message, /alert streams open/);
    for (const stream of streams) await stream.body!.cancel();
    const again = await waitFor('a free stream slot', async () => {
      const response = await open();
      if (response.status === 200) return response;
      await response.body?.cancel();
      return undefined;
    });
    await again.body!.cancel();
  });

  it('rejects bad input with a clear error', async () => {
    const bad = await api('acme-analyst', '/watchlists', {
      method: 'POST',
      body: {
        name: 'bad',
        entries: [
          { type: 'pattern', pattern: '[nope' },
          { value: '999.1.1.1', type: 'ip' },
        ],
      },
    });
    assert.equal(bad.status, 201);
    assert.equal(bad.json.entries.rejected.length, 2);

    // Each entry is checked alone: bad filters and blocks are rejected, the rest added.
    const mixed = await api('acme-analyst', `/watchlists/${bad.json.watchlist.id}/entries`, {
      method: 'POST',
      body: {
        entries: [
          { type: 'filter', filter: { bogus: 1 } },
          { type: 'filter', filter: { minConfidence: 500 } },
          { value: '0.0.0.0/0' },
          { value: '::/0' },
          { value: 'evil.example', colour: 'red' },
          'evil.example',
          { value: 'fine.example' },
        ],
      },
    });
    assert.equal(mixed.status, 200, mixed.text);
    assert.deepEqual(
      mixed.json.added.map((entry: { value: string }) => entry.value),
      ['fine.example'],
    );
    const reasons = mixed.json.rejected as Array<{ index: number; reason: string }>;
    assert.deepEqual(
      reasons.map((rejection) => rejection.index),
      [0, 1, 2, 3, 4, 5],
    );
    assert.match(reasons[0]!.reason, /filter\.bogus is not a filter field/);
    assert.match(reasons[1]!.reason, /filter\.minConfidence is 500/);
    assert.match(reasons[2]!.reason, /0\.0\.0\.0\/0 is too wide to watch/);
    assert.match(reasons[3]!.reason, /::\/0 is too wide to watch/);
    assert.match(reasons[4]!.reason, /"colour" is not an entry field/);
    assert.match(reasons[5]!.reason, /must be an object/);
    const unknown = await api('acme-analyst', '/watchlists', {
      method: 'POST',
      body: { name: 'x', colour: 'red' },
    });
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.error.message, /colour/);
    const noBody = await fetch(`${server.url}/api/v1/check`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens['acme-analyst']}` },
    });
    assert.ok([200, 400].includes(noBody.status));
    await noBody.text();
  });
});
