/**
 * STIX pattern evaluation in Cairn (src/pattern, as watch lists use it) against the OASIS
 * reference matcher (cti-pattern-matcher, Python), on the same patterns and observations:
 *
 * - `vectors`: the records of the OASIS matcher test vectors that expect true or false and
 *   whose observations are STIX 2.1 bundles (basic operators, IN, LIKE, MATCHES, ISSUBSET,
 *   references, FOLLOWEDBY, WITHIN, REPEATS, START/STOP);
 * - `vectors-2.0`: the records whose observations are bare STIX 2.0 observed-data objects
 *   with embedded `objects`, 20 at a time. The reference matcher takes these only with
 *   stix_version '2.0', so it is run that way for them;
 * - `watch`: the 1,447 domain patterns of the stalkerware indicators, each matched against
 *   one bundle of an observed-data object and the domain-name SCO it references, as a watch
 *   list pattern entry is checked against an incoming object.
 *
 * Every figure counts (pattern, observations) evaluations per CPU second of the process
 * doing them, median of the repeats (range in parentheses), in three forms:
 *
 * - parse: the pattern text and the raw observations go in every time. Cairn
 *   `matchPattern(text, observations)`, the reference `match(text, observations)`;
 * - compiled: the pattern is compiled once and the raw observations go in every time. Cairn
 *   `matchPattern(compilePattern(text), observations)`, the reference
 *   `Pattern(text).match(observations)`, which parses once and walks its parse tree per match;
 * - prepared: Cairn only, the pattern compiled once and the observations prepared once with
 *   `prepareObservations`, as when one incoming object is matched against many candidate
 *   patterns. The reference has no such step (its match() always re-reads the observations),
 *   so this form is set against its compiled figure.
 *
 * Both sides also report how many outcomes agree with the vectors' expectations.
 *
 *   node --import tsx bench/watch-pattern.ts [rounds=20] [repeats=3]
 *
 * The reference matcher is not part of Cairn and is not committed: set OASIS_MATCHER_PATH to
 * a PYTHONPATH holding stix2matcher (cti-pattern-matcher) and stix2patterns
 * (cti-pattern-validator), with antlr4-python3-runtime 4.13, python-dateutil, six and
 * deepmerge importable. Without it only the Cairn figures are printed. The reference runs
 * only one round of `vectors-2.0`, where one vector takes it about 5 seconds.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePattern, matchPattern, prepareObservations } from '../src/pattern/index.ts';
import { dataPath } from '../src/testing/data.ts';
import { machine } from './lib.ts';

const rounds = Number(process.argv[2] ?? 20);
const repeats = Number(process.argv[3] ?? 3);
const WARM_UP_CPU_SECONDS = 2;

interface Case {
  pattern: string;
  observations: unknown[];
  expected: boolean;
}

interface Group {
  name: string;
  cases: Case[];
  /** The stix_version argument the reference matcher needs for these observations. */
  stixVersion: '2.0' | '2.1';
  referenceRounds: number;
}

type Form = 'parse' | 'compiled' | 'prepared';

interface Rate {
  /** Evaluations per CPU second. */
  perSecond: number;
  /** Evaluations per wall-clock second. */
  perWallSecond: number;
  agree: number;
}

function vectorCases(): Case[] {
  return readFileSync(dataPath('vectors/pattern-matcher-v21.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Case & { expected: boolean | 'error' })
    .filter((record): record is Case => typeof record.expected === 'boolean');
}

function isBundle(observation: unknown): boolean {
  return (observation as { type?: unknown }).type === 'bundle';
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
      const suffix = String(index).padStart(12, '0');
      return {
        pattern: object.pattern!,
        expected: index % 2 === 0,
        // STIX 2.1 observed data references its SCOs, which travel in the same bundle.
        observations: [
          {
            type: 'bundle',
            id: `bundle--00000000-0000-4000-8000-${suffix}`,
            objects: [
              {
                type: 'observed-data',
                spec_version: '2.1',
                id: `observed-data--00000000-0000-4000-8000-${suffix}`,
                first_observed: '2024-01-01T00:00:00Z',
                last_observed: '2024-01-01T00:00:00Z',
                number_observed: 1,
                object_refs: [`domain-name--00000000-0000-4000-8000-${suffix}`],
              },
              {
                type: 'domain-name',
                spec_version: '2.1',
                id: `domain-name--00000000-0000-4000-8000-${suffix}`,
                value,
              },
            ],
          },
        ],
      };
    });
}

function cpuSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}

function cairnRate(cases: Case[], form: Form, groupRounds: number): Rate {
  const compiled = form === 'parse' ? undefined : cases.map((item) => compilePattern(item.pattern));
  const prepared =
    form === 'prepared' ? cases.map((item) => prepareObservations(item.observations)) : undefined;
  const evaluate = (index: number): boolean => {
    const item = cases[index]!;
    try {
      const pattern = compiled ? compiled[index]! : item.pattern;
      return matchPattern(pattern, prepared ? prepared[index]! : item.observations).matched;
    } catch {
      return !item.expected;
    }
  };

  let agree = 0;
  cases.forEach((item, index) => {
    if (evaluate(index) === item.expected) agree++;
  });
  // Cairn needs about 50,000 evaluations of the vectors before V8 has optimized its code and
  // the rate stops rising, so the measured rounds come after WARM_UP_CPU_SECONDS of them.
  const warmUpStart = process.cpuUsage();
  do {
    for (let index = 0; index < cases.length; index++) evaluate(index);
  } while (cpuSeconds(process.cpuUsage(warmUpStart)) < WARM_UP_CPU_SECONDS);
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  for (let round = 0; round < groupRounds; round++) {
    for (let index = 0; index < cases.length; index++) evaluate(index);
  }
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  compiled?.forEach((pattern) => pattern.dispose());
  const evaluations = cases.length * groupRounds;
  return {
    perSecond: evaluations / cpuSeconds(cpu),
    perWallSecond: evaluations / wallSeconds,
    agree,
  };
}

