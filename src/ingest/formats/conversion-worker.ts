/**
 * The worker thread of threaded.ts: converts the chunks the main thread sends, prepares
 * each object for the bulk path and sends the rows back packed, one message per batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CairnError } from '../../errors.ts';
import { packRows, toConvertedRow } from '../converted-rows.ts';
import { convertListFormat } from './list-formats.ts';
import type { FromWorker, ToWorker, WorkerError, WorkerRequest } from './threaded.ts';

/**
 * Objects per message for the converters that yield objects one by one (freetext, csv).
 * The text converter yields one batch per input chunk and is sent as it comes.
 */
const OBJECTS_PER_MESSAGE = 2000;

/** Thrown into the converter when the main thread could not read the input. */
class InputFailed extends Error {}

const port = parentPort!;
const request = workerData as WorkerRequest;

const chunks: Array<Uint8Array | string> = [];
let ended = false;
let failed = false;
let wake: (() => void) | undefined;

port.on('message', (message: ToWorker) => {
  if (message.type === 'chunk') chunks.push(message.data);
  else if (message.type === 'end') ended = true;
  else failed = true;
  wake?.();
  wake = undefined;
});

const send = (message: FromWorker): void => port.postMessage(message);

async function* input(): AsyncGenerator<Uint8Array | string> {
  for (;;) {
    const chunk = chunks.shift();
    if (chunk !== undefined) {
      send({ type: 'read' });
      yield chunk;
      continue;
    }
    if (failed) throw new InputFailed('the input could not be read');
    if (ended) return;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
  }
}

async function* grouped(objects: AsyncIterable<unknown>): AsyncGenerator<unknown[]> {
  let group: unknown[] = [];
  for await (const object of objects) {
    group.push(object);
    if (group.length >= OBJECTS_PER_MESSAGE) {
      yield group;
      group = [];
    }
  }
  if (group.length > 0) yield group;
}

function describe(error: unknown): WorkerError {
  if (error instanceof InputFailed) return { kind: 'input' };
  if (error instanceof CairnError) {
    return {
      kind: 'cairn',
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
    };
  }
  if (error instanceof Error) return { kind: 'other', message: error.message, stack: error.stack };
  return { kind: 'other', message: String(error) };
}

const conversion = convertListFormat(request.format, { stream: input() }, request.options);
const { report } = conversion;
try {
  for await (const objects of conversion.batches ?? grouped(conversion.objects)) {
    send({
      type: 'batch',
      rows: packRows(objects.map(toConvertedRow)),
      bytesRead: conversion.bytesRead(),
      report: report.summary(),
    });
  }
  send({ type: 'done', bytesRead: conversion.bytesRead(), report: report.summary() });
} catch (error) {
  send({
    type: 'error',
    error: describe(error),
    bytesRead: conversion.bytesRead(),
    report: report.summary(),
  });
}
