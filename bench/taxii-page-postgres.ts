/**
 * taxii-page.ts on PostgreSQL: latency of one TAXII page of 1,000 objects in a collection
 * of 1,000,000 objects and in one of 10,000, on a database created for the run.
 *
 *   npm run build && node --import tsx bench/taxii-page-postgres.ts [large=1000000] [small=10000]
 */
import { fileURLToPath } from 'node:url';

import { runOnPostgres } from './postgres-database.ts';

const script = fileURLToPath(new URL('./taxii-page.ts', import.meta.url));
process.exitCode = await runOnPostgres(script, process.argv.slice(2));
