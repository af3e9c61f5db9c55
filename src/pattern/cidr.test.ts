import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { cidrContains, cidrRange, parseCidr } from './cidr.ts';

describe('cidr parsing', () => {
  test('IPv4 forms', () => {
    assert.deepEqual(parseCidr('10.0.0.1'), { family: 4, address: 0x0a000001n, prefixLength: 32 });
    assert.deepEqual(parseCidr('10.0.0.1/8'), { family: 4, address: 0x0a000001n, prefixLength: 8 });
    assert.deepEqual(parseCidr('0.0.0.0/0'), { family: 4, address: 0n, prefixLength: 0 });
  });

  test('IPv6 forms', () => {
    assert.equal(parseCidr('::1')?.address, 1n);
    assert.equal(parseCidr('::')?.address, 0n);
    assert.equal(parseCidr('2001:db8::')?.address, 0x20010db8n << 96n);
    assert.equal(parseCidr('::ffff:10.0.0.1')?.address, 0xffff0a000001n);
    assert.equal(parseCidr('1:2:3:4:5:6:7:8')?.address, 0x00010002000300040005000600070008n);
    assert.equal(parseCidr('fe80::/10')?.prefixLength, 10);
  });

  test('invalid forms', () => {
    for (const text of [
      '10.0.0',
      '10.0.0.256',
      '010.0.0.1',
      '10.0.0.1/33',
      '10.0.0.1/',
      '10.0.0.1/a',
      '::1/129',
      'fe80::1%eth0',
      'host',
      '',
    ]) {
      assert.equal(parseCidr(text), undefined, text);
    }
  });
});

describe('cidr containment', () => {
  const block = (text: string) => parseCidr(text)!;

  test('address in block', () => {
    assert.equal(cidrContains(block('10.0.0.0/8'), block('10.255.1.1')), true);
    assert.equal(cidrContains(block('10.0.0.0/8'), block('11.0.0.1')), false);
  });

  test('block in block', () => {
    assert.equal(cidrContains(block('10.0.0.0/8'), block('10.1.0.0/16')), true);
    assert.equal(cidrContains(block('10.1.0.0/16'), block('10.0.0.0/8')), false);
  });

  test('host bits ignored', () => {
    assert.equal(cidrContains(block('11.22.33.44/20'), block('11.22.41.123')), true);
  });

  test('families never mix', () => {
    assert.equal(cidrContains(block('::/0'), block('10.0.0.1')), false);
  });

  test('range ends', () => {
    assert.deepEqual(cidrRange(block('192.168.1.77/24')), {
      first: 0xc0a80100n,
      last: 0xc0a801ffn,
    });
    assert.deepEqual(cidrRange(block('10.0.0.1')), { first: 0x0a000001n, last: 0x0a000001n });
  });
});
