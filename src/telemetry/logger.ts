import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * JSON logs to stdout. Log lines carry ids, codes, tiers and timings only; request
 * and response content never reaches a logger call, and these paths are redacted
 * as a second line of defence.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'perimeter' },
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers["api-key"]', '*.apiKey', '*.credentials'], censor: '[redacted]' },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
