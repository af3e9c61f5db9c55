import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  normaliseLookup,
  objectObservables,
  observableKey,
  parseObservableKey,
  patternObservables,
} from './observables.ts';

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
    assert.equal(found.exact, false);
    assert.deepEqual(found.observables, [{ type: 'ipv4', value: '192.9.135.73' }]);

    const v6 = patternObservables("[network-traffic:src_ref.value = '2001:DB8:0:0:0:0:0:1']");
    assert.deepEqual(v6.observables, [{ type: 'ipv6', value: '2001:db8::1' }]);

    const domain = patternObservables("[network-traffic:dst_ref.value = 'C2.Example']");
    assert.deepEqual(domain.observables, [{ type: 'domain', value: 'c2.example' }]);
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
