import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchPattern, parsePattern } from '../pattern/index.ts';
import { deterministicScoId, validateObject } from '../stix/index.ts';
import { v5 as referenceUuidv5 } from 'uuid';
import { uuidBytes, uuidv5 } from './uuid5.ts';
import {
  MAX_INPUT_LENGTH,
  classify,
  escapePatternString,
  hashAlgorithm,
  normalise,
  normaliseAsn,
  normaliseDomain,
  normaliseEmail,
  normaliseHash,
  normaliseIp,
  normaliseUrl,
  refang,
  toIndicator,
  toSco,
  type Normalised,
  type Observable,
} from './index.ts';

/** The value of an accepted result, or a failed assertion naming the reason. */
function accepted<T>(result: Normalised<T>, input: string): T {
  assert.ok(result.ok, `${JSON.stringify(input)} rejected: ${result.ok ? '' : result.reason}`);
  return result.value;
}

function rejected<T>(result: Normalised<T>, input: string): string {
  assert.ok(!result.ok, `${JSON.stringify(input)} accepted as ${JSON.stringify(result)}`);
  return result.reason;
}

describe('refang', () => {
  const cases: Array<[string, string]> = [
    ['hxxp://evil[.]example/a', 'http://evil.example/a'],
    ['hXXps[:]//evil(.)example', 'https://evil.example'],
    ['fxp://files{.}example', 'ftp://files.example'],
    ['h**p://a[dot]b(DOT)c', 'http://a.b.c'],
    ['user[at]example[.]com', 'user@example.com'],
    ['user(@)example{dot}com', 'user@example.com'],
    ['1.2.3[ . ]4', '1.2.3.4'],
    ['evil\\.example', 'evil.example'],
    ['hxxp[://]evil.example[/]x', 'http://evil.example/x'],
    ['plain.example.com', 'plain.example.com'],
    ['(see below) [note]', '(see below) [note]'],
  ];
  for (const [input, expected] of cases) {
    it(`refangs ${input}`, () => assert.equal(refang(input), expected));
  }

  it('returns clean input unchanged', () => {
    const input = 'example.com';
    assert.equal(refang(input), input);
  });
});

describe('normaliseDomain', () => {
  const good: Array<[string, string]> = [
    ['Example.COM', 'example.com'],
    ['example.com.', 'example.com'],
    ['bücher.de', 'xn--bcher-kva.de'],
    ['XN--BCHER-KVA.de', 'xn--bcher-kva.de'],
    ['例え.テスト', 'xn--r8jz45g.xn--zckzah'],
    ['evil[.]example', 'evil.example'],
    // Full-width dot and digits, which IDNA maps to ASCII.
    ['a\uff0eb.com', 'a.b.com'],
    ['  spaced.example  ', 'spaced.example'],
    [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
  ];
  for (const [input, expected] of good) {
    it(`accepts ${input}`, () => assert.equal(accepted(normaliseDomain(input), input), expected));
  }

  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['.', /empty/],
    ['localhost', /single label/],
    ['a..b.com', /empty label/],
    ['-a.com', /hyphen/],
    ['a-.com', /hyphen/],
    ['exa_mple.com', /hyphen/],
    ['ex%61mple.com', /URL characters/],
    ['exam ple.com', /spaces/],
    ['evil.com/path', /URL characters/],
    ['xn--zz.com', /IDNA/],
    ['1.2.3.999', /numeric label/],
    ['178.63.71.15', /is an IPv4 address, not a domain name/],
    [`${'a'.repeat(64)}.com`, /64 characters/],
    [`${'abcdefghi.'.repeat(26)}com`, /at most 253/],
    ['x'.repeat(MAX_INPUT_LENGTH + 1), /more than/],
  ];
  for (const [input, reason] of bad) {
    it(`rejects ${input.slice(0, 30) || 'empty'}`, () => {
      assert.match(rejected(normaliseDomain(input), input), reason);
    });
  }

  it('canonical names equal their variants', () => {
    const canonical = ['a.b2', 'x-1.evil.example', `${'a'.repeat(63)}.${'b'.repeat(63)}.com`];
    for (const name of canonical) {
      assert.equal(accepted(normaliseDomain(name), name), name);
      const variant = ` ${name.toUpperCase()}. `;
      assert.equal(accepted(normaliseDomain(variant), variant), name);
    }
  });

  it('quotes at most 80 characters of a huge input', () => {
    const reason = rejected(normaliseDomain('y'.repeat(1_000_000)), 'huge');
    assert.ok(reason.length < 200, reason);
  });
});

