/** Reads the OASIS pattern test vectors kept next to the repository (one JSON record a line). */

import { readFileSync } from 'node:fs';
import { dataPath } from '../testing/data.ts';

export function readVectors<T>(fileName: string): T[] {
  const text = readFileSync(dataPath(`vectors/${fileName}`), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}
