import { ConfigError } from '../functions/core/errors';

/** An SDK error with an HTTP status came from the service; one without never reached it. */
export function answered(error: unknown): boolean {
  return (
    typeof (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === 'number'
  );
}

/** One line about an error for an operator: the fields of a bad configuration, or the SDK error. */
export function describeError(error: unknown): string {
  if (error instanceof ConfigError) return error.problems.map((p) => `${p.field} ${p.message}`).join('; ');
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
