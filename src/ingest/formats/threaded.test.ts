import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { describe, test } from 'node:test';
import { CairnError } from '../../errors.ts';
import { openStore } from '../../store/index.ts';
import { dataPath } from '../../testing/data.ts';
import { type ConvertedRow, packRows, toConvertedRow, unpackRows } from '../converted-rows.ts';
import { importConversion, ImportStoppedError } from '../import.ts';
import { convert, type FormatOptions } from './index.ts';
import { canConvertInWorker, convertInWorker, type ThreadedFormat } from './threaded.ts';

const OPTIONS: FormatOptions = { source: 'test', created: '2024-05-01T00:00:00.000Z' };
const TRAIL = dataPath('maltrail-trails/trails/static/mass_scanner.txt');

async function* bytesOf(...chunks: string[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield Buffer.from(chunk, 'utf8');
}

async function allRows(rows: AsyncIterable<ConvertedRow[]>): Promise<ConvertedRow[]> {
  const all: ConvertedRow[] = [];
  for await (const batch of rows) all.push(...batch);
  return all;
}

/** Converts on this thread and prepares the rows as the worker does. */
async function rowsOnThisThread(
  format: ThreadedFormat,
  stream: () => AsyncIterable<Uint8Array>,
  options: FormatOptions,
) {
  const conversion = convert(format, { stream: stream() }, options);
  const rows: ConvertedRow[] = [];
  for await (const object of conversion.objects) rows.push(toConvertedRow(object));
  return { rows, report: conversion.report.summary() };
}

describe('packRows', () => {
  test('round-trips hostile values', () => {
    const object = {
      type: 'domain-name',
      spec_version: '2.1',
      id: 'domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5',
      value: 'line\nbreak\r\u2028"quote"\\ \ud800 é',
    };
    const row = toConvertedRow(object);
    assert.ok('prepared' in row);
    const rows: ConvertedRow[] = [
      row,
      { unchecked: { type: 'x', note: 'a\nb' } },
      { unchecked: null },
      { prepared: row.prepared, tlp: ['amber', 'red'], granular: true },
    ];
    const unpacked = unpackRows(packRows(rows));
    assert.deepEqual(unpacked, rows);
    const first = unpacked[0]!;
    assert.ok('prepared' in first);
    assert.equal((JSON.parse(first.prepared.json) as { value: string }).value, object.value);
  });

  test('packs no rows as empty text', () => {
    assert.equal(packRows([]), '');
    assert.deepEqual(unpackRows(''), []);
  });

  test('rejects text with a missing field', () => {
    const packed = packRows([toConvertedRow({ type: 'x' })]);
    assert.throws(() => unpackRows(packed.slice(packed.indexOf('\n') + 1)), /not a multiple/);
  });
});

describe('convertInWorker', () => {
  test('accepts only list formats without warning lists', () => {
    assert.equal(canConvertInWorker('text', OPTIONS), true);
    assert.equal(canConvertInWorker('csv', OPTIONS), true);
    assert.equal(canConvertInWorker('freetext', OPTIONS), true);
    assert.equal(canConvertInWorker('stix', OPTIONS), false);
    assert.equal(canConvertInWorker('misp-feed', OPTIONS), false);
    const lists = { lists: { match: () => [] }, action: 'drop' as const };
    assert.equal(canConvertInWorker('text', { ...OPTIONS, warninglists: lists }), false);
  });

  test('gives the rows of a conversion on this thread', async () => {
    const stream = () => createReadStream(TRAIL);
    const expected = await rowsOnThisThread('text', stream, OPTIONS);
    const threaded = convertInWorker('text', { stream: stream() }, OPTIONS);
    const rows = await allRows(threaded.rows);
    assert.ok(rows.length > 1000, `only ${rows.length} rows`);
    assert.deepEqual(rows, expected.rows);
    assert.deepEqual(threaded.report.summary(), expected.report);
    assert.ok(threaded.bytesRead() > 0);
  });

  for (const [format, text, options, skipped] of [
    ['text', '# list\n198.51.100.7\n010.1.1.1\nhxxp://evil[.]example/a\n\n', OPTIONS, 1],
    ['freetext', 'Seen 198.51.100.7 and evil[.]example; also 010.1.1.1.\n', OPTIONS, 0],
    [
      'csv',
      'kind,ioc\ndomain,bad.example\nipv4,300.1.1.1\nsha256,' + 'a'.repeat(64) + '\n',
      { ...OPTIONS, csvMapping: { value: 'ioc', type: 'kind' } },
      1,
    ],
  ] as const) {
    test(`converts ${format} as this thread does`, async () => {
      const stream = () => bytesOf(text.slice(0, 9), text.slice(9));
      const expected = await rowsOnThisThread(format, stream, options);
      const threaded = convertInWorker(format, { stream: stream() }, options);
      assert.deepEqual(await allRows(threaded.rows), expected.rows);
      assert.deepEqual(threaded.report.summary(), expected.report);
      assert.ok(expected.rows.length > 0, 'the input gives objects');
      assert.equal(expected.report.skipped, skipped);
    });
  }

  test('throws the converter error', async () => {
    const threaded = convertInWorker(
      'csv',
      { stream: bytesOf('first,second\nbad.example,x\n') },
      OPTIONS,
    );
    await assert.rejects(
      allRows(threaded.rows),
      (error: unknown) =>
        error instanceof CairnError &&
        error.code === 'invalid-parameter' &&
        /no indicator column found/.test(error.message),
    );
  });

  test('throws the error of the input stream', async () => {
    const failure = new Error('disk went away');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('198.51.100.1\n198.51.100.2\n');
      throw failure;
    }
    const threaded = convertInWorker('text', { stream: failing() }, OPTIONS);
    const seen: ConvertedRow[] = [];
    await assert.rejects(
      (async () => {
        for await (const batch of threaded.rows) seen.push(...batch);
      })(),
      (error: unknown) => error === failure,
    );
    assert.equal(seen.length, 4, 'the rows of the lines before the error arrive');
  });

  test('reads ahead only a few chunks', async () => {
    let pulled = 0;
    let closed = false;
    async function* endless(): AsyncGenerator<Uint8Array> {
      try {
        for (let chunk = 0; ; chunk++) {
          pulled++;
          const lines: string[] = [];
          for (let line = 0; line < 1000; line++) {
            lines.push(`10.${chunk % 256}.${line >> 8}.${line & 255}`);
          }
          yield Buffer.from(`${lines.join('\n')}\n`);
        }
      } finally {
        closed = true;
      }
    }
    const threaded = convertInWorker('text', { stream: endless() }, OPTIONS);
    let batches = 0;
    for await (const _batch of threaded.rows) {
      batches++;
      // A slow store: the worker must wait instead of reading on.
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (batches === 5) break;
    }
    assert.ok(pulled <= batches + 10, `${pulled} chunks read for ${batches} batches used`);
    assert.equal(closed, true, 'the input is closed when the reader stops');
  });

  test('imports through the bulk path', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      await store.createApiRoot({ name: 'default', title: 'Test', maxContentLength: 1 << 20 });
      const collection = await store.createCollection({ apiRoot: 'default', title: 'Test' });
      const text = '198.51.100.7\nevil.example\n010.1.1.1\n198.51.100.7\n';
      const threaded = convertInWorker('text', { stream: bytesOf(text) }, OPTIONS);
      const summary = await importConversion(store, collection.id, threaded);
      assert.equal(summary.added, 4);
      assert.equal(summary.duplicates, 1);
      assert.equal(summary.rejected, 0);
      assert.equal(threaded.report.summary().skipped, 1);
      const again = convertInWorker('text', { stream: bytesOf(text) }, OPTIONS);
      const second = await importConversion(store, collection.id, again);
      assert.equal(second.added, 0);
      assert.equal(second.duplicates, 5);
    } finally {
      await store.close();
    }
  });

  test('stops the import on a converter error', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      await store.createApiRoot({ name: 'default', title: 'Test', maxContentLength: 1 << 20 });
      const collection = await store.createCollection({ apiRoot: 'default', title: 'Test' });
      const threaded = convertInWorker(
        'csv',
        { stream: bytesOf('first,second\nbad.example,x\n') },
        OPTIONS,
      );
      await assert.rejects(
        importConversion(store, collection.id, threaded),
        (error: unknown) => error instanceof ImportStoppedError && error.summary.added === 0,
      );
    } finally {
      await store.close();
    }
  });
});
