import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { buildEntry, type EntryInput } from './entries.ts';
import { HuntPlan } from './hunt-plan.ts';
import type { WatchEntry, WatchList } from './model.ts';

const COMMUNITY = '00000000-0000-4000-8000-000000000001';
const OTHER_COMMUNITY = '00000000-0000-4000-8000-000000000002';

function planOf(inputs: EntryInput[]): HuntPlan {
  const entries: WatchEntry[] = inputs.map((input) => {
    const result = buildEntry(input, 0);
    assert.ok(result.ok, result.ok ? '' : result.reason);
    return result.entry;
  });
  const list: WatchList = {
    id: 'list',
    name: 'plan',
    ownerType: 'organisation',
    organisationId: 'org',
    visibility: 'organisation',
    enabled: true,
    entries,
    createdBy: 'user',
    createdAt: 0,
    updatedAt: 0,
  };
  return new HuntPlan(list, 1);
}

/** Returns whether the plan matches the object parsed from `json`, or 'skipped' by its pre-check. */
function matched(plan: HuntPlan, json: string, communityId = COMMUNITY): boolean | 'skipped' {
  const object = JSON.parse(json) as Record<string, unknown>;
  const candidates = plan.candidates({ type: String(object.type), communityId, json });
  if (candidates === undefined) return 'skipped';
  return plan.matchScan(candidates, { object, tlp: ['green'], communityId }).length > 0;
}

describe('hunt plan', () => {
  it('pre-check never skips a match', () => {
    const plan = planOf([
      { type: 'filter', filter: { labels: ['ev"il', 'şpy', 'key', 'οδος', 'a/b'] } },
    ]);
    const labelled = [
      '{"type":"malware","labels":["Ev\\"IL"]}',
      '{"type":"malware","labels":["ŞPY"]}',
      '{"type":"malware","labels":["\u212Aey"]}',
      '{"type":"malware","labels":["ΟΔΟΣ"]}',
      '{"type":"malware","labels":["A\\/B"]}',
      '{"type":"malware","labels":["\\u0041/b"]}',
    ];
    for (const json of labelled) {
      assert.equal(matched(plan, json), true, json);
    }
    assert.equal(matched(plan, '{"type":"malware","labels":["benign"]}'), 'skipped');
  });

  it('narrows filters by type and community', () => {
    const plan = planOf([
      { type: 'filter', filter: { names: ['Emotet'] } },
      { type: 'filter', filter: { cves: ['CVE-2021-44228'], communities: [COMMUNITY] } },
    ]);
    assert.deepEqual(plan.scanTypes(COMMUNITY), [
      'campaign',
      'intrusion-set',
      'malware',
      'vulnerability',
    ]);
    assert.deepEqual(plan.scanTypes(OTHER_COMMUNITY), ['campaign', 'intrusion-set', 'malware']);
    assert.equal(matched(plan, '{"type":"malware","name":"EMOTET"}'), true);
    assert.equal(matched(plan, '{"type":"indicator","name":"Emotet"}'), 'skipped');
    const log4j = '{"type":"vulnerability","name":"CVE-2021-44228"}';
    assert.equal(matched(plan, log4j), true);
    assert.equal(matched(plan, log4j, OTHER_COMMUNITY), 'skipped');
    assert.equal(
      planOf([{ type: 'filter', filter: { tlp: ['red'] } }]).scanTypes(COMMUNITY),
      undefined,
    );
  });

  it('scans the types patterns compare and observed data', () => {
    const plan = planOf([
      { type: 'pattern', pattern: "[url:value = 'http://a.example/'] OR [indicator:name = 'x']" },
      { type: 'pattern', pattern: "[x-custom:name = 'y']" },
    ]);
    assert.deepEqual(plan.scanTypes(COMMUNITY), ['observed-data', 'url', 'x-custom']);
    assert.equal(plan.hasValues, false);
    assert.equal(planOf([{ value: 'a.example' }]).scanTypes(COMMUNITY)!.length, 0);
    assert.equal(planOf([{ value: 'a.example' }]).hasValues, true);
  });
});
