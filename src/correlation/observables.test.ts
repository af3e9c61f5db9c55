import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  normaliseLookup,
  objectObservables,
  observableKey,
  parseObservableKey,
  patternObservables,
} from './observables.ts';
import { patternMentions, scoObservables } from '../watch/observables.ts';

// Digests of the empty input.
const md5 = 'd41d8cd98f00b204e9800998ecf8427e';
const sha1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
const sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const sha512 =
  'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e';
const sha3256 = 'a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a';

describe('patternObservables', () => {
  test('single equality is exact', () => {
    const found = patternObservables("[ipv4-addr:value = '198.51.100.7']");
    assert.deepEqual(found, {
      observables: [{ type: 'ipv4', value: '198.51.100.7' }],
      exact: true,
    });
  });

  test('OR of observations and IN lists is exact', () => {
    const found = patternObservables(
      "[domain-name:value = 'Evil.Example.'] OR [url:value IN ('http://a.example/x', 'http://b.example/')]",
    );
    assert.equal(found.exact, true);
    assert.deepEqual(found.observables.map(observableKey).sort(), [
      'domain:evil.example',
      'url:http://a.example/x',
      'url:http://b.example/',
    ]);
  });

  test('hashes are lower-cased and typed by algorithm', () => {
    const found = patternObservables(
      "[file:hashes.'SHA-256' = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']",
    );
    assert.equal(found.exact, true);
    assert.deepEqual(found.observables, [{ type: 'sha256', value: 'a'.repeat(64) }]);
  });

  test('CIDR subset is exact', () => {
    const found = patternObservables("[ipv4-addr:value ISSUBSET '203.0.113.0/24']");
    assert.deepEqual(found, {
      observables: [{ type: 'ipv4', value: '203.0.113.0/24' }],
      exact: true,
    });
  });

  test('AND with another property is not exact', () => {
    const found = patternObservables(
      "[ipv4-addr:value = '198.51.100.7' AND ipv4-addr:x_port = 80]",
    );
    assert.equal(found.exact, false);
    assert.deepEqual(found.observables, [{ type: 'ipv4', value: '198.51.100.7' }]);
  });

  test('qualified and FOLLOWEDBY patterns are not exact', () => {
    assert.equal(
      patternObservables("[domain-name:value = 'a.example'] REPEATS 5 TIMES").exact,
      false,
    );
    assert.equal(
      patternObservables(
        "[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']",
      ).exact,
      false,
    );
  });

  test('negation and LIKE are not exact', () => {
    assert.equal(patternObservables("[domain-name:value != 'a.example']").exact, false);
    assert.equal(patternObservables("[domain-name:value LIKE '%.example']").exact, false);
  });

  test('network traffic references give their values', () => {
    const found = patternObservables(
      "[network-traffic:dst_ref.type = 'ipv4-addr' AND " +
        "network-traffic:dst_ref.value = '192.9.135.73' AND network-traffic:dst_port = 1194]",
    );
    assert.equal(found.exact, true);
    assert.deepEqual(found.observables, [{ type: 'ipv4', value: '192.9.135.73', port: 1194 }]);

    const v6 = patternObservables("[network-traffic:src_ref.value = '2001:DB8:0:0:0:0:0:1']");
    assert.deepEqual(v6.observables, [{ type: 'ipv6', value: '2001:db8::1' }]);

    const domain = patternObservables("[network-traffic:dst_ref.value = 'C2.Example']");
    assert.deepEqual(domain.observables, [{ type: 'domain', value: 'c2.example' }]);
  });

  test('only a destination address and port is exact', () => {
    const v6 = patternObservables(
      "[network-traffic:dst_ref.value = '2001:DB8::7' AND network-traffic:dst_port = 443]",
    );
    assert.equal(v6.exact, true);
    assert.deepEqual(v6.observables, [{ type: 'ipv6', value: '2001:db8::7', port: 443 }]);
    const inexact = [
      // The source, a domain, a block, a wrong type, an extra condition, a port range.
      "[network-traffic:src_ref.value = '192.0.2.1' AND network-traffic:src_port = 80]",
      "[network-traffic:dst_ref.value = 'c2.example' AND network-traffic:dst_port = 80]",
      "[network-traffic:dst_ref.value = '192.0.2.0/24' AND network-traffic:dst_port = 80]",
      "[network-traffic:dst_ref.type = 'ipv6-addr' AND network-traffic:dst_ref.value = '192.0.2.1' AND network-traffic:dst_port = 80]",
      "[network-traffic:dst_ref.value = '192.0.2.1' AND network-traffic:dst_port = 80 AND network-traffic:protocols[*] = 'udp']",
      "[network-traffic:dst_ref.value = '192.0.2.1' AND network-traffic:dst_port > 80]",
      "[network-traffic:dst_ref.value = '192.0.2.1' AND network-traffic:dst_port = 70000]",
      "[network-traffic:dst_ref.value = '192.0.2.1' AND network-traffic:dst_port = '80']",
      "[network-traffic:dst_ref.value = '192.0.2.1' AND network-traffic:dst_port = 80] WITHIN 60 SECONDS",
      "[network-traffic:dst_ref.value = '192.0.2.1' OR network-traffic:dst_port = 80]",
      "[network-traffic:dst_ref.value = '192.0.2.1' AND network-traffic:dst_ref.value = '192.0.2.2' AND network-traffic:dst_port = 80]",
    ];
    for (const pattern of inexact) {
      const found = patternObservables(pattern);
      assert.equal(found.exact, false, pattern);
      assert.ok(
        found.observables.every((observable) => observable.port === undefined),
        `${pattern} gives no port`,
      );
    }
  });

  test('other references and MAC addresses give nothing', () => {
    assert.deepEqual(
      patternObservables("[network-traffic:dst_ref.value = '00:11:22:33:44:55']").observables,
      [],
    );
    assert.deepEqual(
      patternObservables("[email-message:body_multipart[*].body_raw_ref.value = 'a.example']")
        .observables,
      [],
    );
  });

  test('invalid pattern gives nothing', () => {
    assert.deepEqual(patternObservables('[ipv4-addr:value = '), { observables: [], exact: false });
  });

  test('invalid value makes the pattern inexact', () => {
    const found = patternObservables("[ipv4-addr:value = '999.1.1.1']");
    assert.deepEqual(found, { observables: [], exact: false });
  });

  test('untyped hash algorithm makes OR inexact', () => {
    for (const algorithm of ["'SHA3-256'", 'SSDEEP', 'x_custom']) {
      const found = patternObservables(
        `[file:hashes.MD5 = '${md5}' OR file:hashes.${algorithm} = '${'a'.repeat(64)}']`,
      );
      assert.deepEqual(found.observables, [{ type: 'md5', value: md5 }], algorithm);
      assert.equal(found.exact, false, `${algorithm} left out of an exact pattern`);
    }
  });
});

