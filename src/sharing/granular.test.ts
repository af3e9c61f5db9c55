import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { TLP_1_GREEN, TLP_2_AMBER, TLP_2_CLEAR, TLP_2_RED } from '../stix/tlp.ts';
import { redactGranular } from './granular.ts';

const object = {
  type: 'malware',
  id: 'malware--00000000-0000-4000-8000-000000000001',
  name: 'Dropper',
  description: 'secret details',
  labels: ['a', 'b', 'c'],
  kill_chain_phases: [
    { kill_chain_name: 'k', phase_name: 'one' },
    { kill_chain_name: 'k', phase_name: 'two' },
  ],
  granular_markings: [
    { marking_ref: TLP_2_AMBER.id, selectors: ['description', 'labels.[0]', 'labels.[2]'] },
    { marking_ref: TLP_2_RED.id, selectors: ['kill_chain_phases.[1].phase_name'] },
    { marking_ref: TLP_2_CLEAR.id, selectors: ['name'] },
    { lang: 'fr', selectors: ['name'] },
  ],
};
const json = JSON.stringify(object);

describe('redactGranular', () => {
  test('member keeps amber', () => {
    const served = JSON.parse(
      redactGranular(json, { widest: 'members', contributed: false, recipient: false }),
    );
    assert.equal(served.description, 'secret details');
    assert.deepEqual(served.labels, ['a', 'b', 'c']);
    assert.deepEqual(served.kill_chain_phases[1], { kill_chain_name: 'k' });
    assert.equal(served.name, 'Dropper');
  });

  test('public reader loses amber', () => {
    const served = JSON.parse(
      redactGranular(json, { widest: 'everyone', contributed: false, recipient: false }),
    );
    assert.equal('description' in served, false);
    assert.deepEqual(served.labels, ['b']);
    assert.equal(served.kill_chain_phases[1].phase_name, undefined);
    assert.equal(served.name, 'Dropper');
  });

  test('contributor keeps all', () => {
    const reader = { widest: 'everyone', contributed: true, recipient: false } as const;
    assert.equal(redactGranular(json, reader), json);
  });

  test('recipient satisfies red only', () => {
    const reader = { widest: 'everyone', contributed: false, recipient: true } as const;
    const served = JSON.parse(redactGranular(json, reader));
    assert.equal(served.kill_chain_phases[1].phase_name, 'two');
    assert.equal('description' in served, false);
  });

  test('TLP 1.0 green hides from clients', () => {
    const marked = JSON.stringify({
      ...object,
      granular_markings: [{ marking_ref: TLP_1_GREEN.id, selectors: ['name'] }],
    });
    const client = JSON.parse(
      redactGranular(marked, {
        widest: 'members-and-clients',
        contributed: false,
        recipient: false,
      }),
    );
    assert.equal('name' in client, false);
  });

  test('missing selectors ignored', () => {
    const marked = JSON.stringify({
      ...object,
      granular_markings: [
        { marking_ref: TLP_2_RED.id, selectors: ['nothing', 'labels.[9]', 'name.[0]', 5] },
      ],
    });
    assert.equal(
      redactGranular(marked, { widest: 'members', contributed: false, recipient: false }),
      marked,
    );
  });

  test('no granular markings unchanged', () => {
    const plain = JSON.stringify({ type: 'x', name: 'y' });
    assert.equal(
      redactGranular(plain, { widest: 'none', contributed: false, recipient: false }),
      plain,
    );
  });
});
