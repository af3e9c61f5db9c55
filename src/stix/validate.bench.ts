/**
 * Measures how many indicators validateObject checks per second on one core.
 * Run: npx tsx src/stix/validate.bench.ts [seconds]
 *
 * The synthetic indicator carries a file-hash STIX pattern, a creator, a TLP marking, a
 * kill chain phase and an external reference. That makes it richer than the indicators of
 * the Echap stalkerware feed, which the second measurement validates as published.
 * JSON parsing is timed apart, because the server parses each request body once.
 */

import { readFileSync } from 'node:fs';
import { validateObject } from './index.ts';
import { sharedData, stixObjectsIn } from './testing/fixtures.ts';

const INDICATOR = JSON.stringify({
  type: 'indicator',
  spec_version: '2.1',
  id: 'indicator--0b0ed1bd-b1a2-4b3e-8b6b-4d1f7ea2cd11',
  created_by_ref: 'identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01',
  created: '2023-05-31T19:06:50.000Z',
  modified: '2023-05-31T19:06:50.000Z',
  name: 'TheTruthSpy',
  description: 'Stalkerware sample',
  indicator_types: ['malicious-activity'],
  pattern:
    "[file:hashes.'SHA-256' = '3f1c4e6e1c2a6f8f61a2d3c0b1e4f5a6978d1e2f3a4b5c6d7e8f9a0b1c2d3e4f']",
  pattern_type: 'stix',
  pattern_version: '2.1',
  valid_from: '2023-05-31T19:06:50Z',
  kill_chain_phases: [{ kill_chain_name: 'mitre-attack', phase_name: 'collection' }],
  external_references: [
    { source_name: 'echap', url: 'https://github.com/AssoEchap/stalkerware-indicators' },
  ],
  object_marking_refs: ['marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb'],
  labels: ['stalkerware'],
});

function measure(label: string, seconds: number, work: () => void): number {
  const deadline = performance.now() + seconds * 1000;
  let count = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) work();
    count += 1000;
  }
  const perSecond = count / seconds;
  console.log(`${label}: ${Math.round(perSecond).toLocaleString('en')} per second`);
  return perSecond;
}

const seconds = Number(process.argv[2] ?? 3);
if (!validateObject(JSON.parse(INDICATOR)).ok)
  throw new Error('the sample indicator must be valid');

measure('JSON.parse only (warm-up)', 1, () => JSON.parse(INDICATOR));
const parseOnly = measure('JSON.parse only', seconds, () => JSON.parse(INDICATOR));
const parsed = JSON.parse(INDICATOR) as unknown;
const validateOnly = measure('validateObject only', seconds, () => validateObject(parsed));
const both = measure('JSON.parse + validateObject', seconds, () =>
  validateObject(JSON.parse(INDICATOR)),
);
console.log(
  `per indicator: parse ${(1e6 / parseOnly).toFixed(2)} µs, validate ${(1e6 / validateOnly).toFixed(2)} µs, both ${(1e6 / both).toFixed(2)} µs`,
);

// The stalkerware bundle: 10,229 objects, mostly indicators and indicates relationships.
const feed = stixObjectsIn(
  JSON.parse(
    readFileSync(sharedData('stalkerware-indicators/generated/stalkerware.stix2'), 'utf8'),
  ),
);
let next = 0;
const feedRate = measure('validateObject on the stalkerware feed', seconds, () => {
  validateObject(feed[next] as unknown);
  next = (next + 1) % feed.length;
});
console.log(`stalkerware objects: ${feed.length}, ${(1e6 / feedRate).toFixed(2)} µs each`);