describe('hash algorithm spellings', () => {
  const digests: Record<string, string> = {
    MD5: md5,
    'SHA-1': sha1,
    'SHA-256': sha256,
    'SHA3-256': sha3256,
  };
  // Name in a hashes key or pattern path, the algorithm watch lists read, and the
  // correlation type. Correlation has no type for SHA3-256, so it gives nothing there.
  const cases: Array<[string, string, string | undefined]> = [
    ['MD5', 'MD5', 'md5'],
    ['md5', 'MD5', 'md5'],
    ['SHA-1', 'SHA-1', 'sha1'],
    ['sha1', 'SHA-1', 'sha1'],
    ['SHA1', 'SHA-1', 'sha1'],
    ['sha_1', 'SHA-1', 'sha1'],
    ['SHA-256', 'SHA-256', 'sha256'],
    ['sha256', 'SHA-256', 'sha256'],
    ['SHA256', 'SHA-256', 'sha256'],
    ['sha_256', 'SHA-256', 'sha256'],
    ['Sha-256', 'SHA-256', 'sha256'],
    ['SHA3-256', 'SHA3-256', undefined],
    ['sha3_256', 'SHA3-256', undefined],
  ];
  for (const [name, algorithm, type] of cases) {
    test(`${name} reads alike everywhere`, () => {
      const digest = digests[algorithm]!;
      const pattern = `[file:hashes.'${name}' = '${digest.toUpperCase()}']`;
      const file = { type: 'file', hashes: { [name]: digest.toUpperCase() } };
      const expected = { kind: 'hash', algorithm, value: digest };

      assert.deepEqual(
        patternMentions(pattern).map((found) => found.observable),
        [expected],
        'watch list pattern reading',
      );
      assert.deepEqual(
        scoObservables(file).map((found) => found.observable),
        [expected],
        'watch list SCO reading',
      );
      const correlated = type === undefined ? [] : [`${type}:${digest}`];
      assert.deepEqual(
        patternObservables(pattern).observables.map(observableKey),
        correlated,
        'correlation pattern reading',
      );
      assert.deepEqual(
        objectObservables(file).map(observableKey),
        correlated,
        'correlation SCO reading',
      );
    });
  }
});