describe('normaliseIp', () => {
  const good: Array<[string, string, 4 | 6]> = [
    ['192.0.2.1', '192.0.2.1', 4],
    ['  192.0.2.1 ', '192.0.2.1', 4],
    ['192.0.2[.]1', '192.0.2.1', 4],
    ['0.0.0.0', '0.0.0.0', 4],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1', 6],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', 6],
    ['2001:0db8::0001', '2001:db8::1', 6],
    ['[2001:db8::1]', '2001:db8::1', 6],
    ['::', '::', 6],
    ['::ffff:192.0.2.1', '192.0.2.1', 4],
    ['::FFFF:c000:0201', '192.0.2.1', 4],
    ['192.0.2.77/24', '192.0.2.0/24', 4],
    ['192.0.2.1/32', '192.0.2.1', 4],
    ['10.0.0.0/8', '10.0.0.0/8', 4],
    ['0.0.0.0/0', '0.0.0.0/0', 4],
    ['2001:db8::1/32', '2001:db8::/32', 6],
    ['2001:db8::1/128', '2001:db8::1', 6],
    ['::ffff:192.0.2.0/120', '192.0.2.0/24', 4],
  ];
  for (const [input, expected, version] of good) {
    it(`accepts ${input}`, () => {
      const ip = accepted(normaliseIp(input), input);
      assert.equal(ip.value, expected);
      assert.equal(ip.version, version);
    });
  }

  const bad: Array<[string, RegExp]> = [
    ['010.1.1.1', /leading zero/],
    ['192.0.2.01', /leading zero/],
    ['0x7f.0.0.1', /four decimal parts/],
    ['127.1', /four decimal parts/],
    ['2130706433', /four decimal parts/],
    ['256.1.1.1', /four decimal parts/],
    ['1.2.3.4.5', /four decimal parts/],
    ['fe80::1%eth0', /zone id/],
    ['fe80::1%25eth0', /zone id/],
    ['1:2:3:4:5:6:7:8:9', /IPv6/],
    ['::1.2.3.04', /IPv6/],
    ['2001:db8:::1', /IPv6/],
    ['192.0.2.0/33', /prefix length/],
    ['192.0.2.0/08', /prefix length/],
    ['192.0.2.0/', /prefix length/],
    ['2001:db8::/129', /prefix length/],
    ['', /four decimal parts/],
    ['1.2.3.4'.repeat(2000), /more than/],
  ];
  for (const [input, reason] of bad) {
    it(`rejects ${input.slice(0, 30) || 'empty'}`, () => {
      assert.match(rejected(normaliseIp(input), input), reason);
    });
  }
});

describe('normaliseUrl', () => {
  const good: Array<[string, string]> = [
    ['HTTP://EXAMPLE.com:80/a', 'http://example.com/a'],
    ['https://Example.com:443', 'https://example.com/'],
    ['https://example.com:8443/x', 'https://example.com:8443/x'],
    ['hxxps://evil[.]example/gate.php', 'https://evil.example/gate.php'],
    ['http://example.com/%7euser/%2fa?q=%41%3d', 'http://example.com/~user/%2Fa?q=A%3D'],
    ['http://example.com/a/%2e%2e/b', 'http://example.com/b'],
    ['http://example.com/a%2Eb', 'http://example.com/a%2Eb'],
    ['http://bücher.de/ü', 'http://xn--bcher-kva.de/%C3%BC'],
    ['http://example.com./x', 'http://example.com/x'],
    ['evil.example/gate.php', 'http://evil.example/gate.php'],
    ['192.0.2.1:8080/x', 'http://192.0.2.1:8080/x'],
    ['http://user:pw@Example.com/', 'http://user:pw@example.com/'],
    ['http://example.com/a b', 'http://example.com/a%20b'],
    ['http://[2001:DB8::1]:8080/', 'http://[2001:db8::1]:8080/'],
    [
      'https://a.example/w.php?email={victim@e.example}|x^',
      'https://a.example/w.php?email=%7Bvictim@e.example%7D%7Cx%5E',
    ],
    ['http://a.example/[x]?q=[1]#`', 'http://a.example/%5Bx%5D?q=%5B1%5D#%60'],
    ['http://a.example/100%', 'http://a.example/100%25'],
  ];
  for (const [input, expected] of good) {
    it(`accepts ${input}`, () => assert.equal(accepted(normaliseUrl(input), input), expected));
  }

  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['mailto:someone@example.com', /not a network URL/],
    ['javascript:alert(1)', /not a network URL/],
    ['http://exa mple.com/', /not a valid URL/],
    ['http://[::1/', /not a valid URL/],
    [`http://example.com/${'a'.repeat(MAX_INPUT_LENGTH)}`, /more than/],
  ];
  for (const [input, reason] of bad) {
    it(`rejects ${input.slice(0, 30) || 'empty'}`, () => {
      assert.match(rejected(normaliseUrl(input), input), reason);
    });
  }

  it('gives URLs the STIX validator accepts', () => {
    for (const [, expected] of good) {
      const result = validateObject(toSco({ kind: 'url', value: expected }));
      assert.ok(result.ok, `${expected}: ${JSON.stringify(result)}`);
    }
  });

  it('is stable when applied twice', () => {
    for (const [input] of good) {
      const once = accepted(normaliseUrl(input), input);
      assert.equal(accepted(normaliseUrl(once), once), once);
    }
  });
});

