/**
 * Bulk look-up speed on one core: how many normalised observables per second the two
 * in-memory indexes of `cairn check` and POST /api/v1/check answer, with 1,000,000 watch
 * entries in the watch engine and the values of 1,000,000 indicator patterns in the value
 * index; and how fast log lines are turned into observables (refang, split, classify).
 *
 *   node --expose-gc --single-threaded-gc --max-old-space-size=8192 --import tsx \
 *     bench/watch-lookup.ts [entries=1000000] [indicators=1000000] [lookups=1000000]
 *
 * Watch entries: 100 lists of equal size, 40 % domains (half of them with subdomains), 30 %
 * IPv4 addresses, 10 % CIDR blocks (/24 and /16), 10 % URLs, 10 % SHA-256 hashes.
 * Indicators: one pattern each, `[domain-name:value = …]`, `[ipv4-addr:value = …]` or
 * `[url:value = …]` in equal parts. Look-ups: half of them hit something. The look-up figure
 * is the index work alone, on values already normalised; the store reads and access checks
 * that follow for the hits are not in it (bench/watch-check.ts measures the whole path).
 * Rates are per CPU second of the process, which with --single-threaded-gc runs on one
 * core, so other load on the machine does not lower them; the wall-clock rate is printed too.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import type { Observable } from '../src/normalise/index.ts';
import { lineObservables } from '../src/watch/check.ts';
import { WatchIndex } from '../src/watch/engine.ts';
import type { WatchEntry, WatchList } from '../src/watch/model.ts';
import { ValueIndex } from '../src/watch/value-index.ts';
import { machine } from './lib.ts';

const entryCount = Number(process.argv[2] ?? 1_000_000);
const indicatorCount = Number(process.argv[3] ?? 1_000_000);
const lookupCount = Number(process.argv[4] ?? 1_000_000);
const LISTS = 100;

function ip(i: number): string {
  return `${10 + ((i >>> 24) % 200)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

function hash(i: number): string {
  return (i * 2654435761 + 0x9e3779b9).toString(16).padStart(16, '0').repeat(4).slice(0, 64);
}

/** The i-th watched value: its entry and an observable that matches it. */
function watched(i: number): { entry: WatchEntry; hit: Observable } {
  const base = { id: randomUUID(), addedAt: 0 };
  const slot = i % 10;
  if (slot < 4) {
    const value = `w${i}.example.com`;
    const subdomains = slot < 2;
    return {
      entry: { ...base, type: 'domain', value, ...(subdomains ? { subdomains } : {}) },
      hit: { kind: 'domain', value: subdomains ? `cdn.${value}` : value },
    };
  }
  if (slot < 7) {
    const value = ip(i * 7 + 1);
    return { entry: { ...base, type: 'ip', value }, hit: { kind: 'ip', version: 4, value } };
  }
  if (slot < 8) {
    const prefix = i % 2 === 0 ? 24 : 16;
    const network = ip((i * 7919) << (32 - prefix === 8 ? 8 : 16)).split('.');
    const value =
      prefix === 24
        ? `${network.slice(0, 3).join('.')}.0/24`
        : `${network.slice(0, 2).join('.')}.0.0/16`;
    const inside = value.replace(/0\/\d+$/, '9');
    return {
      entry: { ...base, type: 'cidr', value },
      hit: { kind: 'ip', version: 4, value: inside },
    };
  }
  if (slot < 9) {
    const value = `http://u${i}.example.org/gate.php`;
    return { entry: { ...base, type: 'url', value }, hit: { kind: 'url', value } };
  }
  const value = hash(i);
  return {
    entry: { ...base, type: 'hash', value, algorithm: 'SHA-256' },
    hit: { kind: 'hash', algorithm: 'SHA-256', value },
  };
}

function miss(i: number): Observable {
  switch (i % 4) {
    case 0:
      return { kind: 'domain', value: `miss${i}.example.net` };
    case 1:
      return { kind: 'ip', version: 4, value: `203.0.${(i >> 8) & 255}.${i & 255}` };
    case 2:
      return { kind: 'url', value: `https://miss${i}.example.net/x` };
    default:
      return { kind: 'hash', algorithm: 'SHA-256', value: hash(i + 0x7fffffff) };
  }
}

/** CPU time of this process since `since`, in seconds; with --single-threaded-gc it is one core's. */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** Returns the memory in use after a full collection, in MiB: the heap and typed arrays. */
function memoryMiB(): { heap: number; arrays: number } {
  globalThis.gc?.();
  const usage = process.memoryUsage();
  return {
    heap: Math.round(usage.heapUsed / 2 ** 20),
    arrays: Math.round(usage.arrayBuffers / 2 ** 20),
  };
}

/** Describes the memory added since `before`. */
function memoryGrowth(before: { heap: number; arrays: number }): string {
  const now = memoryMiB();
  return `heap +${now.heap - before.heap} MiB, typed arrays +${now.arrays - before.arrays} MiB`;
}

