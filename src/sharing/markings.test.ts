import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  TLP_1_AMBER,
  TLP_1_RED,
  TLP_1_WHITE,
  TLP_2_AMBER,
  TLP_2_AMBER_STRICT,
  TLP_2_CLEAR,
  TLP_2_GREEN,
  TLP_2_RED,
} from '../stix/tlp.ts';
import { audienceOf, hasTlpGranularMarkings, objectTlp, widestAdmits } from './markings.ts';

describe('objectTlp', () => {
  test('TLP 1.0 maps to 2.0', () => {
    const refs = [TLP_1_WHITE.id, TLP_1_AMBER.id, TLP_1_RED.id];
    assert.deepEqual(objectTlp({ object_marking_refs: refs }), ['clear', 'amber', 'red']);
  });

  test('other markings ignored', () => {
    const refs = ['marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41dA', 'x', 7, null];
    assert.deepEqual(objectTlp({ object_marking_refs: refs }), []);
    assert.deepEqual(objectTlp({ object_marking_refs: 'not a list' }), []);
    assert.deepEqual(objectTlp({}), []);
  });

  test('TLP 2.0 ids', () => {
    const refs = [TLP_2_CLEAR.id, TLP_2_AMBER.id, TLP_2_RED.id];
    assert.deepEqual(objectTlp({ object_marking_refs: refs }), ['clear', 'amber', 'red']);
  });

  test('repeats counted once', () => {
    const refs = [TLP_2_GREEN.id, TLP_2_GREEN.id];
    assert.deepEqual(objectTlp({ object_marking_refs: refs }), ['green']);
  });
});

describe('audienceOf', () => {
  const cases: Array<[string[], string]> = [
    [['clear'], 'everyone'],
    [['green'], 'members'],
    [['amber'], 'members-and-clients'],
    [['amber+strict'], 'members'],
    [['red'], 'recipients'],
    [['clear', 'amber'], 'members-and-clients'],
    [['amber', 'green'], 'members'],
    [['clear', 'red'], 'recipients'],
    [[], 'everyone'],
  ];
  for (const [levels, audience] of cases) {
    test(`${levels.join('+') || 'none'} is ${audience}`, () => {
      assert.equal(audienceOf(levels as Parameters<typeof audienceOf>[0]), audience);
    });
  }
});

describe('widestAdmits', () => {
  test('nesting of audiences', () => {
    assert.equal(widestAdmits('members', 'members-and-clients'), true);
    assert.equal(widestAdmits('members-and-clients', 'members'), false);
    assert.equal(widestAdmits('everyone', 'everyone'), true);
    assert.equal(widestAdmits('none', 'everyone'), false);
    assert.equal(widestAdmits('members', 'recipients'), false);
  });
});

describe('hasTlpGranularMarkings', () => {
  test('only TLP refs count', () => {
    const tlp = {
      granular_markings: [{ marking_ref: TLP_2_AMBER_STRICT.id, selectors: ['name'] }],
    };
    const other = { granular_markings: [{ lang: 'fr', selectors: ['name'] }] };
    assert.equal(hasTlpGranularMarkings(tlp), true);
    assert.equal(hasTlpGranularMarkings(other), false);
    assert.equal(hasTlpGranularMarkings({ granular_markings: [null, 3] }), false);
    assert.equal(hasTlpGranularMarkings({}), false);
  });
});
