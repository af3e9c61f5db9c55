import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchPattern } from '../pattern/index.ts';
import { objectProbes, PatternIndex, MAX_PROBES } from './pattern-index.ts';

interface Item {
  pattern: string;
}

function candidates(index: PatternIndex<Item>, object: Record<string, unknown>, objects = {}) {
  const found = new Set<string>();
  const probes = objectProbes(object, (id) => (objects as Record<string, unknown>)[id]);
  index.candidates(probes, (item) => found.add(item.pattern));
  return [...found].sort();
}

function indexOf(patterns: string[]): PatternIndex<Item> {
  const index = new PatternIndex<Item>();
  for (const pattern of patterns) index.add(pattern, { pattern });
  return index;
}

describe('objectProbes', () => {
  it('writes paths as patterns do', () => {
    const probes = objectProbes({
      type: 'file',
      hashes: { 'SHA-256': 'aa', MD5: 'bb' },
      name: 'x.exe',
      size: 10,
    });
    const written = probes.map((probe) => `${probe.type}:${probe.path}=${String(probe.value)}`);
    assert.ok(written.includes("file:hashes.'SHA-256'=aa"), written.join(' '));
    assert.ok(written.includes('file:hashes.MD5=bb'));
    assert.ok(written.includes('file:size=10'));
  });

  it('follows references when it can resolve them', () => {
    const traffic = { type: 'network-traffic', dst_ref: 'ipv4-addr--1', protocols: ['tcp'] };
    const probes = objectProbes(traffic, (id) =>
      id === 'ipv4-addr--1' ? { type: 'ipv4-addr', value: '192.0.2.1' } : undefined,
    );
    const written = probes.map((probe) => `${probe.path}=${String(probe.value)}`);
    assert.ok(written.includes('dst_ref.value=192.0.2.1'), written.join(' '));
    assert.ok(written.includes('protocols[*]=tcp'));
    assert.ok(written.includes('protocols[0]=tcp'));
  });

  it('stops at the probe limit', () => {
    const huge = { type: 'x-huge', values: Array.from({ length: 10_000 }, (_, i) => `v${i}`) };
    assert.equal(objectProbes(huge).length, MAX_PROBES);
  });

  it('survives reference cycles', () => {
    const a: Record<string, unknown> = { type: 'x-node', next_ref: 'x-node--a', v: 1 };
    const probes = objectProbes(a, () => a);
    assert.ok(probes.length > 0);
    assert.ok(probes.length < 50);
  });
});

describe('PatternIndex', () => {
  const patterns = [
    "[domain-name:value = 'evil.example']",
    "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    "[url:value LIKE 'http://evil.example/%']",
    "[file:hashes.'SHA-256' = 'aa' OR file:hashes.MD5 = 'bb']",
    "[network-traffic:dst_ref.value = '192.0.2.1' AND network-traffic:dst_port = 443]",
    "[process:name MATCHES '^evil']",
    '[file:size > 100]',
    "[artifact:payload_bin = h'00ff']",
  ];
  const index = indexOf(patterns);

  it('finds exact values', () => {
    assert.deepEqual(candidates(index, { type: 'domain-name', value: 'evil.example' }), [
      "[domain-name:value = 'evil.example']",
    ]);
    assert.deepEqual(candidates(index, { type: 'domain-name', value: 'good.example' }), []);
  });

  it('finds addresses in ranges', () => {
    assert.deepEqual(candidates(index, { type: 'ipv4-addr', value: '198.51.100.77' }), [
      "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    ]);
    assert.deepEqual(candidates(index, { type: 'ipv4-addr', value: '198.51.101.1' }), []);
  });

  it('finds LIKE prefixes', () => {
    assert.deepEqual(candidates(index, { type: 'url', value: 'http://evil.example/gate' }), [
      "[url:value LIKE 'http://evil.example/%']",
    ]);
  });

  it('finds values through references', () => {
    const objects = { '0': { type: 'ipv4-addr', value: '192.0.2.1' } };
    const found = candidates(index, { type: 'network-traffic', dst_ref: '0' }, objects);
    assert.deepEqual(found, [
      "[network-traffic:dst_ref.value = '192.0.2.1' AND network-traffic:dst_port = 443]",
    ]);
  });

  it('offers unindexable patterns for every object of their type', () => {
    assert.deepEqual(candidates(index, { type: 'process', name: 'anything' }), [
      "[process:name MATCHES '^evil']",
    ]);
    assert.deepEqual(candidates(index, { type: 'file', size: 1 }), ['[file:size > 100]']);
    assert.deepEqual(candidates(index, { type: 'artifact', payload_bin: 'AP8=' }), [
      "[artifact:payload_bin = h'00ff']",
    ]);
  });

  it('never misses a match of the evaluator', () => {
    const objects = [
      { type: 'domain-name', value: 'evil.example' },
      { type: 'ipv4-addr', value: '198.51.100.0/25' },
      { type: 'url', value: 'http://evil.example/x' },
      { type: 'file', hashes: { MD5: 'bb' }, size: 500 },
      { type: 'artifact', payload_bin: 'AP8=' },
      { type: 'process', name: 'evil.exe' },
    ];
    for (const object of objects) {
      const found = new Set(candidates(index, object));
      for (const pattern of patterns) {
        if (matchPattern(pattern, [object]).matched) {
          assert.ok(found.has(pattern), `${pattern} matches ${JSON.stringify(object)}`);
        }
      }
    }
  });

  it('forgets removed patterns', () => {
    const local = new PatternIndex<Item>();
    const items = patterns.map((pattern) => ({ pattern }));
    for (const item of items) local.add(item.pattern, item);
    for (const item of items) local.remove(item.pattern, item);
    assert.deepEqual(candidates(local, { type: 'domain-name', value: 'evil.example' }), []);
    assert.deepEqual(candidates(local, { type: 'process', name: 'evil' }), []);
  });
});
