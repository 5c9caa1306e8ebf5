import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import type { AwsClientOptions } from '../functions/adapters/aws-clients';
import { createSqsClient } from '../functions/adapters/sqs-client';
import { LOCAL_HOST, LOCAL_NAMES } from '../local/emulators';
import { answered } from './errors';
import { localQueueUrls, sqsEndpoint } from './queues';

/**
 * What a command operates on: the local stack (npm start) or a deployed stack, found by name through its
 * CloudFormation outputs. Every command takes `--stack NAME`; without it, the local stack.
 */

export interface TargetValues {
  readonly stack?: string | undefined;
  readonly region?: string | undefined;
  readonly 'cloudformation-endpoint'?: string | undefined;
  readonly 'sqs-endpoint'?: string | undefined;
  readonly 'ses-endpoint'?: string | undefined;
  readonly 'cloudwatch-endpoint'?: string | undefined;
  /** The DynamoDB endpoint: `--dynamodb-endpoint`, or its older spelling `--endpoint` (cli/main.ts). */
  readonly endpoint?: string | undefined;
  readonly api?: string | undefined;
}

/** The resources a command may need, and the stack output each comes from. */
export const OUTPUT_OF = {
  queueUrl: 'QueueUrl',
  deadLetterQueueUrl: 'DeadLetterQueueUrl',
  tableName: 'TableName',
  apiUrl: 'ApiUrl',
  alarmTopicArn: 'AlarmTopicArn',
  sesConfigurationSet: 'SesConfigurationSet',
  webhookQueueUrl: 'WebhookQueueUrl',
  archiveTableName: 'ArchiveTableName',
  attachmentsBucket: 'AttachmentsBucketName',
  archiveHashKeySecret: 'ArchiveHashKeySecretArn',
} as const;

export type TargetResource = keyof typeof OUTPUT_OF;

export interface Target extends Partial<Record<TargetResource, string>> {
  readonly kind: 'local' | 'deployed';
  /** For messages: `the local stack` or `stack NAME (REGION)`. */
  readonly label: string;
  readonly region: string;
  /** Client options: the emulators' endpoints and credentials locally; on AWS only explicit overrides. */
  readonly aws: AwsClientOptions;
  readonly cloudwatchEndpoint?: string | undefined;
}

/** The target cannot be used: no such stack, an output missing, the local stack not running. Exit 3. */
export class TargetError extends Error {
  override readonly name = 'TargetError';
}

/**
 * The local stack's services as the CLI finds them: the flag that points it elsewhere and the variable it
 * shares with `npm start` (local/main.ts reads the same names), with the default port.
 */
export const LOCAL_SERVICE = {
  sqs: { name: 'the queues (SQS)', flag: '--sqs-endpoint URL', variable: 'POSTROOM_SQS_PORT', port: 9324 },
  ses: { name: 'SES', flag: '--ses-endpoint URL', variable: 'POSTROOM_SES_PORT', port: 8005 },
  dynamodb: {
    name: 'DynamoDB',
    flag: '--dynamodb-endpoint URL',
    variable: 'POSTROOM_DYNAMODB_PORT',
    port: 8000,
  },
  api: { name: 'the API', flag: '--api URL', variable: 'POSTROOM_API_PORT', port: 3000 },
} as const;

export type LocalService = keyof typeof LOCAL_SERVICE;