const REFERENCE_SCRIPT = `
import json, sys, time
from stix2matcher.matcher import match, Pattern
cases = json.load(open(sys.argv[1]))
form, version, rounds = sys.argv[2], sys.argv[3], int(sys.argv[4])

def compiled_or_error(text):
    try:
        return Pattern(text, version)
    except Exception as error:
        return error

patterns = [compiled_or_error(case['pattern']) for case in cases] if form == 'compiled' else None

def evaluate(index):
    case = cases[index]
    try:
        if patterns is None:
            return len(match(case['pattern'], case['observations'], stix_version=version)) > 0
        if isinstance(patterns[index], Exception):
            raise patterns[index]
        return len(patterns[index].match(case['observations'])) > 0
    except Exception:
        return not case['expected']

agree = sum(1 for index, case in enumerate(cases) if evaluate(index) == case['expected'])
cpu_start, wall_start = time.process_time(), time.perf_counter()
for _ in range(rounds):
    for index in range(len(cases)):
        evaluate(index)
cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
count = len(cases) * rounds
print(json.dumps({'perSecond': count / cpu, 'perWallSecond': count / wall, 'agree': agree}))
`;

/** Runs the cases through the reference matcher in one Python process. */
function referenceRate(group: Group, form: 'parse' | 'compiled', path: string): Rate | string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-pattern-bench-'));
  try {
    writeFileSync(join(dir, 'cases.json'), JSON.stringify(group.cases));
    writeFileSync(join(dir, 'run.py'), REFERENCE_SCRIPT);
    const run = spawnSync(
      'python3',
      [
        join(dir, 'run.py'),
        join(dir, 'cases.json'),
        form,
        group.stixVersion,
        String(group.referenceRounds),
      ],
      { env: { ...process.env, PYTHONPATH: path }, encoding: 'utf8', timeout: 1_800_000 },
    );
    if (run.status !== 0) {
      return `reference matcher failed: ${run.stderr.trim().split('\n').at(-1)}`;
    }
    return JSON.parse(run.stdout) as Rate;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Formats the median of the rates and their range, such as `12,300/s (11,800-13,000)`. */
function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const format = (value: number) =>
    value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
  if (sorted.length === 1) return format(median);
  return `${format(median)} (${format(sorted[0]!)}-${format(sorted.at(-1)!)})`;
}

const reference = process.env.OASIS_MATCHER_PATH;
const vectors = vectorCases();
const groups: Group[] = [
  {
    name: 'vectors',
    cases: vectors.filter((item) => item.observations.every(isBundle)),
    stixVersion: '2.1',
    referenceRounds: rounds,
  },
  {
    name: 'vectors-2.0',
    cases: vectors.filter((item) => !item.observations.every(isBundle)),
    stixVersion: '2.0',
    referenceRounds: 1,
  },
  { name: 'watch', cases: watchCases(), stixVersion: '2.1', referenceRounds: rounds },
];

console.log(
  `pattern evaluation, ${rounds} rounds, ${repeats} repeats, ${machine()}, ` +
    `load average ${loadavg()[0]!.toFixed(1)}`,
);
for (const group of groups) {
  const cairn: Record<Form, Rate[]> = { parse: [], compiled: [], prepared: [] };
  const oasis: Record<'parse' | 'compiled', Rate[]> = { parse: [], compiled: [] };
  const problems = new Set<string>();
  // Cairn and the reference take turns, so both see much the same load.
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const form of ['parse', 'compiled', 'prepared'] as const) {
      cairn[form].push(cairnRate(group.cases, form, rounds));
    }
    if (!reference) continue;
    for (const form of ['parse', 'compiled'] as const) {
      const result = referenceRate(group, form, reference);
      if (typeof result === 'string') problems.add(result);
      else oasis[form].push(result);
    }
  }

  const count = group.cases.length;
  console.log(`${group.name} (${count} cases):`);
  for (const form of ['parse', 'compiled', 'prepared'] as const) {
    const rates = cairn[form];
    const base = oasis[form === 'prepared' ? 'compiled' : form];
    let line =
      `  cairn ${form.padEnd(8)} ${summary(rates.map((rate) => rate.perSecond))}/CPU s, ` +
      `wall ${summary(rates.map((rate) => rate.perWallSecond))}/s; agrees on ${rates[0]!.agree}`;
    if (base.length === rates.length) {
      const ratios = rates.map((rate, index) => rate.perSecond / base[index]!.perSecond);
      line += `; ${summary(ratios)}x the reference ${form === 'prepared' ? 'compiled' : form}`;
    }
    console.log(line);
  }
  for (const form of ['parse', 'compiled'] as const) {
    const rates = oasis[form];
    if (rates.length === 0) continue;
    console.log(
      `  oasis ${form.padEnd(8)} ${summary(rates.map((rate) => rate.perSecond))}/CPU s, ` +
        `wall ${summary(rates.map((rate) => rate.perWallSecond))}/s; agrees on ${rates[0]!.agree}`,
    );
  }
  if (!reference) console.log('  reference matcher: not run (set OASIS_MATCHER_PATH)');
  for (const problem of problems) console.log(`  ${problem}`);
}
console.log(`load average at the end ${loadavg()[0]!.toFixed(1)}`);
