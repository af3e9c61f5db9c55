import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dataPath } from '../testing/data.ts';
import { AhoCorasick } from './aho-corasick.ts';
import {
  loadWarninglists,
  parseWarninglist,
  type Warninglist,
  WarninglistMatcher,
} from './index.ts';
import { PrefixTrie } from './prefix-trie.ts';

function list(
  type: Warninglist['type'],
  entries: string[],
  matchingAttributes: string[] = [],
): Warninglist {
  return { name: `${type} list`, type, entries, matchingAttributes };
}

describe('PrefixTrie', () => {
  it('finds every prefix of an address', () => {
    const trie = new PrefixTrie();
    trie.add([10, 0, 0, 0], 8, 1);
    trie.add([10, 1, 0, 0], 16, 2);
    trie.add([10, 1, 2, 3], 32, 3);
    trie.add([0, 0, 0, 0], 0, 4);
    const found: number[] = [];
    trie.match([10, 1, 2, 3], 32, (list) => found.push(list));
    assert.deepEqual(found.sort(), [1, 2, 3, 4]);
    const shorter: number[] = [];
    trie.match([10, 1, 0, 0], 12, (list) => shorter.push(list));
    assert.deepEqual(shorter.sort(), [1, 4]);
  });

  it('grows past its first arrays', () => {
    const trie = new PrefixTrie();
    for (let i = 0; i < 5000; i++) trie.add([i >> 8, i & 255, 7, 9], 32, i % 3);
    const found: number[] = [];
    trie.match([4999 >> 8, 4999 & 255, 7, 9], 32, (list) => found.push(list));
    assert.deepEqual(found, [4999 % 3]);
  });
});

describe('AhoCorasick', () => {
  it('finds overlapping entries in one pass', () => {
    const automaton = new AhoCorasick([
      { text: 'he', list: 0 },
      { text: 'she', list: 1 },
      { text: 'hers', list: 2 },
      { text: 'mail.ru', list: 3 },
      { text: 'bücher', list: 4 },
    ]);
    const found = new Set<number>();
    automaton.match('ushers', (number) => found.add(number));
    assert.deepEqual([...found].sort(), [0, 1, 2]);
    const none = new Set<number>();
    automaton.match('gmail.com', (number) => none.add(number));
    assert.deepEqual([...none], []);
    const other = new Set<number>();
    automaton.match('x.mail.ru', (number) => other.add(number));
    assert.deepEqual([...other], [3]);
  });

  it('finds entries as whole labels', () => {
    const automaton = new AhoCorasick([
      { text: '99.com', list: 0 },
      { text: 'mail.ru', list: 1 },
      { text: 'ru', list: 2 },
    ]);
    const labels = (host: string): number[] => {
      const found = new Set<number>();
      automaton.matchLabels(host, (number) => found.add(number));
      return [...found].sort();
    };
    assert.deepEqual(labels('99.com'), [0]);
    assert.deepEqual(labels('mail.99.com'), [0]);
    assert.deepEqual(labels('99.com.evil.example'), [0]);
    assert.deepEqual(labels('aaaaa299.com'), []);
    assert.deepEqual(labels('99.community'), []);
    assert.deepEqual(labels('x.mail.ru'), [1, 2]);
    assert.deepEqual(labels('gmail.ru'), [2]);
    assert.deepEqual(labels('rutracker.org'), []);
    assert.deepEqual(labels(''), []);
  });
});

