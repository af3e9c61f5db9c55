/**
 * Warning lists: known-benign values (public DNS resolvers, cloud ranges, top sites,
 * hashes of empty files) that make poor indicators. Imports check each observable against
 * them and drop, label or down-rate the ones found (see src/ingest/formats/emit.ts).
 */
export {
  type Warninglist,
  type WarninglistType,
  WARNINGLIST_TYPES,
  loadWarninglists,
  parseWarninglist,
} from './load.ts';
export { type WarninglistProblem, WarninglistMatcher } from './matcher.ts';
