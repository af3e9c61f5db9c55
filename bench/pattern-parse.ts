/**
 * Measures STIX pattern parsing throughput: simple patterns (one comparison) and compound
 * patterns (several observation expressions, operators, qualifiers and literal types), and
 * for comparison the matching of a compiled pattern against one observed-data object.
 * Run with `npx tsx bench/pattern-parse.ts [seconds per case]`; prints rates per second.
 */

import { compilePattern, matchPattern, parsePattern } from '../src/pattern/index.ts';

const secondsPerCase = Number(process.argv[2] ?? 2);

function simplePatterns(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const hash = (i * 2654435761).toString(16).padStart(8, '0').repeat(8).slice(0, 64);
    return `[file:hashes.'SHA-256' = '${hash}']`;
  });
}

function compoundPatterns(count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) =>
      `([file:name = 'dropper${i}.exe' AND file:size > ${1000 + i}] FOLLOWEDBY ` +
      `[network-traffic:dst_ref.value ISSUBSET '10.${i % 256}.0.0/16' AND ` +
      `network-traffic:dst_port IN (80, 443, 8080)]) WITHIN 300 SECONDS OR ` +
      `[url:value LIKE 'http://evil${i}.example/%' OR url:value MATCHES '^https?://[a-z]+\\\\.test/'] ` +
      `REPEATS 3 TIMES START t'2024-01-01T00:00:00Z' STOP t'2024-12-31T23:59:59.999Z'`,
  );
}

/** Parses the patterns round-robin for about `seconds` and returns patterns per second. */
function measure(
  patterns: string[],
  seconds: number,
): { perSecond: number; averageLength: number } {
  for (const pattern of patterns.slice(0, 1000)) parsePattern(pattern);

  let parsed = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) parsePattern(patterns[(parsed + i) % patterns.length]!);
    parsed += 1000;
  }
  const elapsed = (performance.now() - started) / 1000;
  const averageLength = patterns.reduce((sum, p) => sum + p.length, 0) / patterns.length;
  return { perSecond: parsed / elapsed, averageLength };
}

/** Matches one observed-data object repeatedly and returns matches per second. */
function measureMatch(pattern: string, seconds: number): number {
  const observed = {
    type: 'observed-data',
    id: 'observed-data--1',
    first_observed: '2024-03-01T00:00:00Z',
    last_observed: '2024-03-01T00:00:05Z',
    number_observed: 1,
    objects: { '0': { type: 'file', name: 'dropper7.exe', size: 5000 } },
  };
  const compiled = compilePattern(pattern);
  let matched = 0;
  const started = performance.now();
  try {
    while (performance.now() - started < seconds * 1000) {
      for (let i = 0; i < 1000; i++) matchPattern(compiled, [observed]);
      matched += 1000;
    }
  } finally {
    compiled.dispose();
  }
  return matched / ((performance.now() - started) / 1000);
}

const simple = measure(simplePatterns(10_000), secondsPerCase);
const compound = measure(compoundPatterns(10_000), secondsPerCase);
const equalityMatches = measureMatch(
  "[file:name = 'dropper7.exe' AND file:size > 1000]",
  secondsPerCase,
);
const regexMatches = measureMatch("[file:name MATCHES '^dropper[0-9]+\\\\.exe$']", secondsPerCase);

const format = (value: number) => Math.round(value).toLocaleString('en-US');
console.log(`node ${process.version}, ${secondsPerCase} s per case`);
console.log(
  `simple patterns:   ${format(simple.perSecond)} parsed/s (${simple.averageLength.toFixed(0)} chars each)`,
);
console.log(
  `compound patterns: ${format(compound.perSecond)} parsed/s (${compound.averageLength.toFixed(0)} chars each)`,
);
console.log(`match, = and >, one observed-data: ${format(equalityMatches)} matches/s (compiled)`);
console.log(`match, MATCHES, one observed-data: ${format(regexMatches)} matches/s (compiled)`);
