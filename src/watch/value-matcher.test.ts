import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../testing/random.ts';
import { parseCidr } from '../pattern/cidr.ts';
import { ipv6FromWords, parseIpv4, parseIpv4Block, parseIpv6Words } from './ip.ts';
import {
  urlHost,
  ValueMatcher,
  type MatchHow,
  type ValueKey,
  type ValueKind,
} from './value-matcher.ts';

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

  it('gives addresses and blocks alike', () => {
    assert.deepEqual(parseIpv4Block('192.9.135.73'), parseIpv4Block('192.9.135.73/32'));
    assert.deepEqual(parseIpv4Block('255.255.255.255'), { address: -1, prefixLength: 32 });
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

  it('files many items under a high address', () => {
    const matcher = new ValueMatcher<Item>();
    const items = [{ name: 'first' }, { name: 'second' }, { name: 'third' }];
    for (const item of items) matcher.add({ kind: 'ipv4', value: '192.9.135.73' }, item);
    assert.equal(matcher.size, 3);
    assert.deepEqual(
      hits(matcher, 'ipv4', '192.9.135.73').map((hit) => hit.name),
      ['first', 'second', 'third'],
    );

    matcher.remove({ kind: 'ipv4', value: '192.9.135.73' }, items[1]!);
    assert.equal(matcher.size, 2);
    assert.deepEqual(
      hits(matcher, 'ipv4', '192.9.135.73').map((hit) => hit.name),
      ['first', 'third'],
    );
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

  it('reads the host after user info', () => {
    const cases: Array<[string, string | undefined]> = [
      ['http://u:p@evil.example:81/x', 'evil.example'],
      ['http://evil.example/p@x:1', 'evil.example'],
      ['http://evil.example?q=a@b', 'evil.example'],
      ['http://evil.example#a@b:1', 'evil.example'],
      ['http://[::1]@evil.example/', 'evil.example'],
      ['http://a@b@[2001:db8::1]:8/', '[2001:db8::1]'],
      ['http://[2001:db8::1/x]', undefined],
      ['http:///x', undefined],
      ['http://u@/x', undefined],
      ['http://:80/', undefined],
    ];
    for (const [url, host] of cases) assert.equal(urlHost(url), host, url);
  });
});

/** Returns every hit of a look-up as `name how watched`, in visiting order. */
function visits(matcher: ValueMatcher<Item>, kind: ValueKind, value: string): string[] {
  const found: string[] = [];
  matcher.lookup(kind, value, (item, how, watched) => found.push(`${item.name} ${how} ${watched}`));
  return found;
}

describe('ValueMatcher with colliding hashes', () => {
  const keys: Array<[ValueKey, string]> = [
    [{ kind: 'domain', value: 'evil.example' }, 'plain'],
    [{ kind: 'domain', value: 'evil.example', subdomains: true }, 'tree'],
    [{ kind: 'domain', value: 'example', subdomains: true }, 'tld'],
    [{ kind: 'domain', value: 'live.example' }, 'anagram'],
    [{ kind: 'url', value: 'http://evil.example/a' }, 'url'],
    [{ kind: 'url', value: 'http://evil.example/b' }, 'url-b'],
    [{ kind: 'email', value: 'ceo@evil.example' }, 'email'],
    [{ kind: 'hash', value: 'ab'.repeat(16) }, 'hash'],
    [{ kind: 'asn', value: 'AS64500' }, 'asn'],
    [{ kind: 'ipv4', value: '192.0.2.1' }, 'host'],
    [{ kind: 'ipv4', value: '192.0.2.0/24' }, 'net'],
    [{ kind: 'ipv6', value: '2001:db8::1' }, 'host6'],
    [{ kind: 'ipv6', value: '2001:db8::2' }, 'other6'],
    [{ kind: 'ipv6', value: '2001:db8::/32' }, 'net6'],
  ];
  const queries: Array<[ValueKind, string]> = [
    ['domain', 'evil.example'],
    ['domain', 'www.evil.example'],
    ['domain', 'live.example'],
    ['domain', 'vile.example'],
    ['domain', 'example'],
    ['url', 'http://evil.example/a'],
    ['url', 'http://evil.example/c'],
    ['url', 'https://cdn.live.example:8443/x'],
    ['url', 'http://[2001:db8::2]/'],
    ['email', 'ceo@evil.example'],
    ['email', 'cfo@mail.evil.example'],
    ['hash', 'ab'.repeat(16)],
    ['hash', 'ba'.repeat(16)],
    ['asn', 'AS64500'],
    ['asn', 'AS64501'],
    ['ipv4', '192.0.2.1'],
    ['ipv4', '192.0.2.2'],
    ['ipv6', '2001:db8::1'],
    ['ipv6', '2001:db8::3'],
    ['ipv6', '2001:db9::1'],
  ];

  it('matches only the real keys when every hash collides', () => {
    const plain = new ValueMatcher<Item>();
    const colliding = new ValueMatcher<Item>({ hashMask: 0, initialSlots: 4 });
    for (const [key, name] of keys) {
      assert.equal(plain.add(key, { name }), true);
      assert.equal(colliding.add(key, { name }), true);
    }
    assert.equal(colliding.size, keys.length);
    for (const [kind, value] of queries) {
      assert.deepEqual(visits(colliding, kind, value), visits(plain, kind, value), value);
    }
    assert.deepEqual(visits(colliding, 'domain', 'www.evil.example'), [
      'tree subdomain evil.example',
      'tld subdomain example',
    ]);
    assert.deepEqual(visits(colliding, 'domain', 'vile.example'), ['tld subdomain example']);
    assert.deepEqual(visits(colliding, 'ipv6', '2001:db8::1'), [
      'host6 exact 2001:db8::1',
      'net6 cidr 2001:db8::/32',
    ]);
  });

  it('agrees with full hashes on random keys', () => {
    const next = seededRandom(7);
    const pick = <V>(values: readonly V[]) => values[Math.floor(next() * values.length)]!;
    const labels = ['a', 'b', 'ab', 'ba', 'x-y'];
    const domain = () =>
      Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(labels)).join('.');
    const ipv4 = () => `10.0.${Math.floor(next() * 4)}.${Math.floor(next() * 4)}`;
    const ipv6 = () => `2001:db8:${Math.floor(next() * 4).toString(16)}::${Math.floor(next() * 4)}`;

    for (const mask of [0, 1, 3]) {
      const plain = new ValueMatcher<Item>();
      const colliding = new ValueMatcher<Item>({ hashMask: mask, initialSlots: 4 });
      const filed: Array<[ValueKey, Item]> = [];
      for (let i = 0; i < 400; i++) {
        const item = { name: `item ${i % 50}` };
        const roll = next();
        let key: ValueKey;
        if (roll < 0.4) key = { kind: 'domain', value: domain(), subdomains: next() < 0.5 };
        else if (roll < 0.6) key = { kind: 'url', value: `http://${domain()}/p` };
        else if (roll < 0.8) key = { kind: 'ipv4', value: `${ipv4()}/${pick([16, 24, 30, 32])}` };
        else key = { kind: 'ipv6', value: `${ipv6()}/${pick([32, 48, 64, 128])}` };
        // The network address of a block, as src/normalise writes it.
        if (key.kind === 'ipv4' || key.kind === 'ipv6')
          key.value = key.value.replace(/\/(32|128)$/, '');
        plain.add(key, item);
        colliding.add(key, item);
        filed.push([key, item]);
        if (next() < 0.3) {
          const [oldKey, oldItem] = pick(filed);
          plain.remove(oldKey, oldItem);
          colliding.remove(oldKey, oldItem);
        }
      }
      assert.equal(colliding.size, plain.size, `mask ${mask}`);
      for (let i = 0; i < 300; i++) {
        const query: [ValueKind, string] = pick([
          ['domain', domain()],
          ['url', `http://${domain()}/p`],
          ['url', `http://${domain()}/q`],
          ['email', `me@${domain()}`],
          ['ipv4', ipv4()],
          ['ipv6', ipv6()],
        ] as Array<[ValueKind, string]>);
        const expected = visits(plain, ...query).sort();
        assert.deepEqual(visits(colliding, ...query).sort(), expected, `mask ${mask}: ${query[1]}`);
      }
    }
  });
});

describe('ValueMatcher changes', () => {
  it('forgets a key when its last item goes', () => {
    const matcher = new ValueMatcher<Item>({ initialSlots: 4 });
    const first = { name: 'first' };
    const second = { name: 'second' };
    const tree = { kind: 'domain', value: 'evil.example', subdomains: true } as const;
    matcher.add(tree, first);
    matcher.add(tree, second);
    matcher.add(tree, first);
    assert.equal(matcher.size, 2, 'a repeated add files nothing new');
    matcher.remove(tree, first);
    assert.deepEqual(visits(matcher, 'domain', 'a.evil.example'), [
      'second subdomain evil.example',
    ]);
    matcher.remove(tree, first);
    assert.equal(matcher.size, 1, 'removing an absent item changes nothing');
    matcher.remove(tree, second);
    assert.equal(matcher.size, 0);
    assert.deepEqual(visits(matcher, 'domain', 'a.evil.example'), []);
    assert.deepEqual(visits(matcher, 'domain', 'evil.example'), []);
  });

  it('matches a key added again after removal', () => {
    const matcher = new ValueMatcher<Item>({ initialSlots: 4 });
    const item = { name: 'item' };
    for (const key of [
      { kind: 'url', value: 'http://evil.example/a' },
      { kind: 'ipv4', value: '198.51.100.0/24' },
      { kind: 'ipv6', value: '2001:db8:1::/48' },
    ] as const) {
      matcher.add(key, item);
      matcher.remove(key, item);
      const value = key.kind === 'url' ? key.value : key.value.replace(/0?\/\d+$/, '7');
      assert.deepEqual(visits(matcher, key.kind, value), [], `${key.value} removed`);
      matcher.add(key, item);
      assert.equal(visits(matcher, key.kind, value).length, 1, `${key.value} added again`);
    }
    assert.equal(matcher.size, 3);
  });

  it('keeps the two watcher kinds of a domain apart', () => {
    const matcher = new ValueMatcher<Item>({ initialSlots: 4 });
    const plain = { name: 'plain' };
    const tree = { name: 'tree' };
    matcher.add({ kind: 'domain', value: 'evil.example' }, plain);
    matcher.add({ kind: 'domain', value: 'evil.example', subdomains: true }, tree);
    matcher.add({ kind: 'domain', value: 'evil.example', subdomains: true }, plain);
    assert.equal(matcher.size, 3);
    assert.deepEqual(visits(matcher, 'domain', 'evil.example'), [
      'plain exact evil.example',
      'tree exact evil.example',
      'plain exact evil.example',
    ]);
    assert.deepEqual(visits(matcher, 'domain', 'x.evil.example'), [
      'tree subdomain evil.example',
      'plain subdomain evil.example',
    ]);

    matcher.remove({ kind: 'domain', value: 'evil.example', subdomains: true }, plain);
    matcher.remove({ kind: 'domain', value: 'evil.example', subdomains: true }, tree);
    assert.deepEqual(visits(matcher, 'domain', 'x.evil.example'), []);
    assert.deepEqual(visits(matcher, 'domain', 'evil.example'), ['plain exact evil.example']);

    matcher.remove({ kind: 'domain', value: 'evil.example' }, plain);
    matcher.add({ kind: 'domain', value: 'evil.example', subdomains: true }, tree);
    assert.deepEqual(visits(matcher, 'domain', 'evil.example'), ['tree exact evil.example']);
    assert.deepEqual(visits(matcher, 'domain', 'x.evil.example'), ['tree subdomain evil.example']);
    assert.equal(matcher.size, 1);
  });

  it('keeps other keys of a label count when one goes', () => {
    const matcher = new ValueMatcher<Item>();
    const item = { name: 'item' };
    matcher.add({ kind: 'domain', value: 'a.example', subdomains: true }, item);
    matcher.add({ kind: 'domain', value: 'b.example', subdomains: true }, item);
    matcher.remove({ kind: 'domain', value: 'a.example', subdomains: true }, item);
    assert.deepEqual(visits(matcher, 'domain', 'x.b.example'), ['item subdomain b.example']);
    assert.deepEqual(visits(matcher, 'domain', 'x.a.example'), []);
  });

  it('finds every key after growth and removals', () => {
    const matcher = new ValueMatcher<Item>({ initialSlots: 4 });
    const items = Array.from({ length: 20_000 }, (_, i) => ({ name: `n${i}` }));
    for (let i = 0; i < items.length; i++) {
      matcher.add({ kind: 'domain', value: `w${i}.example` }, items[i]!);
      matcher.add({ kind: 'ipv4', value: `10.${i >> 8}.${i & 255}.1` }, items[i]!);
    }
    for (let i = 0; i < items.length; i += 2) {
      matcher.remove({ kind: 'domain', value: `w${i}.example` }, items[i]!);
      matcher.remove({ kind: 'ipv4', value: `10.${i >> 8}.${i & 255}.1` }, items[i]!);
    }
    assert.equal(matcher.size, items.length);
    for (let i = 0; i < items.length; i++) {
      const expected = i % 2 === 0 ? [] : [`n${i} exact w${i}.example`];
      assert.deepEqual(visits(matcher, 'domain', `w${i}.example`), expected);
      const address = `10.${i >> 8}.${i & 255}.1`;
      assert.deepEqual(
        visits(matcher, 'ipv4', address),
        i % 2 === 0 ? [] : [`n${i} exact ${address}`],
      );
    }
  });

  it('allows a look-up from inside a visit', () => {
    const matcher = new ValueMatcher<Item>();
    matcher.add({ kind: 'domain', value: 'evil.example', subdomains: true }, { name: 'outer' });
    matcher.add({ kind: 'domain', value: 'example', subdomains: true }, { name: 'tld' });
    matcher.add({ kind: 'ipv6', value: '2001:db8::/32' }, { name: 'net6' });
    const found: string[] = [];
    matcher.lookup('domain', 'a.b.evil.example', (item, how) => {
      found.push(`${item.name} ${how}`);
      matcher.lookup('ipv6', '2001:db8::5', (inner) => found.push(`inside ${inner.name}`));
      matcher.lookup('domain', 'x.example', (inner) => found.push(`inside ${inner.name}`));
    });
    assert.deepEqual(found, [
      'outer subdomain',
      'inside net6',
      'inside tld',
      'tld subdomain',
      'inside net6',
      'inside tld',
    ]);
  });
});

describe('ValueMatcher domains', () => {
  it('matches a plain domain only as itself', () => {
    const matcher = new ValueMatcher<Item>();
    matcher.add({ kind: 'domain', value: 'evil.example' }, { name: 'plain' });
    assert.deepEqual(visits(matcher, 'domain', 'evil.example'), ['plain exact evil.example']);
    for (const other of ['www.evil.example', 'example', 'evil.example.org', 'xevil.example']) {
      assert.deepEqual(visits(matcher, 'domain', other), [], other);
    }
    assert.deepEqual(visits(matcher, 'url', 'http://evil.example:81/'), [
      'plain url-host evil.example',
    ]);
    assert.deepEqual(visits(matcher, 'url', 'http://www.evil.example/'), []);
    assert.deepEqual(visits(matcher, 'email', 'a@evil.example'), [
      'plain email-domain evil.example',
    ]);
    assert.deepEqual(visits(matcher, 'email', 'a@mx.evil.example'), []);
  });

  it('matches watched parents from the longest', () => {
    const matcher = new ValueMatcher<Item>();
    matcher.add({ kind: 'domain', value: 'example', subdomains: true }, { name: 'tld' });
    matcher.add({ kind: 'domain', value: 'b.c.example', subdomains: true }, { name: 'deep' });
    matcher.add({ kind: 'domain', value: 'c.example', subdomains: true }, { name: 'mid' });
    matcher.add({ kind: 'domain', value: 'a.b.c.example' }, { name: 'plain' });
    assert.deepEqual(visits(matcher, 'domain', 'a.b.c.example'), [
      'plain exact a.b.c.example',
      'deep subdomain b.c.example',
      'mid subdomain c.example',
      'tld subdomain example',
    ]);
    assert.deepEqual(visits(matcher, 'domain', 'c.example'), [
      'mid exact c.example',
      'tld subdomain example',
    ]);
    assert.deepEqual(visits(matcher, 'domain', 'x.bc.example'), ['tld subdomain example']);
    assert.deepEqual(visits(matcher, 'url', 'https://u@a.b.c.example:8443/p?q#f'), [
      'plain url-host a.b.c.example',
      'deep url-host b.c.example',
      'mid url-host c.example',
      'tld url-host example',
    ]);
    assert.deepEqual(visits(matcher, 'email', 'me@z.c.example'), [
      'mid email-domain c.example',
      'tld email-domain example',
    ]);
  });

  it('probes names deeper than any key', () => {
    const matcher = new ValueMatcher<Item>();
    matcher.add({ kind: 'domain', value: 'evil.example', subdomains: true }, { name: 'tree' });
    const deep = `${Array.from({ length: 120 }, (_, i) => `l${i}`).join('.')}.evil.example`;
    assert.deepEqual(visits(matcher, 'domain', deep), ['tree subdomain evil.example']);
    const wide = `${'x.'.repeat(40)}evil.example`;
    matcher.add({ kind: 'domain', value: wide.slice(4), subdomains: true }, { name: 'long' });
    assert.deepEqual(visits(matcher, 'domain', wide), [
      `long subdomain ${wide.slice(4)}`,
      'tree subdomain evil.example',
    ]);
  });
});

describe('ValueMatcher IPv6', () => {
  function matcherOf(blocks: string[]): ValueMatcher<Item> {
    const matcher = new ValueMatcher<Item>();
    for (const block of blocks) {
      assert.equal(matcher.add({ kind: 'ipv6', value: block }, { name: block }), true, block);
    }
    return matcher;
  }

  it('matches addresses in blocks of every prefix length', () => {
    const matcher = matcherOf([
      '::/0',
      '2001:db8::/32',
      '2001:db8:1::/48',
      '2001:db8:1:2::/64',
      '2001:db8:1:2::/127',
      '2001:db8:1:2::1',
      '2001:db8:8000::/33',
    ]);
    assert.deepEqual(visits(matcher, 'ipv6', '2001:db8:1:2::1'), [
      '2001:db8:1:2::1 exact 2001:db8:1:2::1',
      '2001:db8:1:2::/127 cidr 2001:db8:1:2::/127',
      '2001:db8:1:2::/64 cidr 2001:db8:1:2::/64',
      '2001:db8:1::/48 cidr 2001:db8:1::/48',
      '2001:db8::/32 cidr 2001:db8::/32',
      '::/0 cidr ::/0',
    ]);
    assert.deepEqual(visits(matcher, 'ipv6', '2001:db8:8000::9'), [
      '2001:db8:8000::/33 cidr 2001:db8:8000::/33',
      '2001:db8::/32 cidr 2001:db8::/32',
      '::/0 cidr ::/0',
    ]);
    assert.deepEqual(visits(matcher, 'ipv6', '2001:db8:1:2::2'), [
      '2001:db8:1:2::/64 cidr 2001:db8:1:2::/64',
      '2001:db8:1::/48 cidr 2001:db8:1::/48',
      '2001:db8::/32 cidr 2001:db8::/32',
      '::/0 cidr ::/0',
    ]);
    assert.deepEqual(visits(matcher, 'ipv6', 'fe80::1'), ['::/0 cidr ::/0']);
    assert.deepEqual(visits(matcher, 'ipv6', 'not an address'), []);
    assert.deepEqual(visits(matcher, 'ipv6', 'fe80::1%eth0'), []);
  });

  it('matches blocks inside and around a block', () => {
    const matcher = matcherOf(['2001:db8::/32', '2001:db8:1::/48', '2001:db8:1::5', '2001:db9::1']);
    assert.deepEqual(visits(matcher, 'ipv6', '2001:db8:1::/40').sort(), [
      '2001:db8:1::/48 cidr 2001:db8:1::/48',
      '2001:db8:1::5 cidr 2001:db8:1::5',
      '2001:db8::/32 cidr 2001:db8::/32',
    ]);
    assert.deepEqual(visits(matcher, 'ipv6', '2001:db8:1::/48').sort(), [
      '2001:db8:1::/48 exact 2001:db8:1::/48',
      '2001:db8:1::5 cidr 2001:db8:1::5',
      '2001:db8::/32 cidr 2001:db8::/32',
    ]);
    const found: string[] = [];
    matcher.lookupRange(6, 0x20010db8n << 96n, ((0x20010db8n + 1n) << 96n) - 1n, (item, how) =>
      found.push(`${item.name} ${how}`),
    );
    assert.deepEqual(found.sort(), [
      '2001:db8:1::/48 cidr',
      '2001:db8:1::5 cidr',
      '2001:db8::/32 exact',
    ]);
  });

  it('matches the IPv6 host of a URL', () => {
    const matcher = matcherOf(['2001:db8::/32']);
    assert.deepEqual(visits(matcher, 'url', 'http://[2001:db8::1]:8080/x'), [
      '2001:db8::/32 url-host 2001:db8::/32',
    ]);
    assert.deepEqual(visits(matcher, 'url', 'http://[2001:db8::1/x'), []);
    assert.deepEqual(visits(matcher, 'url', 'http://[fe80::1%25eth0]/'), []);
  });
});

describe('parseIpv6Words', () => {
  it('reads what parseCidr reads', () => {
    const next = seededRandom(11);
    const parts = [
      '',
      ':',
      '::',
      '0',
      '1',
      'db8',
      'FFFF',
      'ffff',
      '12345',
      '1.2.3.4',
      '01.2.3.4',
      'g',
      '%1',
      '.',
    ];
    const texts = [
      '::',
      '::1',
      '1::',
      '2001:db8::1',
      '::ffff:192.0.2.1',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7::',
      '::2:3:4:5:6:7:8',
      '1:2:3:4:5:6:1.2.3.4',
      '1:2:3:4:5::1.2.3.4',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      ':1::',
      '1:::2',
    ];
    for (let i = 0; i < 20_000; i++) {
      texts.push(
        Array.from(
          { length: 1 + Math.floor(next() * 10) },
          () => parts[Math.floor(next() * parts.length)],
        ).join(next() < 0.7 ? ':' : ''),
      );
    }
    const words = new Int32Array(4);
    for (const text of texts) {
      const block = parseCidr(text);
      const expected =
        block?.family === 6 && block.prefixLength === 128 && !text.includes('/')
          ? block.address
          : undefined;
      const parsed = parseIpv6Words(`[${text}]`, 1, text.length + 1, words);
      assert.equal(parsed, expected !== undefined, text);
      if (expected !== undefined) assert.equal(ipv6FromWords(words), expected, text);
    }
  });
});
