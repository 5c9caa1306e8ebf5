import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import type { Log } from '../core/ports';

/**
 * Powertools' default line repeats, on every line, what the log group already says: the function's name,
 * ARN and memory size (about 200 bytes of a 600-byte line, and log ingestion is billed by the byte,
 * docs/cost.md). This one keeps what tells one invocation from another: the request id (which the REPORT
 * line carries too), cold start, and the trace id when the invocation is traced.
 * https://docs.powertools.aws.dev/lambda/typescript/latest/core/logger/#custom-log-formatter
 */
export class CompactLogFormatter extends LogFormatter {
  formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    const context = attributes.lambdaContext;
    const traced =
      attributes.xRayTraceId !== undefined && /Sampled=1/.test(process.env._X_AMZN_TRACE_ID ?? '');
    return new LogItem({
      attributes: {
        level: attributes.logLevel,
        message: attributes.message,
        timestamp: this.formatTimestamp(attributes.timestamp),
        service: attributes.serviceName,
        ...(context ? { cold_start: context.coldStart, function_request_id: context.awsRequestId } : {}),
        ...(traced ? { xray_trace_id: attributes.xRayTraceId } : {}),
      },
    }).addAttributes(additional);
  }
}

/** Structured JSON logs through Powertools for AWS Lambda, as the core's Log port. */
export function createLogger(serviceName: string): { logger: Logger; log: Log } {
  const logger = new Logger({ serviceName, logFormatter: new CompactLogFormatter() });
  const log: Log = {
    info: (message, attributes = {}) => logger.info(message, attributes),
    warn: (message, attributes = {}) => logger.warn(message, attributes),
    error: (message, attributes = {}) => logger.error(message, attributes),
  };
  return { logger, log };
}
