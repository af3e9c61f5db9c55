import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIpv4, parseIpv4Block } from './ip.ts';
import { urlHost, ValueMatcher, type MatchHow, type ValueKind } from './value-matcher.ts';

interface Item {
  name: string;
}

function hits(matcher: ValueMatcher<Item>, kind: ValueKind, value: string) {
  const found: Array<{ name: string; how: MatchHow; watched: string }> = [];
  matcher.lookup(kind, value, (item, how, watched) =>
    found.push({ name: item.name, how, watched }),
  );
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

describe('parseIpv4', () => {
  it('parses dotted quads', () => {
    assert.equal(parseIpv4('0.0.0.0'), 0);
    assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
    assert.equal(parseIpv4('192.0.2.1'), 0xc0000201);
  });

  it('rejects other text', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.4 ', 'a.b.c.d']) {
      assert.equal(parseIpv4(bad), -1, bad);
    }
  });

  it('clears host bits of blocks', () => {
    assert.deepEqual(parseIpv4Block('10.1.2.3/8'), { address: 0x0a000000, prefixLength: 8 });
    assert.deepEqual(parseIpv4Block('0.0.0.0/0'), { address: 0, prefixLength: 0 });
    assert.equal(parseIpv4Block('10.0.0.0/33'), undefined);
  });
});