describe('normaliseEmail', () => {
  const good: Array<[string, string]> = [
    ['User@Example.COM', 'user@example.com'],
    ['user[at]example[.]com', 'user@example.com'],
    ['mailto:a.b+tag@example.com', 'a.b+tag@example.com'],
    ['josé@bücher.de'.replace('é', 'e'), 'jose@xn--bcher-kva.de'],
  ];
  for (const [input, expected] of good) {
    it(`accepts ${input}`, () => assert.equal(accepted(normaliseEmail(input), input), expected));
  }

  const bad: Array<[string, RegExp]> = [
    ['example.com', /local-part@domain/],
    ['@example.com', /local-part@domain/],
    ['user@', /local-part@domain/],
    ['a..b@example.com', /local part/],
    ['"quoted"@example.com', /local part/],
    [`${'a'.repeat(65)}@example.com`, /local part/],
    ['user@localhost', /single label/],
    ['user@[192.0.2.1]', /invalid domain/],
  ];
  for (const [input, reason] of bad) {
    it(`rejects ${input.slice(0, 30)}`, () => {
      assert.match(rejected(normaliseEmail(input), input), reason);
    });
  }
});

describe('hashAlgorithm', () => {
  const names: Array<[string, string | undefined]> = [
    ['MD5', 'MD5'],
    ['SHA-1', 'SHA-1'],
    ['SHA-256', 'SHA-256'],
    ['SHA-512', 'SHA-512'],
    ['SHA3-256', 'SHA3-256'],
    ['SHA3-512', 'SHA3-512'],
    ['SSDEEP', 'SSDEEP'],
    ['TLSH', 'TLSH'],
    ['ssdeep', 'SSDEEP'],
    ['sha256', 'SHA-256'],
    ['SHA256', 'SHA-256'],
    ['sha_256', 'SHA-256'],
    ['Sha-256', 'SHA-256'],
    ['sha3_512', 'SHA3-512'],
    ['SHA-384', undefined],
    ['SHA3-384', undefined],
    ['WHIRLPOOL', undefined],
    ['x_sha256', undefined],
    ['sha', undefined],
    ['', undefined],
    ['toString', undefined],
    ['__proto__', undefined],
  ];
  for (const [name, expected] of names) {
    it(`reads ${JSON.stringify(name)}`, () => {
      assert.equal(hashAlgorithm(name), expected);
    });
  }
});

describe('normaliseHash', () => {
  const md5 = 'D41D8CD98F00B204E9800998ECF8427E';
  const good: Array<[string, string | undefined, string, string]> = [
    [md5, undefined, 'MD5', md5.toLowerCase()],
    [` ${'A'.repeat(40)} `, undefined, 'SHA-1', 'a'.repeat(40)],
    ['b'.repeat(64), undefined, 'SHA-256', 'b'.repeat(64)],
    ['c'.repeat(128), undefined, 'SHA-512', 'c'.repeat(128)],
    ['d'.repeat(64), 'sha3-256', 'SHA3-256', 'd'.repeat(64)],
    ['e'.repeat(64), 'SHA256', 'SHA-256', 'e'.repeat(64)],
    ['f'.repeat(64), 'SHA-256', 'SHA-256', 'f'.repeat(64)],
    ['F'.repeat(64), 'SHA-256', 'SHA-256', 'f'.repeat(64)],
    [
      '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C',
      'ssdeep',
      'SSDEEP',
      '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C',
    ],
    [`T1${'F'.repeat(70)}`, 'tlsh', 'TLSH', `T1${'f'.repeat(70)}`],
  ];
  for (const [input, algorithm, expectedAlgorithm, expected] of good) {
    it(`accepts ${expectedAlgorithm} ${input.slice(0, 12)}`, () => {
      const hash = accepted(normaliseHash(input, algorithm), input);
      assert.equal(hash.algorithm, expectedAlgorithm);
      assert.equal(hash.value, expected);
    });
  }

  const bad: Array<[string, string | undefined, RegExp]> = [
    ['abc', undefined, /32, 40, 64 or 128/],
    ['g'.repeat(32), undefined, /32, 40, 64 or 128/],
    ['a'.repeat(56), undefined, /32, 40, 64 or 128/],
    ['a'.repeat(40), 'md5', /MD5 digest/],
    ['a'.repeat(64), 'MD5', /MD5 digest/],
    ['a'.repeat(32), 'toString', /not a supported hash algorithm/],
    ['a'.repeat(32), '__proto__', /not a supported hash algorithm/],
    ['a'.repeat(32), 'whirlpool', /not a supported hash algorithm/],
    ['not ssdeep', 'ssdeep', /SSDEEP/],
  ];
  for (const [input, algorithm, reason] of bad) {
    it(`rejects ${input.slice(0, 12)} as ${algorithm ?? 'any'}`, () => {
      assert.match(rejected(normaliseHash(input, algorithm), input), reason);
    });
  }
});

