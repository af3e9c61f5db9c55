import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  isBase64,
  isDomainName,
  isEmailAddress,
  isHex,
  isIpv4Value,
  isIpv6Value,
  isLanguageTag,
  isMacAddress,
  isUri,
} from './formats.ts';

function table(
  name: string,
  check: (s: string) => boolean,
  valid: string[],
  invalid: string[],
): void {
  describe(name, () => {
    for (const value of valid)
      test(`${JSON.stringify(value).slice(0, 60)} valid`, () => assert.equal(check(value), true));
    for (const value of invalid)
      test(`${JSON.stringify(value).slice(0, 60)} invalid`, () =>
        assert.equal(check(value), false));
  });
}

table(
  'isIpv4Value',
  isIpv4Value,
  ['0.0.0.0', '255.255.255.255', '198.51.100.3', '10.0.0.0/8', '10.0.0.0/0', '10.0.0.0/32'],
  [
    '',
    '256.0.0.0',
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4',
    '1.2.3.4/',
    '1.2.3.4/33',
    '1.2.3.4/08',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2.3.-4',
    '1.2.3.4/24/1',
    'a.b.c.d',
  ],
);

table(
  'isIpv6Value',
  isIpv6Value,
  [
    '::',
    '::1',
    '2001:db8::',
    '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
    'fe80::1:2',
    '::ffff:192.0.2.1',
    '64:ff9b::192.0.2.33',
    '2001:db8::/32',
    '::/0',
    '2001:db8::1/128',
    '1:2:3:4:5:6:7::',
  ],
  [
    '',
    ':',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '12345::',
    'g::1',
    '2001:db8::/129',
    '2001:db8::/',
    'fe80::1%eth0',
    '::ffff:192.0.2.256',
    '1:2:3:4:5:6:7:1.2.3.4',
    '1.2.3.4',
    `${'1:'.repeat(100)}1`,
  ],
);

table(
  'isMacAddress',
  isMacAddress,
  ['00:00:ab:cd:ef:01', 'd2:fb:49:24:37:18'],
  [
    '00:00:AB:CD:EF:01',
    '0:0:ab:cd:ef:1',
    '00-00-ab-cd-ef-01',
    '00:00:ab:cd:ef',
    '00:00:ab:cd:ef:01:02',
    '0000.abcd.ef01',
  ],
);

table(
  'isUri',
  isUri,
  [
    'https://example.com',
    'https://example.com/research/index.html',
    'http://a.example:8080/p?q=1&r=%20#frag',
    'http://[2001:db8::1]:443/',
    'http://[v7.fe80::a+en1]/',
    'ftp://user:pass@host/file',
    'mailto:john@example.com',
    'urn:isbn:0451450523',
    'file:///etc/hosts',
    'http://example.com/a;b=c/d@e/f:g/',
    'x-custom+scheme.1:opaque',
  ],
  [
    '',
    'example.com',
    '//example.com/path',
    ':no-scheme',
    '1http://example.com',
    'http://exa mple.com/',
    'http://example.com/a b',
    'http://example.com/%',
    'http://example.com/%2',
    'http://example.com/%zz',
    'http://example.com/<script>',
    'http://example.com/a"b',
    'http://example.com/#a#b',
    'http://[::1/',
    'http://[not-ipv6]/',
    'http://example.com:8o/',
    'https://bücher.de/',
    'http://example.com/\n',
  ],
);

table(
  'isDomainName',
  isDomainName,
  [
    'example.com',
    'a',
    'localhost',
    'xn--bcher-kva.example',
    'bücher.example',
    '3com.com',
    'example.com.',
    `${'a'.repeat(63)}.com`,
    'sub-domain.example.co.uk',
  ],
  [
    '',
    '.',
    '.example.com',
    'example..com',
    '-a.com',
    'a-.com',
    'a_b.com',
    'a b.com',
    '*.example.com',
    `${'a'.repeat(64)}.com`,
    `${'a.'.repeat(127)}aa`,
    'example.com..',
    'exa\nmple.com',
    'http://example.com',
  ],
);

table(
  'isEmailAddress',
  isEmailAddress,
  [
    'john@example.com',
    'jane.smith+tag@mail.example.com',
    "o'brien@example.ie",
    '"john doe"@example.com',
    '"a\\"b"@example.com',
    'user@[192.0.2.1]',
    'user@[IPv6:2001:db8::1]',
    'a@b',
  ],
  [
    '',
    'john',
    '@example.com',
    'john@',
    'john@@example.com',
    'john..doe@example.com',
    '.john@example.com',
    'john.@example.com',
    'John Doe <john@example.com>',
    'john@exa mple.com',
    'john@-example.com',
    '"unclosed@example.com',
    'john@[IPv6:zz]',
  ],
);

table(
  'isBase64',
  isBase64,
  ['aGVsbG8=', 'aGVsbG8h', 'aGVsbA==', 'AAAA', '++//'],
  [
    '',
    'a',
    'aGVsbG8',
    'aGVsbG8=\n',
    'aGVs bG8=',
    'aGVsbG8===',
    'a===',
    '=AAA',
    'aG=sbG8=',
    'a-_b',
    'VBORw0KGgoAAAANSUhEUgAAADI== ...',
  ],
);

table(
  'isHex',
  isHex,
  ['00', 'ff', '504B0304', 'deadBEEF'],
  ['', '0', 'abc', 'zz', '0x00', '00 11'],
);

table(
  'isLanguageTag',
  isLanguageTag,
  [
    'en',
    'fr',
    'de-CH',
    'zh-Hant',
    'zh-Hant-TW',
    'sr-Latn-RS',
    'es-419',
    'de-DE-1996',
    'sl-rozaj-biske',
    'en-a-myext-b-another',
    'en-US-x-twain',
    'x-whatever',
    'i-klingon',
    'zh-min-nan',
    'zh-yue',
    'ast',
    'en-GB-oed',
    'english',
  ],
  [
    '',
    'e',
    'englishes',
    'en_US',
    'en-',
    '-en',
    'en--US',
    'de-1996-1996',
    'en-a',
    'en-a-bb-a-cc',
    'en-x',
    'abcd',
    '123',
    'en-US-x-toolongprivate',
    'fr CA',
  ],
);

describe('hostile lengths', () => {
  const huge = 'a'.repeat(2_000_000);
  test('URI of a long path', () => assert.equal(isUri(`http://example.com/${huge}`), true));
  test('URI ending badly', () =>
    assert.equal(isUri(`http://example.com/${'%41'.repeat(500_000)}%4`), false));
  test('domain of long input', () => assert.equal(isDomainName(huge), false));
  test('email of long input', () => assert.equal(isEmailAddress(`${huge}@${huge}`), false));
  test('language tag of many subtags', () =>
    assert.equal(isLanguageTag(`en${'-abcde'.repeat(100_000)}`), false));
  test('ipv6 of long input', () => assert.equal(isIpv6Value(`${'1:'.repeat(1_000_000)}1`), false));
  test('base64 of long input', () => assert.equal(isBase64(`${'QUFB'.repeat(1_000_000)}`), true));
});
