/**
 * Matching speed of the warning lists: every list of the MISP warninglists sample loaded,
 * then real values (IPsum addresses, Maltrail domains and URLs, IOC hashes) matched in a
 * loop. Goal: at least 1,000,000 values per second on one core.
 *
 *   node --import tsx bench/warninglists.ts [seconds]
 */
import { readFileSync } from 'node:fs';
import { classify, type Observable } from '../src/normalise/index.ts';
import { dataPath } from '../src/testing/data.ts';
import { loadWarninglists, WarninglistMatcher } from '../src/warninglists/index.ts';
import { machine } from './lib.ts';

const seconds = Number(process.argv[2] ?? 5);

function values(file: string, limit: number): Observable[] {
  const found: Observable[] = [];
  for (const line of readFileSync(dataPath(file), 'utf8').split('\n')) {
    const word = line.trim().split(/\s+/)[0] ?? '';
    if (word === '' || word.startsWith('#')) continue;
    const observable = classify(word);
    if (observable.ok) found.push(observable.value);
    if (found.length >= limit) break;
  }
  return found;
}

const started = performance.now();
const lists = await loadWarninglists(dataPath('misp-warninglists/lists'));
const matcher = new WarninglistMatcher(lists);
const entries = lists.reduce((sum, list) => sum + list.entries.length, 0);
console.log(
  `loaded ${lists.length} lists, ${entries} entries, in ${(performance.now() - started).toFixed(0)} ms`,
);

const sample = [
  ...values('ipsum/ipsum.txt', 40_000),
  ...values('maltrail-trails/trails/static/suspicious/domain.txt', 20_000),
  ...values('maltrail-trails/trails/static/malware/emotet.txt', 20_000),
  ...values('unit42-stix20-reports/Conti_IOCs.txt', 1_000),
];
// Values the lists do contain, so the sample is not all misses.
for (const name of [
  '8.8.8.8',
  'www.google.com',
  'mailinator.com',
  'd41d8cd98f00b204e9800998ecf8427e',
  'https://bit.ly/x',
]) {
  const observable = classify(name);
  if (observable.ok) for (let i = 0; i < 200; i++) sample.push(observable.value);
}
const kinds = new Map<string, number>();
for (const observable of sample) kinds.set(observable.kind, (kinds.get(observable.kind) ?? 0) + 1);
console.log(
  `sample: ${sample.length} values (${[...kinds].map(([kind, count]) => `${count} ${kind}`).join(', ')})`,
);

let matched = 0;
let done = 0;
const deadline = performance.now() + seconds * 1000;
const loopStart = performance.now();
const cpuStart = process.cpuUsage();
while (performance.now() < deadline) {
  for (const observable of sample) {
    if (matcher.match(observable.kind, observable.value).length > 0) matched++;
  }
  done += sample.length;
}
const elapsed = (performance.now() - loopStart) / 1000;
const cpu = process.cpuUsage(cpuStart);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
// Per CPU second as well as per wall-clock second: on a shared machine the first is the
// speed of the matcher, the second also counts time the process waited for a core.
const rate = (per: number): string => Math.round(done / per).toLocaleString('en');
console.log(`${rate(elapsed)} values/s (wall clock), ${rate(cpuSeconds)} values per CPU second`);
console.log(`${((matched / done) * 100).toFixed(1)} % on a list; ${machine()}`);