describe('normaliseAsn', () => {
  const good: Array<[string | number, number]> = [
    ['AS64500', 64500],
    ['asn64500', 64500],
    ['AS 64500', 64500],
    ['64500', 64500],
    [64500, 64500],
    ['AS1.10', 65546],
    ['AS4294967295', 4294967295],
  ];
  for (const [input, expected] of good) {
    it(`accepts ${input}`, () =>
      assert.equal(accepted(normaliseAsn(input), String(input)), expected));
  }
  for (const input of ['AS4294967296', 'AS', 'ASX1', 'AS65536.1', '-1', '1.5']) {
    it(`rejects ${input}`, () => assert.match(rejected(normaliseAsn(input), input), /AS number/));
  }
});

describe('classify', () => {
  const cases: Array<[string, Observable]> = [
    ['192.0.2.1', { kind: 'ip', version: 4, value: '192.0.2.1' }],
    ['192.0.2[.]1', { kind: 'ip', version: 4, value: '192.0.2.1' }],
    ['192.0.2.1:8080', { kind: 'ip', version: 4, value: '192.0.2.1', port: 8080 }],
    ['[2001:db8::1]:443', { kind: 'ip', version: 6, value: '2001:db8::1', port: 443 }],
    ['2001:DB8::1', { kind: 'ip', version: 6, value: '2001:db8::1' }],
    ['::ffff:192.0.2.1', { kind: 'ip', version: 4, value: '192.0.2.1' }],
    ['198.51.100.0/24', { kind: 'cidr', version: 4, value: '198.51.100.0/24' }],
    ['2001:db8::/32', { kind: 'cidr', version: 6, value: '2001:db8::/32' }],
    ['Evil.Example', { kind: 'domain', value: 'evil.example' }],
    ['evil(dot)example', { kind: 'domain', value: 'evil.example' }],
    ['bücher.de', { kind: 'domain', value: 'xn--bcher-kva.de' }],
    ['hxxp://evil[.]example/x', { kind: 'url', value: 'http://evil.example/x' }],
    ['evil.example/gate.php', { kind: 'url', value: 'http://evil.example/gate.php' }],
    ['192.0.2.1/malware.exe', { kind: 'url', value: 'http://192.0.2.1/malware.exe' }],
    ['evil.example:8080/x', { kind: 'url', value: 'http://evil.example:8080/x' }],
    ['bad[at]evil[.]example', { kind: 'email', value: 'bad@evil.example' }],
    [
      'D41D8CD98F00B204E9800998ECF8427E',
      { kind: 'hash', algorithm: 'MD5', value: 'd41d8cd98f00b204e9800998ecf8427e' },
    ],
    ['AS64500', { kind: 'asn', value: 'AS64500', number: 64500 }],
  ];
  for (const [input, expected] of cases) {
    it(`classifies ${input}`, () => assert.deepEqual(accepted(classify(input), input), expected));
  }

  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['010.1.1.1', /leading zero/],
    ['192.0.2.1:0', /port 0/],
    ['192.0.2.1:70000', /port 70000/],
    ['fe80::1%eth0', /zone id/],
    ['hello', /not a recognised indicator/],
    ['12345', /not a recognised indicator/],
    ['exa_mple.com', /hyphen/],
    ['just some words', /not a recognised indicator/],
    ['z'.repeat(10 * MAX_INPUT_LENGTH), /more than/],
  ];
  for (const [input, reason] of bad) {
    it(`rejects ${input.slice(0, 20) || 'empty'}`, () => {
      assert.match(rejected(classify(input), input), reason);
    });
  }

  it('normalises by kind the way classify does', () => {
    const input = 'HXXP://Evil[.]Example:80/a';
    assert.deepEqual(normalise('url', input), classify(input));
  });
});

