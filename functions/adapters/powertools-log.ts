import { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from '../core/ports';

/** Structured JSON logs through Powertools for AWS Lambda, as the core's Log port. */
export function createLogger(serviceName: string): { logger: Logger; log: Log } {
  const logger = new Logger({ serviceName });
  const log: Log = {
    info: (message, attributes = {}) => logger.info(message, attributes),
    warn: (message, attributes = {}) => logger.warn(message, attributes),
    error: (message, attributes = {}) => logger.error(message, attributes),
  };
  return { logger, log };
}