describe('objectObservables', () => {
  test('SCOs give their values', () => {
    assert.deepEqual(objectObservables({ type: 'domain-name', value: 'WWW.Example.COM' }), [
      { type: 'domain', value: 'www.example.com' },
    ]);
    assert.deepEqual(
      objectObservables({ type: 'file', hashes: { MD5: 'D41D8CD98F00B204E9800998ECF8427E' } }),
      [{ type: 'md5', value: 'd41d8cd98f00b204e9800998ecf8427e' }],
    );
  });

  test('non-STIX patterns and other objects give nothing', () => {
    assert.deepEqual(
      objectObservables({ type: 'indicator', pattern_type: 'snort', pattern: 'alert ip any' }),
      [],
    );
    assert.deepEqual(objectObservables({ type: 'malware', name: 'x' }), []);
  });
});

describe('observable keys', () => {
  test('keys round-trip, URLs with colons included', () => {
    const observable = { type: 'url', value: 'http://a.example:8080/x' } as const;
    assert.deepEqual(parseObservableKey(observableKey(observable)), observable);
  });

  test('unknown type is rejected', () => {
    assert.equal(parseObservableKey('fqdn:a.example'), undefined);
    assert.equal(parseObservableKey('nocolon'), undefined);
  });
});

describe('normaliseLookup', () => {
  const cases: Array<[string, string | undefined]> = [
    ['ip:85.239.243.155', 'ipv4:85.239.243.155'],
    ['ip:2001:DB8::1', 'ipv6:2001:db8::1'],
    ['ip:198.51.100.77/24', 'ipv4:198.51.100.0/24'],
    ['ipv4:85.239.243.155', 'ipv4:85.239.243.155'],
    ['ipv6:2001:db8::1', 'ipv6:2001:db8::1'],
    ['hash:D41D8CD98F00B204E9800998ECF8427E', 'md5:d41d8cd98f00b204e9800998ecf8427e'],
    [`hash:${'A'.repeat(64)}`, `sha256:${'a'.repeat(64)}`],
    ['domain:Evil.Example.', 'domain:evil.example'],
    ['ip:evil.example', undefined],
    ['ipv6:85.239.243.155', undefined],
    ['hash:xyz', undefined],
    ['fqdn:evil.example', undefined],
    [':85.239.243.155', undefined],
    ['ip', undefined],
  ];
  for (const [key, expected] of cases) {
    test(`reads ${key}`, () => {
      const found = normaliseLookup(key);
      assert.equal(found && observableKey(found), expected);
    });
  }
});