describe('toSco and toIndicator', () => {
  const observables: Observable[] = [
    { kind: 'ip', version: 4, value: '192.0.2.1' },
    { kind: 'ip', version: 4, value: '192.0.2.1', port: 8080 },
    { kind: 'ip', version: 6, value: '2001:db8::1' },
    { kind: 'cidr', version: 4, value: '198.51.100.0/24' },
    { kind: 'cidr', version: 6, value: '2001:db8::/32' },
    { kind: 'domain', value: 'evil.example' },
    { kind: 'url', value: "http://evil.example/it's" },
    { kind: 'email', value: "o'brien@evil.example" },
    { kind: 'hash', algorithm: 'SHA-256', value: 'b'.repeat(64) },
    { kind: 'hash', algorithm: 'SSDEEP', value: '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C' },
    { kind: 'asn', value: 'AS64500', number: 64500 },
  ];

  for (const observable of observables) {
    const label = `${observable.kind} ${observable.value}${'port' in observable ? ' with port' : ''}`;

    it(`builds a valid SCO for ${label}`, () => {
      const sco = toSco(observable);
      const result = validateObject(sco);
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(sco.id, deterministicScoId(sco));
    });

    it(`builds a matching indicator for ${label}`, () => {
      const indicator = toIndicator(observable, {
        created: '2024-05-01T10:00:00.000Z',
        source: 'test',
      });
      const result = validateObject(indicator);
      assert.ok(result.ok, JSON.stringify(result));
      parsePattern(indicator.pattern as string);
      const sco = toSco(observable);
      const withPort = observable.kind === 'ip' && observable.port !== undefined;
      const observed = withPort
        ? { type: 'network-traffic', dst_ref: '0', dst_port: observable.port, protocols: ['tcp'] }
        : sco;
      const match = matchPattern(indicator.pattern as string, [observed], {
        objects: withPort ? { '0': sco } : {},
      });
      assert.ok(
        match.matched,
        `${indicator.pattern as string} does not match ${JSON.stringify(sco)}`,
      );
    });
  }

  it('gives one SCO id to two spellings of one observable', () => {
    const first = accepted(classify('hxxp://EVIL[.]example:80/a'), 'first');
    const second = accepted(classify('http://evil.example/a'), 'second');
    assert.equal(toSco(first).id, toSco(second).id);
  });

  it('gives the specified id of example.com', () => {
    // The UUIDv5 of {"value":"example.com"} under the SCO id namespace of STIX 2.1 section 2.9.
    const sco = toSco({ kind: 'domain', value: 'example.com' });
    assert.equal(sco.id, 'domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7');
  });

  it('derives a stable indicator id from the source', () => {
    const observable: Observable = { kind: 'domain', value: 'evil.example' };
    const first = toIndicator(observable, { source: 'feed-a' });
    assert.equal(toIndicator(observable, { source: 'feed-a' }).id, first.id);
    assert.notEqual(toIndicator(observable, { source: 'feed-b' }).id, first.id);
    assert.notEqual(toIndicator(observable).id, toIndicator(observable).id);
  });

  it('escapes quotes and backslashes in patterns', () => {
    assert.equal(escapePatternString("a'b\\c"), "a\\'b\\\\c");
    const indicator = toIndicator({ kind: 'url', value: "http://x.example/'\\" });
    assert.equal(indicator.pattern, "[url:value = 'http://x.example/\\'\\\\']");
  });

  it('keeps optional indicator properties', () => {
    const indicator = toIndicator(
      { kind: 'domain', value: 'evil.example' },
      {
        labels: ['phishing'],
        confidence: 40,
        objectMarkingRefs: ['marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487'],
      },
    );
    assert.deepEqual(indicator.labels, ['phishing']);
    assert.equal(indicator.confidence, 40);
    assert.equal((indicator.object_marking_refs as string[]).length, 1);
  });
});

describe('uuidv5', () => {
  const namespace = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
  for (const name of [
    '',
    'www.example.com',
    'bücher',
    '{"value":"example.com"}',
    'x'.repeat(10_000),
  ]) {
    it(`matches the uuid package for ${name.slice(0, 20) || 'empty'}`, () => {
      assert.equal(uuidv5(name, uuidBytes(namespace)), referenceUuidv5(name, namespace));
    });
  }
});
