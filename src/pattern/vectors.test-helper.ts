/** Reads the OASIS pattern test vectors kept next to the repository (one JSON record a line). */

import { readFileSync } from 'node:fs';

const VECTORS_DIR = new URL('../../../shared/data/vectors/', import.meta.url);

export function readVectors<T>(fileName: string): T[] {
  const text = readFileSync(new URL(fileName, VECTORS_DIR), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}
