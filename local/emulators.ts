import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, type DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import sesLocal from 'aws-ses-v2-local';
import dynalite from 'dynalite';
import { buildApp as buildFauxqs } from 'fauxqs';
import type { PostroomConfig } from '../functions/core/config';

/**
 * The AWS services Postroom uses, emulated in this process and bound to loopback only:
 * fauxqs (SQS, and S3 on the same port), aws-ses-v2-local (SES v2 with a web inbox) and dynalite
 * (DynamoDB, in memory).
 */

export const LOCAL_HOST = '127.0.0.1';

export interface EmulatorPorts {
  readonly sqs: number;
  readonly ses: number;
  readonly dynamodb: number;
}

export interface RunningEmulators {
  readonly endpoints: { sqs: string; s3: string; ses: string; dynamodb: string };
  /** Requests served so far, by emulator and operation (`dynamodb UpdateItem`): what a message costs. */
  calls(): Record<string, number>;
  stop(): Promise<void>;
}

export async function startEmulators(ports: EmulatorPorts): Promise<RunningEmulators> {
  const stops: Array<() => Promise<void>> = [];
  const calls: Record<string, number> = {};
  const count = (emulator: string) => (request: IncomingMessage) => {
    const call = `${emulator} ${operation(request)}`;
    calls[call] = (calls[call] ?? 0) + 1;
  };
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    // fauxqs's own start helper binds every interface; its app, listened to here, stays on loopback.
    const sqs = buildFauxqs({ logger: false });
    await sqs.listen({ port: ports.sqs, host: LOCAL_HOST });
    stops.push(() => sqs.close());
    sqs.server.on('request', count('sqs'));
    const sqsPort = (sqs.server.address() as AddressInfo).port;

    const startSes =
      typeof sesLocal === 'function' ? sesLocal : (sesLocal as { default: typeof sesLocal }).default;
    const ses = await startSes({ host: LOCAL_HOST, port: ports.ses });
    stops.push(() => closeServer(ses));
    ses.on('request', count('ses'));
    const sesPort = (ses.address() as AddressInfo).port;

    const dynamo: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve, reject) => {
      dynamo.once('error', reject);
      dynamo.listen(ports.dynamodb, LOCAL_HOST, () => resolve());
    });
    stops.push(() => closeServer(dynamo));
    dynamo.on('request', count('dynamodb'));
    const dynamoPort = (dynamo.address() as AddressInfo).port;

    return {
      endpoints: {
        sqs: `http://${LOCAL_HOST}:${sqsPort}`,
        s3: `http://${LOCAL_HOST}:${sqsPort}`,
        ses: `http://${LOCAL_HOST}:${sesPort}`,
        dynamodb: `http://${LOCAL_HOST}:${dynamoPort}`,
      },
      calls: () => ({ ...calls }),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The operation of a JSON-protocol call (`X-Amz-Target: DynamoDB_20120810.PutItem`), else method and path. */
function operation(request: IncomingMessage): string {
  const target = request.headers['x-amz-target'];
  if (typeof target === 'string') return target.slice(target.indexOf('.') + 1);
  const path = (request.url ?? '').split('?')[0] ?? '';
  return `${request.method} ${path.replace(/\/[^/]*[0-9][^/]*$/, '/{id}')}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export interface LocalResources {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly tableName: string;
  readonly attachmentsBucket: string;
}

export const LOCAL_NAMES = {
  queue: 'postroom-mail',
  deadLetterQueue: 'postroom-mail-dlq',
  table: 'postroom',
  attachmentsBucket: 'postroom-attachments',
} as const;

/**
 * Creates the mail queue, its dead-letter queue, the table and the attachments bucket as the CDK stack
 * does on AWS. fauxqs keeps no lifecycle rules or encryption settings: objects live as long as the process.
 */
export async function createResources(
  sqs: SQSClient,
  dynamodb: DynamoDBClient,
  config: PostroomConfig,
  s3: S3Client,
): Promise<LocalResources> {
  await s3.send(new CreateBucketCommand({ Bucket: LOCAL_NAMES.attachmentsBucket }));
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: LOCAL_NAMES.deadLetterQueue,
      Attributes: { MessageRetentionPeriod: String(14 * 86_400) },
    }),
  );
  const deadLetterQueueUrl = required(dlq.QueueUrl, 'dead-letter queue URL');
  const dlqAttributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: LOCAL_NAMES.queue,
      Attributes: {
        // As on AWS: at least six times the relay's timeout, so a slow batch is not handed out twice.
        VisibilityTimeout: String(6 * config.relay.timeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: required(dlqAttributes.Attributes?.QueueArn, 'dead-letter queue ARN'),
          maxReceiveCount: config.queue.maxReceiveCount,
        }),
      },
    }),
  );
  await dynamodb.send(
    new CreateTableCommand({
      TableName: LOCAL_NAMES.table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
  await dynamodb
    .send(
      new UpdateTimeToLiveCommand({
        TableName: LOCAL_NAMES.table,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    )
    // dynalite does not implement TTL; the attribute is still written, as on AWS.
    .catch(() => {});
  return {
    queueUrl: required(queue.QueueUrl, 'queue URL'),
    deadLetterQueueUrl,
    tableName: LOCAL_NAMES.table,
    attachmentsBucket: LOCAL_NAMES.attachmentsBucket,
  };
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the emulator returned no ${what}`);
  return value;
}
