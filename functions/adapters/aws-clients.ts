import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { traceAwsCalls } from './xray-aws';

/** Endpoint overrides for the local emulators. On AWS every field is absent and the SDK's defaults apply. */
export interface AwsEndpoints {
  readonly sqs?: string | undefined;
  readonly ses?: string | undefined;
  readonly dynamodb?: string | undefined;
  /** Locally fauxqs serves S3 on its SQS endpoint. */
  readonly s3?: string | undefined;
}

export interface AwsClientOptions {
  readonly region: string;
  readonly endpoints?: AwsEndpoints;
  /** Static credentials for the emulators, which accept any. Never set on AWS. */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
}

// Clients are created once per process (at cold start) and reused: the SDK keeps connections alive. Each
// records its calls as X-Ray subsegments when the invocation is sampled (and does nothing otherwise).
export function createDynamoClient(options: AwsClientOptions): DynamoDBClient {
  return traceAwsCalls(
    new DynamoDBClient({
      region: options.region,
      endpoint: options.endpoints?.dynamodb,
      credentials: options.credentials,
    }),
  );
}