describe('pattern literal normalisation', () => {
  // 253 octets, the longest domain name, and one octet more.
  const longestDomain = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.');
  const tooLongDomain = `${longestDomain}d`;
  // Path, literal and the observable key it gives. Undefined means none, so the pattern is inexact.
  const cases: Array<[string, string, string | undefined]> = [
    ['ipv4-addr:value', '198.51.100.7', 'ipv4:198.51.100.7'],
    ['ipv4-addr:value', ' 198.51.100.7 ', 'ipv4:198.51.100.7'],
    ['ipv4-addr:value', '198.51.100[.]7', 'ipv4:198.51.100.7'],
    ['ipv4-addr:value', '010.1.1.1', undefined],
    ['ipv4-addr:value', '256.1.1.1', undefined],
    ['ipv4-addr:value', '198.51.100.7/32', 'ipv4:198.51.100.7'],
    ['ipv4-addr:value', '198.51.100.77/24', 'ipv4:198.51.100.0/24'],
    ['ipv4-addr:value', '::ffff:198.51.100.7', 'ipv4:198.51.100.7'],
    ['ipv4-addr:value', '2001:db8::1', undefined],
    ['ipv6-addr:value', '2001:DB8:0:0:0:0:0:1', 'ipv6:2001:db8::1'],
    ['ipv6-addr:value', '2001:db8::/32', 'ipv6:2001:db8::/32'],
    ['ipv6-addr:value', '::ffff:192.0.2.1', undefined],
    ['ipv6-addr:value', 'fe80::1%eth0', undefined],
    ['ipv6-addr:value', '198.51.100.7', undefined],
    ['domain-name:value', 'evil.example', 'domain:evil.example'],
    ['domain-name:value', 'Evil.Example.', 'domain:evil.example'],
    ['domain-name:value', 'evil[.]example', 'domain:evil.example'],
    ['domain-name:value', 'hxxp.example', 'domain:hxxp.example'],
    ['domain-name:value', 'a.b2', 'domain:a.b2'],
    ['domain-name:value', 'xn--bcher-kva.example', 'domain:xn--bcher-kva.example'],
    ['domain-name:value', 'bücher.example', 'domain:xn--bcher-kva.example'],
    ['domain-name:value', 'xn--a.example', undefined],
    ['domain-name:value', 'a_b.example', undefined],
    ['domain-name:value', '-a.example', undefined],
    ['domain-name:value', 'localhost', undefined],
    ['domain-name:value', '192.0.2.1', undefined],
    ['domain-name:value', 'a.123', undefined],
    ['domain-name:value', longestDomain, `domain:${longestDomain}`],
    ['domain-name:value', tooLongDomain, undefined],
    ['url:value', 'http://a.example/x', 'url:http://a.example/x'],
    ['url:value', 'hxxps://Evil[.]Example:443/a b?q=%7e', 'url:https://evil.example/a%20b?q=~'],
    ['url:value', 'evil.example/gate.php', 'url:http://evil.example/gate.php'],
    ['url:value', 'mailto:a@b.example', undefined],
    ['email-addr:value', 'User[at]Example.com', 'email:user@example.com'],
    ['email-addr:value', 'mailto:a@b.example', 'email:a@b.example'],
    ['email-addr:value', 'not-an-address', undefined],
    ["file:hashes.'MD5'", md5.toUpperCase(), `md5:${md5}`],
    ['file:hashes.MD5', md5, `md5:${md5}`],
    ['file:hashes.md5', md5, `md5:${md5}`],
    ['file:hashes.MD5', `${md5}0`, undefined],
    ["file:hashes.'SHA-1'", sha1, `sha1:${sha1}`],
    ['file:hashes.sha1', sha1.toUpperCase(), `sha1:${sha1}`],
    ["file:hashes.'SHA-1'", md5, undefined],
    ["file:hashes.'SHA-256'", sha256, `sha256:${sha256}`],
    ['file:hashes.sha256', ` ${sha256.toUpperCase()} `, `sha256:${sha256}`],
    ["file:hashes.'SHA-256'", `g${sha256.slice(1)}`, undefined],
    ["file:hashes.'SHA-512'", sha512, `sha512:${sha512}`],
    ["file:hashes.'SHA3-256'", sha256, undefined],
    // Hash names are read by hashAlgorithm in src/normalise, as watch lists read them, so
    // every spelling of an algorithm gives the value that its STIX 2.1 name gives.
    ['file:hashes.sha_256', sha256, `sha256:${sha256}`],
    ['file:hashes.SHA256', sha256, `sha256:${sha256}`],
    ['file:hashes.sha_1', sha1, `sha1:${sha1}`],
    ["file:hashes.'sha-512'", sha512, `sha512:${sha512}`],
    ['file:hashes.sha_256', md5, undefined],
    ["file:hashes.'SHA-384'", 'a'.repeat(96), undefined],
    ['file:hashes.x_sha256', sha256, undefined],
    ['file:hashes.toString', md5, undefined],
    ['file:hashes.__proto__', md5, undefined],
  ];
  for (const [path, literal, expected] of cases) {
    const label = literal.length > 40 ? `${literal.length}-character literal` : literal;
    test(`${path} reads ${JSON.stringify(label)}`, () => {
      const found = patternObservables(`[${path} = '${literal}']`);
      assert.deepEqual(found.observables.map(observableKey), expected ? [expected] : []);
      assert.equal(found.exact, expected !== undefined);
    });
  }
});