describe('WarninglistMatcher', () => {
  const matcher = new WarninglistMatcher([
    { ...list('cidr', ['10.0.0.0/8', '192.0.2.1', '2001:db8::/32', 'not-an-ip']), name: 'private' },
    { ...list('hostname', ['example.com', '.shortener.example', '*.wild.example']), name: 'hosts' },
    {
      ...list('string', [
        'exact.example',
        'd41d8cd98f00b204e9800998ecf8427e',
        'http://exact.example/page',
      ]),
      name: 'strings',
    },
    {
      ...list('substring', ['tempmail', '99.com.'], ['email-src', 'domain', 'url']),
      name: 'disposable',
    },
    { ...list('regex', ['/^(abuse|noc)@.*$/i', '/(unclosed/'], ['email-src']), name: 'contacts' },
    { ...list('string', ['evil.example'], ['md5']), name: 'hash-only' },
  ]);

  const cases: Array<[Parameters<WarninglistMatcher['match']>[0], string, string[]]> = [
    ['ip', '10.20.30.40', ['private']],
    ['ip', '192.0.2.1', ['private']],
    ['ip', '192.0.2.2', []],
    ['ip', '2001:db8::5', ['private']],
    ['cidr', '10.1.0.0/16', ['private']],
    ['cidr', '8.0.0.0/6', []],
    ['domain', 'example.com', ['hosts']],
    ['domain', 'www.example.com', ['hosts']],
    ['domain', 'notexample.com', []],
    ['domain', 'a.shortener.example', ['hosts']],
    ['domain', 'x.wild.example', ['hosts']],
    ['domain', 'exact.example', ['strings']],
    ['domain', 'sub.exact.example', []],
    ['domain', 'mytempmail.example', ['disposable']],
    ['domain', '99.com', ['disposable']],
    ['domain', 'mail.99.com', ['disposable']],
    ['domain', 'aaaaa299.com', []],
    ['domain', '99.com.br', ['disposable']],
    ['domain', '99.community', []],
    ['url', 'https://mail.99.com/inbox', ['disposable']],
    ['url', 'https://user@99.com:8443/', ['disposable']],
    ['url', 'https://aaaaa299.com/', []],
    ['url', 'https://evil.example/?next=99.com', []],
    ['url', 'https://evil.example/tempmail', ['disposable']],
    ['email', 'someone@mail.99.com', ['disposable']],
    ['email', 'someone@aaaaa299.com', []],
    ['url', 'https://www.example.com/a', ['hosts']],
    ['url', 'http://exact.example/page', ['strings']],
    ['url', 'http://exact.example/other', ['strings']],
    ['url', 'http://user@[2001:db8::1]:8080/', []],
    ['email', 'someone@www.example.com', ['hosts']],
    ['email', 'abuse@evil.example', ['contacts']],
    ['email', 'x@tempmail.example', ['disposable']],
    ['hash', 'd41d8cd98f00b204e9800998ecf8427e', ['strings']],
    ['asn', 'AS64500', []],
  ];
  for (const [kind, value, expected] of cases) {
    it(`matches ${kind} ${value}`, () => assert.deepEqual(matcher.match(kind, value), expected));
  }

  it('keeps plain substrings for other kinds', () => {
    const hashes = new WarninglistMatcher([
      { ...list('substring', ['ab.cd', 'd41d8cd9'], []), name: 'anything' },
    ]);
    assert.deepEqual(hashes.match('hash', 'd41d8cd98f00b204e9800998ecf8427e'), ['anything']);
    assert.deepEqual(hashes.match('domain', 'xab.cdx.example'), []);
    assert.deepEqual(hashes.match('domain', 'ab.cd.example'), ['anything']);
  });

  it('splits domain|ip by list type', () => {
    const split = new WarninglistMatcher([
      { ...list('cidr', ['192.0.2.0/24'], ['domain|ip']), name: 'blocks' },
      { ...list('substring', ['192'], ['domain|ip']), name: 'names' },
    ]);
    assert.deepEqual(split.match('ip', '192.0.2.1'), ['blocks']);
    assert.deepEqual(split.match('domain', 'x192.example'), ['names']);
  });

  it('applies a list only to its attribute kinds', () => {
    assert.deepEqual(matcher.match('domain', 'evil.example'), []);
  });

  it('reports entries it cannot use', () => {
    assert.deepEqual(
      matcher.problems.map((problem) => `${problem.list}: ${problem.entry}`),
      ['private: not-an-ip', 'contacts: /(unclosed/'],
    );
  });
});

describe('loadWarninglists', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-warninglists-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the MISP sample of every type', async () => {
    const lists = await loadWarninglists(dataPath('misp-warninglists/lists'));
    assert.equal(lists.length, 35);
    assert.deepEqual([...new Set(lists.map((item) => item.type))].sort(), [
      'cidr',
      'hostname',
      'regex',
      'string',
      'substring',
    ]);
    const matcher = new WarninglistMatcher(lists);
    assert.deepEqual(matcher.problems, []);
    assert.ok(matcher.match('ip', '8.8.8.8').includes('List of known IPv4 public DNS resolvers'));
    assert.ok(matcher.match('ip', '10.1.2.3').includes('List of RFC 1918 CIDR blocks'));
    assert.ok(
      matcher.match('domain', 'mailinator.com').includes('List of disposable email domains'),
    );
    assert.ok(
      matcher.match('url', 'https://bit.ly/x').includes('List of known URL Shorteners domains'),
    );
    assert.ok(
      matcher
        .match('hash', 'd41d8cd98f00b204e9800998ecf8427e')
        .includes('List of known hashes for empty files'),
    );
    assert.deepEqual(matcher.match('domain', 'evil-c2-domain.example'), []);
  });

  it('keeps Infoblox domains off the disposable list', async () => {
    // Domains of the Infoblox MISP feed that contain an entry of the list, such as `99.com`,
    // `mm.my` or `us.to`, without being that domain or under it.
    const matcher = new WarninglistMatcher(
      await loadWarninglists(dataPath('misp-warninglists/lists')),
    );
    const disposable = 'List of disposable email domains';
    for (const domain of ['aaaaa299.com', 'aaaaa699.com', 'tandemm.my', 'leeus.top']) {
      assert.equal(matcher.match('domain', domain).includes(disposable), false, domain);
    }
    for (const domain of ['igg.biz', 'mail.igg.biz', '99.com']) {
      assert.equal(matcher.match('domain', domain).includes(disposable), true, domain);
    }
    assert.ok(matcher.match('email', 'someone@mailinator.com').includes(disposable));
  });

  it('names an invalid list file', async () => {
    mkdirSync(join(dir, 'lists', 'bad'), { recursive: true });
    writeFileSync(
      join(dir, 'lists', 'bad', 'list.json'),
      JSON.stringify({ name: 'Bad', type: 'fuzzy', list: [] }),
    );
    await assert.rejects(
      loadWarninglists(dir),
      /lists\/bad\/list\.json is invalid: "type" "fuzzy"/,
    );
  });

  it('names a folder without lists', async () => {
    await assert.rejects(
      loadWarninglists(join(dir, 'missing')),
      /cannot read the warning-list folder/,
    );
    mkdirSync(join(dir, 'empty'));
    await assert.rejects(loadWarninglists(join(dir, 'empty')), /has no list\.json/);
  });

  it('rejects entries that are not strings', () => {
    assert.throws(
      () => parseWarninglist({ name: 'x', type: 'string', list: [1] }, 'x.json'),
      /"list" must be an array of strings/,
    );
  });
});
