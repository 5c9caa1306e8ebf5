import { once } from 'node:events';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import {
  CreateTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { PostroomConfig } from '../functions/core/config/config';

/**
 * The AWS services Postroom uses, emulated on this machine and bound to loopback only: fauxqs (SQS, and
 * S3 on the same port), aws-ses-v2-local (SES v2 with a web inbox) and dynalite (DynamoDB, in memory or in
 * a LevelDB folder).
 * Each runs in its own worker thread: they are the busiest part of the local pipeline (dynalite parses
 * every expression, fauxqs and the SES emulator serve every call), and in the handlers' thread every
 * request they serve would wait behind the handlers' work and the other way round.
 */

export const LOCAL_HOST = '127.0.0.1';

/** The variable that sets each local port (local/main.ts), named when the port is taken. */
export const PORT_VARIABLE = {
  api: 'POSTROOM_API_PORT',
  sqs: 'POSTROOM_SQS_PORT',
  ses: 'POSTROOM_SES_PORT',
  dynamodb: 'POSTROOM_DYNAMODB_PORT',
} as const;

/** A local port is taken, by another program or a Postroom already running. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  readonly code = 'EADDRINUSE';

  constructor(
    readonly variable: string,
    readonly port: number,
  ) {
    super(
      `Port ${port} on ${LOCAL_HOST} is already in use (another program, or Postroom already running). ` +
        `Set ${variable} to a free port, e.g. ${variable}=${port + 1} npm start, and give the CLI the same ` +
        'variable.',
    );
  }
}

export interface EmulatorPorts {
  readonly sqs: number;
  readonly ses: number;
  readonly dynamodb: number;
}

export interface RunningEmulators {
  readonly endpoints: { sqs: string; s3: string; ses: string; dynamodb: string };
  /** Requests served so far, by emulator and operation (`dynamodb UpdateItem`): what a message costs. */
  calls(): Promise<Record<string, number>>;
  /**
   * How long each emulator's thread has been busy (not waiting in its event loop), in ms: near enough its
   * CPU time, which a worker thread cannot read for itself alone.
   */
  busyMs(): Record<EmulatorName, number>;
  stop(): Promise<void>;
}

type EmulatorName = keyof EmulatorPorts;

interface EmulatorThread {
  readonly port: number;
  calls(): Promise<Record<string, number>>;
  busyMs(): number;
  stop(): Promise<void>;
}

async function startEmulatorThread(
  emulator: EmulatorName,
  port: number,
  dynamodbPath: string | undefined,
): Promise<EmulatorThread> {
  const worker = new Worker(new URL('./emulator-worker.mjs', import.meta.url), {
    workerData: { emulator, host: LOCAL_HOST, port, dynamodbPath },
    // The SES emulator reads its account (AWS_SES_ACCOUNT) from the environment on each request, as it would
    // in this thread.
    env: SHARE_ENV,
  });
  const [started] = (await once(worker, 'message')) as [{ port?: number; error?: string; code?: string }];
  if (started.port === undefined) {
    await worker.terminate();
    if (started.code === 'EADDRINUSE') throw new PortInUseError(PORT_VARIABLE[emulator], port);
    throw new Error(`the ${emulator} emulator did not start: ${started.error ?? 'no port'}`);
  }
  const ask = async <T>(message: string, key: string): Promise<T> => {
    const answer = new Promise<T>((resolve) => {
      const listener = (reply: Record<string, unknown>) => {
        if (!(key in reply)) return;
        worker.off('message', listener);
        resolve(reply[key] as T);
      };
      worker.on('message', listener);
    });
    worker.postMessage(message);
    return answer;
  };
  return {
    port: started.port,
    calls: () => ask<Record<string, number>>('calls', 'calls'),
    busyMs: () => worker.performance.eventLoopUtilization().active,
    async stop() {
      await Promise.race([ask('stop', 'stopped'), new Promise((resolve) => setTimeout(resolve, 2_000))]);
      await worker.terminate();
    },
  };
}

/** `dynamodbPath`: a folder where the DynamoDB emulator keeps its tables across runs; absent, in memory. */
export async function startEmulators(
  ports: EmulatorPorts,
  options: { dynamodbPath?: string | undefined } = {},
): Promise<RunningEmulators> {
  const names: EmulatorName[] = ['sqs', 'ses', 'dynamodb'];
  const started = await Promise.allSettled(
    names.map((name) => startEmulatorThread(name, ports[name], options.dynamodbPath)),
  );
  const threads = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stopAll = async () => {
    await Promise.all(threads.map((thread) => thread.stop().catch(() => {})));
  };
  const failed = started.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await stopAll();
    throw failed.reason;
  }
  const [sqs, ses, dynamodb] = threads as [EmulatorThread, EmulatorThread, EmulatorThread];
  return {
    endpoints: {
      sqs: `http://${LOCAL_HOST}:${sqs.port}`,
      s3: `http://${LOCAL_HOST}:${sqs.port}`,
      ses: `http://${LOCAL_HOST}:${ses.port}`,
      dynamodb: `http://${LOCAL_HOST}:${dynamodb.port}`,
    },
    async calls() {
      return Object.assign({}, ...(await Promise.all(threads.map((thread) => thread.calls()))));
    },
    busyMs: () => ({ sqs: sqs.busyMs(), ses: ses.busyMs(), dynamodb: dynamodb.busyMs() }),
    stop: stopAll,
  };
}

export interface LocalResources {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly tableName: string;
  readonly attachmentsBucket: string;
  /** The submission archive's table (pk and sk, functions/adapters/dynamodb-archive.ts). */
  readonly archiveTableName?: string;
}

export const LOCAL_NAMES = {
  queue: 'postroom-mail',
  deadLetterQueue: 'postroom-mail-dlq',
  table: 'postroom',
  attachmentsBucket: 'postroom-attachments',
  archiveTable: 'postroom-archive',
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
  await dynamodb
    .send(
      new CreateTableCommand({
        TableName: LOCAL_NAMES.table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    )
    // A table kept in the state folder from an earlier run is the one to use.
    .catch((error: unknown) => {
      if (!(error instanceof ResourceInUseException)) throw error;
    });
  await dynamodb
    .send(
      new UpdateTimeToLiveCommand({
        TableName: LOCAL_NAMES.table,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    )
    // dynalite does not implement TTL; the attribute is still written, as on AWS.
    .catch(() => {});
  await dynamodb
    .send(
      new CreateTableCommand({
        TableName: LOCAL_NAMES.archiveTable,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    )
    .catch((error: unknown) => {
      if (!(error instanceof ResourceInUseException)) throw error;
    });
  return {
    archiveTableName: LOCAL_NAMES.archiveTable,
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
