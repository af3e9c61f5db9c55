/**
 * The one place server log lines are made: pino, one JSON line per event.
 * Secrets are redacted at the top level and one level down: Authorization headers, token
 * secrets, passwords, connector header values and the connector secret key.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'cairn' },
      redact: {
        paths: [
          'authorization',
          '*.authorization',
          'token',
          '*.token',
          'password',
          '*.password',
          'auth.password',
          'auth.token',
          '*.auth.password',
          '*.auth.token',
          // Request headers and connector headers, whose values may be API keys.
          'headers.*',
          '*.headers.*',
          'secretKey',
          '*.secretKey',
          'connectors.secretKey',
          '*.connectors.secretKey',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
