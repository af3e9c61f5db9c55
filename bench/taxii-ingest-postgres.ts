/**
 * taxii-ingest.ts on PostgreSQL: TAXII POST ingest throughput, end to end over HTTP, into a
 * database created for the run.
 *
 *   npm run build && node --import tsx bench/taxii-ingest-postgres.ts [seconds] [clients]
 */
import { fileURLToPath } from 'node:url';

import { runOnPostgres } from './postgres-database.ts';

const script = fileURLToPath(new URL('./taxii-ingest.ts', import.meta.url));
process.exitCode = await runOnPostgres(script, process.argv.slice(2));