console.log(`watch look-up, ${machine()}`);
const startMemory = memoryMiB();

let started = performance.now();
const engine = new WatchIndex();
const hits: Observable[] = [];
const perList = Math.ceil(entryCount / LISTS);
for (let list = 0; list < LISTS; list++) {
  const entries: WatchEntry[] = [];
  for (let i = list * perList; i < Math.min(entryCount, (list + 1) * perList); i++) {
    const { entry, hit } = watched(i);
    entries.push(entry);
    if (hits.length < lookupCount / 4) hits.push(hit);
  }
  const watchList: WatchList = {
    id: randomUUID(),
    name: `list ${list}`,
    ownerType: 'organisation',
    organisationId: 'bench',
    visibility: 'organisation',
    enabled: true,
    entries,
    createdBy: 'bench',
    createdAt: 0,
    updatedAt: 0,
  };
  // Lists come out of JSON documents in the server; a round trip gives them the same memory
  // layout, flat strings rather than the concatenations that building them here leaves.
  engine.setList(JSON.parse(JSON.stringify(watchList)) as WatchList, 1);
}
const engineSeconds = (performance.now() - started) / 1000;
const engineMemory = memoryGrowth(startMemory);
const afterEngine = memoryMiB();
console.log(
  `watch engine: ${engine.entryCount} entries in ${LISTS} lists, loaded in ${engineSeconds.toFixed(1)} s, ${engineMemory}`,
);

started = performance.now();
const values = new ValueIndex();
const indicatorHits: Observable[] = [];
for (let i = 0; i < indicatorCount; i++) {
  let pattern: string;
  let hit: Observable;
  if (i % 3 === 0) {
    hit = { kind: 'domain', value: `i${i}.example.info` };
    pattern = `[domain-name:value = '${hit.value}']`;
  } else if (i % 3 === 1) {
    hit = { kind: 'ip', version: 4, value: ip(i * 13 + 5) };
    pattern = `[ipv4-addr:value = '${hit.value}']`;
  } else {
    hit = { kind: 'url', value: `http://i${i}.example.info/a` };
    pattern = `[url:value = '${hit.value}']`;
  }
  if (indicatorHits.length < lookupCount / 4) indicatorHits.push(hit);
  values.add(
    { type: 'indicator', id: `indicator--${randomUUID()}`, pattern_type: 'stix', pattern },
    'collection',
  );
}
const valueSeconds = (performance.now() - started) / 1000;
const valueMemory = memoryGrowth(afterEngine);
console.log(
  `value index: ${values.objectCount} indicators, ${values.valueKeys} values, built in ${valueSeconds.toFixed(1)} s, ${valueMemory}`,
);

// Half hits (watch entries and indicators), half misses, shuffled deterministically.
const queries: Observable[] = [];
for (let i = 0; i < lookupCount; i++) {
  if (i % 4 === 0) queries.push(hits[(i / 4) % hits.length]!);
  else if (i % 4 === 1) queries.push(indicatorHits[((i - 1) / 4) % indicatorHits.length]!);
  else queries.push(miss(i));
}

/** Times one pass of every query through both indexes, in a function of its own. */
function measure(round: number): void {
  let found = 0;
  const visit = () => {
    found++;
  };
  let cpu = process.cpuUsage();
  let start = performance.now();
  for (const observable of queries) engine.lookupValue(observable, visit);
  const engineTime = (performance.now() - start) / 1000;
  const engineCpu = cpuSeconds(cpu);
  cpu = process.cpuUsage();
  start = performance.now();
  for (const observable of queries) values.lookupObservable(observable, visit);
  const valueTime = (performance.now() - start) / 1000;
  const valueCpu = cpuSeconds(cpu);
  const seconds = engineTime + valueTime;
  const cpuTotal = engineCpu + valueCpu;
  console.log(
    `round ${round}: ${queries.length} look-ups in both indexes: ${Math.round(queries.length / cpuTotal)} observables per CPU second ` +
      `(${Math.round(queries.length / seconds)}/s wall clock; watch engine ${engineCpu.toFixed(2)} s, ` +
      `value index ${valueCpu.toFixed(2)} s of CPU), ${found} hits, load average ${loadavg()[0]!.toFixed(1)}`,
  );
}

for (let round = 1; round <= 3; round++) measure(round);

const lines: string[] = [];
for (let i = 0; i < 200_000; i++) {
  lines.push(
    `1700000000.${i % 1000} 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} TCP_MISS/200 GET http://host${i % 5000}.example.net/p${i % 97} - DIRECT/203.0.113.${i % 250}`,
  );
}
started = performance.now();
let observables = 0;
for (const line of lines) observables += lineObservables(line).length;
const seconds = (performance.now() - started) / 1000;
console.log(
  `line extraction: ${lines.length} proxy log lines in ${seconds.toFixed(2)} s = ${Math.round(lines.length / seconds)} lines/s, ${Math.round(observables / seconds)} observables/s (no token cache)`,
);
