/**
 * STIX pattern evaluation in Cairn (src/pattern, as watch lists use it) against the OASIS
 * reference matcher (cti-pattern-matcher, Python), on the same work:
 *
 * - `vectors`: every record of the OASIS matcher test vectors that expects true or false
 *   (basic operators, IN, LIKE, MATCHES, ISSUBSET, references, FOLLOWEDBY, WITHIN, REPEATS,
 *   START/STOP), each pattern parsed and matched once per round;
 * - `watch`: the 1,447 domain patterns of the stalkerware indicators, each matched against
 *   one observed-data object and the domain-name SCO it references (in a bundle), as a
 *   watch list pattern entry is checked against an incoming object. Cairn compiles each pattern once, as the watch
 *   engine does; the reference matcher takes pattern text only, so it parses every time.
 *
 * Both sides also report how many outcomes agree with the vectors' expectations.
 *
 *   node --import tsx bench/watch-pattern.ts [rounds=20]
 *
 * The reference matcher is not part of Cairn and is not committed: set OASIS_MATCHER_PATH to
 * a PYTHONPATH holding stix2matcher (cti-pattern-matcher) and stix2patterns
 * (cti-pattern-validator), with antlr4-python3-runtime 4.13, python-dateutil, six and
 * deepmerge importable. Without it only the Cairn figures are printed. With a deepmerge
 * older than the 1.0.1 the matcher asks for, vectors that merge several bundles fail there.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePattern, matchPattern } from '../src/pattern/index.ts';
import { dataPath } from '../src/testing/data.ts';
import { machine } from './lib.ts';

const rounds = Number(process.argv[2] ?? 20);

interface Case {
  pattern: string;
  observations: unknown[];
  expected: boolean;
}

function vectorCases(): Case[] {
  return readFileSync(dataPath('vectors/pattern-matcher-v21.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Case & { expected: boolean | 'error' })
    .filter((record): record is Case => typeof record.expected === 'boolean');
}

function watchCases(): Case[] {
  const bundle = JSON.parse(
    readFileSync(dataPath('stalkerware-indicators/generated/stalkerware.stix2'), 'utf8'),
  ) as { objects: Array<{ type: string; pattern?: string }> };
  return bundle.objects
    .filter((object) => object.type === 'indicator' && object.pattern?.startsWith('[domain-name'))
    .map((object, index) => {
      const domain = /'([^']+)'/.exec(object.pattern!)![1]!;
      // Half the objects hold the pattern's domain, half another one.
      const value = index % 2 === 0 ? domain : `other-${domain}`;
      return {
        pattern: object.pattern!,
        expected: index % 2 === 0,
        // STIX 2.1 observed data references its SCOs, which travel in the same bundle.
        observations: [
          {
            type: 'bundle',
            id: `bundle--00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
            objects: [
              {
                type: 'observed-data',
                spec_version: '2.1',
                id: `observed-data--00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
                first_observed: '2024-01-01T00:00:00Z',
                last_observed: '2024-01-01T00:00:00Z',
                number_observed: 1,
                object_refs: [
                  `domain-name--00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
                ],
              },
              {
                type: 'domain-name',
                spec_version: '2.1',
                id: `domain-name--00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
                value,
              },
            ],
          },
        ],
      };
    });
}

function cairnRate(cases: Case[], precompile: boolean): { perSecond: number; agree: number } {
  const compiled = precompile ? cases.map((item) => compilePattern(item.pattern)) : undefined;
  let agree = 0;
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    cases.forEach((item, index) => {
      let matched: boolean;
      try {
        matched = matchPattern(
          compiled ? compiled[index]! : item.pattern,
          item.observations,
        ).matched;
      } catch {
        matched = !item.expected;
      }
      if (round === 0 && matched === item.expected) agree++;
    });
  }
  const seconds = (performance.now() - started) / 1000;
  compiled?.forEach((pattern) => pattern.dispose());
  return { perSecond: (cases.length * rounds) / seconds, agree };
}

/** Runs the same cases through the reference matcher in one Python process. */
function referenceRate(cases: Case[], path: string): { perSecond: number; agree: number } | string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-pattern-bench-'));
  try {
    writeFileSync(join(dir, 'cases.json'), JSON.stringify(cases));
    writeFileSync(
      join(dir, 'run.py'),
      [
        'import json, sys, time',
        'from stix2matcher.matcher import match',
        'cases = json.load(open(sys.argv[1]))',
        'rounds = int(sys.argv[2])',
        'agree = 0',
        'start = time.perf_counter()',
        'for r in range(rounds):',
        '    for case in cases:',
        '        try:',
        "            matched = len(match(case['pattern'], case['observations'], stix_version='2.1')) > 0",
        '        except Exception:',
        "            matched = not case['expected']",
        "        if r == 0 and matched == case['expected']:",
        '            agree += 1',
        'seconds = time.perf_counter() - start',
        "print(json.dumps({'perSecond': len(cases) * rounds / seconds, 'agree': agree}))",
      ].join('\n'),
    );
    const run = spawnSync(
      'python3',
      [join(dir, 'run.py'), join(dir, 'cases.json'), String(rounds)],
      {
        env: { ...process.env, PYTHONPATH: path },
        encoding: 'utf8',
        timeout: 600_000,
      },
    );
    if (run.status !== 0)
      return `reference matcher failed: ${run.stderr.trim().split('\n').at(-1)}`;
    return JSON.parse(run.stdout) as { perSecond: number; agree: number };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const reference = process.env.OASIS_MATCHER_PATH;
console.log(`pattern evaluation, ${rounds} rounds, ${machine()}`);
for (const [name, cases] of [
  ['vectors', vectorCases()],
  ['watch', watchCases()],
] as const) {
  const parsed = cairnRate(cases, false);
  const compiled = cairnRate(cases, true);
  console.log(
    `${name} (${cases.length} cases): cairn ${Math.round(parsed.perSecond)}/s parsing each time, ` +
      `${Math.round(compiled.perSecond)}/s compiled once; agrees on ${compiled.agree}/${cases.length}`,
  );
  if (!reference) {
    console.log('  reference matcher: not run (set OASIS_MATCHER_PATH)');
    continue;
  }
  const result = referenceRate(cases, reference);
  if (typeof result === 'string') console.log(`  ${result}`);
  else {
    console.log(
      `  reference matcher ${Math.round(result.perSecond)}/s; agrees on ${result.agree}/${cases.length}; ` +
        `cairn is ${(parsed.perSecond / result.perSecond).toFixed(1)}x (parsing) and ` +
        `${(compiled.perSecond / result.perSecond).toFixed(1)}x (compiled) as fast`,
    );
  }
}
