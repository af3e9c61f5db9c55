/**
 * Reads warning lists in the MISP warninglist format (github.com/MISP/misp-warninglists):
 * one `list.json` per list, with a name, a type (cidr, hostname, string, substring or
 * regex), the MISP attribute types it applies to, and its entries.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { CairnError } from '../errors.ts';

export const WARNINGLIST_TYPES = ['cidr', 'hostname', 'string', 'substring', 'regex'] as const;

export type WarninglistType = (typeof WARNINGLIST_TYPES)[number];

export interface Warninglist {
  name: string;
  type: WarninglistType;
  /** MISP attribute types the list applies to; empty means every type. */
  matchingAttributes: string[];
  entries: string[];
}

/** Checks the parsed content of one list file, naming the file in errors. */
export function parseWarninglist(value: unknown, file: string): Warninglist {
  const record = value as Record<string, unknown> | null;
  const fail = (what: string): never => {
    throw new CairnError('invalid-parameter', `warning list ${file} is invalid: ${what}`);
  };
  if (record === null || typeof record !== 'object' || Array.isArray(record))
    fail('expected a JSON object');
  const { name, type, list, matching_attributes: attributes } = record!;
  if (typeof name !== 'string' || name.trim() === '') fail('"name" must be a non-empty string');
  if (!WARNINGLIST_TYPES.includes(type as WarninglistType)) {
    fail(`"type" ${JSON.stringify(type)} is not one of ${WARNINGLIST_TYPES.join(', ')}`);
  }
  if (!Array.isArray(list) || !list.every((entry) => typeof entry === 'string')) {
    fail('"list" must be an array of strings');
  }
  if (
    attributes !== undefined &&
    (!Array.isArray(attributes) || !attributes.every((item) => typeof item === 'string'))
  ) {
    fail('"matching_attributes" must be an array of strings');
  }
  return {
    name: (name as string).trim(),
    type: type as WarninglistType,
    matchingAttributes: (attributes as string[] | undefined) ?? [],
    entries: list as string[],
  };
}

/**
 * Loads every `list.json` under `folder` (the layout of the misp-warninglists repository,
 * `lists/<name>/list.json`), in path order. A file that is not a valid list raises
 * CairnError naming it.
 */
export async function loadWarninglists(folder: string): Promise<Warninglist[]> {
  let files: string[];
  try {
    const entries = await readdir(folder, { recursive: true, withFileTypes: true });
    files = entries
      .filter((entry) => entry.isFile() && entry.name === 'list.json')
      .map((entry) => join(entry.parentPath, entry.name))
      .sort();
  } catch (error) {
    throw new CairnError(
      'not-found',
      `cannot read the warning-list folder ${folder}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  if (files.length === 0) {
    throw new CairnError(
      'not-found',
      `${folder} has no list.json: expected the misp-warninglists layout, lists/<name>/list.json`,
    );
  }
  const lists: Warninglist[] = [];
  for (const file of files) {
    const name = relative(folder, file);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new CairnError(
        'invalid-parameter',
        `warning list ${name} is not valid JSON: ${(error as Error).message}`,
      );
    }
    lists.push(parseWarninglist(parsed, name));
  }
  return lists;
}