/** What an unreachable error says: the socket's code (ECONNREFUSED), else the error's name and message. */
export function networkReason(error: unknown): string {
  const code = (error as { code?: unknown })?.code ?? (error as { cause?: { code?: unknown } })?.cause?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * The sentence after "Could not reach X": for the local stack, how to start it and which variable or flag
 * points the CLI at another port; for a deployed stack, the flags that choose it.
 */
export function reachHint(target: Pick<Target, 'kind'>, service: LocalService): string {
  if (target.kind === 'deployed') {
    const override = service === 'api' ? '' : ` (or ${LOCAL_SERVICE[service].flag})`;
    return `Check your AWS credentials, --region and --stack${override}.`;
  }
  const { variable, flag, port } = LOCAL_SERVICE[service];
  return (
    'Is the local stack running (npm start)? If it listens elsewhere, set ' +
    `${variable} (default ${port}) as you did for npm start, or pass ${flag}.`
  );
}

/** `Could not reach DynamoDB at URL (ECONNREFUSED). Is the local stack running ...` */
export function unreachable(
  target: Pick<Target, 'kind'>,
  service: LocalService,
  at: string | undefined,
  error: unknown,
): TargetError {
  const where = at === undefined ? '' : ` at ${at}`;
  return new TargetError(
    `Could not reach ${LOCAL_SERVICE[service].name}${where} (${networkReason(error)}). ${reachHint(target, service)}`,
  );
}

// The local emulators accept any credentials; these never leave the machine.
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * Resolves the target, with `needs` present (a named TargetError otherwise). A deployed stack's other
 * outputs are filled in when it has them.
 */
export async function resolveTarget<K extends TargetResource>(
  values: TargetValues,
  env: NodeJS.ProcessEnv,
  needs: ReadonlyArray<K>,
): Promise<Target & Readonly<Record<K, string>>> {
  const target =
    values.stack === undefined ? await localTarget(values, env, needs) : await deployed(values, env);
  if (target.kind === 'deployed') {
    const missing = needs.filter((need) => target[need] === undefined).map((need) => OUTPUT_OF[need]);
    if (missing.length > 0) {
      throw new TargetError(
        `${capitalised(target.label)} has no output ${missing.join(', ')}: deploy this version of Postroom ` +
          '(cdk deploy), which adds it.',
      );
    }
  }
  return target as Target & Readonly<Record<K, string>>;
}

async function localTarget(
  values: TargetValues,
  env: NodeJS.ProcessEnv,
  needs: ReadonlyArray<TargetResource>,
): Promise<Target> {
  const aws: AwsClientOptions = {
    region: values.region ?? 'us-east-1',
    endpoints: {
      sqs: sqsEndpoint(values['sqs-endpoint'], env),
      ses: values['ses-endpoint'] ?? `http://${LOCAL_HOST}:${env.POSTROOM_SES_PORT || '8005'}`,
      dynamodb: values.endpoint ?? `http://${LOCAL_HOST}:${env.POSTROOM_DYNAMODB_PORT || '8000'}`,
    },
    credentials: LOCAL_CREDENTIALS,
  };
  const base = {
    kind: 'local' as const,
    label: 'the local stack',
    region: aws.region,
    aws,
    tableName: LOCAL_NAMES.table,
    apiUrl: (values.api ?? `http://${LOCAL_HOST}:${env.POSTROOM_API_PORT || '3000'}`).replace(/\/+$/, ''),
  };
  if (!needs.includes('queueUrl') && !needs.includes('deadLetterQueueUrl')) return base;
  const sqs = createSqsClient(aws);
  try {
    return { ...base, ...(await localQueueUrls(sqs)) };
  } catch (error) {
    if (!answered(error)) throw unreachable(base, 'sqs', aws.endpoints?.sqs, error);
    const what = error instanceof Error ? error.name : String(error);
    throw new TargetError(
      `The local stack has no queue ${LOCAL_NAMES.queue} or ${LOCAL_NAMES.deadLetterQueue} (${what}): restart it (npm start).`,
    );
  } finally {
    sqs.destroy();
  }
}

async function deployed(values: TargetValues, env: NodeJS.ProcessEnv): Promise<Target> {
  const stackName = values.stack ?? '';
  // Region and credentials come from the SDK's default chain (AWS_REGION, AWS_PROFILE, ~/.aws/config, SSO,
  // instance roles) unless --region says otherwise.
  const cloudformation = new CloudFormationClient({
    region: values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    endpoint: values['cloudformation-endpoint'],
  });
  let region = values.region ?? 'the default region';
  try {
    region = await cloudformation.config.region();
    const result = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs = outputsOf(result.Stacks?.[0]?.Outputs);
    const resources = Object.fromEntries(
      Object.entries(OUTPUT_OF).flatMap(([field, key]) => (outputs[key] ? [[field, outputs[key]]] : [])),
    ) as Partial<Record<TargetResource, string>>;
    return {
      ...resources,
      kind: 'deployed',
      label: `stack ${stackName} (${region})`,
      region,
      aws: {
        region,
        endpoints: {
          sqs: values['sqs-endpoint'],
          ses: values['ses-endpoint'],
          dynamodb: values.endpoint,
        },
      },
      cloudwatchEndpoint: values['cloudwatch-endpoint'],
    };
  } catch (error) {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    // CloudFormation answers a missing stack with a ValidationError "Stack with id NAME does not exist".
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
    if (answered(error) && /does not exist/i.test(text)) {
      throw new TargetError(`There is no stack ${stackName} in ${region}: check --stack and --region.`);
    }
    throw new TargetError(
      `Could not read stack ${stackName} in ${region} (${text}). Check your AWS credentials, --region and --stack.`,
    );
  } finally {
    cloudformation.destroy();
  }
}

function outputsOf(outputs: ReadonlyArray<Output> | undefined): Record<string, string> {
  return Object.fromEntries(
    (outputs ?? []).flatMap((o) => (o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue]] : [])),
  );
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
