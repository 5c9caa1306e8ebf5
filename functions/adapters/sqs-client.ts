import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsClientOptions } from './aws-clients';
import { traceAwsCalls } from './xray-aws';

/**
 * The SQS client, in a module of its own rather than with the DynamoDB client: the relay needs it only to
 * retry or dead-letter a job (adapters/relay-queue.ts), so it loads it then, not at cold start. Created once
 * per process and reused, its calls traced as the other clients' are.
 */
export function createSqsClient(options: AwsClientOptions): SQSClient {
  return traceAwsCalls(
    new SQSClient({
      region: options.region,
      endpoint: options.endpoints?.sqs,
      credentials: options.credentials,
    }),
  );
}
