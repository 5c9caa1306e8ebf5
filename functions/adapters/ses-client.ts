import { SESv2Client } from '@aws-sdk/client-sesv2';
import type { AwsClientOptions } from './aws-clients';
import { traceAwsCalls } from './xray-aws';

/**
 * The SES v2 client, in a module of its own rather than with the other clients: the relay loads it with
 * its first mail (adapters/transport.ts), so its code is not in the relay's cold start.
 */
export function createSesClient(
  options: AwsClientOptions,
  /** 1 when another provider follows: the failover rules, not the SDK's retries, decide what comes next. */
  maxAttempts?: number,
): SESv2Client {
  return traceAwsCalls(
    new SESv2Client({
      region: options.region,
      endpoint: options.endpoints?.ses,
      credentials: options.credentials,
      ...(maxAttempts === undefined ? {} : { maxAttempts }),
    }),
  );
}
