// Structured JSON logs; credentials never reach them.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** `destination` defaults to stdout (tests pass a stream to read the lines). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'actions-server' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-hasura-admin-secret"]',
          'req.headers["x-internal-secret"]',
          'req.headers["x-hasura-event-secret"]',
          'req.headers["stripe-signature"]',
          '*.password',
          '*.ownerPassword',
          '*.token',
          '*.refreshToken',
          '*.currentPassword',
          '*.newPassword',
          '*.key',
          '*.secret',
          '*.databaseUrl',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
