/**
 * Locates the public reference data (STIX bundles, MISP events, schemas) that tests read.
 * It lives beside the repository, not in it: CAIRN_SHARED_DATA names it, otherwise the
 * `shared/data` folder next to the checkout, otherwise /work/shared/data.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function locate(): string {
  const candidates = [
    process.env.CAIRN_SHARED_DATA,
    join(repositoryRoot, '..', 'shared', 'data'),
    '/work/shared/data',
  ].filter((candidate): candidate is string => !!candidate);
  const found = candidates.find((candidate) => existsSync(join(candidate, 'INDEX.md')));
  if (!found) {
    throw new Error(
      `reference data not found; set CAIRN_SHARED_DATA (looked in ${candidates.join(', ')})`,
    );
  }
  return found;
}

let root: string | undefined;

/** The absolute path of a file or folder in the reference data. */
export function dataPath(relative: string): string {
  root ??= locate();
  return join(root, relative);
}

export function readDataJson<T = unknown>(relative: string): T {
  return JSON.parse(readFileSync(dataPath(relative), 'utf8')) as T;
}
