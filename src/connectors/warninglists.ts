/** The warning lists a server or CLI run uses, from the `connectors.warninglists` folder. */
import type { CairnConfig } from '../config/config.ts';
import type { WarninglistLookup } from '../ingest/formats/index.ts';
import type { Logger } from '../log/logger.ts';
import { WarninglistMatcher, loadWarninglists } from '../warninglists/index.ts';

/** Loads the configured warning lists; undefined when none are configured. */
export async function configuredWarninglists(
  config: CairnConfig,
  logger: Logger,
): Promise<WarninglistLookup | undefined> {
  const folder = config.connectors.warninglists;
  if (folder === undefined) return undefined;
  const lists = await loadWarninglists(folder);
  const matcher = new WarninglistMatcher(lists);
  for (const problem of matcher.problems.slice(0, 10)) {
    logger.warn(problem, 'warning list entry ignored');
  }
  logger.info({ folder, lists: lists.length }, 'warning lists loaded');
  return matcher;
}