describe('ValueMatcher', () => {
  it('matches exact values by kind only', () => {
    const matcher = new ValueMatcher<Item>();
    matcher.add({ kind: 'hash', value: 'ab'.repeat(16) }, { name: 'md5' });
    matcher.add({ kind: 'asn', value: '64500' }, { name: 'asn' });
    assert.deepEqual(hits(matcher, 'hash', 'ab'.repeat(16)), [
      { name: 'md5', how: 'exact', watched: 'ab'.repeat(16) },
    ]);
    assert.deepEqual(hits(matcher, 'asn', '64500').length, 1);
    assert.deepEqual(hits(matcher, 'url', '64500'), []);
  });

  it('matches subdomains only when asked', () => {
    const matcher = new ValueMatcher<Item>();
    matcher.add({ kind: 'domain', value: 'evil.example' }, { name: 'plain' });
    matcher.add({ kind: 'domain', value: 'evil.example', subdomains: true }, { name: 'tree' });
    assert.deepEqual(hits(matcher, 'domain', 'evil.example'), [
      { name: 'plain', how: 'exact', watched: 'evil.example' },
      { name: 'tree', how: 'exact', watched: 'evil.example' },
    ]);
    assert.deepEqual(hits(matcher, 'domain', 'a.b.evil.example'), [
      { name: 'tree', how: 'subdomain', watched: 'evil.example' },
    ]);
    assert.deepEqual(hits(matcher, 'domain', 'notevil.example'), []);
  });

  it('matches addresses inside blocks', () => {
    const matcher = new ValueMatcher<Item>();
    matcher.add({ kind: 'ipv4', value: '10.0.0.0/8' }, { name: 'ten' });
    matcher.add({ kind: 'ipv4', value: '10.1.2.3' }, { name: 'host' });
    matcher.add({ kind: 'ipv4', value: '0.0.0.0/0' }, { name: 'all' });
    assert.deepEqual(hits(matcher, 'ipv4', '10.1.2.3'), [
      { name: 'all', how: 'cidr', watched: '0.0.0.0/0' },
      { name: 'host', how: 'exact', watched: '10.1.2.3' },
      { name: 'ten', how: 'cidr', watched: '10.0.0.0/8' },
    ]);
    assert.deepEqual(
      hits(matcher, 'ipv4', '11.0.0.1').map((hit) => hit.name),
      ['all'],
    );
  });

  it('matches blocks inside and around a block', () => {
    const matcher = new ValueMatcher<Item>();
    matcher.add({ kind: 'ipv4', value: '10.0.0.0/8' }, { name: 'ten' });
    matcher.add({ kind: 'ipv4', value: '10.1.2.3' }, { name: 'host' });
    matcher.add({ kind: 'ipv4', value: '192.0.2.1' }, { name: 'other' });
    assert.deepEqual(
      hits(matcher, 'ipv4', '10.1.0.0/16').map((hit) => hit.name),
      ['host', 'ten'],
    );
    const found: string[] = [];
    matcher.lookupRange(4, 0x0a000000n, 0x0affffffn, (item) => found.push(item.name));
    assert.deepEqual(found.sort(), ['host', 'ten']);
  });

  it('matches IPv6 addresses and blocks', () => {
    const matcher = new ValueMatcher<Item>();
    matcher.add({ kind: 'ipv6', value: '2001:db8::/32' }, { name: 'doc' });
    matcher.add({ kind: 'ipv6', value: '2001:db8::1' }, { name: 'host' });
    assert.deepEqual(hits(matcher, 'ipv6', '2001:db8::1'), [
      { name: 'doc', how: 'cidr', watched: '2001:db8::/32' },
      { name: 'host', how: 'exact', watched: '2001:db8::1' },
    ]);
    assert.deepEqual(hits(matcher, 'ipv6', '2001:db9::1'), []);
  });

  it('matches the host of a URL and the domain of an address', () => {
    const matcher = new ValueMatcher<Item>();
    matcher.add({ kind: 'domain', value: 'evil.example', subdomains: true }, { name: 'domain' });
    matcher.add({ kind: 'ipv4', value: '192.0.2.0/24' }, { name: 'net' });
    matcher.add({ kind: 'url', value: 'http://evil.example/gate.php' }, { name: 'url' });
    assert.deepEqual(hits(matcher, 'url', 'http://evil.example/gate.php'), [
      { name: 'domain', how: 'url-host', watched: 'evil.example' },
      { name: 'url', how: 'exact', watched: 'http://evil.example/gate.php' },
    ]);
    assert.deepEqual(hits(matcher, 'url', 'https://u:p@192.0.2.9:8443/x'), [
      { name: 'net', how: 'url-host', watched: '192.0.2.0/24' },
    ]);
    assert.deepEqual(hits(matcher, 'email', 'ceo@mail.evil.example'), [
      { name: 'domain', how: 'email-domain', watched: 'evil.example' },
    ]);
  });

  it('forgets removed items', () => {
    const matcher = new ValueMatcher<Item>();
    const first = { name: 'first' };
    const second = { name: 'second' };
    matcher.add({ kind: 'ipv4', value: '192.0.2.0/24' }, first);
    matcher.add({ kind: 'ipv4', value: '192.0.2.0/24' }, second);
    matcher.add({ kind: 'domain', value: 'evil.example', subdomains: true }, first);
    assert.equal(matcher.size, 3);
    matcher.remove({ kind: 'ipv4', value: '192.0.2.0/24' }, first);
    matcher.remove({ kind: 'domain', value: 'evil.example', subdomains: true }, first);
    assert.deepEqual(
      hits(matcher, 'ipv4', '192.0.2.5').map((hit) => hit.name),
      ['second'],
    );
    assert.deepEqual(hits(matcher, 'domain', 'www.evil.example'), []);
    assert.equal(matcher.size, 1);
  });

  it('rejects keys that do not parse', () => {
    const matcher = new ValueMatcher<Item>();
    assert.equal(matcher.add({ kind: 'ipv4', value: 'not-an-ip' }, { name: 'bad' }), false);
    assert.equal(matcher.size, 0);
  });
});

describe('urlHost', () => {
  it('finds hosts in normalised URLs', () => {
    assert.equal(urlHost('http://evil.example/a?b#c'), 'evil.example');
    assert.equal(urlHost('https://user:pw@evil.example:8443'), 'evil.example');
    assert.equal(urlHost('http://[2001:db8::1]:80/'), '[2001:db8::1]');
    assert.equal(urlHost('file:///etc/passwd'), undefined);
    assert.equal(urlHost('no scheme'), undefined);
  });
});
